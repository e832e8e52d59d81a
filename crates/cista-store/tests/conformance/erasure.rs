//! Erasure against concurrent links: the erasure takes the person's lock and marks the account
//! before it destroys the vault entry, so no organization links the person meanwhile, and the
//! right to erase is checked against the memberships as they are under that lock.

use crate::Harness;
use crate::harness::invitee;
use cista_core::ports::{AccessReads as _, AccountStatus, Membership};
use cista_core::{Actor, Store as _, Vault as _};
use cista_types::{OrgId, Role, SubjectCode, Timestamp};
use std::sync::Arc;
use std::time::Duration;

/// How long a link or an erasure is given to reach the lock it must wait on.
const SETTLE: Duration = Duration::from_millis(300);

fn operator() -> Actor {
    Actor::operator("test")
}

/// Links `subject` to `org` in a transaction of its own, as an invitation or a roll import
/// does, and commits.
async fn link(
    store: Arc<cista_store::SeaStore>,
    org: OrgId,
    subject: SubjectCode,
) -> cista_core::Result<()> {
    let mut tx = store.begin().await?;
    tx.insert_membership(&member(org, subject)).await?;
    tx.commit_housekeeping().await
}

/// `subject` as a member of `org`.
fn member(org: OrgId, subject: SubjectCode) -> Membership {
    Membership {
        org,
        subject,
        role: Role::Member,
        created_at: Timestamp::from_unix_micros(1_800_000_000_000_000).unwrap(),
    }
}

/// An erasure holding the person's lock with the account marked (its first step) makes a link
/// wait, then refuses it once it commits; a later invitation by email is refused too, and the
/// erasure finishes with no membership left.
pub async fn a_person_whose_erasure_has_begun_is_never_linked(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let other = h.org(&cista, "bayside").await;
    let gil = invitee("Gil", "Ho", "gil@example.org", None, Role::Member);
    let person = cista
        .invite(&operator(), org.id, gil.clone())
        .await
        .unwrap()
        .subject;

    let mut erasing = h.store.begin().await.unwrap();
    let mut account = erasing.lock_account(person).await.unwrap().unwrap();
    account.status = AccountStatus::Erased;
    erasing.update_account(&account).await.unwrap();
    let linking = tokio::spawn(link(h.store.clone(), other.id, person));
    tokio::time::sleep(SETTLE).await;
    assert!(
        !linking.is_finished(),
        "the link waits for the person's lock"
    );
    erasing.commit_housekeeping().await.unwrap();
    let refused = linking.await.unwrap().unwrap_err();
    assert_eq!(refused.code(), "person_erased", "{refused}");
    assert!(
        h.store
            .membership(other.id, person)
            .await
            .unwrap()
            .is_none(),
        "not linked"
    );

    let again = cista.invite(&operator(), other.id, gil).await.unwrap_err();
    assert_eq!(again.code(), "person_erased", "{again}");
    cista.erase_person(&operator(), person).await.unwrap();
    assert!(h.store.memberships_of(person).await.unwrap().is_empty());
    assert!(h.vault.person(person).await.unwrap().is_none());
}

/// An administrator of one organization erases a member of it while another organization is
/// linking the same person: the erasure waits for the link, sees the new membership under the
/// person's lock, and is refused whole (nothing erased, nothing marked).
pub async fn an_erasure_checks_its_right_against_the_memberships_under_the_lock(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let other = h.org(&cista, "bayside").await;
    h.active_person(
        &cista,
        &org,
        invitee("Ed", "Fox", "ed@example.org", None, Role::Admin),
    )
    .await;
    let person = cista
        .invite(
            &operator(),
            org.id,
            invitee("Gil", "Ho", "gil@example.org", None, Role::Member),
        )
        .await
        .unwrap()
        .subject;
    let admin = crate::access::actor_for(&cista, h, "ed@example.org").await;

    // The link to the other organization is written but not committed when the erasure
    // starts: its first look at the memberships sees only the administrator's organization.
    let mut linking = h.store.begin().await.unwrap();
    linking
        .insert_membership(&member(other.id, person))
        .await
        .unwrap();
    let erasure = {
        let cista = cista.clone();
        tokio::spawn(async move { cista.erase_person(&admin, person).await })
    };
    tokio::time::sleep(SETTLE).await;
    assert!(!erasure.is_finished(), "the erasure waits for the link");
    linking.commit_housekeeping().await.unwrap();
    let refused = erasure.await.unwrap().unwrap_err();
    assert_eq!(refused.code(), "forbidden", "{refused}");

    assert!(
        h.vault.person(person).await.unwrap().is_some(),
        "not erased"
    );
    let account = h.store.account(person).await.unwrap().unwrap();
    assert_ne!(account.status, AccountStatus::Erased, "not marked");
    assert_eq!(h.store.memberships_of(person).await.unwrap().len(), 2);
    let entries = h.store.audit_entries(0, 1000).await.unwrap();
    assert!(
        !entries.iter().any(|e| e.kind.starts_with("person.eras")),
        "no erasure recorded"
    );
}

/// A write decided on an account read before an erasure marked it (a second factor checked
/// meanwhile) cannot bring the account back: `person_erased`, and the mark stays. On
/// PostgreSQL a link's lock on the account row (`FOR KEY SHARE`) does not make an ordinary
/// account update wait, so a link and a password set from a link cannot close a cycle of
/// locks.
pub async fn an_erased_account_is_never_written_back(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let other = h.org(&cista, "bayside").await;
    let person = h
        .active_person(
            &cista,
            &org,
            invitee("Gil", "Ho", "gil@example.org", None, Role::Member),
        )
        .await
        .subject;
    let stale = h.store.account(person).await.unwrap().unwrap();
    assert_eq!(stale.status, AccountStatus::Active);

    if h.is_postgres() {
        let mut linking = h.store.begin().await.unwrap();
        linking
            .insert_membership(&member(other.id, person))
            .await
            .unwrap();
        let mut updating = h.store.begin().await.unwrap();
        let mut changed = stale.clone();
        changed.failed_attempts = 1;
        tokio::time::timeout(Duration::from_secs(5), updating.update_account(&changed))
            .await
            .expect("an account update does not wait for a link's lock")
            .unwrap();
        updating.commit_housekeeping().await.unwrap();
        linking.commit_housekeeping().await.unwrap();
    }

    let mut marking = h.store.begin().await.unwrap();
    let mut account = marking.lock_account(person).await.unwrap().unwrap();
    account.status = AccountStatus::Erased;
    account.password_hash = None;
    marking.update_account(&account).await.unwrap();
    marking.commit_housekeeping().await.unwrap();

    let mut writing = h.store.begin().await.unwrap();
    let refused = writing.update_account(&stale).await.unwrap_err();
    assert_eq!(refused.code(), "person_erased", "{refused}");
    drop(writing);
    let now = h.store.account(person).await.unwrap().unwrap();
    assert_eq!(now.status, AccountStatus::Erased);
    assert!(now.password_hash.is_none());
    // Marking it again is allowed (an erasure finished by a second call); a missing account
    // is still `not_found`.
    let mut writing = h.store.begin().await.unwrap();
    writing.update_account(&now).await.unwrap();
    let mut ghost = stale.clone();
    ghost.subject = SubjectCode::from_i64(987_654_321);
    let missing = writing.update_account(&ghost).await.unwrap_err();
    assert_eq!(missing.code(), "not_found", "{missing}");
}
