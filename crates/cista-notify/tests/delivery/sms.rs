//! The Twilio-style HTTP SMS provider against a local fake of its API.

use cista_core::platform::notices::DeliveryOutcome;
use cista_notify::{HttpSms, HttpSmsSettings, SmsSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, String, String)>>>);

/// A fake provider: records path, Authorization and body; answers with `status`.
async fn fake_provider(status: u16) -> (String, Seen) {
    let seen = Seen::default();
    let record = seen.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let record = record.clone();
        async move {
            let path = req.uri().path().to_owned();
            let auth = req
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let body = axum::body::to_bytes(req.into_body(), 1 << 16)
                .await
                .unwrap();
            record
                .0
                .lock()
                .unwrap()
                .push((path, auth, String::from_utf8(body.to_vec()).unwrap()));
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                r#"{"sid":"SM123"}"#,
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn settings(base_url: &str) -> HttpSmsSettings {
    HttpSmsSettings {
        base_url: base_url.to_owned(),
        account_sid: "AC123".to_owned(),
        auth_token: "token456".into(),
        from: "+15555550100".to_owned(),
        timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn a_code_is_posted_as_a_twilio_style_form_with_basic_auth() {
    let (url, seen) = fake_provider(201).await;
    let sms = HttpSms::new(settings(&url)).unwrap();
    assert_eq!(
        sms.send("+13055550142", "Your code is 123456").await,
        DeliveryOutcome::Delivered
    );
    let calls = seen.0.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let (path, auth, body) = &calls[0];
    assert_eq!(path, "/2010-04-01/Accounts/AC123/Messages.json");
    // base64("AC123:token456")
    assert_eq!(auth, "Basic QUMxMjM6dG9rZW40NTY=");
    assert!(body.contains("To=%2B13055550142"), "{body}");
    assert!(body.contains("From=%2B15555550100"), "{body}");
    assert!(body.contains("Body=Your+code+is+123456"), "{body}");
}

#[tokio::test]
async fn server_errors_are_retried_and_refusals_abandoned() {
    let (url, _) = fake_provider(503).await;
    let outcome = HttpSms::new(settings(&url))
        .unwrap()
        .send("+13055550142", "x")
        .await;
    assert!(matches!(outcome, DeliveryOutcome::Retry(_)), "{outcome:?}");
    let (url, _) = fake_provider(400).await;
    let outcome = HttpSms::new(settings(&url))
        .unwrap()
        .send("+13055550142", "x")
        .await;
    assert!(
        matches!(outcome, DeliveryOutcome::Abandon(_)),
        "{outcome:?}"
    );
    let outcome = HttpSms::new(settings("http://127.0.0.1:9"))
        .unwrap()
        .send("+1305", "x")
        .await;
    assert!(matches!(outcome, DeliveryOutcome::Retry(_)), "{outcome:?}");
}

#[test]
fn the_provider_must_be_reached_over_https() {
    let err = HttpSms::new(settings("http://sms.example.org")).unwrap_err();
    assert!(err.to_string().contains("https://"), "{err}");
    assert!(HttpSms::new(settings("https://api.twilio.com")).is_ok());
    let mut no_token = settings("https://api.twilio.com");
    no_token.auth_token = cista_types::Secret::default();
    assert!(HttpSms::new(no_token).is_err());
}
