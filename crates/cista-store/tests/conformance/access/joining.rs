//! Invitations to join: someone Cista already knows becomes a member of another organization
//! only when they accept, and its staff read nothing of them until then.

use super::*;
use cista_core::ports::{AccountStatus, Organization};

/// A password that passes the strength check and is not `PASSWORD`.
fn another_password() -> Password {
    Password::parse("tangerine lighthouse gravel 58").unwrap()
}

pub async fn someone_known_joins_another_organization_only_when_they_accept(h: &Harness) {
    let cista = h.cista().await;
    let palm = h.org(&cista, "palm-court").await;
    let bay = h.org(&cista, "bayside").await;
    let ann = h
        .active_person(
            &cista,
            &palm,
            invitee(
                "Ann",
                "Lee",
                "ann@example.org",
                Some("+13055550123"),
                Role::Member,
            ),
        )
        .await
        .subject;
    let before = h.store.audit_head().await.unwrap().size;

    // Bayside types other details for the same address: nothing links her yet, and its
    // staff cannot read what Palm Court recorded.
    let invited = cista
        .invite(
            &operator(),
            bay.id,
            invitee("Anne", "Leigh", "ANN@example.org", None, Role::Admin),
        )
        .await
        .unwrap();
    assert_eq!(invited.subject, ann);
    assert!(!invited.new_person);
    assert!(membership_in(&cista, bay.id, ann).await.is_none());
    let err = cista
        .read_people(&operator(), bay.id, &[ann], "test")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let link = h.join_link_to(&cista, "ann@example.org").await;
    assert_eq!(invited.link.as_deref(), Some(link.as_str()));
    assert!(link.starts_with("https://localhost:8443/j/"), "{link}");
    let token = token_of(&link);

    let view = cista
        .inspect_link(token, CredentialPurpose::Join)
        .await
        .unwrap();
    assert_eq!(view.organization.as_deref(), Some("Org bayside"));
    assert_eq!(view.joins, Some(Role::Admin));
    assert!(
        !view.chooses_password,
        "she has a password: she only accepts"
    );
    // Not a link to choose a password (it is still good, to accept: nothing is recorded),
    // nor an invitation link.
    let head = h.store.audit_head().await.unwrap().size;
    let err = cista
        .set_password_with_link(token, CredentialPurpose::Join, &another_password())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict", "{err:?}");
    assert_eq!(h.store.audit_head().await.unwrap().size, head);
    let err = cista
        .inspect_link(token, CredentialPurpose::Invite)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TokenInvalid), "{err:?}");
    assert!(membership_in(&cista, bay.id, ann).await.is_none());

    assert_eq!(
        cista.accept_join_invitation(token).await.unwrap(),
        "Org bayside"
    );
    let membership = membership_in(&cista, bay.id, ann).await.unwrap();
    assert_eq!(membership.role, Role::Admin, "the role of the invitation");
    let rows = cista
        .read_people(&operator(), bay.id, &[ann], "test")
        .await
        .unwrap();
    let fields = rows[0].1.as_ref().unwrap();
    assert_eq!(
        (fields.first_name.as_str(), fields.last_name.as_str()),
        ("Ann", "Lee"),
        "her own details, not the ones typed"
    );
    assert!(membership_in(&cista, palm.id, ann).await.is_some());
    let err = cista.accept_join_invitation(token).await.unwrap_err();
    assert!(matches!(err, Error::TokenInvalid), "once only: {err:?}");
    cista.sign_in("ann@example.org", PASSWORD).await.unwrap();

    let kinds: Vec<(String, Option<cista_types::OrgId>)> = h
        .store
        .audit_entries(before, 20)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.starts_with("member."))
        .map(|e| (e.kind, e.org))
        .collect();
    assert_eq!(
        kinds,
        [
            ("member.join_invited".to_owned(), Some(bay.id)),
            ("member.joined".to_owned(), Some(bay.id)),
        ]
    );
}

async fn membership_in(
    cista: &Cista,
    org: cista_types::OrgId,
    subject: cista_types::SubjectCode,
) -> Option<cista_core::ports::Membership> {
    cista.store().membership(org, subject).await.unwrap()
}

pub async fn someone_yet_to_choose_a_password_joins_by_choosing_it(h: &Harness) {
    let cista = h.cista().await;
    let palm = h.org(&cista, "palm-court").await;
    let bay = h.org(&cista, "bayside").await;
    let bo = cista
        .invite(
            &operator(),
            palm.id,
            invitee("Bo", "Ray", "bo@example.org", None, Role::Member),
        )
        .await
        .unwrap();
    let palm_link = bo.link.clone().unwrap();
    cista
        .invite(
            &operator(),
            bay.id,
            invitee("Bo", "Ray", "bo@example.org", None, Role::Member),
        )
        .await
        .unwrap();
    let link = h.join_link_to(&cista, "bo@example.org").await;
    let token = token_of(&link);
    // Palm Court's link still works: another organization's invitation cancels nothing.
    cista
        .inspect_link(token_of(&palm_link), CredentialPurpose::Invite)
        .await
        .unwrap();
    let view = cista
        .inspect_link(token, CredentialPurpose::Join)
        .await
        .unwrap();
    assert!(view.chooses_password);
    assert_eq!(view.joins, Some(Role::Member));
    // Accepting without a password is refused (the link is good, for choosing one: nothing
    // is recorded), and leaves the link as it was.
    let head = h.store.audit_head().await.unwrap().size;
    let err = cista.accept_join_invitation(token).await.unwrap_err();
    assert_eq!(err.code(), "conflict", "{err:?}");
    assert_eq!(h.store.audit_head().await.unwrap().size, head);
    cista
        .inspect_link(token, CredentialPurpose::Join)
        .await
        .unwrap();

    let password = Password::parse(PASSWORD).unwrap();
    let subject = cista
        .set_password_with_link(token, CredentialPurpose::Join, &password)
        .await
        .unwrap();
    assert_eq!(subject, bo.subject);
    assert_eq!(
        h.store.account(subject).await.unwrap().unwrap().status,
        AccountStatus::Active
    );
    assert!(membership_in(&cista, bay.id, subject).await.is_some());
    assert!(membership_in(&cista, palm.id, subject).await.is_some());
    // The password is chosen: Palm Court's link to choose one has done its job.
    let err = cista
        .inspect_link(token_of(&palm_link), CredentialPurpose::Invite)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TokenInvalid), "{err:?}");
    cista.sign_in("bo@example.org", PASSWORD).await.unwrap();
}

pub async fn a_new_invitation_to_join_replaces_only_that_organizations_last(h: &Harness) {
    let cista = h.cista().await;
    let palm = h.org(&cista, "palm-court").await;
    let bay = h.org(&cista, "bayside").await;
    let reef = h.org(&cista, "reef").await;
    let cy = h
        .active_person(
            &cista,
            &palm,
            invitee("Cy", "Li", "cy@example.org", None, Role::Member),
        )
        .await
        .subject;
    let mut links = Vec::new();
    for org in [&bay, &reef, &bay] {
        cista
            .invite(
                &operator(),
                org.id,
                invitee("Cy", "Li", "cy@example.org", None, Role::Member),
            )
            .await
            .unwrap();
        links.push(h.join_link_to(&cista, "cy@example.org").await);
    }
    let err = cista
        .accept_join_invitation(token_of(&links[0]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TokenInvalid), "replaced: {err:?}");
    cista
        .accept_join_invitation(token_of(&links[2]))
        .await
        .unwrap();
    cista
        .accept_join_invitation(token_of(&links[1]))
        .await
        .unwrap();
    for org in [&palm, &bay, &reef] {
        assert!(membership_in(&cista, org.id, cy).await.is_some());
    }
    let err = cista
        .invite(
            &operator(),
            bay.id,
            invitee("Cy", "Li", "cy@example.org", None, Role::Member),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict(_)),
        "already a member: {err:?}"
    );
}

/// Someone with a password in the first organization, invited to join the second with
/// `role`.
async fn known_and_invited(
    h: &Harness,
    cista: &Cista,
    (known, inviting): (&Organization, &Organization),
    email: &str,
    role: Role,
) -> cista_types::SubjectCode {
    let who = |role| invitee("Dee", "Oh", email, None, role);
    let subject = h
        .active_person(cista, known, who(Role::Member))
        .await
        .subject;
    cista
        .invite(&operator(), inviting.id, who(role))
        .await
        .unwrap();
    subject
}

pub async fn staff_list_and_withdraw_their_invitations_to_join(h: &Harness) {
    let cista = h.cista().await;
    let palm = h.org(&cista, "palm-court").await;
    let bay = h.org(&cista, "bayside").await;
    let dee = known_and_invited(h, &cista, (&palm, &bay), "dee@example.org", Role::Inspector).await;
    let link = h.join_link_to(&cista, "dee@example.org").await;

    let pending = cista
        .pending_join_invitations(&operator(), bay.id)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(
        (pending[0].subject, pending[0].role),
        (dee, Role::Inspector)
    );
    assert!(pending[0].expires_at > pending[0].sent_at);
    assert!(
        cista
            .pending_join_invitations(&operator(), palm.id)
            .await
            .unwrap()
            .is_empty(),
        "another organization's invitation is not listed"
    );
    // Palm Court's administrator neither sees nor withdraws Bayside's.
    let palm_admin = Actor::Person(cista_core::PersonActor {
        subject: cista_types::SubjectCode::from_i64(4_242),
        access: Access::Full,
        roles: [(palm.id, Role::Admin)].into(),
    });
    let err = cista
        .pending_join_invitations(&palm_admin, bay.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden", "{err}");
    let err = cista
        .withdraw_join_invitation(&palm_admin, bay.id, dee)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden", "{err}");

    // Bayside's administrator may not withdraw what they could not send (an owner's).
    let bay_admin = Actor::Person(cista_core::PersonActor {
        subject: cista_types::SubjectCode::from_i64(4_243),
        access: Access::Full,
        roles: [(bay.id, Role::Admin)].into(),
    });
    let fay = known_and_invited(h, &cista, (&palm, &bay), "fay@example.org", Role::Owner).await;
    let err = cista
        .withdraw_join_invitation(&bay_admin, bay.id, fay)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden", "{err}");
    assert_eq!(
        cista
            .pending_join_invitations(&bay_admin, bay.id)
            .await
            .unwrap()
            .len(),
        2,
        "both still wait"
    );

    let before = h.store.audit_head().await.unwrap().size;
    cista
        .withdraw_join_invitation(&bay_admin, bay.id, dee)
        .await
        .unwrap();
    let entries = h.store.audit_entries(before, 5).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].kind, "member.join_withdrawn");
    let left = cista
        .pending_join_invitations(&operator(), bay.id)
        .await
        .unwrap();
    assert_eq!(
        left.len(),
        1,
        "Fay's, which the administrator could not withdraw"
    );
    assert_eq!(left[0].subject, fay);
    let err = cista
        .accept_join_invitation(token_of(&link))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TokenInvalid), "withdrawn: {err:?}");
    assert!(membership_in(&cista, bay.id, dee).await.is_none());
    let err = cista
        .withdraw_join_invitation(&operator(), bay.id, dee)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found", "{err}");
}

/// A role that needs a second factor, accepted by someone without one, ends their sessions:
/// the next sign-in enrols one before any page of the role opens. A member's role does not.
pub async fn accepting_a_staff_role_without_a_second_factor_ends_the_sessions(h: &Harness) {
    let cista = h.cista().await;
    let palm = h.org(&cista, "palm-court").await;
    h.active_person(
        &cista,
        &palm,
        invitee("Eve", "Ng", "eve@example.org", None, Role::Member),
    )
    .await;
    let live = |token: String| {
        let cista = cista.clone();
        async move { cista.resolve_session(&token).await.unwrap().is_some() }
    };
    for (slug, role, kept) in [
        ("bayside", Role::Member, true),
        ("reef", Role::Admin, false),
    ] {
        let org = h.org(&cista, slug).await;
        let signed_in = cista.sign_in("eve@example.org", PASSWORD).await.unwrap();
        cista
            .invite(
                &operator(),
                org.id,
                invitee("Eve", "Ng", "eve@example.org", None, role),
            )
            .await
            .unwrap();
        h.accept_join(&cista, "eve@example.org").await;
        assert_eq!(live(signed_in.token.clone()).await, kept, "{role:?}");
    }
}

/// Re-inviting someone known emails them each time: past five invitations to join in an hour
/// (from every organization together), staff are told to wait.
pub async fn invitations_to_join_one_person_are_limited_per_hour(h: &Harness) {
    let cista = h.cista().await;
    let palm = h.org(&cista, "palm-court").await;
    let bay = h.org(&cista, "bayside").await;
    let reef = h.org(&cista, "reef").await;
    known_and_invited(h, &cista, (&palm, &bay), "gus@example.org", Role::Member).await;
    let again = |org: cista_types::OrgId| {
        let cista = cista.clone();
        async move {
            cista
                .invite(
                    &operator(),
                    org,
                    invitee("Gus", "Oh", "gus@example.org", None, Role::Member),
                )
                .await
        }
    };
    for org in [bay.id, reef.id, bay.id, reef.id] {
        again(org).await.unwrap();
    }
    let err = again(bay.id).await.unwrap_err();
    assert_eq!(err.code(), "rate_limited", "{err}");
    h.advance(Duration::minutes(61));
    again(bay.id).await.unwrap();
}

/// A disabled account cannot use an invitation to join, whether it has a password or not:
/// the link is refused as not working, and no membership begins.
pub async fn a_disabled_account_cannot_join(h: &Harness) {
    let cista = h.cista().await;
    let palm = h.org(&cista, "palm-court").await;
    let bay = h.org(&cista, "bayside").await;
    let hal = known_and_invited(h, &cista, (&palm, &bay), "hal@example.org", Role::Member).await;
    let link = h.join_link_to(&cista, "hal@example.org").await;
    let token = token_of(&link);
    let account = h.store.account(hal).await.unwrap().unwrap();
    for status in [AccountStatus::Active, AccountStatus::Invited] {
        let mut tx = h.store.begin().await.unwrap();
        tx.update_account(&cista_core::ports::Account {
            status: AccountStatus::Disabled,
            password_hash: (status == AccountStatus::Active)
                .then(|| account.password_hash.clone())
                .flatten(),
            ..account.clone()
        })
        .await
        .unwrap();
        tx.commit_housekeeping().await.unwrap();
        let err = cista
            .inspect_link(token, CredentialPurpose::Join)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::TokenInvalid), "{status:?}: {err:?}");
        let err = cista.accept_join_invitation(token).await.unwrap_err();
        assert!(matches!(err, Error::TokenInvalid), "{status:?}: {err:?}");
        let err = cista
            .set_password_with_link(token, CredentialPurpose::Join, &another_password())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::TokenInvalid), "{status:?}: {err:?}");
        assert!(membership_in(&cista, bay.id, hal).await.is_none());
    }
    // Enabled again, the link works: the refusals above left it unused.
    let mut tx = h.store.begin().await.unwrap();
    tx.update_account(&account).await.unwrap();
    tx.commit_housekeeping().await.unwrap();
    cista.accept_join_invitation(token).await.unwrap();
    assert!(membership_in(&cista, bay.id, hal).await.is_some());
}

/// A breach of the organization that invited someone known elsewhere does not list them while
/// they have not joined (invited, refused a spent link, withdrawn): it holds nothing of theirs.
/// Once they accept, they are its member like any other.
pub async fn a_breach_lists_an_invitee_only_once_they_have_joined(h: &Harness) {
    use cista_core::platform::breach::BreachScope;
    let cista = h.cista().await;
    let palm = h.org(&cista, "palm-court").await;
    let bay = h.org(&cista, "bayside").await;
    let from = h.clock.now();
    h.advance(Duration::minutes(1));
    let ivo = known_and_invited(h, &cista, (&palm, &bay), "ivo@example.org", Role::Member).await;
    let link = h.join_link_to(&cista, "ivo@example.org").await;
    cista
        .withdraw_join_invitation(&operator(), bay.id, ivo)
        .await
        .unwrap();
    assert!(cista.accept_join_invitation(token_of(&link)).await.is_err());
    let listed = |scope| {
        let cista = cista.clone();
        let to = h.clock.now();
        async move {
            let operator = operator();
            let found = cista.assess_breach(&operator, bay.id, (from, to), scope);
            let found = found.await.unwrap();
            found.people.iter().any(|p| p.code == ivo)
        }
    };
    h.advance(Duration::minutes(1));
    for scope in [BreachScope::Activity, BreachScope::Members] {
        assert!(!listed(scope).await, "not joined: {scope:?}");
    }
    cista
        .invite(
            &operator(),
            bay.id,
            invitee("Ivo", "Oh", "ivo@example.org", None, Role::Member),
        )
        .await
        .unwrap();
    h.accept_join(&cista, "ivo@example.org").await;
    h.advance(Duration::minutes(1));
    for scope in [BreachScope::Activity, BreachScope::Members] {
        assert!(listed(scope).await, "a member now: {scope:?}");
    }
}
