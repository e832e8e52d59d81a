//! SMS codes and TOTP: single use, limited, and required of owners.

use super::*;

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

/// Codes guessed at once are counted one after the other. Twelve wrong authenticator codes
/// sent together lock the account at the `lockout_after`-th, so the right code right after is
/// refused until the lock ends; twelve wrong SMS codes sent together leave the right code
/// refused, since only `sms_code_attempts` tries of a code are ever judged. (Before, each
/// guess read the count before any was written: 24 wrong authenticator codes in two bursts
/// left the account unlocked, and an SMS code took 12 tries against a limit of 5.)
pub async fn codes_guessed_at_once_are_counted_one_by_one(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    h.active_person(
        &cista,
        &org,
        invitee(
            "Ida",
            "Jones",
            "ida@example.org",
            Some("+1 305 555 0143"),
            Role::Owner,
        ),
    )
    .await;
    h.deliver_all(&cista).await;
    let first = cista.sign_in("ida@example.org", PASSWORD).await.unwrap();
    let pending = cista.resolve_session(&first.token).await.unwrap().unwrap();
    // Two tabs opening the enrolment at once are shown one secret, the one kept.
    let (enrolment, other_tab) = futures::future::join(
        cista.begin_mfa_enrolment(&pending),
        cista.begin_mfa_enrolment(&pending),
    )
    .await;
    let enrolment = enrolment.unwrap();
    assert_eq!(other_tab.unwrap().secret_base32, enrolment.secret_base32);
    let secret = TotpSecret::from_base32(&enrolment.secret_base32).unwrap();
    cista
        .confirm_mfa_enrolment(&pending, &totp_now(h, &secret))
        .await
        .unwrap();
    h.advance(Duration::seconds(30));
    let second = cista.sign_in("ida@example.org", PASSWORD).await.unwrap();
    let pending = cista.resolve_session(&second.token).await.unwrap().unwrap();
    // A code no step around now would accept.
    let now = h.clock.now().as_offset().unix_timestamp() as u64;
    let near: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|t| secret.code_at(*t).unwrap())
        .collect();
    let wrong = ["000000", "111111", "222222", "333333"]
        .into_iter()
        .find(|c| !near.iter().any(|n| n == c))
        .unwrap();
    let guesses = (0..12).map(|_| cista.verify_second_factor(&pending, wrong));
    for outcome in futures::future::join_all(guesses).await {
        assert_eq!(outcome.unwrap_err().code(), "code_invalid");
    }
    let counted = h
        .store
        .audit_entries(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "mfa.failed")
        .count();
    assert_eq!(counted as i32, cista.settings().lockout_after);
    assert_eq!(
        cista
            .verify_second_factor(&pending, &totp_now(h, &secret))
            .await
            .unwrap_err()
            .code(),
        "code_invalid",
        "the right code meets the lock"
    );
    h.advance(cista.settings().lockout_base + Duration::seconds(1));
    cista
        .verify_second_factor(&pending, &totp_now(h, &secret))
        .await
        .expect("the right code once the lock is over");

    let challenge = cista.request_sms_code("+13055550143").await.unwrap();
    let Notice::SmsCode { code, .. } = h.last_notice_to(&cista, "+13055550143").await else {
        panic!("no code by SMS");
    };
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let guesses = (0..12).map(|_| cista.sign_in_with_sms_code(&challenge, wrong));
    for outcome in futures::future::join_all(guesses).await {
        assert_eq!(outcome.unwrap_err().code(), "code_invalid");
    }
    assert_eq!(
        cista
            .sign_in_with_sms_code(&challenge, &code)
            .await
            .unwrap_err()
            .code(),
        "code_invalid",
        "twelve tries used the code's five"
    );
}
