//! The JSON API surface: bearer app tokens only (a session cookie is not a credential here),
//! JSON errors with stable codes, no CSRF (nothing ambient to forge), scoped to the token's
//! organization and purpose, and an OpenAPI 3.1 document that matches the served routes and
//! passes a standard validator.

use crate::people;
use crate::voting::{import_roster, open_ballot, operator};
use crate::{Options, TestServer};
use cista_core::platform::access::app_tokens::{AppPurpose, AppTokenRequest};
use cista_core::products::voting::definition::Secrecy;
use cista_types::{OrgId, Role};
use reqwest::StatusCode;
use serde_json::Value;
use time::Duration;

/// The organization every test server starts with.
async fn palm_court(server: &TestServer) -> OrgId {
    cista_testkit::fixtures::palm_court_id(&server.state.cista).await
}

async fn token_for(server: &TestServer, org: OrgId) -> (cista_core::ports::AppTokenId, String) {
    let made = server
        .state
        .cista
        .create_app_token(
            &operator(),
            org,
            &AppTokenRequest {
                purpose: AppPurpose::VotingResults,
                label: "Board web site".to_owned(),
                lifetime_days: 30,
            },
        )
        .await
        .unwrap();
    (made.token.id, made.secret)
}

async fn call(
    server: &TestServer,
    client: &reqwest::Client,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = client.get(server.url(path));
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

fn refused_with(status: StatusCode, headers: &reqwest::header::HeaderMap, body: &Value) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "token_invalid", "{body}");
    assert!(body["error"]["request_id"].is_string(), "{body}");
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer "),
        "{headers:?}"
    );
}

#[tokio::test]
async fn the_api_takes_live_app_tokens_and_never_a_session_cookie() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = palm_court(&server).await;
    let (id, secret) = token_for(&server, org).await;
    let client = server.client();

    for token in [None, Some("garbage"), Some("cista_"), Some(&secret[6..])] {
        let (status, headers, body) = call(&server, &client, "/api/v1/token", token).await;
        refused_with(status, &headers, &body);
    }
    // A signed-in owner's browser carries a session cookie: the API does not read it.
    people::active(cista, org, "olivia@palm.example", Role::Owner).await;
    let browser = crate::web::sign_in(&server, "olivia@palm.example").await;
    let (status, html) = crate::web::page(&browser, &server, "/me").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let (status, headers, body) = call(&server, &browser, "/api/v1/token", None).await;
    refused_with(status, &headers, &body);
    let (status, _, body) = call(&server, &browser, "/api/v1/ballots", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let (status, headers, body) = call(&server, &client, "/api/v1/token", Some(&secret)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], id.to_string());
    assert_eq!(body["organization"], "palm-court");
    assert_eq!(body["purpose"], "voting.results");
    assert!(
        headers.get("set-cookie").is_none(),
        "the API sets no cookie"
    );
    assert_eq!(headers["content-type"], "application/json");
    // The scheme is case-insensitive (RFC 9110 §11.1).
    let r = client
        .get(server.url("/api/v1/token"))
        .header("authorization", format!("bearer {secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // `Authorization` is a singleton field (RFC 9110 §11.6.2): sent twice it is no
    // credential, whichever line holds the live token.
    for lines in [
        ["Bearer garbage", &format!("Bearer {secret}")],
        [&format!("Bearer {secret}"), "Bearer garbage"],
    ] {
        let r = client
            .get(server.url("/api/v1/token"))
            .header("authorization", lines[0])
            .header("authorization", lines[1])
            .send()
            .await
            .unwrap();
        let (status, headers) = (r.status(), r.headers().clone());
        let body = r.json().await.unwrap_or(Value::Null);
        refused_with(status, &headers, &body);
    }

    assert!(cista.revoke_app_token(&operator(), org, id).await.unwrap());
    let (status, headers, body) = call(&server, &client, "/api/v1/token", Some(&secret)).await;
    refused_with(status, &headers, &body);
    server.stop().await;
}

#[tokio::test]
async fn an_app_token_reads_its_own_organizations_ballots_and_closed_results_only() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = palm_court(&server).await;
    let other = people::org(cista, "bay-view").await;
    import_roster(cista, org).await;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    let (_, secret) = token_for(&server, org).await;
    let (_, elsewhere) = token_for(&server, other).await;
    let client = server.client();

    let (status, _, body) = call(&server, &client, "/api/v1/ballots", Some(&secret)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = body.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{body}");
    assert_eq!(
        listed[0]["id"],
        ballot.as_i64().to_string(),
        "ids are strings"
    );
    assert_eq!(listed[0]["status"], "published");
    assert!(listed[0].get("results").is_none(), "{body}");

    let results = format!("/api/v1/ballots/{ballot}/results");
    let (status, _, body) = call(&server, &client, &results, Some(&secret)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "results_sealed");

    server.clock.advance(Duration::hours(2));
    cista
        .close_ballot_now(&operator(), org, ballot)
        .await
        .unwrap();
    let (_, _, body) = call(&server, &client, "/api/v1/ballots", Some(&secret)).await;
    assert_eq!(body[0]["status"], "closed");
    assert_eq!(body[0]["results"], results);
    let (status, _, body) = call(&server, &client, &results, Some(&secret)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["tally"].is_object(), "{body}");
    assert_eq!(body["tree_size"], 0);

    let (status, _, body) = call(&server, &client, "/api/v1/ballots", Some(&elsewhere)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::json!([]), "another organization's token");
    let (status, _, body) = call(&server, &client, &results, Some(&elsewhere)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _, body) =
        call(&server, &client, "/api/v1/ballots/x/results", Some(&secret)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["code"].is_string(), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn the_api_has_no_csrf_check_and_answers_every_error_in_json() {
    let server = TestServer::start(Options::default()).await;
    let client = server.client();
    // No cookie is a credential here, so a cross-site request can carry nothing to forge:
    // it gets the route's own answer (this route takes no POST), not a CSRF refusal.
    let r = client
        .post(server.url("/api/v1/trust"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
    for path in ["/api/v1/nothing", "/api/v2/trust", "/api", "/api/"] {
        let r = client
            .get(server.url(path))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.headers()["content-type"], "application/json", "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_openapi_document_matches_the_served_routes_and_validates() {
    let server = TestServer::start(Options::default()).await;
    let client = server.client();
    let r = client
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], "/api/v1");
    let scheme = &doc["components"]["securitySchemes"]["app_token"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    let paths = doc["paths"].as_object().unwrap();
    let mut listed: Vec<&str> = paths.keys().map(String::as_str).collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        [
            "/ballots",
            "/ballots/{id}/results",
            "/device",
            "/devices/pair",
            "/forms",
            "/forms/{form}",
            "/forms/{form}/submissions",
            "/submissions/{id}/files/{name}",
            "/submissions/{id}/status",
            "/token",
            "/trust"
        ]
    );
    let device = &doc["components"]["securitySchemes"]["device_token"];
    assert_eq!(device["scheme"], "bearer");
    // Every documented operation is served: the public ones answer (pairing, sent nothing,
    // asks for JSON), the others ask for the token the document says they need.
    let mut operations = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let secured = operation["security"]
                .as_array()
                .is_some_and(|schemes| !schemes.is_empty());
            let concrete = path
                .replace("{id}", "1")
                .replace("{form}", "1")
                .replace("{name}", "photo_1");
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = client
                .request(method.clone(), server.url(&format!("/api/v1{concrete}")))
                .send()
                .await
                .unwrap();
            let expected = if secured {
                StatusCode::UNAUTHORIZED
            } else if path == "/devices/pair" {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            } else {
                StatusCode::OK
            };
            assert_eq!(r.status(), expected, "{method} {path}");
            operations += 1;
        }
    }
    assert_eq!(operations, 11);

    let python = std::env::var("CISTA_TEST_PYTHON").ok();
    let required = std::env::var("CISTA_TEST_REQUIRE_OPENAPI_VALIDATOR").is_ok_and(|v| v == "1");
    let usable = python.as_deref().is_some_and(|p| {
        std::process::Command::new(p)
            .args(["-c", "import openapi_spec_validator"])
            .status()
            .is_ok_and(|s| s.success())
    });
    if usable {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &text).unwrap();
        let out = std::process::Command::new(python.unwrap())
            .args(["-m", "openapi_spec_validator"])
            .arg(file.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openapi-spec-validator: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        assert!(
            !required,
            "CISTA_TEST_REQUIRE_OPENAPI_VALIDATOR=1 but CISTA_TEST_PYTHON has no openapi_spec_validator"
        );
        eprintln!(
            "SKIPPED: the OpenAPI validator (set CISTA_TEST_PYTHON to a Python with openapi-spec-validator)"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn staff_create_see_once_and_revoke_app_tokens_on_a_page() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = palm_court(&server).await;
    people::active(cista, org, "olivia@palm.example", Role::Owner).await;
    people::active(cista, org, "ines@palm.example", Role::Inspector).await;
    let owner = crate::web::sign_in(&server, "olivia@palm.example").await;
    let path = "/admin/palm-court/app-tokens";

    let (status, home) = crate::web::page(&owner, &server, "/admin/palm-court").await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains(path), "the home page links to the tokens");
    let (status, html) = crate::web::page(&owner, &server, path).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("There are no app tokens yet"), "{html}");

    let r = crate::web::post(
        &owner,
        &server,
        path,
        &crate::csrf_in(&html),
        &[
            ("label", " "),
            ("purpose", "voting.results"),
            ("days", "30"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let refused = r.text().await.unwrap();
    assert!(refused.contains("There is a problem"), "{refused}");

    let (_, html) = crate::web::page(&owner, &server, path).await;
    let r = crate::web::post(
        &owner,
        &server,
        path,
        &crate::csrf_in(&html),
        &[
            ("label", "Board web site"),
            ("purpose", "voting.results"),
            ("days", "30"),
        ],
    )
    .await;
    let (to, status, shown) = crate::web::follow(&owner, &server, r).await;
    assert_eq!((to.as_str(), status), (path, StatusCode::OK));
    let secret = crate::web::between(&shown, r#"<code class="secret">"#, "<").to_owned();
    assert!(
        secret.starts_with("cista_") && secret.len() == 49,
        "{shown}"
    );
    assert!(shown.contains("Board web site") && shown.contains("active"));
    let (_, again) = crate::web::page(&owner, &server, path).await;
    assert!(!again.contains(&secret), "shown once");

    let client = server.client();
    let (status, _, body) = call(&server, &client, "/api/v1/token", Some(&secret)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();

    // An inspector reads voting records but does not manage API access.
    let inspector = crate::web::sign_in(&server, "ines@palm.example").await;
    let (status, _) = crate::web::page(&inspector, &server, path).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let r = crate::web::post(
        &owner,
        &server,
        &format!("{path}/{id}/revoke"),
        &crate::csrf_in(&again),
        &[],
    )
    .await;
    let (_, _, after) = crate::web::follow(&owner, &server, r).await;
    assert!(after.contains(&format!("Token {id} is revoked")), "{after}");
    assert!(after.contains("revoked"), "{after}");
    let (status, headers, body) = call(&server, &client, "/api/v1/token", Some(&secret)).await;
    refused_with(status, &headers, &body);
    let audit = cista.store().audit_entries(0, 1000).await.unwrap();
    let kinds: Vec<&str> = audit
        .iter()
        .filter(|e| e.kind.starts_with("app_token."))
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(kinds, ["app_token.created", "app_token.revoked"]);
    server.stop().await;
}
