//! Casting a vote: the form, the receipt and its signature, one vote per unit across browsers,
//! tampered forms (FL-04), incomplete answers, and owners kept to their own units.

use super::{FULL_VOTE, assert_clean, cast, definition_hash, ok_page, owner, palm_court};
use super::{post_cast, tracker_on, unit, url_encoded};
use crate::voting::{self, open_ballot};
use crate::web::{between, page, post};
use crate::{TestServer, csrf_in};
use base64::Engine as _;
use cista_core::products::voting::definition::Secrecy;
use cista_types::{BallotId, UnitId};
use reqwest::{Client, StatusCode};
use time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_votes_for_a_unit_and_gets_a_receipt_that_verifies() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    let ana = owner(&server, org, "ana@palm.example").await;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    let (a1, b1) = (
        unit(&server, org, "1A").await,
        unit(&server, org, "1B").await,
    );

    the_ballot_list_and_the_form_offer_each_unit(&ana, &server, ballot, a1).await;
    let tracker =
        the_receipt_shows_the_vote_and_its_signed_part_verifies(&ana, &server, ballot, a1).await;
    the_unit_cannot_vote_again_and_its_form_shows_the_receipt(
        &ana,
        &server,
        ballot,
        [a1, b1],
        &tracker,
    )
    .await;
    server.stop().await;
}

/// The ballot list offers a vote for each of the owner's units; the ballot's page keeps the
/// results sealed; the form has every contest, the definition hash and a warning.
async fn the_ballot_list_and_the_form_offer_each_unit(
    ana: &Client,
    server: &TestServer,
    ballot: BallotId,
    a1: UnitId,
) {
    let home = ok_page(ana, server, "/vote").await;
    for text in [
        "Annual meeting",
        "Unit 1A",
        "Unit 1B",
        "Vote for unit 1A",
        "Vote for unit 1B",
        &format!("/vote/{ballot}/unit/{a1}"),
        "/vote/test-device",
        r#"<a href="/vote">Vote</a>"#,
    ] {
        assert!(home.contains(text), "{text}: {home}");
    }
    let about = ok_page(ana, server, &format!("/vote/{ballot}")).await;
    assert!(about.contains("Results are sealed until voting closes on"));
    assert!(!about.contains("<table"), "no counts before the close");

    let form = ok_page(ana, server, &format!("/vote/{ballot}/unit/{a1}")).await;
    for text in [
        "<legend>Amend article 7</legend>",
        "<legend>Board of directors</legend>",
        r#"type="radio" id="c1-yes" name="c1" value="yes" required"#,
        r#"name="c2" value="1""#,
        "Choose up to 2",
        &format!(
            r#"name="definition" value="{}""#,
            definition_hash(server, ballot).await
        ),
        "cannot be changed once cast",
        "Cast your vote for unit 1A",
    ] {
        assert!(form.contains(text), "{text}: {form}");
    }
}

/// The cast answers with a clean receipt; its download shows the vote, and the signed part
/// verifies, names no unit or choice, and fails when forged. Returns the tracker.
async fn the_receipt_shows_the_vote_and_its_signed_part_verifies(
    ana: &Client,
    server: &TestServer,
    ballot: BallotId,
    a1: UnitId,
) -> String {
    let cista = &server.state.cista;
    let r = cast(ana, server, ballot, a1, FULL_VOTE).await;
    assert_eq!(r.status(), StatusCode::OK);
    let receipt = r.text().await.unwrap();
    assert_clean(&receipt);
    let tracker = tracker_on(&receipt);
    assert_eq!(tracker.len(), 14, "{tracker}");
    for text in [
        "<dt>Organization</dt><dd>Palm Court</dd>",
        "<dt>Ballot</dt><dd>Annual meeting</dd>",
        "<dt>Unit</dt><dd>1A</dd>",
        "<dt>Amend article 7</dt><dd>Yes</dd>",
        "<dt>Board of directors</dt><dd>Alma Diaz, Carla Sosa</dd>",
        &definition_hash(server, ballot).await,
        "then only your download or printout has it",
        &format!(r#"download="cista-receipt-{tracker}.txt""#),
        &format!("/e/{ballot}/bulletin"),
    ] {
        assert!(receipt.contains(text), "{text}: {receipt}");
    }
    let encoded = between(
        &receipt,
        r#"href="data:text/plain;charset=utf-8;base64,"#,
        "\"",
    );
    let download = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap();
    // The download shows what the page shows (unit, time, choices), then the signed part,
    // which covers the ballot, the tracker and the checkpoint: never the unit or the choices.
    for line in ["Unit 1A\n", "Board of directors: Alma Diaz, Carla Sosa\n"] {
        assert!(download.contains(line), "{line}: {download}");
    }
    let signed = &download[download.find("Cista ballot receipt").unwrap()..];
    let body = cista.verify_receipt(signed).unwrap();
    assert!(body.contains(&format!("tracker {tracker}\n")), "{body}");
    // Whole words: the random tracker may hold "1A" by chance (`…-TY1A`), as the repeats
    // conformance test found for its unit.
    let words: Vec<&str> = body
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    for absent in ["unit", "1A", "Alma", "Diaz", "Carla", "Sosa", "choice"] {
        assert!(
            !words.iter().any(|w| w.eq_ignore_ascii_case(absent)),
            "{absent}: {body}"
        );
    }
    let other = if tracker.starts_with('A') { "B" } else { "A" };
    let forged = signed.replace(
        &format!("tracker {tracker}"),
        &format!("tracker {other}{}", &tracker[1..]),
    );
    assert!(cista.verify_receipt(&forged).is_err());
    tracker
}

/// The list now says the unit voted; the same unit again is refused, said when and how, and
/// recorded; the form's address shows the receipt; the other unit has not voted.
async fn the_unit_cannot_vote_again_and_its_form_shows_the_receipt(
    ana: &Client,
    server: &TestServer,
    ballot: BallotId,
    [a1, b1]: [UnitId; 2],
    tracker: &str,
) {
    let cista = &server.state.cista;
    let home = ok_page(ana, server, "/vote").await;
    assert!(
        home.contains("Voted on") && home.contains(", online."),
        "{home}"
    );
    assert!(!home.contains("Vote for unit 1A"), "{home}");
    assert!(home.contains("Vote for unit 1B"), "{home}");

    // The same unit again, from the same browser with another page's form: refused, said
    // when and how, recorded.
    let token = csrf_in(&home);
    let definition = definition_hash(server, ballot).await;
    let r = post_cast(ana, server, ballot, a1, &token, &definition, FULL_VOTE).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Unit 1A already voted on")
            && html.contains("online. Each unit votes once; this attempt was recorded")
            && html.contains("already_voted"),
        "{html}"
    );
    // The form's address now shows the receipt (the back button lands there).
    let (status, html) = page(ana, server, &format!("/vote/{ballot}/unit/{a1}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(tracker), "{html}");
    assert_eq!(cista.store().voting().box_count(ballot).await.unwrap(), 1);
    let refusals = cista.store().voting().refusals(ballot).await.unwrap();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].reason, "already_voted");
    assert!(
        cista
            .store()
            .voting()
            .participation_of(ballot, b1)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_co_owner_in_another_browser_is_told_when_the_unit_already_voted() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    let bo = owner(&server, org, "bo@palm.example").await;
    let cy = owner(&server, org, "cy@palm.example").await;
    let ballot = open_ballot(cista, org, Secrecy::Recorded, Duration::hours(1)).await;
    let a2 = unit(&server, org, "2A").await;

    // An undervote in the election is allowed.
    let r = cast(&bo, &server, ballot, a2, &[("c1", "no")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let receipt = r.text().await.unwrap();
    assert!(receipt.contains("(no candidate chosen)"), "{receipt}");
    assert!(receipt.contains("recorded ballot"), "{receipt}");

    let first = cista
        .store()
        .voting()
        .participation_of(ballot, a2)
        .await
        .unwrap()
        .unwrap();
    let when = cista
        .ballot(&voting::operator(), org, ballot)
        .await
        .unwrap()
        .local(first.at);
    let home = ok_page(&cy, &server, "/vote").await;
    assert!(
        home.contains(&format!("Voted on {when}, online.")),
        "{when}: {home}"
    );
    assert!(!home.contains("Vote for unit 2A"), "{home}");
    let r = post_cast(
        &cy,
        &server,
        ballot,
        a2,
        &csrf_in(&home),
        &definition_hash(&server, ballot).await,
        &[("c1", "yes")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert_clean(&html);
    assert!(
        html.contains(&format!("Unit 2A already voted on {when}, online."))
            && html.contains("this attempt was recorded"),
        "{html}"
    );
    assert_eq!(cista.store().voting().box_count(ballot).await.unwrap(), 1);
    assert_eq!(
        cista.store().voting().refusals(ballot).await.unwrap().len(),
        1
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_form_is_refused_and_nothing_is_stored() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    let ana = owner(&server, org, "ana@palm.example").await;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    let a1 = unit(&server, org, "1A").await;
    let form = ok_page(&ana, &server, &format!("/vote/{ballot}/unit/{a1}")).await;
    let token = csrf_in(&form);
    let real = definition_hash(&server, ballot).await;
    let forged = "ab".repeat(32);

    for (definition, choices, status, code) in [
        (forged.as_str(), FULL_VOTE, 409, "ballot_changed"),
        ("", FULL_VOTE, 409, "ballot_changed"),
        ("not hex at all", FULL_VOTE, 409, "ballot_changed"),
        (real.as_str(), &[("c1", "maybe")][..], 400, "bad_request"),
        (
            real.as_str(),
            &[("c1", "yes"), ("c9", "1")][..],
            400,
            "bad_request",
        ),
        (
            real.as_str(),
            &[("c1", "yes"), ("c2", "7")][..],
            400,
            "bad_request",
        ),
        (
            real.as_str(),
            &[("c1", "yes"), ("c1", "no")][..],
            400,
            "bad_request",
        ),
        (
            real.as_str(),
            &[("c1", "yes"), ("c2", "99999999999999999999")][..],
            400,
            "bad_request",
        ),
    ] {
        let r = post_cast(&ana, &server, ballot, a1, &token, definition, choices).await;
        assert_eq!(r.status().as_u16(), status, "{definition} {choices:?}");
        let html = r.text().await.unwrap();
        assert!(html.contains(code), "{code}: {html}");
    }
    assert!(
        cista
            .store()
            .voting()
            .participation_of(ballot, a1)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(cista.store().voting().box_count(ballot).await.unwrap(), 0);
    // The refused attempts are on record for counsel, without their choices.
    let refusals = cista.store().voting().refusals(ballot).await.unwrap();
    assert!(refusals.iter().any(|r| r.reason == "ballot_changed"));

    // A forged CSRF token is refused before anything else.
    let r = post_cast(&ana, &server, ballot, a1, "forged", &real, FULL_VOTE).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The honest form still works afterwards.
    let r = cast(&ana, &server, ballot, a1, FULL_VOTE).await;
    assert_eq!(r.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_candidates_or_a_missing_answer_shows_the_form_again() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    let ana = owner(&server, org, "ana@palm.example").await;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    let a1 = unit(&server, org, "1A").await;

    let r = cast(
        &ana,
        &server,
        ballot,
        a1,
        &[("c1", "no"), ("c2", "1"), ("c2", "2"), ("c2", "3")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert_clean(&html);
    for text in [
        "There is a problem",
        "Board of directors has 3 candidates chosen; choose at most 2.",
        r##"href="#c2-"##,
        r#"class="contest has-error" id="c2""#,
        r#"value="no" required checked"#,
        &format!(r#"action="/vote/{ballot}/unit/{a1}""#),
        "Cast your vote for unit 1A",
    ] {
        assert!(html.contains(text), "{text}: {html}");
    }
    assert_eq!(html.matches(r#"type="checkbox""#).count(), 3);
    assert_eq!(html.matches(" checked>").count(), 4, "{html}");

    let r = cast(&ana, &server, ballot, a1, &[("c2", "1")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Amend article 7 needs an answer: choose yes, no or abstain.")
            && html.contains(r##"href="#c1-yes""##),
        "{html}"
    );
    assert_eq!(cista.store().voting().box_count(ballot).await.unwrap(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_reach_only_their_own_units_and_malformed_addresses_are_not_found() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    let ana = owner(&server, org, "ana@palm.example").await;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    let a2 = unit(&server, org, "2A").await;
    let home = ok_page(&ana, &server, "/vote").await;
    let token = csrf_in(&home);

    let (status, _) = page(&ana, &server, &format!("/vote/{ballot}/unit/{a2}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = post_cast(
        &ana,
        &server,
        ballot,
        a2,
        &token,
        &definition_hash(&server, ballot).await,
        FULL_VOTE,
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("not_eligible") && html.contains("not an owner of unit 2A"),
        "{html}"
    );
    assert!(
        cista
            .store()
            .voting()
            .participation_of(ballot, a2)
            .await
            .unwrap()
            .is_none()
    );

    for path in [
        "/vote/abc".to_owned(),
        "/vote/-5".to_owned(),
        "/vote/0".to_owned(),
        "/vote/123456789".to_owned(),
        "/vote/99999999999999999999999".to_owned(),
        format!("/vote/{ballot}/unit/abc"),
        format!("/vote/abc/unit/{a2}"),
        "/e/abc/bulletin".to_owned(),
        "/e/123456789/bulletin".to_owned(),
        "/e/%00/bundle.json".to_owned(),
        "/e/123456789/bundle.json".to_owned(),
    ] {
        let (status, html) = page(&ana, &server, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {html}");
    }
    let r = post(&ana, &server, "/vote/abc/unit/1", &token, FULL_VOTE).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Signed out: pages send to sign in; a cast is refused.
    let stranger = server.browser();
    for path in [
        "/vote".to_owned(),
        format!("/vote/{ballot}"),
        format!("/vote/{ballot}/unit/{a2}"),
    ] {
        let r = stranger.get(server.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        // Sign in, then back to the page asked for.
        let next: String = url_encoded(&path);
        assert_eq!(
            r.headers()["location"],
            format!("/sign-in?next={next}").as_str()
        );
    }
    let (_, html) = page(&stranger, &server, "/sign-in").await;
    let r = post_cast(
        &stranger,
        &server,
        ballot,
        a2,
        &csrf_in(&html),
        &definition_hash(&server, ballot).await,
        FULL_VOTE,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}
