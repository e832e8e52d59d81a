//! Changing a password while signed in: a wrong current password counts toward the same
//! lockout as a wrong password at sign-in, so a stolen session cannot guess the password
//! without limit; the lock holds even for the right password, and is recorded.

use crate::people::{self, PASSWORD};
use crate::web::{page, post, sign_in};
use crate::{Options, TestServer, csrf_in};
use cista_types::Role;
use reqwest::StatusCode;

const NEW: &str = "lantern-quiver-basalt-37";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_current_passwords_lock_the_change_form_and_are_audited() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = people::org(cista, "bayview").await;
    people::active(cista, org, "ann@example.org", Role::Member).await;
    let browser = sign_in(&server, "ann@example.org").await;
    let (_, html) = page(&browser, &server, "/me/password").await;
    let token = csrf_in(&html);
    let change = |current: &'static str| {
        let (browser, server, token) = (&browser, &server, token.clone());
        async move {
            post(
                browser,
                server,
                "/me/password",
                &token,
                &[("current", current), ("password", NEW), ("confirm", NEW)],
            )
            .await
        }
    };

    // Each wrong guess is refused on the form; after `lockout_after` (5) of them, even the
    // right password is refused with 429 and the form says to wait.
    for _ in 0..5 {
        let r = change("not-the-password").await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("is not right"));
    }
    let r = change(PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // How long, in the header (seconds) and in words on the form: the lock's length here.
    let lock = cista.settings().lockout_base.whole_seconds();
    let retry_after: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=lock).contains(&retry_after),
        "{retry_after} s against a {lock} s lock"
    );
    let html = r.text().await.unwrap();
    let said = format!(
        "Too many wrong passwords. Try again in {}.",
        cista_core::error::wait_phrase(retry_after as u64)
    );
    assert!(html.contains(&said), "{said}\n{html}");
    assert!(
        html.contains(r#"<form method="post" action="/me/password""#),
        "{html}"
    );

    // Nothing changed: the old password still signs in, the new one does not.
    assert!(cista.sign_in("ann@example.org", PASSWORD).await.is_ok());
    assert!(cista.sign_in("ann@example.org", NEW).await.is_err());

    // Every wrong guess and the lock are in the audit log, with no password in it.
    let head = cista.store().audit_head().await.unwrap();
    let entries = cista
        .store()
        .audit_entries(0, head.size as u32)
        .await
        .unwrap();
    let failed = entries
        .iter()
        .filter(|e| e.kind == "password.change_failed")
        .count();
    assert_eq!(failed, 5);
    assert!(
        entries
            .iter()
            .any(|e| e.kind == "sign_in.locked" && e.details.contains("password change"))
    );
    assert!(
        entries
            .iter()
            .all(|e| !e.details.contains("not-the-password") && !e.details.contains(PASSWORD))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_current_password_changes_it_and_clears_earlier_misses() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = people::org(cista, "bayview").await;
    people::active(cista, org, "bo@example.org", Role::Member).await;
    let browser = sign_in(&server, "bo@example.org").await;
    let (_, html) = page(&browser, &server, "/me/password").await;
    let token = csrf_in(&html);
    for _ in 0..4 {
        let r = post(
            &browser,
            &server,
            "/me/password",
            &token,
            &[("current", "nope"), ("password", NEW), ("confirm", NEW)],
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let r = post(
        &browser,
        &server,
        "/me/password",
        &token,
        &[("current", PASSWORD), ("password", NEW), ("confirm", NEW)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/sign-in?done=changed");
    // The four misses were cleared with the change. From the same browser (the same device),
    // one more wrong password at sign-in would make five and lock it, had they not been.
    let sign_in_with = |password: &'static str| {
        let (browser, server) = (&browser, &server);
        async move {
            let (_, html) = page(browser, server, "/sign-in").await;
            post(
                browser,
                server,
                "/sign-in",
                &csrf_in(&html),
                &[("email", "bo@example.org"), ("password", password)],
            )
            .await
        }
    };
    assert_eq!(
        sign_in_with("wrong-guess").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(sign_in_with(NEW).await.status(), StatusCode::SEE_OTHER);
    server.stop().await;
}
