//! Webhooks on the staff pages: an owner reaches them from the organization's home, a plain
//! `http://` or internal address is refused with the reason beside the field, a new endpoint's
//! secret is shown once, a record's message appears in the delivery log with **Send again**,
//! and **Remove** stops it. A reviewer is refused; a form without the CSRF token changes
//! nothing.

use crate::people::{active, org};
use crate::web::{between, follow, page, post, sign_in};
use crate::{Options, TestServer, csrf_in};
use cista_core::Actor;
use cista_core::platform::intake::FormProduct;
use cista_types::Role;
use reqwest::StatusCode;

#[tokio::test]
async fn an_owner_adds_an_endpoint_sees_its_log_and_removes_it() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = org(cista, "river-watch").await;
    active(cista, org, "olivia@river.example", Role::Owner).await;
    active(cista, org, "rex@river.example", Role::Reviewer).await;
    let owner = sign_in(&server, "olivia@river.example").await;
    let hooks = "/admin/river-watch/webhooks";
    let (_, home) = page(&owner, &server, "/admin/river-watch").await;
    assert!(home.contains(hooks), "the home page links to the webhooks");
    let (status, html) = page(&owner, &server, hooks).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("No endpoint yet"), "{html}");

    for (bad, why) in [
        ("http://hooks.example.org/in", "HTTPS only"),
        ("https://127.0.0.1/in", "private network"),
    ] {
        let r = post(
            &owner,
            &server,
            hooks,
            &csrf_in(&html),
            &[("url", bad), ("created", "1")],
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body = r.text().await.unwrap();
        assert!(body.contains(why), "{bad}: {body}");
    }
    let r = server
        .browser()
        .post(server.url(hooks))
        .header("origin", server.url(""))
        .form(&[("url", "https://hooks.example.org/in"), ("created", "1")])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_client_error(),
        "no CSRF token: {}",
        r.status()
    );
    assert!(
        cista
            .webhooks(&Actor::operator("t"), org)
            .await
            .unwrap()
            .is_empty()
    );

    let r = post(
        &owner,
        &server,
        hooks,
        &csrf_in(&html),
        &[("url", "https://hooks.example.org/in"), ("created", "1")],
    )
    .await;
    let (to, status, shown) = follow(&owner, &server, r).await;
    assert_eq!((to.as_str(), status), (hooks, StatusCode::OK));
    let secret = between(&shown, r#"<code class="wrap">whsec_"#, "<").to_owned();
    assert!(secret.len() >= 32, "{shown}");
    let (_, again) = page(&owner, &server, hooks).await;
    assert!(!again.contains(&secret), "the secret is shown once");
    assert!(again.contains("https://hooks.example.org/in"));
    assert!(again.contains("record.created"));

    log_resend_refuse_and_remove(&server, &owner, org, hooks).await;
}

/// A record's message in the log, Send again, a reviewer refused, Remove.
async fn log_resend_refuse_and_remove(
    server: &TestServer,
    owner: &reqwest::Client,
    org: cista_types::OrgId,
    hooks: &str,
) {
    let cista = &server.state.cista;
    // A record queues a message, listed with Send again.
    let operator = Actor::operator("test");
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
            "w-1",
            &serde_json::json!({ "depth_m": 1 }),
        )
        .await
        .unwrap();
    let (_, log) = page(owner, server, hooks).await;
    assert!(
        log.contains(&format!(
            "record.created · record {}",
            record.submission.as_i64()
        )),
        "{log}"
    );
    assert!(log.contains("Not attempted yet"), "{log}");
    let resend = between(
        &log,
        r#"action="/admin/river-watch/webhooks/messages/"#,
        "\"",
    );
    let r = post(
        owner,
        server,
        &format!("/admin/river-watch/webhooks/messages/{resend}"),
        &csrf_in(&log),
        &[],
    )
    .await;
    let (_, status, after) = follow(owner, server, r).await;
    assert_eq!(status, StatusCode::OK);
    assert!(after.contains("queued to be sent again"), "{after}");

    // A reviewer manages none of it.
    let reviewer = sign_in(server, "rex@river.example").await;
    assert_eq!(
        page(&reviewer, server, hooks).await.0,
        StatusCode::FORBIDDEN
    );
    let (_, rex_home) = page(&reviewer, server, "/admin/river-watch").await;
    assert!(!rex_home.contains(hooks));

    let remove = between(&after, r#"action="/admin/river-watch/webhooks/wh-"#, "\"");
    let r = post(
        owner,
        server,
        &format!("/admin/river-watch/webhooks/wh-{remove}"),
        &csrf_in(&after),
        &[],
    )
    .await;
    let (_, _, removed) = follow(owner, server, r).await;
    assert!(removed.contains("The endpoint is removed"), "{removed}");
    assert!(removed.contains("removed "), "{removed}");
    assert!(!removed.contains("Send again"), "{removed}");
}
