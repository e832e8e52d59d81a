//! People and access on both stores: links, passwords, sign-in and lockout, sessions, SMS,
//! second factor, roles and send limits. Time is a `ManualClock`, so expiries are exact.

use crate::Harness;
use crate::harness::{PASSWORD, invitee, token_of};
use cista_core::platform::access::SignedIn;
use cista_core::platform::notices::Notice;
use cista_core::ports::{CredentialPurpose, SessionStage};
use cista_core::{Access, Actor, Cista, Error, Store as _, Vault as _};
use cista_crypto::totp::TotpSecret;
use cista_types::{Clock as _, Password, Role};
use time::Duration;

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

pub async fn an_invitation_link_sets_a_password_once_even_under_concurrency(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let invited = cista
        .invite(
            &operator(),
            org.id,
            invitee("Ann", "Lee", "ann@example.org", None, Role::Member),
        )
        .await
        .unwrap();
    let link = invitation_link(&cista, h, "ann@example.org").await;
    assert!(link.starts_with("https://localhost:8443/i/"), "{link}");
    assert_eq!(invited.link.as_deref(), Some(link.as_str()));
    let token = token_of(&link).to_owned();
    let view = cista
        .inspect_link(&token, CredentialPurpose::Invite)
        .await
        .unwrap();
    assert_eq!(view.first_name.as_str(), "Ann");
    assert_eq!(view.organization.as_deref(), Some("Org palm-court"));

    let password = Password::parse(PASSWORD).unwrap();
    let attempts: Vec<_> = (0..6)
        .map(|_| {
            let c = cista.clone();
            let (t, p) = (token.clone(), password.clone());
            tokio::spawn(async move {
                c.set_password_with_link(&t, CredentialPurpose::Invite, &p)
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for a in attempts {
        match a.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e.code(), "token_invalid"),
        }
    }
    assert_eq!(ok, 1, "exactly one use of the link");
    assert!(cista.sign_in("ann@example.org", PASSWORD).await.is_ok());
    // Later, the used link is refused too.
    assert_eq!(
        cista
            .inspect_link(&token, CredentialPurpose::Invite)
            .await
            .unwrap_err()
            .code(),
        "token_invalid"
    );
    // A reset link does not work as an invitation, and a mangled token is refused.
    for bad in [&token[..42], "not-a-token", ""] {
        assert_eq!(
            cista
                .inspect_link(bad, CredentialPurpose::Invite)
                .await
                .unwrap_err()
                .code(),
            "token_invalid"
        );
    }
    let rejected = h
        .store
        .audit_entries(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "token.rejected")
        .count();
    assert!(rejected >= 1, "reusing a link is recorded");
}

pub async fn an_expired_link_is_refused_and_a_weak_password_explained(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    cista
        .invite(
            &operator(),
            org.id,
            invitee("Bo", "Ray", "bo@example.org", None, Role::Member),
        )
        .await
        .unwrap();
    let link = invitation_link(&cista, h, "bo@example.org").await;
    let weak = cista
        .set_password_with_link(
            token_of(&link),
            CredentialPurpose::Invite,
            &Password::parse("password1").unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(weak.code(), "weak_password");
    let own_name = cista
        .set_password_with_link(
            token_of(&link),
            CredentialPurpose::Invite,
            &Password::parse("bo-ray-correct-horse").unwrap(),
        )
        .await
        .unwrap_err();
    assert!(own_name.to_string().contains("your name"), "{own_name}");
    h.advance(Duration::hours(72) + Duration::seconds(1));
    let err = cista
        .set_password_with_link(
            token_of(&link),
            CredentialPurpose::Invite,
            &Password::parse(PASSWORD).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "token_invalid");
    // Staff (or the person) can get a fresh link; the old one stays dead.
    let subject = h.store.members(org.id).await.unwrap()[0].subject;
    cista
        .resend_invitation(&operator(), org.id, subject)
        .await
        .unwrap();
    let fresh = invitation_link(&cista, h, "bo@example.org").await;
    assert_ne!(fresh, link);
    cista
        .set_password_with_link(
            token_of(&fresh),
            CredentialPurpose::Invite,
            &Password::parse(PASSWORD).unwrap(),
        )
        .await
        .unwrap();
}

pub async fn sign_in_fails_identically_and_locks_out_with_growing_back_off(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    h.active_person(
        &cista,
        &org,
        invitee("Cy", "Dale", "cy@example.org", None, Role::Member),
    )
    .await;
    let unknown = cista
        .sign_in("nobody@example.org", PASSWORD)
        .await
        .unwrap_err();
    let wrong = cista
        .sign_in("cy@example.org", "wrong-password-123")
        .await
        .unwrap_err();
    let malformed = cista.sign_in("not an email", PASSWORD).await.unwrap_err();
    assert_eq!(unknown.to_string(), wrong.to_string());
    assert_eq!(unknown.code(), wrong.code());
    assert_eq!(malformed.code(), wrong.code());

    for _ in 0..4 {
        cista
            .sign_in("cy@example.org", "wrong-password-123")
            .await
            .unwrap_err();
    }
    // Five failures: locked, and the right password does not help, and says nothing more.
    let locked = cista.sign_in("cy@example.org", PASSWORD).await.unwrap_err();
    assert_eq!(locked.to_string(), wrong.to_string());
    // The first lock lasts a minute; one more wrong password after it locks for two.
    h.advance(Duration::seconds(61));
    cista
        .sign_in("cy@example.org", "wrong-password-123")
        .await
        .unwrap_err();
    h.advance(Duration::seconds(61));
    assert!(
        cista.sign_in("cy@example.org", PASSWORD).await.is_err(),
        "second lock is 2 minutes"
    );
    h.advance(Duration::seconds(60));
    cista.sign_in("cy@example.org", PASSWORD).await.unwrap();
    // A success clears the count: the next wrong password does not lock.
    cista
        .sign_in("cy@example.org", "wrong-password-123")
        .await
        .unwrap_err();
    cista.sign_in("cy@example.org", PASSWORD).await.unwrap();
    let kinds: Vec<String> = h
        .store
        .audit_entries(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.iter().any(|k| k == "sign_in.locked"));
    assert!(kinds.iter().filter(|k| *k == "sign_in.failed").count() >= 7);
    assert!(kinds.iter().any(|k| k == "sign_in.succeeded"));
}

pub async fn sessions_end_when_idle_absolutely_and_on_sign_out_everywhere(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    h.active_person(
        &cista,
        &org,
        invitee("Dee", "Eve", "dee@example.org", None, Role::Member),
    )
    .await;
    let a = cista.sign_in("dee@example.org", PASSWORD).await.unwrap();
    assert_eq!(a.stage, SessionStage::Full);
    let session = cista.resolve_session(&a.token).await.unwrap().unwrap();
    let Some(Actor::Person(p)) = &session.actor else {
        panic!()
    };
    assert_eq!(p.access, Access::Full);
    assert_eq!(p.roles.get(&org.id), Some(&Role::Member));
    // Idle for 29 minutes: still alive (and touched); 31 more: gone.
    h.advance(Duration::minutes(29));
    assert!(cista.resolve_session(&a.token).await.unwrap().is_some());
    h.advance(Duration::minutes(29));
    assert!(cista.resolve_session(&a.token).await.unwrap().is_some());
    h.advance(Duration::minutes(31));
    assert!(
        cista.resolve_session(&a.token).await.unwrap().is_none(),
        "idle timeout"
    );
    // Active all along, still gone after 12 hours.
    let b = cista.sign_in("dee@example.org", PASSWORD).await.unwrap();
    for _ in 0..24 {
        h.advance(Duration::minutes(29));
        let _ = cista.resolve_session(&b.token).await.unwrap();
    }
    h.advance(Duration::minutes(29));
    assert!(
        cista.resolve_session(&b.token).await.unwrap().is_none(),
        "absolute timeout"
    );
    // Signing out on one device ends the others.
    let c = cista.sign_in("dee@example.org", PASSWORD).await.unwrap();
    let d = cista.sign_in("dee@example.org", PASSWORD).await.unwrap();
    assert_ne!(c.token, d.token, "a new session id at every sign-in");
    let session = cista.resolve_session(&c.token).await.unwrap().unwrap();
    cista.sign_out(&session).await.unwrap();
    assert!(cista.resolve_session(&d.token).await.unwrap().is_none());
    assert!(cista.resolve_session("garbage").await.unwrap().is_none());
}

pub async fn changing_or_resetting_a_password_ends_every_session(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    h.active_person(
        &cista,
        &org,
        invitee("Flo", "Gu", "flo@example.org", None, Role::Member),
    )
    .await;
    let a = cista.sign_in("flo@example.org", PASSWORD).await.unwrap();
    let actor = cista
        .resolve_session(&a.token)
        .await
        .unwrap()
        .unwrap()
        .actor
        .unwrap();
    let new = Password::parse("lantern-quarry-velvet-7").unwrap();
    assert_eq!(
        cista
            .change_password(&actor, "not-it", &new)
            .await
            .unwrap_err()
            .code(),
        "invalid_input"
    );
    cista.change_password(&actor, PASSWORD, &new).await.unwrap();
    assert!(cista.resolve_session(&a.token).await.unwrap().is_none());
    cista
        .sign_in("flo@example.org", "lantern-quarry-velvet-7")
        .await
        .unwrap();

    let b = cista
        .sign_in("flo@example.org", "lantern-quarry-velvet-7")
        .await
        .unwrap();
    cista
        .request_password_reset("FLO@example.org")
        .await
        .unwrap();
    let Notice::PasswordReset { link, .. } = h.last_notice_to(&cista, "flo@example.org").await
    else {
        panic!("no reset link");
    };
    assert!(link.contains("/r/"), "{link}");
    cista
        .set_password_with_link(
            token_of(&link),
            CredentialPurpose::Reset,
            &Password::parse(PASSWORD).unwrap(),
        )
        .await
        .unwrap();
    assert!(cista.resolve_session(&b.token).await.unwrap().is_none());
    cista.sign_in("flo@example.org", PASSWORD).await.unwrap();
    // Unknown addresses get the same answer and nothing is sent.
    cista
        .request_password_reset("nobody@example.org")
        .await
        .unwrap();
    cista
        .request_password_reset("not an address")
        .await
        .unwrap();
    assert!(h.deliver_all(&cista).await.is_empty());
    // A reset link expires after an hour.
    cista
        .request_password_reset("flo@example.org")
        .await
        .unwrap();
    let Notice::PasswordReset { link, .. } = h.last_notice_to(&cista, "flo@example.org").await
    else {
        panic!();
    };
    h.advance(Duration::minutes(61));
    assert_eq!(
        cista
            .inspect_link(token_of(&link), CredentialPurpose::Reset)
            .await
            .unwrap_err()
            .code(),
        "token_invalid"
    );
}

pub async fn sms_codes_are_single_use_limited_and_open_a_voting_only_session(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    cista
        .invite(
            &operator(),
            org.id,
            invitee(
                "Gus",
                "Hale",
                "gus@example.org",
                Some("+1 305 555 0142"),
                Role::Owner,
            ),
        )
        .await
        .unwrap();
    h.deliver_all(&cista).await;
    let challenge = cista.request_sms_code("+13055550142").await.unwrap();
    let Notice::SmsCode { code, minutes } = h.last_notice_to(&cista, "+13055550142").await else {
        panic!("no code by SMS");
    };
    assert_eq!(code.len(), 6);
    assert_eq!(minutes, 10);
    // Wrong codes count; the fifth wrong try kills the challenge even for the right code.
    for _ in 0..4 {
        assert_eq!(
            cista
                .sign_in_with_sms_code(&challenge, "000000")
                .await
                .unwrap_err()
                .code(),
            "code_invalid"
        );
    }
    let signed_in = cista
        .sign_in_with_sms_code(&challenge, &code)
        .await
        .unwrap();
    assert_eq!(signed_in.stage, SessionStage::Sms);
    assert_eq!(
        cista
            .sign_in_with_sms_code(&challenge, &code)
            .await
            .unwrap_err()
            .code(),
        "code_invalid"
    );
    let actor = cista
        .resolve_session(&signed_in.token)
        .await
        .unwrap()
        .unwrap()
        .actor
        .unwrap();
    let Actor::Person(p) = &actor else { panic!() };
    assert_eq!(p.access, Access::SmsRestricted);
    // An owner by SMS still may do nothing in the organization.
    assert_eq!(
        cista
            .organization_people(&actor, org.id)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );

    let second = cista.request_sms_code("gus@example.org").await.unwrap();
    let Notice::SmsCode { code, .. } = h.last_notice_to(&cista, "+13055550142").await else {
        panic!()
    };
    for _ in 0..5 {
        cista
            .sign_in_with_sms_code(&second, "111111")
            .await
            .unwrap_err();
    }
    assert_eq!(
        cista
            .sign_in_with_sms_code(&second, &code)
            .await
            .unwrap_err()
            .code(),
        "code_invalid"
    );
    // Expiry after ten minutes.
    let third = cista.request_sms_code("gus@example.org").await.unwrap();
    let Notice::SmsCode { code, .. } = h.last_notice_to(&cista, "+13055550142").await else {
        panic!()
    };
    h.advance(Duration::minutes(11));
    assert_eq!(
        cista
            .sign_in_with_sms_code(&third, &code)
            .await
            .unwrap_err()
            .code(),
        "code_invalid"
    );
    // Three codes an hour: the fourth request answers the same and sends nothing.
    let fourth = cista.request_sms_code("gus@example.org").await.unwrap();
    assert_eq!(fourth.len(), 43);
    assert!(h.deliver_all(&cista).await.is_empty());
    // Unknown people get a challenge too, and nothing is sent.
    let fake = cista.request_sms_code("+15555550000").await.unwrap();
    assert_eq!(fake.len(), 43);
    assert_eq!(
        cista
            .sign_in_with_sms_code(&fake, "123456")
            .await
            .unwrap_err()
            .code(),
        "code_invalid"
    );
}

pub async fn owners_must_enrol_totp_and_codes_are_never_accepted_twice(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    h.active_person(
        &cista,
        &org,
        invitee("Hal", "Ivy", "hal@example.org", None, Role::Owner),
    )
    .await;
    let first = cista.sign_in("hal@example.org", PASSWORD).await.unwrap();
    assert_eq!(first.stage, SessionStage::MfaEnrol);
    let pending = cista.resolve_session(&first.token).await.unwrap().unwrap();
    assert!(
        pending.actor.is_none(),
        "no rights before the second factor"
    );
    let enrolment = cista.begin_mfa_enrolment(&pending).await.unwrap();
    assert!(
        enrolment.uri.starts_with("otpauth://totp/Cista:"),
        "{}",
        enrolment.uri
    );
    assert_eq!(
        cista
            .begin_mfa_enrolment(&pending)
            .await
            .unwrap()
            .secret_base32,
        enrolment.secret_base32
    );
    let secret = TotpSecret::from_base32(&enrolment.secret_base32).unwrap();
    assert_eq!(
        cista
            .confirm_mfa_enrolment(&pending, "000000")
            .await
            .unwrap_err()
            .code(),
        "code_invalid"
    );
    let code = totp_now(h, &secret);
    let (full, recovery) = cista.confirm_mfa_enrolment(&pending, &code).await.unwrap();
    assert_eq!(full.stage, SessionStage::Full);
    assert!(
        cista.resolve_session(&first.token).await.unwrap().is_none(),
        "the pending session was replaced"
    );

    // Next sign-in asks for a code; the one already used is refused (same 30 s step).
    let second = cista.sign_in("hal@example.org", PASSWORD).await.unwrap();
    assert_eq!(second.stage, SessionStage::MfaPending);
    let pending = cista.resolve_session(&second.token).await.unwrap().unwrap();
    assert_eq!(
        cista
            .verify_second_factor(&pending, &code)
            .await
            .unwrap_err()
            .code(),
        "code_invalid"
    );
    h.advance(Duration::seconds(30));
    let done = cista
        .verify_second_factor(&pending, &totp_now(h, &secret))
        .await
        .unwrap();
    assert_eq!(done.stage, SessionStage::Full);

    // A recovery code works once.
    let third = cista.sign_in("hal@example.org", PASSWORD).await.unwrap();
    let pending = cista.resolve_session(&third.token).await.unwrap().unwrap();
    cista
        .verify_second_factor(&pending, &recovery[0].to_uppercase())
        .await
        .unwrap();
    let fourth = cista.sign_in("hal@example.org", PASSWORD).await.unwrap();
    let pending = cista.resolve_session(&fourth.token).await.unwrap().unwrap();
    assert_eq!(
        cista
            .verify_second_factor(&pending, &recovery[0])
            .await
            .unwrap_err()
            .code(),
        "code_invalid"
    );
    let kinds: Vec<String> = h
        .store
        .audit_entries(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for kind in [
        "mfa.enrolled",
        "mfa.verified",
        "mfa.recovery_code_used",
        "mfa.failed",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} not audited");
    }
}

pub async fn roles_follow_the_rules_and_changes_end_the_members_sessions(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    h.active_person(
        &cista,
        &org,
        invitee("Owen", "One", "owen@example.org", None, Role::Owner),
    )
    .await;
    h.active_person(
        &cista,
        &org,
        invitee("Ada", "Admin", "ada@example.org", None, Role::Admin),
    )
    .await;
    let member = h
        .active_person(
            &cista,
            &org,
            invitee("Max", "Member", "max@example.org", None, Role::Member),
        )
        .await;
    let owner = actor_for(&cista, h, "owen@example.org").await;
    let admin = actor_for(&cista, h, "ada@example.org").await;
    let member_actor = actor_for(&cista, h, "max@example.org").await;
    let owen = owner.person().unwrap().subject;

    // An administrator cannot make owners, nor touch one.
    for (role, target) in [(Role::Owner, member.subject), (Role::Member, owen)] {
        assert_eq!(
            cista
                .change_role(&admin, org.id, target, role)
                .await
                .unwrap_err()
                .code(),
            "forbidden"
        );
    }
    // A member cannot change anyone; an administrator can change a member.
    assert_eq!(
        cista
            .change_role(&member_actor, org.id, member.subject, Role::Admin)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    let session = cista.sign_in("max@example.org", PASSWORD).await.unwrap();
    cista
        .change_role(&admin, org.id, member.subject, Role::Reviewer)
        .await
        .unwrap();
    assert!(
        cista
            .resolve_session(&session.token)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        h.store
            .membership(org.id, member.subject)
            .await
            .unwrap()
            .unwrap()
            .role,
        Role::Reviewer
    );
    // Nobody changes their own role from a page, not even upwards.
    for (actor, subject, role) in [
        (&owner, owen, Role::Admin),
        (&admin, admin.person().unwrap().subject, Role::Member),
    ] {
        let refused = cista
            .change_role(actor, org.id, subject, role)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), "conflict");
        assert!(refused.to_string().contains("your own role"), "{refused}");
    }
    // The last owner stays an owner, whoever asks (here the operator).
    let refused = cista
        .change_role(&operator(), org.id, owen, Role::Admin)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "conflict");
    assert!(refused.to_string().contains("administer"), "{refused}");
    // Where there is no owner, the only administrator keeps the role but may become owner.
    let other = h.org(&cista, "bay-view").await;
    let ida = h
        .active_person(
            &cista,
            &other,
            invitee("Ida", "Admin", "ida@example.org", None, Role::Admin),
        )
        .await
        .subject;
    let refused = cista
        .change_role(&operator(), other.id, ida, Role::Member)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "conflict");
    cista
        .change_role(&operator(), other.id, ida, Role::Owner)
        .await
        .unwrap();
    // Staff lists need the right, and are the audited read.
    let people = cista.organization_people(&owner, org.id).await.unwrap();
    assert_eq!(people.len(), 3);
    assert!(people.iter().all(|p| p.fields.is_some()));
    assert_eq!(
        cista
            .organization_people(&member_actor, org.id)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
}

pub async fn invitations_by_staff_need_the_right_for_that_role(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let other = h.org(&cista, "bayside").await;
    h.active_person(
        &cista,
        &org,
        invitee("Ada", "Admin", "ada@example.org", None, Role::Admin),
    )
    .await;
    let admin = actor_for(&cista, h, "ada@example.org").await;
    cista
        .invite(
            &admin,
            org.id,
            invitee("New", "Staff", "staff@example.org", None, Role::Inspector),
        )
        .await
        .unwrap();
    let err = cista
        .invite(
            &admin,
            org.id,
            invitee("New", "Owner", "owner2@example.org", None, Role::Owner),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");
    let err = cista
        .invite(
            &admin,
            other.id,
            invitee("Else", "Where", "x@example.org", None, Role::Member),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden", "another organization's invitation");
    assert_eq!(
        h.vault.counts().await.unwrap().0,
        2,
        "nothing stored for refused invitations"
    );
    // An invitation resend by email answers the same for anyone and sends at most 3 an hour to
    // one requester (the staff invitation is not counted against the requester).
    for _ in 0..5 {
        cista
            .resend_invitation_by_email("staff@example.org")
            .await
            .unwrap();
        cista
            .resend_invitation_by_email("nobody@example.org")
            .await
            .unwrap();
    }
    let sent: Vec<_> = h
        .deliver_all(&cista)
        .await
        .into_iter()
        .filter(|d| d.address == "staff@example.org")
        .collect();
    assert_eq!(
        sent.len(),
        1 + 3,
        "the first invitation and three resends within the hour"
    );
}

pub async fn undeliverable_messages_are_retried_then_abandoned_and_params_wiped(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    cista
        .invite(
            &operator(),
            org.id,
            invitee("Ivy", "Jay", "ivy@example.org", None, Role::Member),
        )
        .await
        .unwrap();
    // A second reader cannot claim what the first took.
    let first = cista.due_deliveries(&Actor::System, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        cista
            .due_deliveries(&Actor::System, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let id = first[0].id;
    let mut attempts = first[0].attempts;
    use cista_core::platform::notices::{DeliveryOutcome, MAX_ATTEMPTS};
    loop {
        cista
            .record_delivery(
                &Actor::System,
                id,
                attempts,
                DeliveryOutcome::Retry("connection refused".into()),
            )
            .await
            .unwrap();
        attempts += 1;
        if attempts >= MAX_ATTEMPTS {
            break;
        }
        h.advance(Duration::hours(1));
        let again = cista.due_deliveries(&Actor::System, 10).await.unwrap();
        assert_eq!(again.len(), 1, "retried after the back-off");
    }
    h.advance(Duration::hours(2));
    assert!(
        cista
            .due_deliveries(&Actor::System, 10)
            .await
            .unwrap()
            .is_empty(),
        "abandoned"
    );
    let message = h.store.recent_messages(10).await.unwrap().remove(0);
    assert!(message.failed_at.is_some());
    assert!(
        message.params.is_empty(),
        "the link is wiped from an abandoned message"
    );
    assert_eq!(message.last_error.as_deref(), Some("connection refused"));
    assert!(
        h.store
            .audit_entries(0, 1000)
            .await
            .unwrap()
            .iter()
            .any(|e| e.kind == "message.abandoned")
    );
    assert_eq!(
        cista
            .due_deliveries(&Actor::Anonymous, 10)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
}

pub async fn key_rotation_rewraps_every_persons_key(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    for i in 0..3 {
        cista
            .invite(
                &operator(),
                org.id,
                invitee("P", "Q", &format!("p{i}@example.org"), None, Role::Member),
            )
            .await
            .unwrap();
    }
    let report = cista.rotate_keys(&operator(), true).await.unwrap();
    assert_eq!(
        report.rewrapped,
        5 + 3,
        "stored keys and the three people's keys"
    );
    assert_eq!(report.removed.len(), 1);
    let status = cista.key_status(&operator()).await.unwrap();
    assert_eq!(status.keys_by_kek.len(), 1);
    let people = cista
        .organization_people(&operator(), org.id)
        .await
        .unwrap();
    assert!(
        people.iter().all(|p| p.fields.is_some()),
        "everyone still readable"
    );
    let _ = Error::CodeInvalid;
}
