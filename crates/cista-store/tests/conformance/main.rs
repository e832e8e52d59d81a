//! The store conformance suite: every store behaviour, run on SQLite and on PostgreSQL from the
//! same test bodies. PostgreSQL runs when `CISTA_TEST_POSTGRES_URL` is set; with
//! `CISTA_TEST_REQUIRE_POSTGRES=1` (as `.ci/run` sets) a missing or unreachable server fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod access;
mod advisors;
mod app_tokens;
mod assessments;
mod audit;
mod blobs;
mod breach;
mod devices;
mod erasure;
mod exports;
mod harness;
mod intake;
mod keys;
mod media;
mod organizations;
mod paper;
mod people;
mod records;
mod repeats;
mod results;
mod schema;
mod strangers;
mod subject_access;
mod sweep;
mod trust;
mod voting;
mod webhooks;
mod widget;

pub use harness::Harness;

cista_testkit::both_databases! { crate::Harness;
    assessments::an_assessment_is_checked_whole_before_it_is_published,
    widget::a_widget_submission_is_scored_sealed_apart_and_recorded_once,
    results::results_are_listed_de_identified_revealed_with_audit_and_purged,
    results::a_record_is_never_read_as_a_result,
    results::a_list_of_results_unwraps_the_data_key_once,
    advisors::the_chosen_advisors_are_told_of_each_result_without_the_clients_name,
    advisors::results_past_their_retention_period_go_with_their_clients,
    advisors::the_csv_holds_every_result_and_a_filter_finds_the_oldest,
    advisors::a_client_who_asks_gets_a_copy_of_what_they_were_shown_if_the_form_allows,
    intake::a_form_is_published_in_immutable_versions,
    intake::a_submission_is_sealed_and_a_retry_gets_the_first_receipt,
    intake::an_attachment_is_recorded_once_by_name,
    intake::submissions_are_read_newest_first_a_page_at_a_time,
    records::a_record_is_checked_against_its_form_before_anything_is_stored,
    devices::a_device_pairs_once_and_acts_for_its_collector_until_revoked,
    devices::staff_pair_phones_only_for_roles_they_could_give,
    devices::a_review_is_sealed_audited_and_read_by_its_collector_and_reviewers,
    webhooks::endpoints_are_checked_sealed_and_managed_by_staff_only,
    webhooks::a_record_queues_one_message_of_ids_and_links,
    webhooks::a_message_is_claimed_once_retried_on_failure_and_delivered,
    webhooks::an_unanswered_message_is_given_up_then_sent_again_by_hand,
    webhooks::a_removed_endpoint_gets_nothing_more,
    webhooks::concurrent_workers_claim_each_message_once,
    media::photos_are_delivered_upright_without_their_metadata_from_a_local_directory,
    media::photos_are_delivered_upright_without_their_metadata_from_an_s3_bucket,
    media::the_photo_queue_holds_what_is_left_to_process,
    exports::exports_hold_the_area_asked_and_the_zip_its_delivered_photos,
    exports::an_export_holds_every_record_and_a_filter_finds_the_oldest,
    blobs::attachments_stream_seal_and_refuse_in_a_local_directory,
    blobs::attachments_stream_seal_and_refuse_in_an_s3_bucket,
    sweep::a_sweep_removes_only_old_unreferenced_blobs_in_a_local_directory,
    sweep::a_sweep_removes_only_old_unreferenced_blobs_in_an_s3_bucket,
    app_tokens::an_app_token_authenticates_until_it_expires_or_is_revoked,
    app_tokens::an_app_token_is_scoped_to_its_organization_and_purpose,
    app_tokens::a_duplicate_app_token_is_a_conflict_and_writes_nothing,
    strangers::a_strangers_sms_requests_neither_revoke_her_code_nor_use_up_her_budget,
    strangers::a_strangers_wrong_passwords_never_lock_her_out,
    strangers::a_stolen_session_cannot_guess_the_password_on_the_change_form,
    strangers::a_strangers_requests_leave_her_reset_and_invitation_links_valid,
    strangers::attempts_are_counted_per_requester_cleared_and_purged,
    strangers::a_burst_of_requests_at_once_cannot_exceed_a_budget_or_a_lockout,
    strangers::a_locked_account_is_read_fresh_after_the_other_transaction_commits,
    paper::a_secret_ballot_takes_paper_only_in_two_envelopes,
    paper::small_batches_wait_for_the_close_and_the_close_waits_for_them,
    paper::concurrent_inner_ballots_never_outnumber_their_envelopes,
    paper::each_weights_envelopes_are_opened_and_counted_with_their_own_weight,
    repeats::a_submission_runs_once_and_repeats_get_its_first_outcome,
    repeats::a_form_whose_first_run_died_is_never_run_again,
    repeats::concurrent_arrivals_of_one_submission_run_it_once,
    repeats::a_repeated_cast_returns_the_first_receipt_and_is_never_a_refusal,
    repeats::the_same_cast_sent_many_times_at_once_casts_one_vote,
    subject_access::a_person_gets_everything_held_about_them_and_others_do_not,
    subject_access::a_collectors_report_holds_their_records_and_phones,
    subject_access::staff_see_only_what_their_own_organization_holds,
    subject_access::a_report_holds_only_its_own_persons_audit_entries,
    breach::an_incident_window_names_the_people_it_could_have_touched,
    breach::a_recorded_breach_tells_each_person_once_and_never_the_erased,
    breach::two_notify_runs_at_once_tell_each_person_once,
    repeats::a_receipt_signs_the_ballot_tracker_and_checkpoint_never_the_unit_or_choices,
    repeats::a_sealed_receipt_opens_only_for_its_session_unit_and_half_hour,
    schema::migrations_apply_once_and_leave_nothing_pending,
    schema::a_database_newer_than_the_binary_is_refused,
    schema::the_engine_reports_durable_settings,
    schema::timestamps_round_trip_to_the_microsecond,
    schema::stored_times_keep_time_order_within_a_second,
    schema::times_stored_before_the_fixed_width_rule_are_rewritten,
    schema::text_sorts_by_its_bytes_on_both_engines,
    schema::reads_keyed_by_a_column_start_from_its_index,
    trust::the_trust_reports_counts_are_kept_for_thirty_seconds,
    organizations::an_instance_is_created_once,
    organizations::organizations_round_trip,
    organizations::a_taken_slug_is_refused_and_nothing_is_half_written,
    organizations::an_organizations_country_for_phone_numbers_is_set_read_and_cleared,
    organizations::shared_zones_and_phone_regions_are_read_as_distinct_values,
    keys::the_database_holds_only_wrapped_keys,
    keys::a_wrong_key_encryption_key_fails_loudly,
    keys::rotation_rewraps_every_key_while_a_running_server_keeps_working,
    keys::retired_keys_are_removed_only_when_asked_and_unused,
    keys::sealed_values_open_only_for_their_organization_and_place,
    audit::each_change_writes_exactly_one_audit_entry_in_its_transaction,
    audit::the_head_and_signed_checkpoints_match_the_rfc6962_tree,
    audit::concurrent_appends_keep_the_log_contiguous,
    audit::checkpoints_are_signed_once_per_size,
    audit::verify_passes_on_an_untouched_log,
    audit::verify_names_an_edited_entry,
    audit::verify_names_a_deleted_entry,
    audit::verify_catches_reordered_entries,
    audit::verify_catches_a_rewrite_with_recomputed_hashes,
    audit::verify_catches_deletion_of_the_newest_entries,
    audit::verify_catches_a_forged_checkpoint,
    people::the_canary_name_email_and_phone_never_reach_the_database,
    people::lookups_by_email_ignore_case_and_never_store_the_address,
    people::staff_reads_of_personal_data_are_audited_and_scoped,
    people::many_people_are_read_at_once,
    people::an_erased_person_is_unreadable_and_never_recreated,
    people::erasure_is_allowed_only_to_owners_and_admins_of_the_persons_organization,
    people::erasure_reaches_only_people_wholly_within_the_erasers_reach,
    erasure::a_person_whose_erasure_has_begun_is_never_linked,
    erasure::an_erasure_checks_its_right_against_the_memberships_under_the_lock,
    erasure::an_erased_account_is_never_written_back,
    erasure::a_person_the_vault_alone_knows_is_locked_and_marked_too,
    erasure::a_role_change_and_an_erasure_take_turns,
    erasure::staff_finish_an_erasure_the_operator_began,
    erasure::a_role_change_and_a_link_under_the_persons_lock_both_finish,
    people::an_address_stored_before_the_printable_rule_still_signs_in,
    people::the_vault_can_live_in_its_own_database,
    access::an_invitation_link_sets_a_password_once_even_under_concurrency,
    access::an_expired_link_is_refused_and_a_weak_password_explained,
    access::a_person_known_only_to_the_vault_is_invited_with_an_account,
    access::sign_in_fails_identically_and_locks_out_with_growing_back_off,
    access::sessions_end_when_idle_absolutely_and_on_sign_out_everywhere,
    access::a_sessions_one_read_gives_its_account_status_and_every_role,
    access::changing_or_resetting_a_password_ends_every_session,
    access::sms_codes_are_single_use_limited_and_open_a_voting_only_session,
    access::owners_must_enrol_totp_and_codes_are_never_accepted_twice,
    access::roles_follow_the_rules_and_changes_end_the_members_sessions,
    access::two_owners_demoting_each_other_at_once_leave_one_owner,
    access::two_owners_erasing_each_other_at_once_leave_one_owner,
    access::invitations_by_staff_need_the_right_for_that_role,
    access::undeliverable_messages_are_retried_then_abandoned_and_params_wiped,
    access::key_rotation_rewraps_every_persons_key,
    voting::the_roster_is_checked_whole_previewed_then_applied,
    voting::a_phone_alone_names_only_a_member_of_the_organization,
    voting::the_ballot_page_reads_who_took_part_a_page_at_a_time,
    voting::the_roll_reads_in_natural_order_from_its_stored_keys,
    voting::a_key_provider_outage_refuses_retryably_and_leaves_nothing_half_done,
    voting::a_hundred_concurrent_casts_for_one_unit_store_exactly_one,
    voting::a_casts_one_read_matches_the_reads_apart,
    voting::a_casts_one_read_keeps_to_the_ballots_organization,
    voting::a_group_writes_its_rows_at_once_and_the_primary_keys_still_decide,
    voting::a_shuffle_drops_no_ballot_cast_in_flight,
    voting::concurrent_casts_commit_together_and_one_failing_cast_takes_none_down,
    voting::text_the_database_cannot_store_is_the_callers_error,
    voting::group_commits_are_counted_with_the_casts_they_hold,
    voting::paper_and_online_refuse_each_other_in_either_order,
    voting::participation_from_before_the_roll_weight_column_is_weighed_from_the_roll,
    voting::a_secret_ballot_box_holds_nothing_that_links_it_to_the_ledger,
    voting::a_recorded_ballot_links_choices_to_the_unit,
    voting::a_close_shuffles_what_was_cast_since_the_last_shuffle,
    voting::votes_are_cast_and_kept_while_the_box_is_shuffled,
    voting::a_large_box_is_shuffled_part_by_part,
    voting::a_vote_cast_between_two_parts_of_a_shuffle_is_kept,
    voting::a_close_waits_for_a_shuffle_under_way,
    voting::a_rewrite_never_waits_on_a_cast_that_waits_on_it,
    voting::a_shuffle_waits_for_a_cancel_and_leaves_the_cancelled_box,
    voting::refused_casts_are_explained_recorded_and_store_nothing,
    voting::a_server_fault_during_a_cast_is_not_recorded_against_the_unit,
    voting::consent_is_recorded_with_when_and_how,
    voting::results_stay_sealed_until_the_close_then_the_bundle_recounts,
    voting::a_large_ballot_publishes_page_by_page_and_finds_any_tracker,
    voting::a_transaction_reads_its_box_as_it_stands_in_the_transaction,
    voting::voting_records_cannot_be_changed_or_deleted,
    voting::the_box_guard_is_replaced_in_an_upgraded_database,
    voting::a_box_keyed_by_its_tracker_alone_is_rekeyed_whole,
    voting::a_correction_is_a_cancel_and_a_reissue,
    voting::owners_are_notified_and_reminded_until_they_vote,
    voting::a_weighted_secret_ballot_refuses_weights_that_identify_units,
}
