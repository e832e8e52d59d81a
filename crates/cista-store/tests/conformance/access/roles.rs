//! Roles, their changes, and who may invite to which role.

use super::*;

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

/// An organization with two owners, Olga and Otto, signed in: the instance, the organization
/// and their two actors.
async fn two_owners(h: &Harness) -> (Cista, cista_core::ports::Organization, Actor, Actor) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    for (first, email) in [("Olga", "olga@example.org"), ("Otto", "otto@example.org")] {
        h.active_person(
            &cista,
            &org,
            invitee(first, "Owner", email, None, Role::Owner),
        )
        .await;
    }
    let olga = actor_for(&cista, h, "olga@example.org").await;
    let otto = actor_for(&cista, h, "otto@example.org").await;
    (cista, org, olga, otto)
}

/// Two owners demote each other at the same moment: the check that an organization keeps
/// someone to administer it reads the members under the organization's lock, so the second
/// change sees the first and is refused; one owner is always left, on both stores.
pub async fn two_owners_demoting_each_other_at_once_leave_one_owner(h: &Harness) {
    let (cista, org, olga, otto) = two_owners(h).await;
    let (olga_code, otto_code) = (
        olga.person().unwrap().subject,
        otto.person().unwrap().subject,
    );
    let (a, b) = tokio::join!(
        cista.change_role(&olga, org.id, otto_code, Role::Admin),
        cista.change_role(&otto, org.id, olga_code, Role::Admin),
    );
    let refused = match (a, b) {
        (Ok(()), Err(e)) | (Err(e), Ok(())) => e,
        other => panic!("exactly one demotion must pass: {other:?}"),
    };
    assert_eq!(refused.code(), "conflict", "{refused}");
    let owners = h
        .store
        .members(org.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.role == Role::Owner)
        .count();
    assert_eq!(owners, 1);

    // The lock itself: a second transaction's locked read waits for the first to commit
    // and then sees its change.
    let mut first = h.store.begin().await.unwrap();
    let members = first.lock_members(org.id).await.unwrap();
    assert_eq!(members.len(), 2);
    let second = async {
        let mut tx = h.store.begin().await.unwrap();
        let fresh = tx.lock_members(org.id).await.unwrap();
        tx.commit_housekeeping().await.unwrap();
        fresh
    };
    let change = async {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        first
            .set_role(org.id, olga_code, Role::Reviewer)
            .await
            .unwrap();
        first.commit_housekeeping().await.unwrap();
    };
    let (fresh, ()) = tokio::join!(second, change);
    let olga_now = fresh.iter().find(|m| m.subject == olga_code).unwrap();
    assert_eq!(
        olga_now.role,
        Role::Reviewer,
        "the second locked read waited for the first change"
    );
}

/// Two owners erase each other at the same moment: the erasure first steps its person down
/// under the organization's lock, with the check that someone else administers it, so the
/// second erasure sees the first and is refused; one owner is always left, the erased one is
/// unreadable in the vault, and the step down is in the audit log.
pub async fn two_owners_erasing_each_other_at_once_leave_one_owner(h: &Harness) {
    let (cista, org, olga, otto) = two_owners(h).await;
    let (olga_code, otto_code) = (
        olga.person().unwrap().subject,
        otto.person().unwrap().subject,
    );
    let (a, b) = tokio::join!(
        cista.erase_person(&olga, otto_code),
        cista.erase_person(&otto, olga_code),
    );
    let (refused, erased) = match (a, b) {
        (Ok(()), Err(e)) => (e, otto_code),
        (Err(e), Ok(())) => (e, olga_code),
        other => panic!("exactly one erasure must pass: {other:?}"),
    };
    assert_eq!(refused.code(), "conflict", "{refused}");
    let members = h.store.members(org.id).await.unwrap();
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(members[0].role, Role::Owner);
    assert_ne!(members[0].subject, erased);
    assert!(h.vault.person(erased).await.unwrap().is_none());
    let head = h.store.audit_head().await.unwrap();
    let entries = h.store.audit_entries(0, head.size as u32).await.unwrap();
    assert!(
        entries.iter().any(|e| e.kind == "member.role_changed"
            && e.details.contains("\"because\":\"erasure\"")
            && e.details.contains(&erased.to_string())),
        "the step down before the erasure is audited"
    );
}
