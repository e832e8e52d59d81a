//! An open ballot's staff pages: turnout but never a count, paper entry and its refusals,
//! reminders, and a secret ballot's paper in two envelopes.

use super::{BALLOTS, hidden, location, palm_court, paper_vote, staff, unit_id};
use crate::people::last_notice;
use crate::voting::{import_roster, open_ballot, operator};
use crate::web::{between, follow, page, post};
use crate::{Options, TestServer, csrf_in};
use cista_core::platform::notices::Notice;
use cista_core::products::voting::VotingNotice;
use cista_core::products::voting::definition::Secrecy;
use cista_types::{BallotId, OrgId, Role};
use reqwest::{Client, StatusCode};
use time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_shows_turnout_never_counts_and_paper_ballots_are_entered_once() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    import_roster(cista, org).await;
    // A recorded ballot: its paper ballots are entered with their unit on one screen (a
    // secret ballot's come in two envelopes; see the two-envelope test).
    let ballot = open_ballot(cista, org, Secrecy::Recorded, Duration::hours(2)).await;
    paper_vote(cista, org, ballot, "1A", &["1", "2"]).await;
    paper_vote(cista, org, ballot, "2A", &["1"]).await;
    let admin = staff(&server, "admin@palm.example", Role::Admin).await;
    let path = format!("{BALLOTS}/{ballot}");

    let token = the_live_page_shows_turnout_and_no_count(&admin, &server, &path).await;
    a_paper_ballot_is_entered_once_and_an_incomplete_one_is_sent_back(&admin, &server, org, &path)
        .await;
    the_live_page_lists_who_voted_and_who_was_refused(&admin, &server, &path).await;
    a_reminder_goes_out_once_an_hour_and_closing_early_is_refused(&admin, &server, &path, &token)
        .await;
    server.stop().await;
}

/// The live page of an open ballot: turnout by channel, sealed results, no close button.
/// Returns the page's CSRF token.
async fn the_live_page_shows_turnout_and_no_count(
    admin: &Client,
    server: &TestServer,
    path: &str,
) -> String {
    let (status, live) = page(admin, server, path).await;
    assert_eq!(status, 200);
    assert!(live.contains("Open"));
    assert!(live.contains("2 of 5 units"), "{live}");
    assert!(live.contains("paper 2"), "{live}");
    assert!(live.contains("Results are sealed"));
    assert!(
        !live.contains(r#"class="results""#),
        "no results table before the close"
    );
    assert!(!live.contains("Elected") && !live.contains("Ballots</th>"));
    assert!(
        !live.contains("Close and count now"),
        "no close button inside the window"
    );
    assert!(live.contains("Enter a paper ballot") && live.contains("Send a reminder now"));
    csrf_in(&live)
}

/// Paper entry offers the units still to vote; a unit's paper ballot is entered once (the
/// second is refused and recorded), and an incomplete one is sent back.
async fn a_paper_ballot_is_entered_once_and_an_incomplete_one_is_sent_back(
    admin: &Client,
    server: &TestServer,
    org: OrgId,
    path: &str,
) {
    let cista = &server.state.cista;
    // Paper entry: the units still to vote, and the contests in order.
    let (status, form) = page(admin, server, &format!("{path}/paper")).await;
    assert_eq!(status, 200);
    assert!(
        form.contains(">3B</option>") && !form.contains(">1A</option>"),
        "{form}"
    );
    let definition = hidden(&form, "definition");
    let unit = unit_id(cista, org, "3B").await.to_string();
    let fields = [
        ("unit", unit.as_str()),
        ("definition", definition.as_str()),
        ("c1", "no"),
        ("c2", "3"),
    ];
    let r = post(
        admin,
        server,
        &format!("{path}/paper"),
        &csrf_in(&form),
        &fields,
    )
    .await;
    // Post/Redirect/Get: back to the entry page, with a notice.
    let (to, status, html) = follow(admin, server, r).await;
    assert_eq!(to, format!("{path}/paper"));
    assert_eq!(status, 200);
    assert!(
        html.contains("Paper ballot for unit 3B entered at"),
        "{html}"
    );
    assert!(!html.contains(">3B</option>"), "3B is no longer offered");
    assert!(
        !html.to_lowercase().contains("tracker"),
        "no tracker on the entry screen"
    );
    // The same unit again, from a fresh page: refused with the core's sentence, and
    // recorded. (The very same form sent again would be a repeat: its first outcome.)
    let r = post(
        admin,
        server,
        &format!("{path}/paper"),
        &csrf_in(&html),
        &fields,
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(html.contains("3B already voted on"), "{html}");
    assert!(html.contains("on paper (entered by staff)"), "{html}");
    // An incomplete ballot is sent back.
    let unit_3a = unit_id(cista, org, "3A").await.to_string();
    let r = post(
        admin,
        server,
        &format!("{path}/paper"),
        &csrf_in(&form),
        &[
            ("unit", unit_3a.as_str()),
            ("definition", definition.as_str()),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("needs an answer"));
}

/// The live page counts the paper ballot and lists the units that voted and the refused
/// attempt; the participation list downloads while open, the ballot list does not.
async fn the_live_page_lists_who_voted_and_who_was_refused(
    admin: &Client,
    server: &TestServer,
    path: &str,
) {
    let (_, live) = page(admin, server, path).await;
    assert!(live.contains("3 of 5 units"), "{live}");
    let refused = between(&live, r#"id="refused""#, "</table>");
    assert!(
        refused.contains("3B") && refused.contains("the unit had already voted"),
        "{refused}"
    );
    let voted = between(&live, r#"id="participation""#, "</table>");
    for label in ["1A", "2A", "3B"] {
        assert!(voted.contains(label), "{label}: {voted}");
    }
    assert!(live.contains("3 units have voted, newest first."), "{live}");
    assert!(
        live.contains("2 attempts were refused, newest first."),
        "{live}"
    );

    // A search of the roll says of each unit found whether it voted: 3A has not.
    let (status, found) = page(admin, server, &format!("{path}?q=+3%20")).await;
    assert_eq!(status, StatusCode::OK);
    let found = between(&found, r#"class="cards found""#, "</table>");
    let rows: Vec<&str> = found.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 2, "{found}");
    assert!(
        rows[0].contains(">3A<") && rows[0].contains(">No<"),
        "{found}"
    );
    assert!(
        rows[1].contains(">3B<") && rows[1].contains(">Yes<"),
        "{found}"
    );
    // `%` is a character like any other, and odd page numbers show the first page.
    let (status, none) = page(admin, server, &format!("{path}?q=%25&page=x&refused=-2")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        none.contains("No unit on this ballot&#39;s roll matches “%”")
            || none.contains("No unit on this ballot's roll matches “%”"),
        "{none}"
    );
    assert!(none.contains("3 units have voted"), "{none}");

    // The participation list can be downloaded while open; the ballot list cannot.
    let r = admin
        .get(server.url(&format!("{path}/record/participation.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("3B"));
    let r = admin
        .get(server.url(&format!("{path}/record/ballots.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("results_sealed"));
}

/// A reminder now, and not twice in the hour (a repeated form gets its first outcome); closing
/// early is refused.
async fn a_reminder_goes_out_once_an_hour_and_closing_early_is_refused(
    admin: &Client,
    server: &TestServer,
    path: &str,
    token: &str,
) {
    let cista = &server.state.cista;
    // A reminder now, and not twice in the hour.
    last_notice(cista, "nobody").await;
    let r = post(admin, server, &format!("{path}/remind"), token, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&r).contains("done=reminded&n="),
        "{}",
        location(&r)
    );
    let (_, live) = page(admin, server, &location(&r)).await;
    assert!(
        live.contains("reminders are on their way") || live.contains("1 reminder is on its way"),
        "{live}"
    );
    assert!(matches!(
        last_notice(cista, "fay@palm.example").await,
        Some(Notice::Voting(VotingNotice::BallotReminder { .. }))
    ));
    // The same form sent again (a reload, a double-click): its first outcome, nothing sent.
    let r = post(admin, server, &format!("{path}/remind"), token, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["cista-repeat"], "first-outcome");
    assert!(last_notice(cista, "fay@palm.example").await.is_none());
    // A fresh page's button within the hour: refused, saying why.
    let (_, live) = page(admin, server, path).await;
    let r = post(
        admin,
        server,
        &format!("{path}/remind"),
        &csrf_in(&live),
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("already went out this hour")
    );
    // Closing early is refused: results are never early (FL-09).
    let r = post(admin, server, &format!("{path}/close"), token, &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("not before"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_ballots_paper_comes_in_two_envelopes_and_no_screen_ties_a_ballot_to_a_unit() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    import_roster(cista, org).await;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(2)).await;
    let admin = staff(&server, "admin@palm.example", Role::Admin).await;
    let paper = format!("{BALLOTS}/{ballot}/paper");

    let (definition, u1a) =
        the_one_screen_entry_is_refused_for_a_secret_ballot(&admin, &server, org, ballot, &paper)
            .await;
    let html =
        each_outer_envelope_is_checked_in_once(&admin, &server, org, ballot, &paper, &u1a).await;
    a_batch_is_opened_and_its_inner_ballots_entered_without_a_unit(
        &admin,
        &server,
        ballot,
        &paper,
        &html,
        &definition,
    )
    .await;
    no_page_ties_a_tracker_or_a_choice_to_a_unit(&admin, &server, ballot, &paper).await;
    server.stop().await;
}

/// The units of the roster.
const LABELS: [&str; 5] = ["1A", "1B", "2A", "3A", "3B"];

/// The paper page of a secret ballot offers the two envelopes only, and the one-screen entry
/// (unit and choices together) is refused. Returns the definition hash and unit 1A's id.
async fn the_one_screen_entry_is_refused_for_a_secret_ballot(
    admin: &Client,
    server: &TestServer,
    org: OrgId,
    ballot: BallotId,
    paper: &str,
) -> (String, String) {
    let cista = &server.state.cista;
    // The page offers the two envelopes only: the check-in has a unit and no choices.
    let (status, html) = page(admin, server, paper).await;
    assert_eq!(status, 200);
    assert!(html.contains("two envelopes"), "{html}");
    assert!(html.contains(&format!("{paper}/check-in")), "{html}");
    assert!(
        !html.contains(r#"name="c1""#),
        "no choices next to a unit: {html}"
    );
    // The one-screen entry (unit and choices together) is refused for a secret ballot.
    let definition = cista
        .ballot(&operator(), org, ballot)
        .await
        .unwrap()
        .stored
        .definition_hash
        .to_hex();
    let u1a = unit_id(cista, org, "1A").await.to_string();
    let r = post(
        admin,
        server,
        paper,
        &csrf_in(&html),
        &[("unit", &u1a), ("definition", &definition), ("c1", "yes")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("two envelopes"));
    assert_eq!(
        cista
            .store()
            .voting()
            .participation(ballot)
            .await
            .unwrap()
            .len(),
        0
    );
    (definition, u1a)
}

/// Step one: each outer envelope, by unit; a second envelope for a unit is refused, said why,
/// and recorded. Returns the paper page.
async fn each_outer_envelope_is_checked_in_once(
    admin: &Client,
    server: &TestServer,
    org: OrgId,
    ballot: BallotId,
    paper: &str,
    u1a: &str,
) -> String {
    let cista = &server.state.cista;
    // Step one: each outer envelope, by unit.
    for label in LABELS {
        let (_, html) = page(admin, server, paper).await;
        let unit = unit_id(cista, org, label).await.to_string();
        let r = post(
            admin,
            server,
            &format!("{paper}/check-in"),
            &csrf_in(&html),
            &[("unit", &unit)],
        )
        .await;
        let (to, _, html) = follow(admin, server, r).await;
        assert_eq!(to, paper);
        assert!(
            html.contains(&format!("Outer envelope of unit {label} checked in at")),
            "{html}"
        );
    }
    assert_eq!(cista.store().voting().box_count(ballot).await.unwrap(), 0);
    // A second envelope for a unit is refused, said why, and recorded.
    let (_, html) = page(admin, server, paper).await;
    assert!(html.contains("5 envelopes waiting"), "{html}");
    let r = post(
        admin,
        server,
        &format!("{paper}/check-in"),
        &csrf_in(&html),
        &[("unit", u1a)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("1A already voted on"));
    assert_eq!(
        cista.store().voting().refusals(ballot).await.unwrap().len(),
        1
    );
    html
}

/// Step two: the waiting envelopes opened as a batch; step three: the inner ballots, with no
/// unit anywhere on the screen, and no sixth ballot from five envelopes.
async fn a_batch_is_opened_and_its_inner_ballots_entered_without_a_unit(
    admin: &Client,
    server: &TestServer,
    ballot: BallotId,
    paper: &str,
    html: &str,
    definition: &str,
) {
    let cista = &server.state.cista;
    // Step two: open the waiting envelopes as a batch.
    let r = post(
        admin,
        server,
        &format!("{paper}/batches"),
        &csrf_in(html),
        &[("weight", "1000000")],
    )
    .await;
    let (to, status, mut inner) = follow(admin, server, r).await;
    assert_eq!(to, format!("{paper}/batches/1"));
    assert_eq!(status, 200);
    assert!(inner.contains("Batch 1 opened: 5 envelopes"), "{inner}");

    // Step three: the inner ballots, with no unit anywhere on the screen.
    for n in 1..=5 {
        assert!(inner.contains(&format!("Inner ballot {n} of 5")), "{inner}");
        for label in LABELS {
            assert!(
                !inner.contains(&format!(">{label}<")) && !inner.contains(&format!("unit {label}")),
                "{label} on the inner ballot screen: {inner}"
            );
        }
        assert!(!inner.to_lowercase().contains("tracker"), "{inner}");
        let definition = between(&inner, r#"name="definition" value=""#, "\"").to_owned();
        let r = post(
            admin,
            server,
            &format!("{paper}/batches/1"),
            &csrf_in(&inner),
            &[("definition", &definition), ("c1", "yes"), ("c2", "2")],
        )
        .await;
        let (to, _, next) = follow(admin, server, r).await;
        if n < 5 {
            assert_eq!(to, format!("{paper}/batches/1"));
            assert!(
                next.contains(&format!("Inner ballot {n} of 5 entered.")),
                "{next}"
            );
        } else {
            assert_eq!(to, paper);
            assert!(next.contains("Batch 1 is complete"), "{next}");
        }
        inner = next;
    }
    assert_eq!(cista.store().voting().box_count(ballot).await.unwrap(), 5);
    assert!(
        cista
            .store()
            .voting()
            .box_entries(ballot)
            .await
            .unwrap()
            .iter()
            .all(|e| e.unit.is_none() && e.cast_at.is_none())
    );
    // No sixth ballot from five envelopes.
    let r = post(
        admin,
        server,
        &format!("{paper}/batches/1"),
        &csrf_in(&inner),
        &[("definition", definition), ("c1", "no")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(cista.store().voting().box_count(ballot).await.unwrap(), 5);
}

/// The trust page's secrecy sentence is what staff see: no page of the open ballot shows a
/// tracker or a choice beside a unit.
async fn no_page_ties_a_tracker_or_a_choice_to_a_unit(
    admin: &Client,
    server: &TestServer,
    ballot: BallotId,
    paper: &str,
) {
    let cista = &server.state.cista;
    let trust: serde_json::Value = server
        .client()
        .get(server.url("/api/v1/trust"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secrecy = trust.to_string();
    assert!(secrecy.contains("two envelopes"), "{secrecy}");
    let trackers: Vec<String> = cista
        .store()
        .voting()
        .box_entries(ballot)
        .await
        .unwrap()
        .iter()
        .map(|e| e.tracker.to_string())
        .collect();
    for path in [
        format!("{BALLOTS}/{ballot}"),
        paper.to_owned(),
        format!("{BALLOTS}/{ballot}/record/participation.csv"),
    ] {
        let (_, html) = page(admin, server, &path).await;
        for t in &trackers {
            assert!(!html.contains(t.as_str()), "{path} shows a tracker");
        }
        if path.ends_with(".csv") {
            assert!(
                !html.contains("Ben Ortiz") && !html.contains("yes"),
                "{path}: {html}"
            );
        }
    }
}
