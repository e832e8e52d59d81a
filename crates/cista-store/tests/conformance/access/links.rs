//! Invitation links: a password set once, expiry, and weak passwords explained.

use super::*;
use cista_core::ports::Credential;
use cista_types::{OrgId, OsRng, SubjectCode};

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
    a_late_invitation_is_refused_once_a_password_is_set(h, &cista, invited.subject, org.id).await;
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

/// An invitation link made just before the person chose their password (a ballot's mailing
/// reads who is still invited before it writes their links) no longer sets one: only a reset
/// changes a password that is set.
async fn a_late_invitation_is_refused_once_a_password_is_set(
    h: &Harness,
    cista: &Cista,
    subject: SubjectCode,
    org: OrgId,
) {
    let token = cista_crypto::token::new_token(&OsRng);
    let now = h.clock.now();
    let mut tx = h.store.begin().await.unwrap();
    tx.insert_credential(&Credential {
        token_hash: token.hash,
        purpose: CredentialPurpose::Invite,
        subject,
        org: Some(org),
        code_hash: None,
        created_at: now,
        expires_at: now.plus(Duration::days(7)),
        used_at: None,
        attempts: 0,
        role: None,
    })
    .await
    .unwrap();
    tx.commit_housekeeping().await.unwrap();
    let late = cista
        .set_password_with_link(
            &token.secret,
            CredentialPurpose::Invite,
            &Password::parse("an-entirely-other-passphrase").unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(late.code(), "token_invalid");
    assert!(cista.sign_in("ann@example.org", PASSWORD).await.is_ok());
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

/// Someone the vault knows by email but who has no account (an invitation stopped between the
/// vault and the store) is invited as a known person: their account is made before the
/// invitation that refers to it, and the link to join sets their password.
pub async fn a_person_known_only_to_the_vault_is_invited_with_an_account(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let other = h.org(&cista, "bayside").await;
    let subject = cista
        .invite(
            &operator(),
            org.id,
            invitee("Gil", "Ho", "gil@example.org", None, Role::Member),
        )
        .await
        .unwrap()
        .subject;
    h.forget_in_store(subject).await;
    assert!(h.store.account(subject).await.unwrap().is_none());
    assert!(h.vault.person(subject).await.unwrap().is_some());

    let invited = cista
        .invite(
            &operator(),
            other.id,
            invitee("Gil", "Ho", "gil@example.org", None, Role::Member),
        )
        .await
        .unwrap();
    assert_eq!(invited.subject, subject, "found by email");
    assert!(!invited.new_person);
    let account = h.store.account(subject).await.unwrap().unwrap();
    assert_eq!(account.status, cista_core::ports::AccountStatus::Invited);
    let member = || async { h.store.membership(other.id, subject).await.unwrap() };
    assert!(member().await.is_none(), "a member once they accept");
    let link = invited.link.expect("a link to join and set a password");
    cista
        .set_password_with_link(
            token_of(&link),
            CredentialPurpose::Join,
            &Password::parse(PASSWORD).unwrap(),
        )
        .await
        .unwrap();
    assert!(member().await.is_some());
    cista.sign_in("gil@example.org", PASSWORD).await.unwrap();
}
