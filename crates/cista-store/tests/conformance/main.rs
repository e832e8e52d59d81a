//! The store conformance suite: every store behaviour, run on SQLite and on PostgreSQL from the
//! same test bodies. PostgreSQL runs when `CISTA_TEST_POSTGRES_URL` is set; with
//! `CISTA_TEST_REQUIRE_POSTGRES=1` (as `.ci/run` sets) a missing or unreachable server fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod audit;
mod harness;
mod keys;
mod organizations;
mod schema;

pub use harness::Harness;

/// Instantiates each listed test body once per backend: `sqlite::NAME` and `postgres::NAME`.
macro_rules! conformance {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let h = crate::Harness::sqlite().await;
                    crate::$module::$name(&h).await;
                    h.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(h) = crate::Harness::postgres().await else { return };
                    crate::$module::$name(&h).await;
                    h.cleanup().await;
                }
            )*
        }
    };
}

conformance! {
    schema::migrations_apply_once_and_leave_nothing_pending,
    schema::a_database_newer_than_the_binary_is_refused,
    schema::the_engine_reports_durable_settings,
    schema::timestamps_round_trip_to_the_microsecond,
    organizations::an_instance_is_created_once,
    organizations::organizations_round_trip,
    organizations::a_taken_slug_is_refused_and_nothing_is_half_written,
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
}
