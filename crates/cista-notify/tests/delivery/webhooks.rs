//! The webhook worker against a real HTTPS receiver (a local axum server with a certificate
//! from a test CA) that verifies Standard Webhooks signatures and fails on purpose at first:
//! the message is retried after the schedule's first wait with the same `webhook-id`, a valid
//! signature each time, and delivered once; a closed port is recorded as a failed attempt
//! and retried later; on SQLite and PostgreSQL.

use cista_core::platform::intake::FormProduct;
use cista_core::products::collection::ReviewState;
use cista_core::products::collection::webhook_delivery::RETRY_DELAYS;
use cista_core::products::collection::webhooks::WebhookEvent;
use cista_core::{AccessSettings, Actor, Cista};
use cista_crypto::standard_webhooks;
use cista_notify::WebhookWorker;
use cista_store::Target;
use cista_types::{Clock as _, ManualClock, OrgId, SystemClock};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What the receiver saw: (webhook-id, signature valid, status answered, body).
type Seen = Arc<Mutex<Vec<(String, bool, u16, String)>>>;

/// A receiver at `https://localhost:PORT/hook` that answers 503 to its first `fail_first`
/// requests and 204 after, checking each signature with the secret put in `secret`.
async fn receiver(
    fail_first: usize,
    secret: Arc<Mutex<String>>,
    clock: Arc<ManualClock>,
) -> (String, Vec<u8>, Seen) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem(
        cert.pem().into_bytes(),
        key.serialize_pem().into_bytes(),
    )
    .await
    .unwrap();
    let seen: Seen = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (record, count, secret, clock) =
                    (record.clone(), count.clone(), secret.clone(), clock.clone());
                async move {
                    let h = |name: &str| {
                        headers
                            .get(name)
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_default()
                    };
                    let key = standard_webhooks::secret_key(&secret.lock().unwrap()).unwrap();
                    let valid = standard_webhooks::verify(
                        &key,
                        &h("webhook-id"),
                        h("webhook-timestamp").parse().unwrap_or(0),
                        &body,
                        &h("webhook-signature"),
                        clock.now().unix_micros() / 1_000_000,
                    )
                    .is_ok();
                    let status = if count.fetch_add(1, Ordering::SeqCst) < fail_first {
                        503
                    } else {
                        204
                    };
                    record.lock().unwrap().push((
                        h("webhook-id"),
                        valid,
                        status,
                        String::from_utf8(body.to_vec()).unwrap(),
                    ));
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            },
        ),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = axum_server::from_tcp_rustls(listener, tls).unwrap();
    tokio::spawn(async move { server.serve(app.into_make_service()).await.unwrap() });
    (
        format!("https://localhost:{port}/hook"),
        ca.pem().into_bytes(),
        seen,
    )
}

/// An instance that allows webhooks to this machine (as tests and the demo do), on `target`.
async fn instance(
    dir: &std::path::Path,
    target: Target,
    clock: Arc<ManualClock>,
) -> (Cista, OrgId) {
    let settings = AccessSettings {
        allow_internal_webhooks: true,
        ..AccessSettings::default()
    };
    let cista = cista_testkit::instance::cista_with_settings(dir, target, clock, settings).await;
    let org = cista
        .store()
        .organization_by_slug(&cista_types::OrgSlug::parse("palm-court").unwrap())
        .await
        .unwrap()
        .unwrap();
    (cista, org.id)
}

async fn a_record_and_its_review_reach_a_receiver_that_fails_at_first(target: Target) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let (cista, org) = instance(dir.path(), target, clock.clone()).await;
    let operator = Actor::operator("test");
    let secret = Arc::new(Mutex::new(String::new()));
    let (url, root, seen) = receiver(1, secret.clone(), clock.clone()).await;
    let new = cista
        .create_webhook(&operator, org, &url, &WebhookEvent::ALL)
        .await
        .unwrap();
    *secret.lock().unwrap() = new.secret.expose().to_owned();
    let worker = WebhookWorker::new(cista.clone(), &[root]).unwrap();

    let form = cista
        .publish_form(
            &operator,
            org,
            FormProduct::Collection,
            "wells",
            &cista_testkit::fixtures::record_form("Wells"),
        )
        .await
        .unwrap();
    let record = cista
        .submit(
            &operator,
            org,
            form.id,
            "5d0c9a10-0000-4000-8000-000000000001",
            &serde_json::json!({ "depth_m": 2 }),
        )
        .await
        .unwrap();

    // First attempt: the receiver answers 503; nothing more is due until the first wait ends.
    assert_eq!(worker.deliver_due().await.unwrap(), 1);
    assert_eq!(worker.deliver_due().await.unwrap(), 0);
    clock.advance(RETRY_DELAYS[0]);
    assert_eq!(worker.deliver_due().await.unwrap(), 1);
    assert_eq!(worker.deliver_due().await.unwrap(), 0);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].0, seen[1].0, "the same webhook-id on the retry");
        assert!(seen.iter().all(|s| s.1), "every signature verifies");
        assert_eq!((seen[0].2, seen[1].2), (503, 204));
        let body: serde_json::Value = serde_json::from_str(&seen[1].3).unwrap();
        assert_eq!(body["type"], "record.created");
        assert_eq!(
            body["data"]["record"],
            record.submission.as_i64().to_string()
        );
    }
    let log = cista.webhook_log(&operator, org, None).await.unwrap();
    assert_eq!(log[0].0.state(), "delivered");
    let statuses: Vec<Option<u16>> = log[0].1.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(503), Some(204)]);
    assert_eq!(
        log[0].1[0].error.as_deref(),
        Some("the endpoint answered 503")
    );

    // A review goes out at the first attempt.
    cista
        .review_record(
            &operator,
            org,
            record.submission,
            ReviewState::NeedsChanges,
            "",
        )
        .await
        .unwrap();
    assert_eq!(worker.deliver_due().await.unwrap(), 1);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].2, 204);
    assert!(seen[2].1);
    assert!(seen[2].3.contains(r#""state":"needs_changes""#));
    assert!(seen[2].3.contains(r#""type":"record.reviewed""#));
}

#[tokio::test]
async fn a_record_and_its_review_reach_a_receiver_that_fails_at_first_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    a_record_and_its_review_reach_a_receiver_that_fails_at_first(Target::SqliteFile(
        dir.path().join("cista.db"),
    ))
    .await;
}

#[tokio::test]
async fn a_record_and_its_review_reach_a_receiver_that_fails_at_first_on_postgres() {
    cista_testkit::app::on_postgres(a_record_and_its_review_reach_a_receiver_that_fails_at_first)
        .await;
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_failed_attempt_retried_later() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let target = Target::SqliteFile(dir.path().join("cista.db"));
    let (cista, org) = instance(dir.path(), target, clock.clone()).await;
    let operator = Actor::operator("test");
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    cista
        .create_webhook(
            &operator,
            org,
            &format!("https://localhost:{port}/hook"),
            &[WebhookEvent::RecordCreated],
        )
        .await
        .unwrap();
    let form = cista
        .publish_form(
            &operator,
            org,
            FormProduct::Collection,
            "wells",
            &cista_testkit::fixtures::record_form("Wells"),
        )
        .await
        .unwrap();
    cista
        .submit(
            &operator,
            org,
            form.id,
            "5d0c9a10-0000-4000-8000-000000000002",
            &serde_json::json!({ "depth_m": 2 }),
        )
        .await
        .unwrap();
    let worker = WebhookWorker::new(cista.clone(), &[]).unwrap();
    assert_eq!(worker.deliver_due().await.unwrap(), 1);
    let log = cista.webhook_log(&operator, org, None).await.unwrap();
    let attempt = &log[0].1[0];
    assert_eq!(attempt.status, None);
    assert_eq!(
        attempt.error.as_deref(),
        Some("could not connect to the endpoint")
    );
    assert_eq!(log[0].0.state(), "waiting");
    assert!(log[0].0.next_attempt_at > clock.now(), "retried later");
}
