//! Results sealed until the close (FL-09), and after it the public bulletin that finds a
//! tracker and the bundle that verifies.

use super::{FULL_VOTE, assert_clean, cast, definition_hash, ok_page, owner, palm_court};
use super::{post_cast, tracker_on, unit};
use crate::voting::{self, open_ballot};
use crate::web::page;
use crate::{TestServer, csrf_in};
use cista_core::Actor;
use cista_core::products::voting::ballots::BallotSettings;
use cista_core::products::voting::bundle::{Bundle, verify_bundle};
use cista_core::products::voting::definition::{Secrecy, Weighting};
use cista_types::{BallotId, Clock as _, Percent, SystemClock, UnitId};
use reqwest::{Client, StatusCode};
use time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_and_the_bulletin_stay_sealed_until_the_close() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    let ana = owner(&server, org, "ana@palm.example").await;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    let a1 = unit(&server, org, "1A").await;
    let r = cast(&ana, &server, ballot, a1, FULL_VOTE).await;
    let tracker = tracker_on(&r.text().await.unwrap());

    let public = server.browser();
    let html = ok_page(&public, &server, &format!("/e/{ballot}/bulletin")).await;
    assert!(
        html.contains("The bulletin is published when voting closes on"),
        "{html}"
    );
    for leak in [tracker.as_str(), "<table", "Alma Diaz", "Yes"] {
        assert!(!html.contains(leak), "{leak}: {html}");
    }
    let r = public
        .get(server.url(&format!("/e/{ballot}/bundle.json")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("results_sealed") && !html.contains(&tracker),
        "{html}"
    );
    let about = ok_page(&ana, &server, &format!("/vote/{ballot}")).await;
    for leak in [tracker.as_str(), "<table", "Alma Diaz"] {
        assert!(!about.contains(leak), "{leak}: {about}");
    }

    // A draft is not there at all.
    let now = SystemClock.now();
    let draft = cista
        .create_ballot(
            &voting::operator(),
            org,
            BallotSettings {
                title: "Draft".to_owned(),
                description: String::new(),
                opens_at: now,
                closes_at: now.plus(Duration::days(1)),
                secrecy: Secrecy::Secret,
                weighting: Weighting::PerUnit,
                quorum: Percent::parse("30").unwrap(),
                min_turnout: None,
                paper: true,
                notify_sms: false,
                reminder_hours: Vec::new(),
            },
        )
        .await
        .unwrap();
    for path in [
        format!("/e/{draft}/bulletin"),
        format!("/e/{draft}/bundle.json"),
        format!("/vote/{draft}"),
    ] {
        let (status, _) = page(&ana, &server, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_close_the_bulletin_finds_the_tracker_and_the_bundle_verifies() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    let ana = owner(&server, org, "ana@palm.example").await;
    let (a1, b1) = (
        unit(&server, org, "1A").await,
        unit(&server, org, "1B").await,
    );
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::seconds(4)).await;
    let closes = SystemClock.now().plus(Duration::seconds(4));
    let r = cast(&ana, &server, ballot, a1, FULL_VOTE).await;
    assert_eq!(r.status(), StatusCode::OK);
    let tracker = tracker_on(&r.text().await.unwrap());
    let r = cast(
        &ana,
        &server,
        ballot,
        b1,
        &[("c1", "yes"), ("c2", "1"), ("c2", "2")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);

    // The server's clock moves past the close (no sleeping).
    server
        .clock
        .advance_to(closes.plus(Duration::milliseconds(300)));
    let public = server.browser();
    the_bulletin_waits_for_the_seal_then_lists_every_ballot(&public, &server, ballot, &tracker)
        .await;
    the_bulletin_finds_a_tracker_and_refuses_what_is_not_one(&public, &server, ballot, &tracker)
        .await;
    the_bundle_downloads_and_verifies(&public, &server, ballot, &tracker).await;
    the_owner_sees_the_results_and_no_late_ballot_is_taken(&ana, &server, ballot, a1).await;
    server.stop().await;
}

/// Past the close, before the count is sealed, the bulletin shows nothing; once sealed, it
/// lists every ballot, the checkpoint, the results and the bundle.
async fn the_bulletin_waits_for_the_seal_then_lists_every_ballot(
    public: &Client,
    server: &TestServer,
    ballot: BallotId,
    tracker: &str,
) {
    let cista = &server.state.cista;
    // Past the close, before the count is sealed: still nothing to see.
    let html = ok_page(public, server, &format!("/e/{ballot}/bulletin")).await;
    assert!(html.contains("as soon as the count is sealed"), "{html}");
    assert!(!html.contains(tracker));
    let done = cista.run_voting_work(&Actor::System).await.unwrap();
    assert_eq!(done.closed, 1);

    let html = ok_page(public, server, &format!("/e/{ballot}/bulletin")).await;
    for text in [
        "Public bulletin: Annual meeting",
        tracker,
        "Amend article 7: Yes",
        "Board of directors: Alma Diaz, Carla Sosa",
        "Board of directors: Alma Diaz, Ben Ortiz",
        "Signed checkpoint",
        "Instance verifier key",
        "Ballot list (SHA-256)",
        "Passed.",
        "Elected: Alma Diaz.",
        "Tie for the last seat between Ben Ortiz, Carla Sosa: decided by the association&#39;s rules.",
        "2 ballots counted",
        &format!(r#"href="/e/{ballot}/bundle.json""#),
    ] {
        assert!(html.contains(text), "{text}: {html}");
    }
}

/// A tracker is found (in any case) with its inclusion proof; an unknown one is not on the
/// list; what is not a tracker is refused, and not echoed as markup.
async fn the_bulletin_finds_a_tracker_and_refuses_what_is_not_one(
    public: &Client,
    server: &TestServer,
    ballot: BallotId,
    tracker: &str,
) {
    let lookup = |t: String| format!("/e/{ballot}/bulletin?tracker={t}");
    let html = ok_page(public, server, &lookup(tracker.to_lowercase())).await;
    assert!(
        html.contains("Found: position")
            && html.contains("of 2; its inclusion proof verifies against the signed checkpoint"),
        "{html}"
    );
    assert!(html.contains(&format!(r#"<tr id="t-{tracker}" class="found">"#)));
    let html = ok_page(public, server, &lookup("0000-0000-0000".to_owned())).await;
    assert!(html.contains("is not on this ballot&#39;s list"), "{html}");
    let (status, html) = page(public, server, &lookup("hello%3Cscript%3E".to_owned())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_clean(&html);
    assert!(html.contains("That is not a tracker") && html.contains("Look it up"));
    assert!(!html.contains("<script>"));
}

/// The bundle downloads as JSON, verifies, and holds the tracker.
async fn the_bundle_downloads_and_verifies(
    public: &Client,
    server: &TestServer,
    ballot: BallotId,
    tracker: &str,
) {
    let r = public
        .get(server.url(&format!("/e/{ballot}/bundle.json")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(
        r.headers()["content-disposition"].to_str().unwrap(),
        format!("attachment; filename=\"cista-ballot-{ballot}.json\"")
    );
    let bundle: Bundle = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    let verification = verify_bundle(&bundle, None);
    assert!(verification.ok(), "{verification:?}");
    assert!(
        bundle
            .ballots
            .iter()
            .any(|b| b.tracker.to_string() == tracker)
    );
}

/// The owner's pages show the results and the bulletin; a cast after the close is refused
/// with the next step, and the form's address shows the unit's receipt.
async fn the_owner_sees_the_results_and_no_late_ballot_is_taken(
    ana: &Client,
    server: &TestServer,
    ballot: BallotId,
    a1: UnitId,
) {
    let about = ok_page(ana, server, &format!("/vote/{ballot}")).await;
    for text in [
        "Voting closed on",
        "<table class=\"tally\">",
        "Passed.",
        "Elected: Alma Diaz.",
        "Tie for the last seat",
        "Blank ballots (no candidate chosen): 0",
        "Units that voted</dt><dd>2 of 5",
        &format!("/e/{ballot}/bulletin"),
        &format!("/e/{ballot}/bundle.json"),
    ] {
        assert!(about.contains(text), "{text}: {about}");
    }
    let home = ok_page(ana, server, "/vote").await;
    assert!(
        home.contains("phase-closed") && home.contains(&format!("/e/{ballot}/bulletin")),
        "{home}"
    );
    // No late ballots: a cast after the close is refused with the next step. (The form's
    // address itself now shows what the unit's vote was.)
    let definition = definition_hash(server, ballot).await;
    let r = post_cast(
        ana,
        server,
        ballot,
        a1,
        &csrf_in(&home),
        &definition,
        FULL_VOTE,
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(html.contains("no late ballots"), "{html}");
    assert!(html.contains("Back to the ballot"), "{html}");
    let (status, html) = page(ana, server, &format!("/vote/{ballot}/unit/{a1}")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("Ballot receipt") && !html.contains("Cast your vote"),
        "{html}"
    );
}
