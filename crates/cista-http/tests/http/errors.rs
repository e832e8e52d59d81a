//! Malformed or refused requests get a 4xx with a stable code and the request id, never a 500
//! or internal text; and the real failure paths (panic, timeout) are rendered the same way.

use crate::{Options, TestServer};
use axum::body::Body;
use axum::routing::get;
use cista_http::Limits;
use http::Request;
use serde_json::Value;
use std::time::Duration;
use tower::ServiceExt as _;

async fn json(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    (status, id, body)
}

#[tokio::test]
async fn unknown_routes_and_methods_get_coded_errors_with_the_request_id() {
    let server = TestServer::start(Options::default()).await;
    let client = server.client();
    let (status, id, body) = json(
        client
            .get(server.url("/api/v1/nothing"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(body["error"]["request_id"], id.as_str());

    let page = client.get(server.url("/nothing")).send().await.unwrap();
    assert_eq!(page.status(), 404);
    let html = page.text().await.unwrap();
    assert!(html.contains("<code>not_found</code>"));

    let (status, _, body) = json(
        client
            .get(server.url("/api/v1/trust"))
            .header("x-http-method-override", "DELETE")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "method overrides are ignored");
    let _ = body;
    let browser = server.browser();
    let page = browser
        .get(server.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let response = browser
        .put(server.url("/api/v1/trust"))
        .header("origin", server.origin.as_str())
        .form(&[("csrf", crate::csrf_in(&page).as_str())])
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(response).await;
    assert_eq!(status, 405);
    assert_eq!(body["error"]["code"], "method_not_allowed");

    for odd in [
        "/%FF%FE",
        "/security?x=%00",
        "/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/trust/%",
    ] {
        let response = client.get(server.url(odd)).send().await.unwrap();
        assert!(
            response.status().is_client_error() || response.status().is_success(),
            "{odd}: {}",
            response.status()
        );
    }
    server.stop().await;
}

#[tokio::test]
/// The web surface, where cookies are ambient credentials, refuses forged state changes. (The
/// API takes no cookies and has no CSRF check: see `api.rs`.)
async fn cross_site_state_changes_are_refused() {
    let server = TestServer::start(Options::default()).await;
    let client = server.client();
    for (origin, fetch_site) in [
        (Some("https://evil.example"), None),
        (Some("null"), None),
        (Some("null"), Some("cross-site")),
        (Some("null"), Some("same-site")),
        (None, Some("cross-site")),
        (None, None),
        (Some(server.origin.as_str()), Some("cross-site")),
    ] {
        let mut request = client
            .post(server.url("/security"))
            .header("accept", "application/json");
        if let Some(o) = origin {
            request = request.header("origin", o);
        }
        if let Some(s) = fetch_site {
            request = request.header("sec-fetch-site", s);
        }
        let (status, _, body) = json(request.send().await.unwrap()).await;
        assert_eq!(status, 403, "{origin:?} {fetch_site:?}");
        assert_eq!(body["error"]["code"], "csrf_rejected");
    }
    // A browser under `Referrer-Policy: no-referrer` sends `Origin: null` on our own forms,
    // with `Sec-Fetch-Site: same-origin`: that passes the first check (and meets the second).
    let (status, _, body) = json(
        client
            .post(server.url("/security"))
            .header("accept", "application/json")
            .header("origin", "null")
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        body["error"]["code"], "csrf_rejected",
        "refused by the token check"
    );
    // From our own origin the Origin check passes, but without the session-bound token the
    // second check refuses.
    let (status, _, body) = json(
        client
            .post(server.url("/security"))
            .header("accept", "application/json")
            .header("origin", server.origin.as_str())
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "csrf_rejected");
    // With both (a browser that loaded our form first), the request reaches the route,
    // which does not take POST.
    let browser = server.browser();
    let page = browser
        .get(server.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = crate::csrf_in(&page);
    let response = browser
        .post(server.url("/security"))
        .header("accept", "application/json")
        .header("origin", server.origin.as_str())
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    // The same, with `Origin` sent twice (no browser does): refused, even when one line is
    // our own origin, rather than judged by its first line.
    for lines in [
        [server.origin.as_str(), "https://evil.example"],
        [server.origin.as_str(), server.origin.as_str()],
    ] {
        let response = browser
            .post(server.url("/security"))
            .header("accept", "application/json")
            .header("origin", lines[0])
            .header("origin", lines[1])
            .form(&[("csrf", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{lines:?}");
    }
    // A token from another browser is refused.
    let other = server.browser();
    other.get(server.url("/sign-in")).send().await.unwrap();
    let response = other
        .post(server.url("/security"))
        .header("accept", "application/json")
        .header("origin", server.origin.as_str())
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let server = TestServer::start(Options {
        limits: Limits {
            body_bytes: 1024,
            ..Limits::default()
        },
        ..Options::default()
    })
    .await;
    let client = server.client_builder().http1_only().build().unwrap();
    let (status, _, body) = json(
        client
            .post(server.url("/security"))
            .header("accept", "application/json")
            .header("origin", server.origin.as_str())
            .body(vec![b'x'; 4096])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "payload_too_large");
    server.stop().await;
}

#[tokio::test]
async fn metrics_need_the_token() {
    let server = TestServer::start(Options::default()).await;
    let client = server.client();
    client.get(server.url("/")).send().await.unwrap();
    // A method a client made up is counted, under one label for all such methods.
    let invented = reqwest::Method::from_bytes(b"FOOBAR7").unwrap();
    client
        .request(invented, server.url("/"))
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(client.get(server.url("/metrics")).send().await.unwrap()).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthenticated");
    let wrong = client
        .get(server.url("/metrics"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = client
        .get(server.url("/metrics"))
        .bearer_auth(&server.metrics_token)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    let text = right.text().await.unwrap();
    assert!(text.contains("cista_http_requests_total"), "{text}");
    assert!(text.contains("cista_tls_handshakes_total"), "{text}");
    assert!(!text.contains("FOOBAR7"), "{text}");
    assert!(text.contains("method=\"other\""), "{text}");
    server.stop().await;

    let closed = TestServer::start(Options {
        metrics_token: false,
        ..Options::default()
    })
    .await;
    let response = closed
        .client()
        .get(closed.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        404,
        "without a token, /metrics does not exist"
    );
    closed.stop().await;
}

#[tokio::test]
async fn health_endpoints_answer() {
    let server = TestServer::start(Options::default()).await;
    let client = server.client();
    let (status, _, body) = json(client.get(server.url("/healthz")).send().await.unwrap()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, _, body) = json(client.get(server.url("/readyz")).send().await.unwrap()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")));
    server.stop().await;
}

/// The in-process app around extra routes that fail on purpose.
/// Load shedding: with every permit taken (here held by the test, as requests in flight
/// would), a page, the API and the embed surface answer 503 `overloaded` with
/// `Retry-After: 1` at once, the health endpoints still answer, and once a permit is free
/// the same request is served.
#[tokio::test]
async fn over_the_in_flight_limit_requests_are_shed_with_503_and_retry_after() {
    let server = TestServer::start(Options {
        limits: Limits {
            max_in_flight: 2,
            ..Limits::default()
        },
        ..Options::default()
    })
    .await;
    let client = server.client();
    let held = server
        .state
        .in_flight()
        .clone()
        .try_acquire_many_owned(2)
        .unwrap();

    let page = client.get(server.url("/sign-in")).send().await.unwrap();
    assert_eq!(page.status(), 503);
    assert_eq!(page.headers()["retry-after"], "1");
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert!(page.headers().contains_key("content-security-policy"));
    assert!(
        page.headers().get("set-cookie").is_none(),
        "nothing was done"
    );
    let body = page.text().await.unwrap();
    assert!(body.contains("The server is busy"), "{body}");
    assert!(!body.contains("<script"), "{body}");

    let api = client
        .get(server.url("/api/v1/trust"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.headers()["retry-after"], "1");
    let (status, _, json) = json(api).await;
    assert_eq!(status, 503);
    assert_eq!(json["error"]["code"], "overloaded");
    assert!(
        json["error"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );

    for path in ["/healthz", "/readyz"] {
        let health = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(health.status(), 200, "{path} is never shed");
    }

    drop(held);
    let page = client.get(server.url("/sign-in")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        server.state.in_flight().available_permits(),
        2,
        "every permit is given back"
    );
    server.stop().await;
}

async fn app_with_failing_routes(limits: Limits) -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cista = crate::cista_in(dir.path()).await;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let tls =
        cista_http::TlsSettings::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes())
            .unwrap();
    let options = crate::Options {
        limits,
        ..crate::Options::default()
    };
    let state = crate::state_for(
        cista,
        tls,
        "https://localhost",
        &options,
        &dir.path().join("blobs"),
    );
    let routes = axum::Router::new()
        .route(
            "/boom",
            get(|| async {
                if true {
                    panic!("secret internal detail");
                }
                "unreachable"
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
    (cista_http::middleware::wrap(routes, state), dir)
}

async fn call(app: axum::Router, path: &str) -> (u16, String) {
    let response = app
        .oneshot(
            Request::builder()
                .uri(path)
                .header("accept", "application/json")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn a_panic_becomes_a_coded_500_without_internal_text() {
    let (app, _dir) = app_with_failing_routes(Limits::default()).await;
    let (status, body) = call(app, "/boom").await;
    assert_eq!(status, 500);
    assert!(body.contains(r#""code":"internal_error""#), "{body}");
    assert!(body.contains("request_id"), "{body}");
    assert!(!body.contains("secret internal detail"), "{body}");
}

#[tokio::test]
async fn a_slow_request_is_stopped_with_408() {
    let (app, _dir) = app_with_failing_routes(Limits {
        request_timeout: Duration::from_millis(100),
        ..Limits::default()
    })
    .await;
    // Tokio's clock stands still from here and jumps to the next timer whenever every task
    // waits: the 100 ms timeout fires at once, and no test waits on the real clock.
    tokio::time::pause();
    let (status, body) = call(app, "/slow").await;
    assert_eq!(status, 408);
    assert!(body.contains(r#""code":"request_timeout""#), "{body}");
}

/// A JSON body that does not read is refused with what is wrong and where, never with the
/// JSON library's own message: that quotes the rejected value, which may be personal data
/// (a phone number given where a string belongs, here).
#[tokio::test]
async fn a_json_body_that_does_not_read_is_described_not_quoted() {
    let server = TestServer::start(Options::default()).await;
    let client = server.client();
    let bodies = [
        (
            r#"{"code": 3055550100, "device_name": "Ana"}"#,
            "a field is missing, unknown or of the wrong type at `code` (line 1, column 19)",
        ),
        (r#"{"code": "3055550100" "#, "cut short (line 1, column 22)"),
        (r#"{"code" 3055550100}"#, "not JSON (line 1, column 9)"),
        (
            r#"{"code": "x", "device_name": "Ana"} 3055550100"#,
            "not JSON (line 1, column 37)",
        ),
    ];
    for (sent, problem) in bodies {
        let (status, id, body) = json(
            client
                .post(server.url("/api/v1/devices/pair"))
                .header("content-type", "application/json")
                .body(sent)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{sent}: {body}");
        assert_eq!(body["error"]["code"], "bad_request", "{sent}: {body}");
        assert_eq!(body["error"]["request_id"], id.as_str());
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.ends_with(problem), "{sent}: {message}");
        assert!(!message.contains("3055550100"), "{sent}: {message}");
    }
    server.stop().await;
}
