//! Erasure against concurrent links: the erasure takes the person's lock and marks the account
//! before it destroys the vault entry, so no organization links the person meanwhile, and the
//! right to erase is checked against the memberships as they are under that lock.

use crate::Harness;
use crate::harness::invitee;
use cista_core::ports::{AccessReads as _, Account, AccountStatus, Membership};
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

/// Invites someone to `org` as a member; their subject.
async fn member_invited(
    cista: &cista_core::Cista,
    org: OrgId,
    first: &str,
    email: &str,
) -> SubjectCode {
    cista
        .invite(
            &operator(),
            org,
            invitee(first, "Ho", email, None, Role::Member),
        )
        .await
        .unwrap()
        .subject
}

/// When the tests' links are made.
fn at() -> Timestamp {
    Timestamp::from_unix_micros(1_800_000_000_000_000).unwrap()
}

/// `subject` as a member of `org`.
fn member(org: OrgId, subject: SubjectCode) -> Membership {
    Membership {
        org,
        subject,
        role: Role::Member,
        created_at: at(),
    }
}

/// Someone the vault alone knows, with no account (as an invitation or a roll import stopped
/// between the vault and the store leaves them): invited to `org`, then forgotten by the store.
async fn vault_only(
    h: &Harness,
    cista: &cista_core::Cista,
    org: OrgId,
    email: &str,
) -> SubjectCode {
    let subject = member_invited(cista, org, "Gil", email).await;
    h.forget_in_store(subject).await;
    assert!(h.store.account(subject).await.unwrap().is_none());
    subject
}

/// An erasure holding the person's lock with the account marked (its first step) makes a link
/// wait, then refuses it once it commits; no message is sent to the person, a later invitation
/// by email is refused too, and the erasure finishes with no membership left.
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

    // Nothing is sent to them meanwhile: their invitation, queued and still addressable in
    // the vault, is abandoned.
    let due = cista
        .due_deliveries(&cista_core::Actor::System, 100)
        .await
        .unwrap();
    assert!(
        due.iter().all(|d| d.address != "gil@example.org"),
        "no delivery to a person whose erasure has begun"
    );
    assert!(h.vault.person(person).await.unwrap().is_some());

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
    let person = member_invited(&cista, org.id, "Gil", "gil@example.org").await;
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

/// Someone the vault alone knows has no account row to lock, so the erasure makes one: a link
/// (a roll import that found them before) writing their account and membership as the
/// erasure starts is waited for and its membership ended; a link after the erasure finds the
/// marked row and is refused.
pub async fn a_person_the_vault_alone_knows_is_locked_and_marked_too(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let racing = vault_only(h, &cista, org.id, "gil@example.org").await;
    let late = vault_only(h, &cista, org.id, "ida@example.org").await;

    let mut linking = h.store.begin().await.unwrap();
    let new_account = Account::new_invited(racing, at());
    assert!(
        linking
            .insert_account_if_absent(&new_account)
            .await
            .unwrap()
    );
    linking
        .insert_membership(&member(org.id, racing))
        .await
        .unwrap();
    let erasure = {
        let cista = cista.clone();
        tokio::spawn(async move { cista.erase_person(&operator(), racing).await })
    };
    tokio::time::sleep(SETTLE).await;
    assert!(!erasure.is_finished(), "the erasure waits for the link");
    linking.commit_housekeeping().await.unwrap();
    erasure.await.unwrap().unwrap();
    assert!(
        h.store.memberships_of(racing).await.unwrap().is_empty(),
        "the link's membership is ended"
    );
    let account = h.store.account(racing).await.unwrap().unwrap();
    assert_eq!(account.status, AccountStatus::Erased);
    assert!(h.vault.person(racing).await.unwrap().is_none());

    cista.erase_person(&operator(), late).await.unwrap();
    let account = h.store.account(late).await.unwrap().unwrap();
    assert_eq!(account.status, AccountStatus::Erased, "a row, marked");
    let mut linking = h.store.begin().await.unwrap();
    let new_account = Account::new_invited(late, at());
    assert!(
        !linking
            .insert_account_if_absent(&new_account)
            .await
            .unwrap()
    );
    let refused = linking
        .insert_membership(&member(org.id, late))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "person_erased", "{refused}");
    drop(linking);
    let entries = h.store.audit_entries(0, 1000).await.unwrap();
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.kind == "person.erasure_begun")
            .count(),
        2,
        "each erasure marked its row"
    );
}

/// A role change takes the same lock as a link: one made while an erasure holds the person's
/// lock waits and is refused; one written but uncommitted when an administrator's erasure
/// reads the memberships is waited for, and a promotion beyond the administrator's reach
/// then refuses the erasure whole.
pub async fn a_role_change_and_an_erasure_take_turns(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    h.active_person(
        &cista,
        &org,
        invitee("Ed", "Fox", "ed@example.org", None, Role::Admin),
    )
    .await;
    let erased = member_invited(&cista, org.id, "Gil", "gil@example.org").await;
    let promoted = member_invited(&cista, org.id, "Ida", "ida@example.org").await;

    let mut erasing = h.store.begin().await.unwrap();
    let mut account = erasing.lock_account(erased).await.unwrap().unwrap();
    account.status = AccountStatus::Erased;
    erasing.update_account(&account).await.unwrap();
    let changing = {
        let cista = cista.clone();
        tokio::spawn(async move {
            cista
                .change_role(&operator(), org.id, erased, Role::Admin)
                .await
        })
    };
    tokio::time::sleep(SETTLE).await;
    assert!(
        !changing.is_finished(),
        "the role change waits for the person's lock"
    );
    erasing.commit_housekeeping().await.unwrap();
    let refused = changing.await.unwrap().unwrap_err();
    assert_eq!(refused.code(), "person_erased", "{refused}");
    let kept = h.store.membership(org.id, erased).await.unwrap().unwrap();
    assert_eq!(kept.role, Role::Member);

    let admin = crate::access::actor_for(&cista, h, "ed@example.org").await;
    let mut promoting = h.store.begin().await.unwrap();
    promoting
        .set_role(org.id, promoted, Role::Owner)
        .await
        .unwrap();
    let erasure = {
        let cista = cista.clone();
        tokio::spawn(async move { cista.erase_person(&admin, promoted).await })
    };
    tokio::time::sleep(SETTLE).await;
    assert!(
        !erasure.is_finished(),
        "the erasure waits for the promotion"
    );
    promoting.commit_housekeeping().await.unwrap();
    let refused = erasure.await.unwrap().unwrap_err();
    assert_eq!(refused.code(), "forbidden", "{refused}");
    assert!(h.vault.person(promoted).await.unwrap().is_some());
    let account = h.store.account(promoted).await.unwrap().unwrap();
    assert_ne!(account.status, AccountStatus::Erased, "not marked");
    let role = h.store.membership(org.id, promoted).await.unwrap().unwrap();
    assert_eq!(role.role, Role::Owner);
}

/// An erasure the operator began and that stopped after its first step (the account marked,
/// the person still an administrator) is finished by an owner: the step down before it skips
/// the role change the mark refuses, and the memberships end in the last step.
pub async fn staff_finish_an_erasure_the_operator_began(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    h.active_person(
        &cista,
        &org,
        invitee("Olu", "Obi", "olu@example.org", None, Role::Owner),
    )
    .await;
    let admin = h
        .active_person(
            &cista,
            &org,
            invitee("Ed", "Fox", "ed@example.org", None, Role::Admin),
        )
        .await
        .subject;
    let owner = crate::access::actor_for(&cista, h, "olu@example.org").await;

    let mut marking = h.store.begin().await.unwrap();
    let mut account = marking.lock_account(admin).await.unwrap().unwrap();
    account.status = AccountStatus::Erased;
    marking.update_account(&account).await.unwrap();
    marking.commit_housekeeping().await.unwrap();

    cista.erase_person(&owner, admin).await.unwrap();
    assert!(h.store.memberships_of(admin).await.unwrap().is_empty());
    assert!(h.vault.person(admin).await.unwrap().is_none());
}

/// A role change (the organization's lock, then a share of the person's row) and a link made
/// under the person's lock (an invitation resent: the person's row, then a foreign-key check
/// on the organization) both finish: the organization's lock does not stop foreign-key checks,
/// so the two never wait on each other in a cycle (PostgreSQL would abort one).
pub async fn a_role_change_and_a_link_under_the_persons_lock_both_finish(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let person = member_invited(&cista, org.id, "Gil", "gil@example.org").await;

    let mut resending = h.store.begin().await.unwrap();
    resending.lock_account(person).await.unwrap().unwrap();
    let changing = {
        let store = h.store.clone();
        tokio::spawn(async move {
            let mut tx = store.begin().await?;
            tx.lock_members(org.id).await?;
            tx.set_role(org.id, person, Role::Admin).await?;
            tx.commit_housekeeping().await
        })
    };
    tokio::time::sleep(SETTLE).await;
    let link = cista_core::ports::Credential {
        token_hash: cista_crypto::Digest32::sha256(&[b"a resent invitation".as_slice()]),
        purpose: cista_core::ports::CredentialPurpose::Invite,
        subject: person,
        org: Some(org.id),
        code_hash: None,
        created_at: at(),
        expires_at: at(),
        used_at: None,
        attempts: 0,
        role: None,
    };
    tokio::time::timeout(Duration::from_secs(5), resending.insert_credential(&link))
        .await
        .expect("a foreign-key check does not wait for the organization's lock")
        .unwrap();
    resending.commit_housekeeping().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), changing)
        .await
        .expect("the role change finishes")
        .unwrap()
        .unwrap();
    let role = h.store.membership(org.id, person).await.unwrap().unwrap();
    assert_eq!(role.role, Role::Admin);
}
