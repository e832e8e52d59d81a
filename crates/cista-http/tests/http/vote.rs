//! The owners' voting pages and the public bulletin over real HTTPS, with owners signed in
//! from their own browsers: the ballot list, the form, casting, receipts that verify, one vote
//! per unit across browsers, consent (FL-01), tampered forms (FL-04), sealed results before
//! the close (FL-09), the bulletin and bundle after it, and the device test (FL-03).

mod bulletin_pages;
mod casting;
mod results;

use crate::people;
use crate::voting::{activate, import_roster, open_ballot};
use crate::web::{between, page, post, sign_in};
use crate::{Options, TestServer, csrf_in};
use cista_core::platform::notices::Notice;
use cista_core::products::voting::definition::Secrecy;
use cista_types::{BallotId, OrgId, UnitId};
use reqwest::{Client, StatusCode};
use time::Duration;

/// A server with Palm Court's roster imported; returns the organization too.
async fn palm_court() -> (TestServer, OrgId) {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = cista_testkit::fixtures::palm_court_id(cista).await;
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

/// Each practice is an audit entry, and anyone may practise: one address's practices are
/// limited as the sign-in forms are (429 with `Retry-After` past the quota), so a script
/// cannot grow the audit log without end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_tests_from_one_address_are_limited() {
    let server = crate::server_limiting_forms_to(5).await;
    let visitor = server.browser();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        // A fresh form each time: a form sent again gets its first answer back.
        let html = ok_page(&visitor, &server, "/vote/test-device").await;
        let token = csrf_in(&html);
        let r = post(
            &visitor,
            &server,
            "/vote/test-device",
            &token,
            &[("practice", "yes")],
        )
        .await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers().contains_key("retry-after"));
        }
        statuses.push(r.status());
    }
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(refused, 3, "{statuses:?}");
    let entries = server
        .state
        .cista
        .store()
        .audit_entries(0, 10_000)
        .await
        .unwrap();
    let tested = entries.iter().filter(|e| e.kind == "device.tested").count();
    assert_eq!(tested, 5, "one entry per practice let through");
    // The page itself is never limited.
    ok_page(&visitor, &server, "/vote/test-device").await;
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
