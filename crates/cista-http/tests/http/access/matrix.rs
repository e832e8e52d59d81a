//! The generated authorization matrix: every admin route, every role, and another
//! organization.

use crate::people;
use crate::web::{page, post, sign_in};
use crate::{Options, TestServer, csrf_in};
use cista_core::products::voting::VotingAction;
use cista_core::{OrgAction, role_may};
use cista_types::{OrgId, Role, SubjectCode};
use reqwest::StatusCode;

/// One admin route: how to call it, and the right it needs.
struct Case {
    name: &'static str,
    get: bool,
    path: fn(&str, SubjectCode) -> String,
    fields: &'static [(&'static str, &'static str)],
    needs: OrgAction,
    /// The target is someone another organization knows, invited to join this one (not yet
    /// a member), rather than an invited member.
    joining: bool,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "org home",
            get: true,
            path: |o, _| format!("/admin/{o}"),
            fields: &[],
            needs: OrgAction::ViewOrganization,
            joining: false,
        },
        Case {
            name: "people",
            get: true,
            path: |o, _| format!("/admin/{o}/people"),
            fields: &[],
            needs: OrgAction::ViewPeople,
            joining: false,
        },
        Case {
            name: "invite form",
            get: true,
            path: |o, _| format!("/admin/{o}/invite"),
            fields: &[],
            needs: OrgAction::Invite(Role::Member),
            joining: false,
        },
        Case {
            name: "invite a member",
            get: false,
            path: |o, _| format!("/admin/{o}/invite"),
            fields: &[
                ("first_name", "New"),
                ("last_name", "Member"),
                ("email", "EMAIL"),
                ("role", "member"),
            ],
            needs: OrgAction::Invite(Role::Member),
            joining: false,
        },
        Case {
            name: "invite an owner",
            get: false,
            path: |o, _| format!("/admin/{o}/invite"),
            fields: &[
                ("first_name", "New"),
                ("last_name", "Owner"),
                ("email", "EMAIL"),
                ("role", "owner"),
            ],
            needs: OrgAction::Invite(Role::Owner),
            joining: false,
        },
        Case {
            name: "make reviewer",
            get: false,
            path: |o, s| format!("/admin/{o}/people/{s}/role"),
            fields: &[("role", "reviewer")],
            needs: OrgAction::ChangeRole(Role::Reviewer),
            joining: false,
        },
        Case {
            name: "resend",
            get: false,
            path: |o, s| format!("/admin/{o}/people/{s}/resend"),
            fields: &[],
            needs: OrgAction::ResendInvitation,
            joining: false,
        },
        Case {
            name: "erase",
            get: false,
            path: |o, s| format!("/admin/{o}/people/{s}/erase"),
            fields: &[("confirm", "erase")],
            needs: OrgAction::ErasePerson,
            joining: false,
        },
        Case {
            name: "withdraw an invitation to join",
            get: false,
            path: |o, s| format!("/admin/{o}/invitations/{s}/withdraw"),
            fields: &[],
            needs: OrgAction::Invite(Role::Member),
            joining: true,
        },
        Case {
            name: "units",
            get: true,
            path: |o, _| format!("/admin/{o}/units"),
            fields: &[],
            needs: VotingAction::ViewUnits.into(),
            joining: false,
        },
        Case {
            name: "ballots",
            get: true,
            path: |o, _| format!("/admin/{o}/ballots"),
            fields: &[],
            needs: VotingAction::ViewBallots.into(),
            joining: false,
        },
        Case {
            name: "new ballot form",
            get: true,
            path: |o, _| format!("/admin/{o}/ballots/new"),
            fields: &[],
            needs: VotingAction::ManageBallots.into(),
            joining: false,
        },
        Case {
            name: "time zone",
            get: false,
            path: |o, _| format!("/admin/{o}/settings"),
            fields: &[("time_zone", "America/New_York")],
            needs: OrgAction::ManageSettings,
            joining: false,
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_matrix_every_route_every_role_and_another_organization() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let home = people::org(cista, "home").await;
    let other = people::org(cista, "other").await;
    let mut n = 0;
    let mut checked = 0;
    for role in Role::ALL {
        let email = format!("{}@example.org", role.as_str());
        people::active(cista, home, &email, role).await;
        let browser = sign_in(&server, &email).await;
        for case in cases() {
            for (org_slug, org_id, own) in [("home", home, true), ("other", other, false)] {
                // A fresh invited member per call: the destructive ones consume their target.
                n += 1;
                let target_email = format!("t{n}@example.org");
                let target = if case.joining {
                    let known_in = if own { other } else { home };
                    people::active(cista, known_in, &target_email, Role::Member).await;
                    let invitee = people::invitee(&target_email, None, Role::Member);
                    let operator = cista_core::Actor::operator("test");
                    let invited = cista.invite(&operator, org_id, invitee).await.unwrap();
                    assert!(!invited.new_person);
                    invited.subject
                } else {
                    people::invited(cista, org_id, &target_email, None, Role::Member).await;
                    cista
                        .store()
                        .members(org_id)
                        .await
                        .unwrap()
                        .into_iter()
                        .last()
                        .unwrap()
                        .subject
                };
                let path = (case.path)(org_slug, target);
                let status = if case.get {
                    browser
                        .get(server.url(&path))
                        .send()
                        .await
                        .unwrap()
                        .status()
                } else {
                    let (_, html) = page(&browser, &server, "/me").await;
                    let new_email = format!("n{n}@example.org");
                    let fields: Vec<(&str, &str)> = case
                        .fields
                        .iter()
                        .map(|(k, v)| {
                            (
                                *k,
                                if *v == "EMAIL" {
                                    new_email.as_str()
                                } else {
                                    *v
                                },
                            )
                        })
                        .collect();
                    post(&browser, &server, &path, &csrf_in(&html), &fields)
                        .await
                        .status()
                };
                let allowed = own && role_may(role, case.needs);
                if allowed {
                    assert!(
                        status.is_success() || status.is_redirection(),
                        "{role:?} should be allowed to {} in its organization: {status}",
                        case.name
                    );
                } else {
                    assert_eq!(
                        status,
                        StatusCode::FORBIDDEN,
                        "{role:?} must be refused {} in {org_slug}",
                        case.name
                    );
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, Role::ALL.len() * cases().len() * 2);

    // Without a session: pages send to sign in, forms are refused.
    let anonymous = server.browser();
    for case in cases() {
        let path = (case.path)("home", SubjectCode::from_i64(1));
        if case.get {
            let r = anonymous.get(server.url(&path)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", case.name);
        } else {
            let (_, html) = page(&anonymous, &server, "/sign-in").await;
            let r = post(&anonymous, &server, &path, &csrf_in(&html), case.fields).await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{}", case.name);
        }
    }
    let _: OrgId = home;
    server.stop().await;
}
