//! The scrubber against a local fake Sentry endpoint that records every envelope it is sent:
//! a panic, an error log event and an event carrying a request, a user, tags and extras, all
//! holding the canary name, email address, phone number, session cookie and token, arrive
//! without any of them; and an endpoint that never answers blocks nothing and loses no local
//! log line.

use super::*;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use sentry::protocol::{Request, User};
use std::io::Read as _;
use std::sync::Mutex;
use tracing_subscriber::layer::SubscriberExt as _;

/// Every envelope the fake endpoint received, as text.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<String>>>);

async fn record(State(received): State<Received>, headers: HeaderMap, body: Bytes) -> &'static str {
    let gzip = headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes() == b"gzip");
    let text = if gzip {
        let mut out = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut out)
            .unwrap();
        out
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };
    received.0.lock().unwrap().push(text);
    "{}"
}

/// A fake Sentry on a free port; its DSN and what it receives.
async fn fake_sentry() -> (String, Received) {
    let received = Received::default();
    let app = Router::new()
        .route("/api/{project}/envelope/", post(record))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://publickey@{addr}/42"), received)
}

/// A hub of its own (tests run side by side), with the default integrations (the panic hook).
fn hub_for(dsn: &str) -> (Arc<sentry::Client>, Arc<sentry::Hub>) {
    let options = sentry::apply_defaults(options(dsn, "test", "cista-test").unwrap());
    let client = Arc::new(sentry::Client::from(options));
    let hub = Arc::new(sentry::Hub::new(
        Some(client.clone()),
        Arc::new(sentry::Scope::default()),
    ));
    (client, hub)
}

const CANARIES: &[&str] = &[
    "Canary",
    "canary@",
    "305 555 0142",
    "3055550142",
    "SESSIONCANARY",
    "TOKENCANARY",
    "/srv/cista",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_an_error_and_a_request_arrive_without_any_personal_data() {
    let (dsn, received) = fake_sentry().await;
    let (client, hub) = hub_for(&dsn);
    let sent = tokio::task::spawn_blocking(move || {
        sentry::Hub::run(hub.clone(), || {
            hub.configure_scope(|scope| {
                scope.set_user(Some(User {
                    email: Some("ada.canary@example.org".to_owned()),
                    username: Some("Ada Canary".to_owned()),
                    ..User::default()
                }));
                scope.set_tag("email", "ada.canary@example.org");
            });
            // 1. A panic whose message carries the canary.
            let _ = std::panic::catch_unwind(|| {
                panic!("Ada Canary <ada.canary@example.org>, +1 305 555 0142, cookie __Host-cista_session=SESSIONCANARY")
            });
            // 2. An error log event, as the server logs a failed request.
            let subscriber = tracing_subscriber::registry().with(layer());
            tracing::subscriber::with_default(subscriber, || {
                tracing::error!(
                    code = "internal",
                    request_id = "f0ea0e7210c941f92a583ec5",
                    cause = "duplicate key (email)=(ada.canary@example.org) for Ada Canary",
                    "request failed"
                );
            });
            // 3. An event with everything a web framework integration would attach.
            let mut headers = Map::new();
            headers.insert(
                "Authorization".to_owned(),
                "Bearer cista_at_TOKENCANARY".to_owned(),
            );
            headers.insert(
                "Cookie".to_owned(),
                "__Host-cista_session=SESSIONCANARY".to_owned(),
            );
            let mut extra = Map::new();
            extra.insert("cause".to_owned(), Value::from("Ada Canary, 305 555 0142"));
            extra.insert("code".to_owned(), Value::from("not_found"));
            hub.capture_event(Event {
                message: Some("no vault entry for Ada Canary".to_owned()),
                request: Some(Request {
                    url: "https://localhost:8443/r/cista_rt_TOKENCANARY?email=ada.canary%40example.org"
                        .parse()
                        .ok(),
                    method: Some("POST".to_owned()),
                    data: Some("name=Ada+Canary&phone=3055550142".to_owned()),
                    query_string: Some("email=ada.canary@example.org".to_owned()),
                    cookies: Some("__Host-cista_session=SESSIONCANARY".to_owned()),
                    headers,
                    ..Request::default()
                }),
                server_name: Some("/srv/cista".into()),
                extra,
                ..Event::default()
            });
        });
        client.flush(Some(std::time::Duration::from_secs(10)))
    })
    .await
    .unwrap();
    assert!(sent, "the client flushed its queue");
    let envelopes = received.0.lock().unwrap().clone();
    assert_eq!(envelopes.len(), 3, "{envelopes:#?}");
    for envelope in &envelopes {
        for canary in CANARIES {
            assert!(
                !envelope.contains(canary),
                "`{canary}` left the server:\n{envelope}"
            );
        }
    }
    let all = envelopes.join("\n");
    for kept in [
        "request failed",
        "\"internal\"",
        "f0ea0e7210c941f92a583ec5",
        "\"not_found\"",
        "\"panic\"",
        WITHHELD,
    ] {
        assert!(all.contains(kept), "`{kept}` was not sent:\n{all}");
    }
}

/// Collects the local log lines in memory.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_never_answers_blocks_nothing_and_every_local_line_is_written() {
    // Accepts connections (the kernel's backlog) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dsn = format!("http://publickey@{}/42", silent.local_addr().unwrap());
    let (_client, hub) = hub_for(&dsn);
    let lines = Lines::default();
    let writer = lines.clone();
    tokio::task::spawn_blocking(move || {
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(move || writer.clone()))
            .with(layer());
        sentry::Hub::run(hub, || {
            tracing::subscriber::with_default(subscriber, || {
                for n in 0..500 {
                    tracing::error!(code = "internal", n, "request failed");
                }
            });
        });
    })
    .await
    .unwrap();
    let written = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    assert_eq!(written.lines().count(), 500, "every local line is written");
    drop(silent);
}

#[test]
fn codes_pass_and_free_text_is_withheld() {
    assert_eq!(plain_or_withheld("request failed"), "request failed");
    assert_eq!(
        plain_or_withheld("photo processing failed: unreadable"),
        "photo processing failed: unreadable"
    );
    for text in [
        "Ada Canary",
        "ada.canary@example.org",
        "call 3055550142",
        "session=abc",
        "cista_at_abcdefghijklmnopqrstuvwxyz",
    ] {
        assert_eq!(plain_or_withheld(text), WITHHELD, "{text}");
    }
    for code in [
        "internal",
        "not_found",
        "503",
        "GET",
        "/api/v1/forms/{form}",
    ] {
        assert!(looks_like_code(code), "{code}");
    }
    for text in ["Ada", "ada@example.org", "a b", ""] {
        assert!(!looks_like_code(text), "{text}");
    }
    assert!(options("not a dsn", "production", "x").is_err());
}
