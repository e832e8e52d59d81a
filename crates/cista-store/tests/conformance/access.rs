//! People and access on both stores: links, passwords, sign-in and lockout, sessions, SMS,
//! second factor, roles and send limits. Time is a `ManualClock`, so expiries are exact.

use crate::Harness;
use crate::harness::{PASSWORD, invitee, token_of};
use cista_core::platform::access::SignedIn;
use cista_core::platform::notices::Notice;
use cista_core::ports::{AccessReads as _, CredentialPurpose, SessionStage};
use cista_core::{Access, Actor, Cista, Error, Store as _, Vault as _};
use cista_crypto::totp::TotpSecret;
use cista_types::{Clock as _, Password, Role};
use time::Duration;

mod joining;
mod links;
mod roles;
mod second_factor;
mod sign_in;
mod upkeep;

pub use joining::{
    a_breach_lists_an_invitee_only_once_they_have_joined, a_disabled_account_cannot_join,
    a_new_invitation_to_join_replaces_only_that_organizations_last,
    accepting_a_staff_role_without_a_second_factor_ends_the_sessions,
    invitations_to_join_one_person_are_limited_per_hour,
    someone_known_joins_another_organization_only_when_they_accept,
    someone_yet_to_choose_a_password_joins_by_choosing_it,
    staff_list_and_withdraw_their_invitations_to_join,
};
pub use links::{
    a_person_known_only_to_the_vault_is_invited_with_an_account,
    an_expired_link_is_refused_and_a_weak_password_explained,
    an_invitation_link_sets_a_password_once_even_under_concurrency,
};
pub use roles::{
    invitations_by_staff_need_the_right_for_that_role,
    roles_follow_the_rules_and_changes_end_the_members_sessions,
    two_owners_demoting_each_other_at_once_leave_one_owner,
    two_owners_erasing_each_other_at_once_leave_one_owner,
};
pub use second_factor::{
    codes_guessed_at_once_are_counted_one_by_one,
    owners_must_enrol_totp_and_codes_are_never_accepted_twice,
    sms_codes_are_single_use_limited_and_open_a_voting_only_session,
};
pub use sign_in::{
    a_sessions_one_read_gives_its_account_status_and_every_role,
    changing_or_resetting_a_password_ends_every_session,
    sessions_end_when_idle_absolutely_and_on_sign_out_everywhere,
    sign_in_fails_identically_and_locks_out_with_growing_back_off,
};
pub use upkeep::{
    key_rotation_rewraps_every_persons_key,
    undeliverable_messages_are_retried_then_abandoned_and_params_wiped,
};

fn operator() -> Actor {
    Actor::operator("test")
}

fn totp_now(h: &Harness, secret: &TotpSecret) -> String {
    let now = h.clock.now().as_offset().unix_timestamp() as u64;
    secret.code_at(now).unwrap()
}

/// Signs in by password, enrolling a second factor if the role requires it; returns the
/// fully signed-in session and the TOTP secret (if one was enrolled).
pub async fn sign_in_fully(
    cista: &Cista,
    h: &Harness,
    email: &str,
) -> (SignedIn, Option<TotpSecret>) {
    let signed_in = cista.sign_in(email, PASSWORD).await.unwrap();
    if signed_in.stage != SessionStage::MfaEnrol {
        return (signed_in, None);
    }
    let session = cista
        .resolve_session(&signed_in.token)
        .await
        .unwrap()
        .unwrap();
    let enrolment = cista.begin_mfa_enrolment(&session).await.unwrap();
    let secret = TotpSecret::from_base32(&enrolment.secret_base32).unwrap();
    let (full, codes) = cista
        .confirm_mfa_enrolment(&session, &totp_now(h, &secret))
        .await
        .unwrap();
    assert_eq!(codes.len(), 10);
    (full, Some(secret))
}

/// The actor of a fully signed-in person.
pub async fn actor_for(cista: &Cista, h: &Harness, email: &str) -> Actor {
    let (signed_in, _) = sign_in_fully(cista, h, email).await;
    cista
        .resolve_session(&signed_in.token)
        .await
        .unwrap()
        .unwrap()
        .actor
        .unwrap()
}

async fn invitation_link(cista: &Cista, h: &Harness, email: &str) -> String {
    match h.last_notice_to(cista, email).await {
        Notice::Invitation { link, .. } => link,
        other => panic!("expected an invitation, got {other:?}"),
    }
}
