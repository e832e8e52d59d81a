//! A stranger cannot keep a known person from signing in (issue 10, item 11), on both stores:
//! SMS codes, reset links and invitation re-sends live until their own expiry or use, budgets
//! and lockouts are per requester, and a device the person signed in from keeps its own.

use crate::Harness;
use crate::harness::{PASSWORD, invitee, token_of};
use cista_core::platform::access::SignedIn;
use cista_core::platform::access::requesters::Requester;
use cista_core::platform::notices::Notice;
use cista_core::ports::AccessReads as _;
use cista_core::ports::{AccessAttempt, AttemptKind, AttemptScope, CredentialPurpose};
use cista_core::{Actor, Cista, Store as _};
use cista_crypto::Digest32;
use cista_types::{Clock as _, Password, Role};
use std::net::IpAddr;
use time::Duration;

const MOBILE: &str = "+13055550142";

fn from(cista: &Cista, address: &str) -> Requester {
    cista.requester(Some(address.parse::<IpAddr>().unwrap()), None)
}

/// A stranger's address number `n` (TEST-NET-2, RFC 5737).
fn stranger(cista: &Cista, n: u8) -> Requester {
    from(cista, &format!("198.51.100.{n}"))
}

/// The SMS codes sent to `MOBILE` since the last delivery.
async fn sms_codes_to(h: &Harness, cista: &Cista) -> Vec<String> {
    h.deliver_all(cista)
        .await
        .into_iter()
        .filter(|d| d.address == MOBILE)
        .filter_map(|d| match d.notice {
            Notice::SmsCode { code, .. } => Some(code),
            _ => None,
        })
        .collect()
}

pub async fn a_strangers_sms_requests_neither_revoke_her_code_nor_use_up_her_budget(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let subject = h
        .active_person(
            &cista,
            &org,
            invitee(
                "Ana",
                "Ruiz",
                "ana@example.org",
                Some("+1 305 555 0142"),
                Role::Member,
            ),
        )
        .await
        .subject;
    h.deliver_all(&cista).await;
    let home = from(&cista, "192.0.2.10");

    // She asks for a code; then a stranger who knows her number asks five times.
    let hers = cista.request_sms_code_from(MOBILE, &home).await.unwrap();
    let [her_code] = sms_codes_to(h, &cista).await.try_into().unwrap();
    for _ in 0..5 {
        cista
            .request_sms_code_from(MOBILE, &stranger(&cista, 7))
            .await
            .unwrap();
    }
    // The stranger's own budget: three an hour.
    assert_eq!(sms_codes_to(h, &cista).await.len(), 3);
    // Her code still works: a new request never revokes an earlier one.
    cista
        .sign_in_with_sms_code(&hers, &her_code)
        .await
        .expect("her code survives the stranger's requests");
    // And her own budget is untouched: she can ask again at once.
    let again = cista.request_sms_code_from(MOBILE, &home).await.unwrap();
    let [code] = sms_codes_to(h, &cista).await.try_into().unwrap();
    cista.sign_in_with_sms_code(&again, &code).await.unwrap();

    // Strangers at many addresses together hit the cap of all untrusted requesters (ten an
    // hour, three of which the first stranger used): nothing more is sent to her phone.
    for n in 20..30 {
        cista
            .request_sms_code_from(MOBILE, &stranger(&cista, n))
            .await
            .unwrap();
    }
    assert_eq!(
        sms_codes_to(h, &cista).await.len(),
        10 - 3 - 2,
        "the strangers' cap counts every untrusted send, hers from home included"
    );
    // Her signed-in phone is a trusted device: the cap does not apply to it.
    let phone = cista.requester(
        Some("203.0.113.5".parse().unwrap()),
        Some(&cista.device_cookie(subject, &home).unwrap()),
    );
    assert!(phone.trusted_for(subject));
    let challenge = cista.request_sms_code_from(MOBILE, &phone).await.unwrap();
    let [code] = sms_codes_to(h, &cista).await.try_into().unwrap();
    cista
        .sign_in_with_sms_code(&challenge, &code)
        .await
        .unwrap();

    // Once she signed in with one code, her other pending codes end.
    let a = cista.request_sms_code_from(MOBILE, &phone).await.unwrap();
    let [code_a] = sms_codes_to(h, &cista).await.try_into().unwrap();
    let b = cista.request_sms_code_from(MOBILE, &phone).await.unwrap();
    let [code_b] = sms_codes_to(h, &cista).await.try_into().unwrap();
    cista.sign_in_with_sms_code(&b, &code_b).await.unwrap();
    assert_eq!(
        cista
            .sign_in_with_sms_code(&a, &code_a)
            .await
            .unwrap_err()
            .code(),
        "code_invalid"
    );
}

/// A member who signed in with her password from `address`, and that browser as she uses it
/// afterwards: a device she signed in from, trusted for her.
async fn member_on_her_laptop(
    h: &Harness,
    cista: &Cista,
    org: &cista_core::ports::Organization,
    (first, last, email): (&str, &str, &str),
    address: &str,
) -> (SignedIn, Requester) {
    let subject = h
        .active_person(cista, org, invitee(first, last, email, None, Role::Member))
        .await
        .subject;
    let browser = from(cista, address);
    let signed_in = cista.sign_in_from(email, PASSWORD, &browser).await.unwrap();
    assert_eq!(signed_in.subject, subject);
    let laptop = cista.requester(
        Some(address.parse().unwrap()),
        Some(&cista.device_cookie(subject, &browser).unwrap()),
    );
    (signed_in, laptop)
}

pub async fn a_strangers_wrong_passwords_never_lock_her_out(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let (_, laptop) = member_on_her_laptop(
        h,
        &cista,
        &org,
        ("Bea", "Cruz", "bea@example.org"),
        "192.0.2.20",
    )
    .await;

    // A stranger guesses ten times: the stranger is locked out, even with the right password.
    let thief = stranger(&cista, 66);
    for _ in 0..10 {
        cista
            .sign_in_from("bea@example.org", "wrong-guess-123", &thief)
            .await
            .unwrap_err();
    }
    let locked = cista
        .sign_in_from("bea@example.org", PASSWORD, &thief)
        .await
        .unwrap_err();
    assert_eq!(locked.code(), "sign_in_failed");
    // She is not: from her laptop, and from a new address too.
    cista
        .sign_in_from("bea@example.org", PASSWORD, &laptop)
        .await
        .unwrap();
    cista
        .sign_in_from("bea@example.org", PASSWORD, &from(&cista, "192.0.2.99"))
        .await
        .unwrap();

    // Strangers at many addresses, four guesses each (under each one's own limit), together
    // reach the untrusted limit (twenty, counting the first stranger's five: guesses made while
    // locked out are refused unread and not counted): new addresses are locked out — her
    // laptop is not.
    for n in 100..106 {
        for _ in 0..4 {
            cista
                .sign_in_from("bea@example.org", "wrong-guess-123", &stranger(&cista, n))
                .await
                .unwrap_err();
        }
    }
    assert!(
        cista
            .sign_in_from("bea@example.org", PASSWORD, &from(&cista, "192.0.2.150"))
            .await
            .is_err(),
        "untrusted requesters are locked once strangers together guessed twenty times"
    );
    cista
        .sign_in_from("bea@example.org", PASSWORD, &laptop)
        .await
        .expect("her own device is never locked by others");
    // The lock ends: the longest lasts an hour.
    h.advance(Duration::minutes(61));
    cista
        .sign_in_from("bea@example.org", PASSWORD, &from(&cista, "192.0.2.150"))
        .await
        .unwrap();
    let audit: Vec<String> = h
        .store
        .audit_entries(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(audit.iter().any(|k| k == "sign_in.locked"));
}

pub async fn a_strangers_requests_leave_her_reset_and_invitation_links_valid(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    h.active_person(
        &cista,
        &org,
        invitee("Cleo", "Diaz", "cleo@example.org", None, Role::Member),
    )
    .await;
    let home = from(&cista, "192.0.2.30");
    cista
        .request_password_reset_from("cleo@example.org", &home)
        .await
        .unwrap();
    let Notice::PasswordReset { link, .. } = h.last_notice_to(&cista, "cleo@example.org").await
    else {
        panic!("no reset link");
    };
    for _ in 0..5 {
        cista
            .request_password_reset_from("cleo@example.org", &stranger(&cista, 9))
            .await
            .unwrap();
    }
    let sent = h
        .deliver_all(&cista)
        .await
        .into_iter()
        .filter(|d| matches!(d.notice, Notice::PasswordReset { .. }))
        .count();
    assert_eq!(sent, 3, "the stranger's own budget");
    cista
        .set_password_with_link(
            token_of(&link),
            CredentialPurpose::Reset,
            &Password::parse("lantern-quarry-velvet-7").unwrap(),
        )
        .await
        .expect("her link survives the stranger's requests");

    // An invitation: the public re-send form leaves her first link valid.
    let invited = cista
        .invite(
            &Actor::operator("test"),
            org.id,
            invitee("Dev", "Eze", "dev@example.org", None, Role::Member),
        )
        .await
        .unwrap();
    let first = invited.link.unwrap();
    for _ in 0..4 {
        cista
            .resend_invitation_by_email_from("dev@example.org", &stranger(&cista, 9))
            .await
            .unwrap();
    }
    let resent = h
        .deliver_all(&cista)
        .await
        .into_iter()
        .filter(|d| matches!(d.notice, Notice::Invitation { .. }))
        .count();
    assert_eq!(resent, 1 + 3, "the first invitation and three re-sends");
    cista
        .set_password_with_link(
            token_of(&first),
            CredentialPurpose::Invite,
            &Password::parse("lantern-quarry-velvet-7").unwrap(),
        )
        .await
        .expect("her invitation survives the stranger's re-sends");
}

pub async fn attempts_are_counted_per_requester_cleared_and_purged(h: &Harness) {
    let subject = cista_types::SubjectCode::from_i64(4242);
    let now = h.clock.now();
    let a = Digest32::sha256(&[b"a"]);
    let b = Digest32::sha256(&[b"b"]);
    let attempt = |requester: Digest32, trusted: bool, at| AccessAttempt {
        subject,
        kind: AttemptKind::Password,
        requester,
        trusted,
        at,
    };
    let mut tx = h.store.begin().await.unwrap();
    tx.record_access_attempt(&attempt(a, false, now.plus(Duration::hours(-30))))
        .await
        .unwrap();
    tx.record_access_attempt(&attempt(a, false, now.plus(Duration::minutes(-5))))
        .await
        .unwrap();
    tx.record_access_attempt(&attempt(a, false, now))
        .await
        .unwrap();
    tx.record_access_attempt(&attempt(b, true, now))
        .await
        .unwrap();
    tx.commit_housekeeping().await.unwrap();
    let since = now.plus(Duration::hours(-24));
    let mut tx = h.store.begin().await.unwrap();
    let of_a = tx
        .access_attempts(
            subject,
            AttemptKind::Password,
            AttemptScope::Requester(&a),
            since,
        )
        .await
        .unwrap();
    assert_eq!(of_a.count, 2);
    assert_eq!(of_a.latest, Some(now));
    let untrusted = tx
        .access_attempts(
            subject,
            AttemptKind::Password,
            AttemptScope::Untrusted,
            since,
        )
        .await
        .unwrap();
    assert_eq!(untrusted.count, 2, "b is a trusted device");
    let other_kind = tx
        .access_attempts(
            subject,
            AttemptKind::SmsCode,
            AttemptScope::Untrusted,
            since,
        )
        .await
        .unwrap();
    assert_eq!(other_kind.count, 0);
    assert_eq!(other_kind.latest, None);

    assert_eq!(
        tx.clear_access_attempts(subject, AttemptKind::Password, &a)
            .await
            .unwrap(),
        3
    );
    tx.commit_housekeeping().await.unwrap();
    assert_eq!(
        h.store
            .purge_access_attempts(now.plus(Duration::seconds(1)))
            .await
            .unwrap(),
        1,
        "b's attempt is the only one left"
    );
}

/// A stranger who fires many requests at once gets no more than one who sends them one by one:
/// the budget or the lockout is counted in the transaction that records the attempt, under the
/// person's lock, on both stores.
pub async fn a_burst_of_requests_at_once_cannot_exceed_a_budget_or_a_lockout(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let subject = h
        .active_person(
            &cista,
            &org,
            invitee(
                "Cleo",
                "Diaz",
                "cleo@example.org",
                Some("+1 305 555 0142"),
                Role::Member,
            ),
        )
        .await
        .subject;
    h.deliver_all(&cista).await;
    let settings = cista.settings();

    // Twelve SMS requests from one stranger at once: her own budget (three an hour) holds.
    let one = stranger(&cista, 21);
    let requests = (0..12).map(|_| cista.request_sms_code_from(MOBILE, &one));
    for challenge in futures::future::join_all(requests).await {
        challenge.expect("every request answers the same");
    }
    assert_eq!(
        sms_codes_to(h, &cista).await.len() as u64,
        settings.sends_per_hour
    );

    // Twenty-four requests at once from twenty-four strangers: the cap of all strangers
    // together (ten an hour) holds; the three already sent count toward it.
    let many: Vec<Requester> = (100..124).map(|n| stranger(&cista, n)).collect();
    let requests = many
        .iter()
        .map(|requester| cista.request_sms_code_from(MOBILE, requester));
    futures::future::join_all(requests).await;
    assert_eq!(
        sms_codes_to(h, &cista).await.len() as u64,
        settings.untrusted_sends_per_hour - settings.sends_per_hour
    );

    // Reset links: the same.
    let guesser = stranger(&cista, 31);
    let requests = (0..12).map(|_| cista.request_password_reset_from("cleo@example.org", &guesser));
    for answer in futures::future::join_all(requests).await {
        answer.unwrap();
    }
    let resets = h
        .deliver_all(&cista)
        .await
        .into_iter()
        .filter(|d| matches!(d.notice, Notice::PasswordReset { .. }))
        .count();
    assert_eq!(resets as u64, settings.sends_per_hour);

    // Twelve wrong passwords at once from one stranger: only `lockout_after` are tried and
    // counted; the rest meet the lock.
    let guesses =
        (0..12).map(|_| cista.sign_in_from("cleo@example.org", "Wrong guess 1", &guesser));
    for outcome in futures::future::join_all(guesses).await {
        assert!(outcome.is_err());
    }
    let mut tx = h.store.begin().await.unwrap();
    let counted = tx
        .access_attempts(
            subject,
            AttemptKind::Password,
            AttemptScope::Requester(guesser.key()),
            h.clock.now().plus(Duration::hours(-24)),
        )
        .await
        .unwrap();
    tx.commit_housekeeping().await.unwrap();
    assert_eq!(
        counted.count,
        u64::try_from(settings.lockout_after).unwrap()
    );
}

/// The account a sign-in writes back is read under the person's lock: a second transaction
/// that locks it waits for the first and then sees its change, never the row as it was (so a
/// sign-in cannot undo a password or a lock set meanwhile), on both stores.
pub async fn a_locked_account_is_read_fresh_after_the_other_transaction_commits(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let subject = h
        .active_person(
            &cista,
            &org,
            invitee("Dora", "Diaz", "dora@example.org", None, Role::Member),
        )
        .await
        .subject;
    let mut first = h.store.begin().await.unwrap();
    let mut account = first.lock_account(subject).await.unwrap().unwrap();
    assert_eq!(account.failed_attempts, 0);
    let second = async {
        let mut tx = h.store.begin().await.unwrap();
        let fresh = tx.lock_account(subject).await.unwrap().unwrap();
        tx.commit_housekeeping().await.unwrap();
        fresh
    };
    let change = async {
        // Let the second transaction reach its lock before this one writes.
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        account.failed_attempts = 3;
        first.update_account(&account).await.unwrap();
        first.commit_housekeeping().await.unwrap();
    };
    let (fresh, ()) = tokio::join!(second, change);
    assert_eq!(
        fresh.failed_attempts, 3,
        "the second read waited for the first change"
    );
    let mut tx = h.store.begin().await.unwrap();
    assert!(
        tx.lock_account(cista_types::SubjectCode::from_i64(987_654))
            .await
            .unwrap()
            .is_none()
    );
    tx.commit_housekeeping().await.unwrap();
}

/// Someone holding a stolen session guesses the current password on the change form: each
/// wrong guess counts toward the thief's own lockout (as at sign-in), so the guessing stops
/// after five, even with the right password, while her own device can still change it; and
/// the lock ends like a sign-in lock.
pub async fn a_stolen_session_cannot_guess_the_password_on_the_change_form(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let (signed_in, laptop) = member_on_her_laptop(
        h,
        &cista,
        &org,
        ("Ida", "Vega", "ida@example.org"),
        "192.0.2.30",
    )
    .await;
    let actor = cista
        .resolve_session(&signed_in.token)
        .await
        .unwrap()
        .unwrap()
        .actor
        .unwrap();
    let new = Password::parse("harbor-lilac-compass-58").unwrap();

    let thief = stranger(&cista, 77);
    for _ in 0..5 {
        let wrong = cista
            .change_password_from(&actor, "guess-123", &new, &thief)
            .await
            .unwrap_err();
        assert_eq!(wrong.code(), "invalid_input");
    }
    let locked = cista
        .change_password_from(&actor, PASSWORD, &new, &thief)
        .await
        .unwrap_err();
    assert_eq!(locked.code(), "rate_limited");
    // Nor does a weak new password tell the locked thief that the current one was right.
    let weak = Password::parse("password1").unwrap();
    for current in [PASSWORD, "guess-456"] {
        let locked = cista
            .change_password_from(&actor, current, &weak, &thief)
            .await
            .unwrap_err();
        assert_eq!(locked.code(), "rate_limited", "{current}");
    }
    // The same lock holds at sign-in for the thief; not for her laptop.
    assert!(
        cista
            .sign_in_from("ida@example.org", PASSWORD, &thief)
            .await
            .is_err()
    );
    // From her laptop the same weak password is refused for what it is.
    let refused = cista
        .change_password_from(&actor, PASSWORD, &weak, &laptop)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "weak_password");
    cista
        .change_password_from(&actor, PASSWORD, &new, &laptop)
        .await
        .expect("her own device is not locked by the thief's guesses");
    let audit: Vec<String> = h
        .store
        .audit_entries(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        audit
            .iter()
            .filter(|k| *k == "password.change_failed")
            .count(),
        5
    );
    assert!(audit.iter().any(|k| k == "password.changed"));
}
