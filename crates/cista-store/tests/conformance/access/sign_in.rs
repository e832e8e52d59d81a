//! Sign-in and lockout, session ends, and password changes that end every session.

use super::*;

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
    // A reset link sent before the password changed goes with the old password: whoever
    // holds it cannot undo the change.
    cista
        .request_password_reset("flo@example.org")
        .await
        .unwrap();
    let Notice::PasswordReset { link, .. } = h.last_notice_to(&cista, "flo@example.org").await
    else {
        panic!();
    };
    let c = cista.sign_in("flo@example.org", PASSWORD).await.unwrap();
    let actor = cista
        .resolve_session(&c.token)
        .await
        .unwrap()
        .unwrap()
        .actor
        .unwrap();
    cista.change_password(&actor, PASSWORD, &new).await.unwrap();
    assert_eq!(
        cista
            .set_password_with_link(
                token_of(&link),
                CredentialPurpose::Reset,
                &Password::parse("another-quarry-lantern-9").unwrap(),
            )
            .await
            .unwrap_err()
            .code(),
        "token_invalid"
    );
    cista
        .sign_in("flo@example.org", "lantern-quarry-velvet-7")
        .await
        .expect("the changed password stands");
}

/// The one read that resolves a session (`session_with_access`) gives what the reads apart
/// give: the session, its account's status and the account's role in every organization,
/// by organization; once the account is disabled and in no organization the read says so,
/// and resolving the session ends it.
pub async fn a_sessions_one_read_gives_its_account_status_and_every_role(h: &Harness) {
    use cista_core::ports::Membership;
    use cista_crypto::token::token_hash;
    let cista = h.cista().await;
    let first = h.org(&cista, "palm-court").await;
    let second = h.org(&cista, "bay-view").await;
    let dee = h
        .active_person(
            &cista,
            &first,
            invitee("Dee", "Eve", "dee@example.org", None, Role::Member),
        )
        .await;
    // Another person with a role of her own: none of it is Dee's.
    h.active_person(
        &cista,
        &first,
        invitee("Flo", "Gee", "flo@example.org", None, Role::Admin),
    )
    .await;
    let now = h.clock.now();
    let mut tx = h.store.begin().await.unwrap();
    tx.insert_membership(&Membership {
        org: second.id,
        subject: dee.subject,
        role: Role::Reviewer,
        created_at: now,
    })
    .await
    .unwrap();
    tx.commit_housekeeping().await.unwrap();

    let signed_in = cista.sign_in("dee@example.org", PASSWORD).await.unwrap();
    let hash = token_hash(&signed_in.token).unwrap();
    let read = h.store.session_with_access(&hash).await.unwrap().unwrap();
    assert_eq!(read.session, h.store.session(&hash).await.unwrap().unwrap());
    let account = h.store.account(dee.subject).await.unwrap().unwrap();
    assert_eq!(read.account_status, Some(account.status));
    let apart: Vec<_> = h
        .store
        .memberships_of(dee.subject)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.org, m.role))
        .collect();
    assert_eq!(read.roles, apart);
    assert_eq!(read.roles.len(), 2);
    let resolved = cista.resolve_session(&signed_in.token).await.unwrap();
    let Some(Actor::Person(p)) = resolved.unwrap().actor else {
        panic!("a signed-in person")
    };
    assert_eq!(p.roles.get(&first.id), Some(&Role::Member));
    assert_eq!(p.roles.get(&second.id), Some(&Role::Reviewer));

    // Disabled and in no organization: the read says so, and resolving the session ends it.
    let mut tx = h.store.begin().await.unwrap();
    tx.update_account(&cista_core::ports::Account {
        status: cista_core::ports::AccountStatus::Disabled,
        ..account
    })
    .await
    .unwrap();
    assert_eq!(tx.delete_memberships_of(dee.subject).await.unwrap(), 2);
    tx.commit_housekeeping().await.unwrap();
    let read = h.store.session_with_access(&hash).await.unwrap().unwrap();
    assert_eq!(
        (read.account_status, read.roles.len()),
        (Some(cista_core::ports::AccountStatus::Disabled), 0)
    );
    assert!(
        cista
            .resolve_session(&signed_in.token)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(h.store.session(&hash).await.unwrap(), None, "ended");
    let unknown = cista_crypto::Digest32::sha256(&[b"no such session"]);
    assert_eq!(h.store.session_with_access(&unknown).await.unwrap(), None);
}
