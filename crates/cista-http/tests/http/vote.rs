//! The owners' voting pages and the public bulletin over real HTTPS, with owners signed in
//! from their own browsers: the ballot list, the form, casting, receipts that verify, one vote
//! per unit across browsers, consent (FL-01), tampered forms (FL-04), sealed results before
//! the close (FL-09), the bulletin and bundle after it, and the device test (FL-03).

use crate::people;
use crate::voting::{self, activate, import_roster, open_ballot};
use crate::web::{between, page, post, sign_in};
use crate::{Options, TestServer, csrf_in};
use base64::Engine as _;
use cista_core::Actor;
use cista_core::platform::notices::Notice;
use cista_core::products::voting::ballots::BallotSettings;
use cista_core::products::voting::bundle::{Bundle, verify_bundle};
use cista_core::products::voting::definition::{Secrecy, Weighting};
use cista_types::{BallotId, Clock as _, OrgId, OrgSlug, Percent, SystemClock, UnitId};
use reqwest::{Client, StatusCode};
use time::Duration;

/// A server with Palm Court's roster imported; returns the organization too.
async fn palm_court() -> (TestServer, OrgId) {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = cista
        .store()
        .organization_by_slug(&OrgSlug::parse("palm-court").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    import_roster(cista, org).await;
    (server, org)
}

/// An owner with a password, signed in from a browser of their own.
async fn owner(server: &TestServer, org: OrgId, email: &str) -> Client {
    activate(&server.state.cista, org, email).await;
    sign_in(server, email).await
}

async fn unit(server: &TestServer, org: OrgId, label: &str) -> UnitId {
    server
        .state
        .cista
        .store()
        .voting()
        .units(org)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.label.as_str() == label)
        .unwrap()
        .id
}

async fn definition_hash(server: &TestServer, ballot: BallotId) -> String {
    server
        .state
        .cista
        .store()
        .voting()
        .ballot(ballot)
        .await
        .unwrap()
        .unwrap()
        .definition_hash
        .to_hex()
}

/// No inline script or style: the CSP would block them, and they must not be needed.
fn assert_clean(html: &str) {
    assert!(!html.contains(" style="), "inline style attribute");
    assert!(!html.contains("<style"), "inline style element");
    for (at, _) in html.match_indices("<script") {
        let tag = html[at..].split('>').next().unwrap();
        assert!(tag.contains("nonce="), "script without a nonce: {tag}");
    }
}

/// A page that must answer 200 and be clean.
async fn ok_page(browser: &Client, server: &TestServer, path: &str) -> String {
    let (status, html) = page(browser, server, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {html}");
    assert_clean(&html);
    html
}

/// Posts a ballot form for `unit` as its page would, with this session's token.
async fn post_cast(
    browser: &Client,
    server: &TestServer,
    ballot: BallotId,
    unit: UnitId,
    token: &str,
    definition: &str,
    choices: &[(&str, &str)],
) -> reqwest::Response {
    let mut fields = vec![("definition", definition)];
    fields.extend_from_slice(choices);
    post(
        browser,
        server,
        &format!("/vote/{ballot}/unit/{unit}"),
        token,
        &fields,
    )
    .await
}

/// What a browser shows after a cast: the page its 303 leads to (Post/Redirect/Get: the
/// receipt), or the page the cast answered with itself (a form shown again, a refusal).
struct Shown {
    status: StatusCode,
    html: String,
}

impl Shown {
    fn status(&self) -> StatusCode {
        self.status
    }

    async fn text(self) -> Result<String, std::convert::Infallible> {
        Ok(self.html)
    }
}

/// Opens the form for `unit`, casts `choices` with it, and follows the answer's redirect to
/// the receipt as a browser would.
async fn cast(
    browser: &Client,
    server: &TestServer,
    ballot: BallotId,
    unit: UnitId,
    choices: &[(&str, &str)],
) -> Shown {
    let html = ok_page(browser, server, &format!("/vote/{ballot}/unit/{unit}")).await;
    let definition = between(&html, r#"name="definition" value=""#, "\"").to_owned();
    let r = post_cast(
        browser,
        server,
        ballot,
        unit,
        &csrf_in(&html),
        &definition,
        choices,
    )
    .await;
    if r.status() == StatusCode::SEE_OTHER {
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(to, format!("/vote/{ballot}/unit/{unit}/receipt"));
        assert_eq!(r.headers()["cache-control"], "no-store");
        let (status, html) = page(browser, server, &to).await;
        return Shown { status, html };
    }
    let status = r.status();
    Shown {
        status,
        html: r.text().await.unwrap(),
    }
}

/// `path` as a query value.
fn url_encoded(path: &str) -> String {
    path.replace('/', "%2F")
}

/// The tracker on a receipt page.
fn tracker_on(receipt: &str) -> String {
    between(receipt, r#"<p class="tracker"><code>"#, "<").to_owned()
}

const FULL_VOTE: &[(&str, &str)] = &[("c1", "yes"), ("c2", "1"), ("c2", "3")];

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

    let home = ok_page(&ana, &server, "/vote").await;
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
    let about = ok_page(&ana, &server, &format!("/vote/{ballot}")).await;
    assert!(about.contains("Results are sealed until voting closes on"));
    assert!(!about.contains("<table"), "no counts before the close");

    let form = ok_page(&ana, &server, &format!("/vote/{ballot}/unit/{a1}")).await;
    for text in [
        "<legend>Amend article 7</legend>",
        "<legend>Board of directors</legend>",
        r#"type="radio" id="c1-yes" name="c1" value="yes" required"#,
        r#"name="c2" value="1""#,
        "Choose up to 2",
        &format!(
            r#"name="definition" value="{}""#,
            definition_hash(&server, ballot).await
        ),
        "cannot be changed once cast",
        "Cast your vote for unit 1A",
    ] {
        assert!(form.contains(text), "{text}: {form}");
    }

    let r = cast(&ana, &server, ballot, a1, FULL_VOTE).await;
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
        &definition_hash(&server, ballot).await,
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
    for absent in ["unit", "1A", "Alma Diaz", "Carla Sosa", "choice"] {
        assert!(!body.contains(absent), "{absent}: {body}");
    }
    let other = if tracker.starts_with('A') { "B" } else { "A" };
    let forged = signed.replace(
        &format!("tracker {tracker}"),
        &format!("tracker {other}{}", &tracker[1..]),
    );
    assert!(cista.verify_receipt(&forged).is_err());

    let home = ok_page(&ana, &server, "/vote").await;
    assert!(
        home.contains("Voted on") && home.contains(", online."),
        "{home}"
    );
    assert!(!home.contains("Vote for unit 1A"), "{home}");
    assert!(home.contains("Vote for unit 1B"), "{home}");

    // The same unit again, from the same browser with another page's form: refused, said
    // when and how, recorded.
    let token = csrf_in(&home);
    let definition = definition_hash(&server, ballot).await;
    let r = post_cast(&ana, &server, ballot, a1, &token, &definition, FULL_VOTE).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Unit 1A already voted on")
            && html.contains("online. Each unit votes once; this attempt was recorded")
            && html.contains("already_voted"),
        "{html}"
    );
    // The form's address now shows the receipt (the back button lands there).
    let (status, html) = page(&ana, &server, &format!("/vote/{ballot}/unit/{a1}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&tracker), "{html}");
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
    server.stop().await;
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
async fn a_unit_without_consent_is_offered_consent_and_can_then_vote() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    let fay = owner(&server, org, "fay@palm.example").await;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    let a3 = unit(&server, org, "3A").await;
    let b3 = unit(&server, org, "3B").await;
    let consent_path = format!("/vote/units/{a3}/consent");

    let home = ok_page(&fay, &server, "/vote").await;
    assert!(
        home.contains("Unit 3A has no consent to online voting on record, so it votes on paper")
            && home.contains("ask the association&#39;s office for a paper ballot")
            && home.contains(&format!(r#"action="{consent_path}""#)),
        "{home}"
    );
    assert!(!home.contains("Vote for unit 3A"), "{home}");
    let token = csrf_in(&home);

    let (status, html) = page(&fay, &server, &format!("/vote/{ballot}/unit/{a3}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_clean(&html);
    assert!(
        html.contains("consent_required") && html.contains(&format!(r#"action="{consent_path}""#)),
        "{html}"
    );
    let definition = definition_hash(&server, ballot).await;
    let r = post_cast(&fay, &server, ballot, a3, &token, &definition, FULL_VOTE).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("has not consented"));

    // Bad answers, someone else's unit, and a foreign place to go back to.
    let r = post(
        &fay,
        &server,
        &consent_path,
        &token,
        &[("consent", "maybe")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = post(
        &fay,
        &server,
        &format!("/vote/units/{b3}/consent"),
        &token,
        &[("consent", "yes")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(
        &fay,
        &server,
        "/vote/units/nonsense/consent",
        &token,
        &[("consent", "yes")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = post(
        &fay,
        &server,
        &consent_path,
        &token,
        &[("consent", "no"), ("back", "https://evil.example/")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/vote");
    let home = ok_page(&fay, &server, "/vote").await;
    assert!(
        home.contains("Unit 3A opted out of online voting"),
        "{home}"
    );

    let back = format!("/vote/{ballot}");
    let r = post(
        &fay,
        &server,
        &consent_path,
        &token,
        &[("consent", "yes"), ("back", &back)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"].to_str().unwrap(), back);
    let about = ok_page(&fay, &server, &back).await;
    assert!(about.contains("Vote for unit 3A"), "{about}");
    let r = cast(&fay, &server, ballot, a3, FULL_VOTE).await;
    assert_eq!(r.status(), StatusCode::OK);
    let unit = cista.store().voting().unit(a3).await.unwrap().unwrap();
    assert!(
        unit.consent_method
            .unwrap()
            .contains("online, by the owner")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opted_out_unit_is_refused_online_and_pointed_to_paper() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    let gus = owner(&server, org, "gus@palm.example").await;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    let b3 = unit(&server, org, "3B").await;

    let home = ok_page(&gus, &server, "/vote").await;
    assert!(
        home.contains("Unit 3B opted out of online voting, so it votes on paper")
            && home.contains("consent to online voting again"),
        "{home}"
    );
    let r = post_cast(
        &gus,
        &server,
        ballot,
        b3,
        &csrf_in(&home),
        &definition_hash(&server, ballot).await,
        FULL_VOTE,
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("opted out of online voting, so it votes on paper")
            && html.contains("paper ballot")
            && html.contains("consent_required"),
        "{html}"
    );
    assert!(
        cista
            .store()
            .voting()
            .participation_of(ballot, b3)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(cista.store().voting().box_count(ballot).await.unwrap(), 0);
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
    // Past the close, before the count is sealed: still nothing to see.
    let public = server.browser();
    let html = ok_page(&public, &server, &format!("/e/{ballot}/bulletin")).await;
    assert!(html.contains("as soon as the count is sealed"), "{html}");
    assert!(!html.contains(&tracker));
    let done = cista.run_voting_work(&Actor::System).await.unwrap();
    assert_eq!(done.closed, 1);

    let html = ok_page(&public, &server, &format!("/e/{ballot}/bulletin")).await;
    for text in [
        "Public bulletin: Annual meeting",
        tracker.as_str(),
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

    let lookup = |t: String| format!("/e/{ballot}/bulletin?tracker={t}");
    let html = ok_page(&public, &server, &lookup(tracker.to_lowercase())).await;
    assert!(
        html.contains("Found: position")
            && html.contains("of 2; its inclusion proof verifies against the signed checkpoint"),
        "{html}"
    );
    assert!(html.contains(&format!(r#"<tr id="t-{tracker}" class="found">"#)));
    let html = ok_page(&public, &server, &lookup("0000-0000-0000".to_owned())).await;
    assert!(html.contains("is not on this ballot&#39;s list"), "{html}");
    let (status, html) = page(&public, &server, &lookup("hello%3Cscript%3E".to_owned())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_clean(&html);
    assert!(html.contains("That is not a tracker") && html.contains("Look it up"));
    assert!(!html.contains("<script>"));

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

    let about = ok_page(&ana, &server, &format!("/vote/{ballot}")).await;
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
    let home = ok_page(&ana, &server, "/vote").await;
    assert!(
        home.contains("phase-closed") && home.contains(&format!("/e/{ballot}/bulletin")),
        "{home}"
    );
    // No late ballots: a cast after the close is refused with the next step. (The form's
    // address itself now shows what the unit's vote was.)
    let definition = definition_hash(&server, ballot).await;
    let r = post_cast(
        &ana,
        &server,
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
    let (status, html) = page(&ana, &server, &format!("/vote/{ballot}/unit/{a1}")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("Ballot receipt") && !html.contains("Cast your vote"),
        "{html}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_test_works_without_signing_in_and_is_recorded() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let visitor = server.browser();
    let html = ok_page(&visitor, &server, "/vote/test-device").await;
    for text in [
        "This connection uses TLS 1.3 with",
        "No cookie came with this request",
        // The test server's one organization is in UTC: the zone is said in words.
        " UTC (Coordinated Universal Time)",
        "not a vote",
        r#"<legend>Practice question (not a vote)"#,
    ] {
        assert!(html.contains(text), "{text}: {html}");
    }
    let html = ok_page(&visitor, &server, "/vote/test-device").await;
    assert!(
        html.contains("A Cista cookie came with this request"),
        "{html}"
    );
    let token = csrf_in(&html);

    let r = post(&visitor, &server, "/vote/test-device", &token, &[]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("Choose an answer to the practice question"));
    let r = post(
        &visitor,
        &server,
        "/vote/test-device",
        "forged",
        &[("practice", "yes")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = post(
        &visitor,
        &server,
        "/vote/test-device",
        &token,
        &[("practice", "abstain")],
    )
    .await;
    let (to, status, html) = crate::web::follow(&visitor, &server, r).await;
    assert_eq!(to, "/vote/test-device?done=abstain");
    assert_eq!(status, StatusCode::OK);
    assert_clean(&html);
    for text in [
        "Your device works with Cista: the form arrived intact at",
        "SAMPLE — NOT A VOTE",
        "<dt>Practice question</dt><dd>Abstain</dd>",
    ] {
        assert!(html.contains(text), "{text}: {html}");
    }
    let entries = cista.store().audit_entries(0, 10_000).await.unwrap();
    let tested: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == "device.tested")
        .collect();
    assert_eq!(tested.len(), 1);
    assert!(
        tested[0].details.contains("TLS 1.3"),
        "{}",
        tested[0].details
    );
    assert_eq!(tested[0].actor, "anonymous");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candidates_appear_in_a_random_order_on_each_form() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    let ana = owner(&server, org, "ana@palm.example").await;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    let a1 = unit(&server, org, "1A").await;
    let mut orders = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let html = ok_page(&ana, &server, &format!("/vote/{ballot}/unit/{a1}")).await;
        let mut names = ["Alma Diaz", "Ben Ortiz", "Carla Sosa"];
        names.sort_by_key(|n| html.find(&format!(">{n}</label>")).unwrap());
        orders.insert(names);
    }
    assert!(orders.len() > 1, "always the same order: {orders:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_signed_in_by_sms_code_can_vote() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    activate(cista, org, "ana@palm.example").await;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    let a1 = unit(&server, org, "1A").await;
    people::last_notice(cista, "nobody").await;
    let phone = server.browser();
    let (_, html) = page(&phone, &server, "/sms").await;
    let r = post(
        &phone,
        &server,
        "/sms",
        &csrf_in(&html),
        &[("identifier", "ana@palm.example")],
    )
    .await;
    let (_, status, html) = crate::web::follow(&phone, &server, r).await;
    assert_eq!(status, StatusCode::OK);
    let Some(Notice::SmsCode { code, .. }) = people::last_notice(cista, "+13055550101").await
    else {
        panic!("no SMS code sent");
    };
    let r = post(
        &phone,
        &server,
        "/sms/verify",
        &csrf_in(&html),
        &[("code", &code)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let home = ok_page(&phone, &server, "/vote").await;
    assert!(home.contains("Vote for unit 1A"), "{home}");
    let r = cast(&phone, &server, ballot, a1, FULL_VOTE).await;
    assert_eq!(r.status(), StatusCode::OK);
    let receipt = r.text().await.unwrap();
    assert!(
        receipt.contains("online (signed in by SMS code)"),
        "{receipt}"
    );
    let first = cista
        .store()
        .voting()
        .participation_of(ballot, a1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.channel.as_str(), "sms-session");
    assert_eq!(first.origin.ip.as_deref(), Some("127.0.0.1"));
    server.stop().await;
}
