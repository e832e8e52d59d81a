//! Error reporting from a real `cista serve` (issue 14, item 4): with `[errors] sentry_dsn`
//! naming a local fake Sentry that records every envelope, a failure the server logs as an
//! error (its backup target turned into a file under it) is reported with its message and
//! without the paths, names or email addresses the local log line holds; the server keeps
//! serving throughout.

use crate::{Running, cista, client, create_org, free_port, init};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Received = Arc<Mutex<Vec<String>>>;

async fn record(State(received): State<Received>, body: Bytes) -> &'static str {
    received
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&body).into_owned());
    "{}"
}

/// A fake Sentry on its own thread and runtime; its port and what it receives.
fn fake_sentry() -> (u16, Received) {
    let received = Received::default();
    let kept = received.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let app = Router::new()
                .route("/api/{project}/envelope/", post(record))
                .with_state(kept);
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (port, received)
}

#[test]
fn a_server_error_is_reported_without_the_paths_and_people_its_log_line_names() {
    let (sentry_port, received) = fake_sentry();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let mut backup = data.as_os_str().to_owned();
    backup.push("-backup");
    let backup = std::path::PathBuf::from(backup);
    std::fs::create_dir_all(&backup).unwrap();

    let port = free_port();
    let mut serve = cista(&data);
    serve
        .env(
            "CISTA_ERRORS_SENTRY_DSN",
            format!("http://publickey@127.0.0.1:{sentry_port}/7"),
        )
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
    let server = Running::spawn(serve);
    create_org(
        &data,
        "Canary Court Condominium",
        ("Ada", "Canary", "ada.canary@example.org"),
    );
    // The backup target becomes a file: every shipment now fails, logged as an error.
    std::thread::sleep(Duration::from_millis(500));
    std::fs::remove_dir_all(&backup).unwrap();
    std::fs::write(&backup, "not a directory").unwrap();
    create_org(
        &data,
        "Canary Gardens HOA",
        ("Ada", "Canary", "ada.canary@gardens.example"),
    );
    let mut waited = 0;
    while received.lock().unwrap().is_empty() && waited < 300 {
        std::thread::sleep(Duration::from_millis(100));
        waited += 1;
    }
    // Still serving while reports fail or succeed.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime.block_on(async {
        client(&data, port)
            .get(format!("https://localhost:{port}/healthz"))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    assert_eq!(status.ok(), Some(200));
    assert_eq!(server.terminate(), 0);

    let envelopes = received.lock().unwrap().clone();
    assert!(!envelopes.is_empty(), "no report arrived");
    let all = envelopes.join("\n");
    assert!(all.contains("backup shipping failed"), "{all}");
    for secret in [
        tmp.path().to_str().unwrap(),
        "Canary",
        "canary@",
        "os error",
    ] {
        assert!(!all.contains(secret), "`{secret}` left the server:\n{all}");
    }
}
