//! The embed surface from outside: the loader is small and loadable by other sites; the
//! widget page is framed only by the form's sites, sets no cookie and shows no scoring; its
//! own form scores on the server and shows the client's part; the JSON calls answer CORS only
//! for a listed site; every refusal is coded and stores nothing.

use crate::{Options, TestServer};
use cista_core::Actor;
use cista_core::products::assessment::RISK_PROFILE;
use cista_types::OrgId;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use std::io::Write as _;

const SITE: &str = "https://www.harbor-advisory.example";
const EVIL: &str = "https://evil.example";

async fn palm_court(server: &TestServer) -> OrgId {
    cista_testkit::fixtures::palm_court_id(&server.state.cista).await
}

/// Publishes the risk profile as `palm-court/risk`, embeddable on `SITE` only.
async fn publish(server: &TestServer) -> OrgId {
    let org = palm_court(server).await;
    let mut definition: Value = serde_json::from_str(RISK_PROFILE).unwrap();
    definition["embed"] = json!({ "allowed_origins": [SITE] });
    server
        .state
        .cista
        .publish_assessment(&Actor::operator("test"), org, "risk", &definition)
        .await
        .unwrap();
    org
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map_or("", |v| v.to_str().unwrap_or("not text"))
}

fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_owned()
}

fn growth_fields(token: &str, form: &str) -> Vec<(&'static str, String)> {
    let mut fields: Vec<(&str, String)> = vec![
        ("token", token.to_owned()),
        ("form", form.to_owned()),
        ("q.horizon", "over_7".into()),
        ("q.income", "steady".into()),
        ("q.reserve", "over_3".into()),
        ("q.age", "45".into()),
        ("q.drop", "hold".into()),
        ("q.experience", "some".into()),
        ("q.goals", "growth".into()),
        ("q.goals", "income".into()),
        ("q.comfort", "7".into()),
        ("first_name", "Zebediah".into()),
        ("last_name", "Quillfeather".into()),
        ("email", "zeb@client.example".into()),
        ("consent", "yes".into()),
    ];
    fields.push(("q.notes", "<script>alert(1)</script>".into()));
    fields
}

#[tokio::test]
async fn the_loader_is_small_and_loadable_by_other_sites() {
    let server = TestServer::start(Options::default()).await;
    let response = server
        .client()
        .get(server.url("/widget.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert!(header(&headers, "content-type").starts_with("text/javascript"));
    assert_eq!(
        header(&headers, "cross-origin-resource-policy"),
        "cross-origin"
    );
    assert!(headers.get("set-cookie").is_none());
    let body = response.bytes().await.unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&body).unwrap();
    let size = gz.finish().unwrap().len();
    eprintln!("widget.js: {} bytes, {size} bytes gzipped", body.len());
    assert!(size <= 2048, "widget.js is {size} bytes gzipped");
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains("e.origin !== cista"), "checks event.origin");
    assert!(
        text.contains("postMessage({ type: type }, cista)"),
        "explicit targetOrigin"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_widget_page_is_framed_only_by_listed_sites_and_scores_on_the_server() {
    let server = TestServer::start(Options::default()).await;
    publish(&server).await;
    let client = server.client();
    let page = |origin: &str| {
        let origin = origin.replace(':', "%3A").replace('/', "%2F");
        client
            .get(server.url(&format!("/w/palm-court/risk?origin={origin}")))
            .send()
    };

    let shown = page(SITE).await.unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    let headers = shown.headers().clone();
    let csp = header(&headers, "content-security-policy");
    assert!(csp.contains(&format!("frame-ancestors {SITE};")), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(
        headers.get("x-frame-options").is_none(),
        "XFO would forbid the listed site"
    );
    assert!(
        headers.get("set-cookie").is_none(),
        "the widget sets no cookie"
    );
    let html = shown.text().await.unwrap();
    assert!(html.contains("Investment risk profile"), "{html}");
    assert!(html.contains(&format!("data-parent-origin=\"{SITE}\"")));
    for secret in ["points", "Portfolios for you hold", "advisor_text", "logic"] {
        assert!(!html.contains(secret), "{secret} shown to the client");
    }
    let (token, form) = (hidden(&html, "token"), hidden(&html, "form"));

    // A site not on the list: a page no one may frame (the browser shows nothing there).
    let refused = page(EVIL).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let headers = refused.headers().clone();
    assert!(header(&headers, "content-security-policy").contains("frame-ancestors 'none'"));
    assert_eq!(header(&headers, "x-frame-options"), "DENY");
    assert!(refused.text().await.unwrap().contains("not available here"));

    // The page's own form: scored here, the client's part shown, text escaped.
    let post = |fields: Vec<(&'static str, String)>, own: bool| {
        let mut request = client.post(server.url("/w/palm-court/risk")).form(&fields);
        if own {
            request = request
                .header("origin", "null")
                .header("sec-fetch-site", "same-origin");
        } else {
            request = request
                .header("origin", EVIL)
                .header("sec-fetch-site", "cross-site");
        }
        request.send()
    };
    let cross = post(growth_fields(&token, &form), false).await.unwrap();
    assert_eq!(
        cross.status(),
        StatusCode::FORBIDDEN,
        "only the page itself posts"
    );

    let mut wrong = growth_fields(&token, &form);
    wrong.retain(|(k, _)| *k != "q.age");
    wrong.push(("q.age", "200".into()));
    let again = post(wrong, true).await.unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let html = again.text().await.unwrap();
    assert!(html.contains("There is a problem"), "{html}");
    assert!(
        html.contains("id=\"q-age-error\""),
        "the problem beside its question: {html}"
    );
    assert!(
        html.contains("value=\"Zebediah\""),
        "what was typed is kept"
    );
    assert!(html.contains("alert(1)"), "typed text kept");
    assert!(
        !html.contains("<script>alert(1)"),
        "typed text escaped: {html}"
    );

    let sent = post(growth_fields(&token, &form), true).await.unwrap();
    let status = sent.status();
    assert!(sent.headers().get("set-cookie").is_none());
    let html = sent.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Your result: Growth"), "{html}");
    assert!(html.contains("data-submitted=\"1\""));
    // Sent twice (a double click): the first result, nothing new stored.
    let twice = post(growth_fields(&token, &form), true).await.unwrap();
    assert!(twice.text().await.unwrap().contains("Your result: Growth"));
    server.stop().await;
}

/// A CORS preflight from the listed site is allowed; from another, refused with no CORS header.
async fn preflights_allow_only_the_listed_site(client: &reqwest::Client, submit_url: &str) {
    let from = |origin: &str| {
        let mut headers = HeaderMap::new();
        headers.insert("origin", HeaderValue::from_str(origin).unwrap());
        headers
    };
    let preflight = client
        .request(reqwest::Method::OPTIONS, submit_url)
        .headers(from(SITE))
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        header(preflight.headers(), "access-control-allow-origin"),
        SITE
    );
    let preflight = client
        .request(reqwest::Method::OPTIONS, submit_url)
        .headers(from(EVIL))
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::FORBIDDEN);
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn the_json_calls_answer_cors_only_for_a_listed_site() {
    let server = TestServer::start(Options::default()).await;
    publish(&server).await;
    let client = server.client();
    let from = |origin: &str| {
        let mut headers = HeaderMap::new();
        headers.insert("origin", HeaderValue::from_str(origin).unwrap());
        headers
    };
    let load_url = server.url("/embed/v1/palm-court/risk");
    let submit_url = server.url("/embed/v1/palm-court/risk/submissions");

    preflights_allow_only_the_listed_site(&client, &submit_url).await;

    let loaded = client
        .get(&load_url)
        .headers(from(SITE))
        .send()
        .await
        .unwrap();
    assert_eq!(loaded.status(), StatusCode::OK);
    assert_eq!(
        header(loaded.headers(), "access-control-allow-origin"),
        SITE
    );
    assert_eq!(header(loaded.headers(), "vary"), "Origin");
    let loaded: Value = loaded.json().await.unwrap();
    assert!(!loaded.to_string().contains("points"), "{loaded}");
    let (token, form) = (
        loaded["load_token"].as_str().unwrap().to_owned(),
        loaded["form"].as_str().unwrap().to_owned(),
    );
    let no_origin = client.get(&load_url).send().await.unwrap();
    assert_eq!(no_origin.status(), StatusCode::FORBIDDEN);
    let body: Value = no_origin.json().await.unwrap();
    assert_eq!(body["error"]["code"], "origin_not_allowed");

    let answers = json!({
        "form": form,
        "load_token": token,
        "client": { "first_name": "Zebediah", "last_name": "Quillfeather",
                    "email": "zeb@client.example", "consent": true },
        "answers": { "horizon": "over_7", "income": "steady", "reserve": "over_3", "age": 45,
                     "drop": "hold", "experience": "some", "goals": ["growth", "income"],
                     "comfort": 7 }
    });
    // From a site not listed, with a good token: refused, and unreadable to that page.
    let evil = client
        .post(&submit_url)
        .headers(from(EVIL))
        .json(&answers)
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), StatusCode::FORBIDDEN);
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    let body: Value = evil.json().await.unwrap();
    assert_eq!(body["error"]["code"], "origin_not_allowed");

    let sent = client
        .post(&submit_url)
        .headers(from(SITE))
        .json(&answers)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::CREATED);
    assert_eq!(header(sent.headers(), "access-control-allow-origin"), SITE);
    let shown: Value = sent.json().await.unwrap();
    assert_eq!(shown["band"]["label"], "Growth", "{shown}");
    assert_eq!(shown["scores"][0]["value"], 71.0, "{shown}");
    let again = client
        .post(&submit_url)
        .headers(from(SITE))
        .json(&answers)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["replayed"], true);
    assert_eq!(again["submission"], shown["submission"]);

    // A body over 64 KiB (the message names this limit), and one that is not the right shape.
    let huge = json!({ "padding": "x".repeat(70 * 1024) });
    let too_big = client
        .post(&submit_url)
        .headers(from(SITE))
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = too_big.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("65536 bytes"), "{message}");
    let wrong = client
        .post(&submit_url)
        .headers(from(SITE))
        .json(&json!({ "answers": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_input", "{body}");
    server.stop().await;
}

/// A form key that breaks the key rule, a NUL byte in it above all (PostgreSQL refuses one in
/// text, SQLite keeps it), is an unknown form on both databases: `404 not_found`, never a 500.
async fn a_key_no_form_could_have_is_not_found(target: Option<cista_store::Target>) {
    let server = TestServer::start_on(Options::default(), target).await;
    publish(&server).await;
    let client = server.client();
    for key in ["%00", "risk%00", "ri%00sk", "Risk", "risk%20", "%C3%A9"] {
        for path in [
            format!("/embed/v1/palm-court/{key}"),
            format!("/w/palm-court/{key}"),
        ] {
            let response = client
                .get(server.url(&path))
                .header("origin", SITE)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            let body = response.text().await.unwrap();
            assert!(!body.contains("storage"), "{path}: {body}");
            if path.starts_with("/embed/") {
                assert!(body.contains("\"not_found\""), "{path}: {body}");
            }
        }
    }
    let found = client
        .get(server.url("/w/palm-court/risk"))
        .header("referer", format!("{SITE}/"))
        .send()
        .await
        .unwrap();
    assert_ne!(
        found.status(),
        StatusCode::NOT_FOUND,
        "the real key is there"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_key_no_form_could_have_is_not_found_on_sqlite() {
    a_key_no_form_could_have_is_not_found(None).await;
}

#[tokio::test]
async fn a_key_no_form_could_have_is_not_found_on_postgresql() {
    crate::on_postgres(|target| a_key_no_form_could_have_is_not_found(Some(target))).await;
}
