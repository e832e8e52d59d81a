//! A closed ballot: its results, the official record and the certified PDF, and what
//! inspectors may read but not change.

use super::{BALLOTS, UNITS, check_in, inner_ballots, location, palm_court, paper_vote, staff};
use super::{unit_id, upload};
use crate::voting::{ROSTER, import_roster, open_ballot, operator};
use crate::web::{page, post};
use crate::{Options, TestServer, csrf_in};
use cista_core::products::voting::VotingAction;
use cista_core::products::voting::definition::Secrecy;
use cista_core::role_may;
use cista_types::{BallotId, Clock as _, OrgId, Role, SystemClock};
use reqwest::{Client, StatusCode};
use time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_ballot_shows_results_and_the_record_and_inspectors_read_everything_but_change_nothing()
 {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    import_roster(cista, org).await;
    let secret = open_ballot(cista, org, Secrecy::Secret, Duration::seconds(5)).await;
    let recorded = open_ballot(cista, org, Secrecy::Recorded, Duration::seconds(5)).await;
    // Both close at most this late.
    let closes = SystemClock.now().plus(Duration::seconds(5));
    // The secret ballot's paper comes in two envelopes: checked in while open, opened after.
    check_in(cista, org, secret, &["1A", "2A", "3B"]).await;
    paper_vote(cista, org, recorded, "1A", &["1", "2"]).await;
    paper_vote(cista, org, recorded, "2A", &["1"]).await;
    paper_vote(cista, org, recorded, "3B", &[]).await;
    let admin = staff(&server, "admin@palm.example", Role::Admin).await;
    let inspector = staff(&server, "inspector@palm.example", Role::Inspector).await;
    // Both windows are over: the server's clock moves past the close (no sleeping).
    server
        .clock
        .advance_to(closes.plus(Duration::milliseconds(200)));
    // After the closing time the three envelopes (fewer than a batch while open) are opened.
    inner_ballots(cista, org, secret, &[&["1", "2"], &["1"], &[]]).await;

    each_ballot_is_closed_by_staff_and_shows_its_results(
        &admin,
        &inspector,
        &server,
        [secret, recorded],
    )
    .await;
    the_record_files_are_for_the_admin_and_the_inspector_alike(
        &admin, &inspector, &server, secret, recorded,
    )
    .await;
    every_certificate_is_audited_and_a_secret_ballot_has_no_votes_link(&admin, &server, secret)
        .await;
    let (draft, open) =
        the_inspector_reads_every_page_and_has_no_form(&inspector, &server, org, secret, recorded)
            .await;
    every_form_post_is_refused_to_the_inspector(&inspector, &server, org, draft, open, secret)
        .await;
    server.stop().await;
}

/// Past the close, staff close and count each ballot (inspectors see no button), and its page
/// shows the results, the record's hashes and the links to the certificate and bulletin.
async fn each_ballot_is_closed_by_staff_and_shows_its_results(
    admin: &Client,
    inspector: &Client,
    server: &TestServer,
    ballots: [BallotId; 2],
) {
    for ballot in ballots {
        let path = format!("{BALLOTS}/{ballot}");
        let (_, live) = page(admin, server, &path).await;
        assert!(
            live.contains("Closing") && live.contains("Close and count now"),
            "{live}"
        );
        let (_, seen) = page(inspector, server, &path).await;
        assert!(
            !seen.contains("Close and count now"),
            "inspectors see no buttons"
        );
        let r = post(
            admin,
            server,
            &format!("{path}/close"),
            &csrf_in(&live),
            &[],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, closed) = page(admin, server, &location(&r)).await;
        assert!(
            closed.contains("The ballot is closed and counted"),
            "{closed}"
        );
        assert!(closed.contains(r#"class="results""#));
        // An action the closed ballot refuses says why on its page (a page opened before the
        // close, a second tab).
        let r = post(
            admin,
            server,
            &format!("{path}/close"),
            &csrf_in(&closed),
            &[],
        )
        .await;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        let refused = r.text().await.unwrap();
        assert!(
            refused.contains("There is a problem")
                && refused.contains("Only an open ballot can be closed."),
            "{refused}"
        );
        assert!(
            closed.contains("Alma Diaz") && closed.contains("Elected"),
            "{closed}"
        );
        assert!(closed.contains("3 of 5 units"));
        assert!(closed.contains("Ballot list SHA-256") && closed.contains("Merkle root"));
        assert!(closed.contains(&format!("{path}/results.pdf")));
        assert!(closed.contains(&format!("/e/{ballot}/bulletin")));
        assert!(closed.contains(&format!("/e/{ballot}/bundle.json")));
        // Resolution: three yes of three votes cast.
        assert!(
            closed.contains("Passed. Yes reached two thirds of the votes cast"),
            "{closed}"
        );
        assert!(
            closed.contains("Blank ballots (no candidate chosen): 1."),
            "{closed}"
        );
    }
}

/// The record files and the certified results PDF, for the admin and the inspector alike: a
/// secret ballot's list has trackers and no unit, and no votes.csv.
async fn the_record_files_are_for_the_admin_and_the_inspector_alike(
    admin: &Client,
    inspector: &Client,
    server: &TestServer,
    secret: BallotId,
    recorded: BallotId,
) {
    // The record files, for the admin and the inspector alike.
    for who in [admin, inspector] {
        let get = |p: String| async move { who.get(server.url(&p)).send().await.unwrap() };
        let r = get(format!("{BALLOTS}/{secret}/record/participation.csv")).await;
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let disposition = r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            disposition,
            format!("attachment; filename=\"ballot-{secret}-participation.csv\"")
        );
        let text = r.text().await.unwrap();
        for label in ["1A", "2A", "3B"] {
            assert!(text.contains(label), "{label}: {text}");
        }
        let r = get(format!("{BALLOTS}/{secret}/record/ballots.csv")).await;
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        let trackers = text
            .lines()
            .skip(1)
            .filter(|l| {
                let t = l.split(',').next().unwrap();
                t.len() == 14 && t.matches('-').count() == 2
            })
            .count();
        assert_eq!(trackers, 3, "{text}");
        assert!(
            !text.lines().any(|l| l.starts_with("1A,")),
            "no unit on a secret ballot list"
        );
        let r = get(format!("{BALLOTS}/{secret}/record/votes.csv")).await;
        assert!(
            r.status().is_client_error(),
            "a secret ballot has no votes.csv: {}",
            r.status()
        );
        let r = get(format!("{BALLOTS}/{recorded}/record/votes.csv")).await;
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("1A"));
        let r = get(format!("{BALLOTS}/{recorded}/record/refused-attempts.csv")).await;
        assert_eq!(r.status(), 200);
        let r = get(format!("{BALLOTS}/{recorded}/record/other.csv")).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        // The certified results: a PDF laid out from the sealed results.
        let r = get(format!("{BALLOTS}/{secret}/results.pdf")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/pdf");
        assert_eq!(
            r.headers()["content-disposition"].to_str().unwrap(),
            format!("attachment; filename=\"cista-ballot-{secret}-certified-results.pdf\"")
        );
        let pdf = r.bytes().await.unwrap();
        assert!(
            pdf.starts_with(b"%PDF-") && pdf.len() > 10_000,
            "{}",
            pdf.len()
        );
    }
}

/// Every certificate handed out is on the audit log, like the CSV exports; a secret ballot's
/// page links no votes.csv.
async fn every_certificate_is_audited_and_a_secret_ballot_has_no_votes_link(
    admin: &Client,
    server: &TestServer,
    secret: BallotId,
) {
    let cista = &server.state.cista;
    let exports = cista
        .store()
        .audit_entries(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "record.exported" && e.details.contains("results.pdf"))
        .count();
    assert_eq!(exports, 2);
    let (_, closed) = page(admin, server, &format!("{BALLOTS}/{secret}")).await;
    assert!(
        !closed.contains("/record/votes.csv"),
        "no votes.csv link on a secret ballot"
    );
}

/// The inspector reads every page (a draft, an open ballot, the closed ones) and has no form
/// on any of them, gets no certificate before the close, and no paper entry or new ballot.
/// Returns the draft and the open ballot.
async fn the_inspector_reads_every_page_and_has_no_form(
    inspector: &Client,
    server: &TestServer,
    org: OrgId,
    secret: BallotId,
    recorded: BallotId,
) -> (BallotId, BallotId) {
    let cista = &server.state.cista;
    let draft = cista
        .create_ballot(
            &operator(),
            org,
            cista_core::products::voting::ballots::BallotSettings {
                title: "Next year".to_owned(),
                description: String::new(),
                opens_at: SystemClock.now().plus(Duration::days(1)),
                closes_at: SystemClock.now().plus(Duration::days(9)),
                secrecy: Secrecy::Secret,
                weighting: cista_core::products::voting::definition::Weighting::PerUnit,
                quorum: cista_types::Percent::parse("30").unwrap(),
                min_turnout: None,
                paper: true,
                notify_sms: false,
                reminder_hours: Vec::new(),
            },
        )
        .await
        .unwrap();
    let open = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    for path in [
        "/admin/palm-court".to_owned(),
        UNITS.to_owned(),
        BALLOTS.to_owned(),
        format!("{BALLOTS}/{draft}"),
        format!("{BALLOTS}/{draft}/preview"),
        format!("{BALLOTS}/{open}"),
        format!("{BALLOTS}/{secret}"),
        format!("{BALLOTS}/{recorded}"),
    ] {
        let (status, html) = page(inspector, server, &path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            !html.contains(r#"method="post" action="/admin"#),
            "{path} shows the inspector a form: {html}"
        );
    }
    // No certificate before the close: the results are sealed.
    let (status, html) = page(inspector, server, &format!("{BALLOTS}/{open}/results.pdf")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("results_sealed"), "{html}");
    let (_, live) = page(inspector, server, &format!("{BALLOTS}/{open}")).await;
    assert!(live.contains("0 of 5 units") && live.contains("Units that voted"));
    let (status, _) = page(inspector, server, &format!("{BALLOTS}/{open}/paper")).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "inspectors enter no paper ballots"
    );
    let (status, _) = page(inspector, server, &format!("{BALLOTS}/new")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    (draft, open)
}

/// Every form post, and the import upload, is refused to the inspector; the open ballot is
/// still published.
async fn every_form_post_is_refused_to_the_inspector(
    inspector: &Client,
    server: &TestServer,
    org: OrgId,
    draft: BallotId,
    open: BallotId,
    secret: BallotId,
) {
    let cista = &server.state.cista;
    // Every form post is refused to the inspector.
    let (_, html) = page(inspector, server, UNITS).await;
    let token = csrf_in(&html);
    let unit = unit_id(cista, org, "3A").await;
    for path in [
        format!("{UNITS}/import/apply"),
        format!("{UNITS}/{unit}/consent"),
        "/admin/palm-court/settings".to_owned(),
        format!("{BALLOTS}/new"),
        format!("{BALLOTS}/{draft}/settings"),
        format!("{BALLOTS}/{draft}/contests"),
        format!("{BALLOTS}/{draft}/contests/1"),
        format!("{BALLOTS}/{draft}/publish"),
        format!("{BALLOTS}/{draft}/cancel"),
        format!("{BALLOTS}/{open}/cancel"),
        format!("{BALLOTS}/{open}/remind"),
        format!("{BALLOTS}/{open}/paper"),
        format!("{BALLOTS}/{secret}/reissue"),
        format!("{BALLOTS}/{secret}/close"),
    ] {
        let r = post(
            inspector,
            server,
            &path,
            &token,
            &[
                ("reason", "x"),
                ("consent", "yes"),
                ("time_zone", "UTC"),
                ("action", "remove"),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let r = upload(inspector, server, Some(&token), ROSTER.as_bytes()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        cista.ballot(&operator(), org, open).await.unwrap().status(),
        cista_core::ports::BallotStatus::Published
    );
    assert!(role_may(Role::Inspector, VotingAction::ViewRecords));
}
