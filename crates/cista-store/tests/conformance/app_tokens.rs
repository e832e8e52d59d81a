//! App tokens on both stores: created with their audit entry, stored only as a hash, scoped
//! to one organization and purpose, refused once expired or revoked, listed newest first.

use crate::Harness;
use cista_core::platform::access::app_tokens::{
    AppPurpose, AppTokenRequest, AppTokenState, TOKEN_PREFIX,
};
use cista_core::ports::{AccessReads as _, AppTokenId};
use cista_core::{Access, Actor, Cista, Error, OrgAction, PersonActor, Store as _};
use cista_types::{Clock as _, Role, SubjectCode};
use std::collections::BTreeMap;
use time::Duration;

fn request(label: &str, lifetime_days: i64) -> AppTokenRequest {
    AppTokenRequest {
        purpose: AppPurpose::VotingResults,
        label: label.to_owned(),
        lifetime_days,
    }
}

/// A token works from its creation until it expires; a revoked one stops at once; neither
/// its secret nor anything derivable without the hash function is stored; creation and
/// revocation are audited in their own transactions, a second revocation writes nothing.
pub async fn an_app_token_authenticates_until_it_expires_or_is_revoked(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let operator = Actor::operator("test");
    let made = cista
        .create_app_token(&operator, org.id, &request("Board web site", 30))
        .await
        .unwrap();
    assert!(made.secret.starts_with(TOKEN_PREFIX));
    assert_eq!(made.secret.len(), TOKEN_PREFIX.len() + 43);
    assert!(!format!("{made:?}").contains(&made.secret));
    assert_eq!(made.token.created_by, "operator:test");
    assert_eq!(
        made.token.expires_at,
        h.clock.now().plus(Duration::days(30))
    );

    let actor = cista
        .authenticate_app_token(&made.secret)
        .await
        .unwrap()
        .actor;
    let Actor::App(app) = &actor else {
        panic!("not an app actor: {actor:?}")
    };
    assert_eq!((app.org, app.token), (org.id, made.token.id));
    assert_eq!(actor.audit_name(), format!("app:{}", made.token.id));
    let listed = cista.app_tokens(&operator, org.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_used_at, Some(h.clock.now()), "use recorded");
    assert_eq!(listed[0].label, "Board web site");

    let secret_part = made.secret.strip_prefix(TOKEN_PREFIX).unwrap();
    let raw = h.raw_database_bytes().await;
    assert!(
        !raw.windows(secret_part.len())
            .any(|w| w == secret_part.as_bytes()),
        "the secret is not in the database"
    );

    wrong_secrets_are_refused(&cista, &made.secret, secret_part).await;
    h.advance(Duration::days(30));
    let expired = cista
        .authenticate_app_token(&made.secret)
        .await
        .unwrap_err();
    assert!(matches!(expired, Error::BearerTokenInvalid));
    assert_eq!(
        cista.app_tokens(&operator, org.id).await.unwrap()[0].state(h.clock.now()),
        AppTokenState::Expired
    );

    let second = cista
        .create_app_token(&operator, org.id, &request("Reporting", 365))
        .await
        .unwrap();
    cista.authenticate_app_token(&second.secret).await.unwrap();
    let head = h.store.audit_head().await.unwrap().size;
    assert!(
        cista
            .revoke_app_token(&operator, org.id, second.token.id)
            .await
            .unwrap()
    );
    assert!(matches!(
        cista.authenticate_app_token(&second.secret).await,
        Err(Error::BearerTokenInvalid)
    ));
    assert_eq!(h.store.audit_head().await.unwrap().size, head + 1);
    assert!(
        !cista
            .revoke_app_token(&operator, org.id, second.token.id)
            .await
            .unwrap(),
        "already revoked"
    );
    assert_eq!(
        h.store.audit_head().await.unwrap().size,
        head + 1,
        "a second revocation writes nothing"
    );
    let unknown = AppTokenId::from_i64(42);
    assert!(matches!(
        cista.revoke_app_token(&operator, org.id, unknown).await,
        Err(Error::NotFound { .. })
    ));

    let listed = cista.app_tokens(&operator, org.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|t| t.id).collect::<Vec<_>>(),
        [second.token.id, made.token.id],
        "newest first"
    );
    assert_eq!(listed[0].state(h.clock.now()), AppTokenState::Revoked);

    let entries = h.store.audit_entries(0, 1000).await.unwrap();
    let kinds: Vec<_> = entries
        .iter()
        .filter(|e| e.kind.starts_with("app_token."))
        .map(|e| (e.kind.as_str(), e.org))
        .collect();
    assert_eq!(
        kinds,
        [
            ("app_token.created", Some(org.id)),
            ("app_token.created", Some(org.id)),
            ("app_token.revoked", Some(org.id)),
        ]
    );
    for e in &entries {
        assert!(!e.details.contains(secret_part), "{}", e.details);
    }
}

/// Empty, truncated, altered or foreign secrets are refused alike.
async fn wrong_secrets_are_refused(cista: &Cista, secret: &str, secret_part: &str) {
    for wrong in [
        "",
        "cista_",
        secret_part,
        &secret[..secret.len() - 1],
        // The last character changed (a canonical one that is `A` would otherwise stay as it was).
        &format!(
            "{}{}",
            &secret[..secret.len() - 1],
            if secret.ends_with('A') { 'Q' } else { 'A' }
        ),
        "Bearer x",
    ] {
        let refused = cista.authenticate_app_token(wrong).await.unwrap_err();
        assert!(matches!(refused, Error::BearerTokenInvalid), "{wrong:?}");
        assert_eq!(refused.code(), "token_invalid");
    }
}

/// A token acts only in its own organization and only as its purpose allows; only owners and
/// administrators (and the operator) manage tokens; another organization's token cannot be
/// revoked through this one.
pub async fn an_app_token_is_scoped_to_its_organization_and_purpose(h: &Harness) {
    let cista = h.cista().await;
    let home = h.org(&cista, "palm-court").await;
    let other = h.org(&cista, "bay-view").await;
    let operator = Actor::operator("test");
    let made = cista
        .create_app_token(&operator, home.id, &request("Board web site", 90))
        .await
        .unwrap();
    let actor = cista
        .authenticate_app_token(&made.secret)
        .await
        .unwrap()
        .actor;
    for action in OrgAction::all() {
        assert_eq!(
            actor.may_in(home.id, action),
            AppPurpose::VotingResults.allows(action),
            "{action:?}"
        );
        assert!(!actor.may_in(other.id, action), "{action:?} elsewhere");
    }
    assert!(matches!(
        cista
            .create_app_token(&actor, home.id, &request("Sneaky", 90))
            .await,
        Err(Error::Forbidden { .. })
    ));
    assert!(matches!(
        cista
            .revoke_app_token(&operator, other.id, made.token.id)
            .await,
        Err(Error::NotFound { .. })
    ));
    cista.authenticate_app_token(&made.secret).await.unwrap();

    let person = |role| {
        Actor::Person(PersonActor {
            subject: SubjectCode::from_i64(7),
            access: Access::Full,
            roles: BTreeMap::from([(home.id, role)]),
        })
    };
    for role in Role::ALL {
        let created = cista
            .create_app_token(&person(role), home.id, &request("Staff made", 7))
            .await;
        assert_eq!(
            created.is_ok(),
            matches!(role, Role::Owner | Role::Admin),
            "{role:?}"
        );
        assert_eq!(
            cista.app_tokens(&person(role), home.id).await.is_ok(),
            matches!(role, Role::Owner | Role::Admin),
            "{role:?}"
        );
    }
    assert!(matches!(
        cista
            .create_app_token(&person(Role::Owner), other.id, &request("Elsewhere", 7))
            .await,
        Err(Error::Forbidden { .. })
    ));
    let bad = cista
        .create_app_token(&operator, home.id, &request("", 7))
        .await
        .unwrap_err();
    assert!(matches!(bad, Error::InvalidInput { .. }));
}

/// The store refuses a second token with the same id or secret hash, and a refused insert
/// leaves nothing behind.
pub async fn a_duplicate_app_token_is_a_conflict_and_writes_nothing(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let made = cista
        .create_app_token(&Actor::operator("test"), org.id, &request("First", 90))
        .await
        .unwrap();
    let head = h.store.audit_head().await.unwrap().size;
    for clash in [
        cista_core::ports::AppToken {
            label: "same id".to_owned(),
            secret_hash: cista_crypto::Digest32::sha256(&[b"other"]),
            ..made.token.clone()
        },
        cista_core::ports::AppToken {
            id: AppTokenId::from_i64(made.token.id.as_i64().wrapping_add(1)),
            label: "same secret".to_owned(),
            ..made.token.clone()
        },
    ] {
        let mut tx = h.store.begin().await.unwrap();
        let err = tx.insert_app_token(&clash).await.unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    }
    assert_eq!(h.store.audit_head().await.unwrap().size, head);
    assert_eq!(h.store.app_tokens(org.id).await.unwrap().len(), 1);
}
