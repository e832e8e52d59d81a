//! A manager sees the roster: the units page names each unit's owners and who votes for it,
//! the people page lists each person's units (namesakes told apart) with shortened contact
//! details, both search by unit and name without script; the staff home shows open ballots
//! with turnout and what closes next; "Manage" in the header; a reminder is confirmed with
//! its number of people; nobody erases themselves or the last administrator.

use crate::people;
use crate::voting::{activate, open_ballot, operator};
use crate::web::{between, follow, page, post, sign_in};
use crate::{Options, TestServer, csrf_in};
use cista_core::Cista;
use cista_core::platform::notices::Notice;
use cista_core::ports::VoteOrigin;
use cista_core::products::voting::cast::CastRequest;
use cista_core::products::voting::definition::Secrecy;
use cista_store::Target;
use cista_types::{BallotId, OrgId, Role, UnitId};
use reqwest::StatusCode;
use time::Duration;

/// Two owners named Oscar Baker (units 101 and 204); 305 has two owners and a designated
/// voter; 402 two owners and none designated.
const ROSTER: &str = "unit,weight,first_name,last_name,email,phone,designated_voter,consent\n\
    101,1,Oscar,Baker,oscar.baker@palm.example,,,yes\n\
    204,1,Oscar,Baker,obaker@palm.example,,,yes\n\
    305,1,Sofia,Alvarez,sofia@palm.example,,yes,yes\n\
    305,,Daniel,Alvarez,daniel@palm.example,,,\n\
    402,1,Priya,Shah,priya@palm.example,,,yes\n\
    402,,Raj,Shah,raj@palm.example,,,\n";

async fn palm_court(cista: &Cista) -> OrgId {
    cista_testkit::fixtures::palm_court_id(cista).await
}

async fn with_roster(target: Option<Target>) -> (TestServer, OrgId) {
    let server = TestServer::start_on(Options::default(), target).await;
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    let plan = cista
        .plan_import(&operator(), org, ROSTER.as_bytes())
        .await
        .unwrap();
    cista
        .apply_import(
            &operator(),
            org,
            ROSTER.as_bytes(),
            &plan.fingerprint,
            &|_, _| {},
        )
        .await
        .unwrap();
    (server, org)
}

/// The table row (`<tr>…</tr>`) whose header cell starts with `label`.
fn row<'a>(html: &'a str, label: &str) -> &'a str {
    let at = html
        .find(&format!("<th scope=\"row\">{label}"))
        .unwrap_or_else(|| panic!("no row {label}: {html}"));
    let start = html[..at].rfind("<tr").unwrap();
    let end = at + html[at..].find("</tr>").unwrap();
    &html[start..end]
}

async fn a_manager_sees_who_owns_each_unit_and_tells_namesakes_apart(target: Option<Target>) {
    let (server, org) = with_roster(target).await;
    let cista = &server.state.cista;
    people::active(cista, org, "olivia@palm.example", Role::Owner).await;
    let olivia = sign_in(&server, "olivia@palm.example").await;

    let (status, units) = page(&olivia, &server, "/admin/palm-court/units").await;
    assert_eq!(status, StatusCode::OK);
    assert!(units.contains("4 units on file."), "{units}");
    let r101 = row(&units, "101");
    assert!(r101.contains("Oscar Baker"), "{r101}");
    let r305 = row(&units, "305");
    assert!(
        r305.contains("Sofia Alvarez") && r305.contains("Daniel Alvarez"),
        "{r305}"
    );
    assert!(
        between(r305, "data-label=\"Votes for it\">", "</td>").contains("Sofia Alvarez"),
        "the designated voter votes: {r305}"
    );
    assert!(r305.contains("designated voter"), "{r305}");
    let r402 = row(&units, "402");
    assert!(
        between(r402, "data-label=\"Votes for it\">", "</td>").contains("any owner"),
        "{r402}"
    );
    assert!(!units.contains("(s)"), "{units}");

    // Search by unit, by name, without script: a GET form.
    assert!(units.contains(r#"<form method="get" action="/admin/palm-court/units""#));
    let (_, found) = page(&olivia, &server, "/admin/palm-court/units?q=204").await;
    assert!(found.contains("1 unit matches"), "{found}");
    assert!(found.contains("<th scope=\"row\">204"), "{found}");
    assert!(!found.contains("<th scope=\"row\">101"), "{found}");
    let (_, found) = page(&olivia, &server, "/admin/palm-court/units?q=alvarez").await;
    assert!(found.contains("1 unit matches"), "{found}");
    assert!(found.contains("<th scope=\"row\">305"), "{found}");
    let (_, found) = page(&olivia, &server, "/admin/palm-court/units?q=baker").await;
    assert!(found.contains("2 units match"), "{found}");

    // People: the two Oscar Bakers are told apart by their units and shortened addresses.
    let (status, people_page) = page(&olivia, &server, "/admin/palm-court/people").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        people_page.matches("<th scope=\"row\">Oscar Baker").count(),
        2,
        "{people_page}"
    );
    let bakers: Vec<&str> = people_page
        .split("<tr>")
        .filter(|r| r.contains("Oscar Baker"))
        .collect();
    let units_of = |r: &str| between(r, "data-label=\"Units\">", "</td>").to_owned();
    let mut their_units: Vec<String> = bakers.iter().map(|r| units_of(r)).collect();
    their_units.sort();
    assert_eq!(their_units, vec!["101", "204"]);
    assert!(people_page.contains("o\u{2022}\u{2022}\u{2022}@palm.example"));
    assert!(
        !people_page.contains("oscar.baker@palm.example") && !people_page.contains("obaker@"),
        "full addresses stay off the list: {people_page}"
    );
    assert!(people_page.contains("Organization owner"), "{people_page}");
    let (_, found) = page(&olivia, &server, "/admin/palm-court/people?q=baker").await;
    assert!(found.contains("2 people match"), "{found}");
    assert!(!found.contains("Sofia Alvarez"), "{found}");
    let (_, found) = page(&olivia, &server, "/admin/palm-court/people?q=402").await;
    assert!(found.contains("2 people match"), "{found}");
    assert!(
        found.contains("Priya Shah") && found.contains("Raj Shah"),
        "{found}"
    );

    // Each view of names is an audited read of personal data.
    let reads = cista
        .store()
        .audit_entries(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "person.read")
        .count();
    assert!(reads >= 7, "{reads} audited reads");

    // An inspector sees the units with how many owners, never who they are.
    people::active(cista, org, "ines@palm.example", Role::Inspector).await;
    let ines = sign_in(&server, "ines@palm.example").await;
    let (status, units) = page(&ines, &server, "/admin/palm-court/units?q=101").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!units.contains("Oscar Baker"), "{units}");
    assert!(units.contains("1 unit label matches"), "{units}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_sees_who_owns_each_unit_and_tells_namesakes_apart_on_sqlite() {
    a_manager_sees_who_owns_each_unit_and_tells_namesakes_apart(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_sees_who_owns_each_unit_and_tells_namesakes_apart_on_postgresql() {
    crate::on_postgres(|target| {
        a_manager_sees_who_owns_each_unit_and_tells_namesakes_apart(Some(target))
    })
    .await;
}

async fn unit_id(cista: &Cista, org: OrgId, label: &str) -> UnitId {
    cista
        .roster(&operator(), org)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.unit.label.as_str() == label)
        .unwrap()
        .unit
        .id
}

/// A paper ballot for `label` on a recorded ballot made by `open_ballot`.
async fn paper_vote(cista: &Cista, org: OrgId, ballot: BallotId, label: &str) {
    let hash = cista
        .ballot(&operator(), org, ballot)
        .await
        .unwrap()
        .stored
        .definition_hash
        .to_hex();
    cista
        .enter_paper_ballot(
            &operator(),
            CastRequest {
                ballot,
                unit: unit_id(cista, org, label).await,
                definition_hash: hash,
                fields: vec![
                    ("c1".to_owned(), "yes".to_owned()),
                    ("c2".to_owned(), "1".to_owned()),
                ],
                origin: VoteOrigin::default(),
                submission: None,
            },
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_staff_home_shows_open_ballots_with_turnout_and_what_closes_next() {
    let (server, org) = with_roster(None).await;
    let cista = &server.state.cista;
    people::active(cista, org, "olivia@palm.example", Role::Owner).await;
    let later = open_ballot(cista, org, Secrecy::Recorded, Duration::hours(5)).await;
    let sooner = open_ballot(cista, org, Secrecy::Recorded, Duration::hours(2)).await;
    paper_vote(cista, org, sooner, "101").await;
    let olivia = sign_in(&server, "olivia@palm.example").await;

    // "Manage" in the header; with one organization /admin goes straight to it.
    let (_, me) = page(&olivia, &server, "/me").await;
    assert!(me.contains(r#"<a href="/admin">Manage</a>"#), "{me}");
    assert!(
        me.contains(r#"<form method="post" action="/sign-out/everywhere""#),
        "the account page signs out everywhere: {me}"
    );
    let r = olivia.get(server.url("/admin")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/admin/palm-court");

    let (status, home) = page(&olivia, &server, "/admin/palm-court").await;
    assert_eq!(status, StatusCode::OK);
    let next = between(&home, "Closes next:", "</p>");
    assert!(
        next.contains(&format!("/admin/palm-court/ballots/{sooner}")),
        "{next}"
    );
    assert!(next.contains("UTC"), "the time says its zone: {next}");
    let list = between(&home, "<ul class=\"open-ballots\">", "</ul>");
    let first = list.find(&format!("ballots/{sooner}")).unwrap();
    let second = list.find(&format!("ballots/{later}")).unwrap();
    assert!(first < second, "{list}");
    assert!(list.contains("1 of 4 units has voted (25 %)"), "{list}");
    assert!(list.contains("0 of 4 units have voted (0 %)"), "{list}");
    assert!(home.contains("Your role: Organization owner."), "{home}");

    // Staff of two organizations choose one at /admin.
    let other = people::org(cista, "bayview").await;
    cista
        .invite(
            &operator(),
            other,
            people::invitee("olivia@palm.example", None, Role::Admin),
        )
        .await
        .unwrap();
    // She already has an account: she is a member once she accepts (with her second factor
    // enrolled, her session goes on).
    let Some(Notice::JoinInvitation { link, .. }) =
        people::last_notice(cista, "olivia@palm.example").await
    else {
        panic!("no invitation to join was sent");
    };
    cista
        .accept_join_invitation(cista_testkit::fixtures::token_of(&link))
        .await
        .unwrap();
    let (status, portal) = page(&olivia, &server, "/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        portal.contains(r#"<a href="/admin/palm-court">Palm Court</a>"#)
            && portal.contains(r#"<a href="/admin/bayview">Org bayview</a>"#),
        "{portal}"
    );

    // An owner of a unit with no staff role: no "Manage", and /admin is refused.
    activate(cista, org, "sofia@palm.example").await;
    let sofia = sign_in(&server, "sofia@palm.example").await;
    let (_, me) = page(&sofia, &server, "/me").await;
    assert!(!me.contains(r#"<a href="/admin">Manage</a>"#), "{me}");
    let (status, _) = page(&sofia, &server, "/admin").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_is_confirmed_with_the_number_of_people_it_goes_to() {
    let (server, org) = with_roster(None).await;
    let cista = &server.state.cista;
    people::active(cista, org, "olivia@palm.example", Role::Owner).await;
    let ballot = open_ballot(cista, org, Secrecy::Recorded, Duration::hours(5)).await;
    let olivia = sign_in(&server, "olivia@palm.example").await;
    let path = format!("/admin/palm-court/ballots/{ballot}");

    // The ballot's page links to the confirmation; nothing is sent by a GET.
    let (_, live) = page(&olivia, &server, &path).await;
    assert!(live.contains(&format!(r#"href="{path}/remind""#)), "{live}");
    let (status, confirm) = page(&olivia, &server, &format!("{path}/remind")).await;
    assert_eq!(status, StatusCode::OK);
    let expected = cista
        .reminder_count(&operator(), org, ballot)
        .await
        .unwrap();
    assert!(expected > 1);
    assert!(
        confirm.contains(&format!("Send a reminder to {expected} people?")),
        "{confirm}"
    );
    for label in ["204", "305", "402"] {
        paper_vote(cista, org, ballot, label).await;
    }
    let (_, confirm) = page(&olivia, &server, &format!("{path}/remind")).await;
    assert!(
        confirm.contains("Send a reminder to 1 person?"),
        "{confirm}"
    );
    let r = post(
        &olivia,
        &server,
        &format!("{path}/remind"),
        &csrf_in(&confirm),
        &[],
    )
    .await;
    let (_, _, after) = follow(&olivia, &server, r).await;
    assert!(
        after.contains("1 reminder is on its way to the owners of units that have not voted."),
        "{after}"
    );
    paper_vote(cista, org, ballot, "101").await;
    let (_, confirm) = page(&olivia, &server, &format!("{path}/remind")).await;
    assert!(
        confirm.contains("Send a reminder to 0 people?"),
        "{confirm}"
    );
    assert!(
        !confirm.contains("Send the reminder"),
        "nothing to confirm: {confirm}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_erases_themselves_or_the_last_administrator() {
    let (server, org) = with_roster(None).await;
    let cista = &server.state.cista;
    let olivia = people::active(cista, org, "olivia@palm.example", Role::Owner).await;
    let adam = people::active(cista, org, "adam@palm.example", Role::Admin).await;
    let as_olivia = sign_in(&server, "olivia@palm.example").await;
    let people_path = "/admin/palm-court/people";
    let (_, html) = page(&as_olivia, &server, people_path).await;
    assert!(
        !html.contains(&format!("/people/{olivia}/erase")),
        "no erase button on one's own row"
    );
    assert!(html.contains(&format!("/people/{adam}/erase")), "{html}");
    assert!(
        !html.contains(&format!("/people/{olivia}/role")),
        "no role change on one's own row"
    );
    let r = post(
        &as_olivia,
        &server,
        &format!("{people_path}/{olivia}/erase"),
        &csrf_in(&html),
        &[("confirm", "erase")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("cannot erase yourself"));
    // A role change posted for one's own row anyway (the form is not shown) is refused too.
    let (_, html) = page(&as_olivia, &server, people_path).await;
    let r = post(
        &as_olivia,
        &server,
        &format!("{people_path}/{olivia}/role"),
        &csrf_in(&html),
        &[("role", "member")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("your own role"));

    // The administrator may erase people, but never an owner (administrators do not touch
    // owners), let alone the organization's only one.
    let as_adam = sign_in(&server, "adam@palm.example").await;
    let (_, html) = page(&as_adam, &server, people_path).await;
    assert!(!html.contains(&format!("/people/{olivia}/erase")), "{html}");
    assert!(html.contains("last administrator"), "{html}");
    let r = post(
        &as_adam,
        &server,
        &format!("{people_path}/{olivia}/erase"),
        &csrf_in(&html),
        &[("confirm", "erase")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("hold a role you cannot give")
    );
    assert!(
        cista.vault().person(olivia).await.unwrap().is_some(),
        "nothing was erased"
    );
    assert!(cista.vault().person(adam).await.unwrap().is_some());

    // Another person's row still has its button, and erasing works.
    let sofia = cista
        .subject_for_email(&operator(), "sofia@palm.example")
        .await
        .unwrap()
        .unwrap();
    assert!(html.contains(&format!("/people/{sofia}/erase")));
    let r = post(
        &as_adam,
        &server,
        &format!("{people_path}/{sofia}/erase"),
        &csrf_in(&html),
        &[("confirm", "erase")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    server.stop().await;
}
