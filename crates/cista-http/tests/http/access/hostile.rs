//! What a hostile client cannot do: make a 500 with forged, malformed or oversized input, or
//! keep an owner from signing in by spending her SMS budget or guessing her password.

use crate::people::{self, PASSWORD};
use crate::web::{page, post, sign_in};
use crate::{Options, TestServer, csrf_in};
use cista_core::platform::notices::Notice;
use cista_types::Role;
use reqwest::{Client, StatusCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_malformed_and_oversized_input_never_makes_a_500() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = people::org(cista, "bayview").await;
    people::active(cista, org, "owner@example.org", Role::Owner).await;
    let browser = sign_in(&server, "owner@example.org").await;
    for path in [
        "/i/",
        "/i/x",
        "/i/%00%ff",
        "/r/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        &format!("/i/{}", "a".repeat(5000)),
    ] {
        let status = browser.get(server.url(path)).send().await.unwrap().status();
        assert!(status.is_client_error(), "{path}: {status}");
    }
    let (_, html) = page(&browser, &server, "/admin/bayview/invite").await;
    let token = csrf_in(&html);
    let long = "x".repeat(300);
    for fields in [
        vec![
            ("first_name", ""),
            ("last_name", "L"),
            ("email", "e@example.org"),
            ("role", "member"),
        ],
        vec![
            ("first_name", long.as_str()),
            ("last_name", "L"),
            ("email", "e@example.org"),
            ("role", "member"),
        ],
        vec![
            ("first_name", "F"),
            ("last_name", "L"),
            ("email", "not-an-email"),
            ("role", "member"),
        ],
        vec![
            ("first_name", "F"),
            ("last_name", "L"),
            ("email", "e@example.org"),
            ("phone", "305 555"),
            ("role", "member"),
        ],
        vec![
            ("first_name", "F"),
            ("last_name", "L"),
            ("email", "e@example.org"),
            ("role", "king"),
        ],
    ] {
        let r = post(&browser, &server, "/admin/bayview/invite", &token, &fields).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        let html = r.text().await.unwrap();
        assert!(html.contains("There is a problem"), "{html}");
    }
    // A name of bytes that are not UTF-8 is refused, not stored with U+FFFD in their place.
    for name in [&b"a%ffb"[..], b"%C3", b"a\xffb"] {
        let mut body = format!("csrf={token}&first_name=").into_bytes();
        body.extend_from_slice(name);
        body.extend_from_slice(b"&last_name=L&email=e%40example.org&role=member");
        let r = browser
            .post(server.url("/admin/bayview/invite"))
            .header("origin", server.origin.as_str())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{name:?}");
    }
    // A field sent twice is refused as any other form that does not read: 400 `bad_request`
    // (axum's own answer, 422, carried that code under another status).
    let r = browser
        .post(server.url("/admin/bayview/invite"))
        .header("origin", server.origin.as_str())
        .header("accept", "application/json")
        .form(&[
            ("csrf", token.as_str()),
            ("first_name", "F"),
            ("last_name", "L"),
            ("email", "e@example.org"),
            ("role", "member"),
            ("role", "admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a field sent twice");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    let r = post(
        &browser,
        &server,
        "/admin/bayview/people/not-a-number/role",
        &token,
        &[("role", "admin")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = post(
        &browser,
        &server,
        "/admin/bayview/people/999/erase",
        &token,
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "unconfirmed erasure");
    assert_eq!(
        cista.vault().counts().await.unwrap().0,
        1,
        "nothing half-written"
    );
    server.stop().await;
}

/// What a request sends back into its page never carries a NUL, and a search reads no more
/// than its field holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_sent_back_into_a_page_is_what_a_page_may_hold() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = people::org(cista, "bayview").await;
    people::active(cista, org, "owner@example.org", Role::Owner).await;
    let browser = sign_in(&server, "owner@example.org").await;
    let long = "q".repeat(5000);
    for (q, echoed) in [("ab%00cd", "abcd"), (long.as_str(), &long[..100])] {
        let (status, html) = page(&browser, &server, &format!("/admin/bayview/people?q={q}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!html.contains('\0'), "{q}");
        assert!(html.contains(&format!("value=\"{echoed}\"")), "{html}");
        assert!(!html.contains(&long[..101]), "cut at the field's length");
    }
    // A form refused and shown again with what was typed.
    let (_, html) = page(&browser, &server, "/admin/bayview/invite").await;
    let fields = [
        ("first_name", "An\0n"),
        ("last_name", "L"),
        ("email", "not-an-email"),
        ("role", "member"),
    ];
    let r = post(
        &browser,
        &server,
        "/admin/bayview/invite",
        &csrf_in(&html),
        &fields,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(!html.contains('\0'), "{html}");
    server.stop().await;
}

/// Issue 10, item 11: anyone who knows an owner's mobile number could, from another browser,
/// ask for SMS codes for it — each request revoked her pending code and three an hour used up
/// her sends. Now each code lives until its own expiry, and budgets and lockouts belong to the
/// requester: her browser, a device she signed in from, keeps its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_keep_an_owner_from_signing_in_by_sms_or_password() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = people::org(cista, "bayview").await;
    let link = people::invited(
        cista,
        org,
        "gus@example.org",
        Some("+13055550142"),
        Role::Member,
    )
    .await;
    cista
        .set_password_with_link(
            link.rsplit('/').next().unwrap(),
            cista_core::ports::CredentialPurpose::Invite,
            &cista_types::Password::parse(PASSWORD).unwrap(),
        )
        .await
        .unwrap();
    people::last_notice(cista, "x").await;

    let hers = server.browser();
    her_phone_holds_a_device_cookie(&hers, &server).await;
    let stranger = server.browser();
    a_strangers_sms_requests_leave_her_code_and_her_budget_alone(&hers, &stranger, &server).await;
    a_strangers_password_guesses_lock_out_the_stranger_only(&hers, &stranger, &server).await;
    server.stop().await;
}

/// She has signed in on her phone before: it holds a device cookie.
async fn her_phone_holds_a_device_cookie(hers: &Client, server: &TestServer) {
    let (_, html) = page(hers, server, "/sign-in").await;
    let r = post(
        hers,
        server,
        "/sign-in",
        &csrf_in(&html),
        &[("email", "gus@example.org"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let device = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-cista_device="))
        .expect("a device cookie");
    for attribute in ["HttpOnly", "Secure", "Path=/", "SameSite=Lax", "Max-Age="] {
        assert!(device.contains(attribute), "{device}");
    }
    let (_, me) = page(hers, server, "/me").await;
    post(hers, server, "/sign-out", &csrf_in(&me), &[]).await;
}

/// Asks for an SMS code for her number from `browser`, and returns the page to enter it.
async fn ask_for_a_code(browser: &Client, server: &TestServer) -> String {
    let (_, html) = page(browser, server, "/sms").await;
    let r = post(
        browser,
        server,
        "/sms",
        &csrf_in(&html),
        &[("identifier", "+13055550142")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, verify) = page(browser, server, "/sms/verify").await;
    verify
}

/// She asks for a code, and a stranger in another browser asks five times for her number:
/// the stranger's own budget runs out, her code still signs her in, and her own budget is
/// untouched.
async fn a_strangers_sms_requests_leave_her_code_and_her_budget_alone(
    hers: &Client,
    stranger: &Client,
    server: &TestServer,
) {
    let cista = &server.state.cista;
    // She asks for a code...
    let verify = ask_for_a_code(hers, server).await;
    let Some(Notice::SmsCode { code, .. }) = people::last_notice(cista, "+13055550142").await
    else {
        panic!("no SMS code sent");
    };
    // ...and a stranger in another browser asks five times for her number.
    for _ in 0..5 {
        ask_for_a_code(stranger, server).await;
    }
    let due = cista
        .due_deliveries(&cista_core::Actor::System, 100)
        .await
        .unwrap();
    assert_eq!(due.len(), 3, "the stranger's own budget: three an hour");
    people::last_notice(cista, "x").await;
    // Her code still signs her in.
    let r = post(
        hers,
        server,
        "/sms/verify",
        &csrf_in(&verify),
        &[("code", &code)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "her code survives");
    let (_, me) = page(hers, server, "/me").await;
    assert!(me.contains("signed in with a code sent by SMS"), "{me}");
    post(hers, server, "/sign-out", &csrf_in(&me), &[]).await;
    // And her own budget is untouched.
    let verify = ask_for_a_code(hers, server).await;
    let Some(Notice::SmsCode { code, .. }) = people::last_notice(cista, "+13055550142").await
    else {
        panic!("her phone's budget was used up by the stranger");
    };
    let r = post(
        hers,
        server,
        "/sms/verify",
        &csrf_in(&verify),
        &[("code", &code)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, me) = page(hers, server, "/me").await;
    post(hers, server, "/sign-out", &csrf_in(&me), &[]).await;
}

/// The stranger guesses her password ten times: the stranger is locked out, she is not.
async fn a_strangers_password_guesses_lock_out_the_stranger_only(
    hers: &Client,
    stranger: &Client,
    server: &TestServer,
) {
    let (_, html) = page(stranger, server, "/sign-in").await;
    for _ in 0..10 {
        let r = post(
            stranger,
            server,
            "/sign-in",
            &csrf_in(&html),
            &[
                ("email", "gus@example.org"),
                ("password", "not-her-password-1"),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = post(
        stranger,
        server,
        "/sign-in",
        &csrf_in(&html),
        &[("email", "gus@example.org"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the stranger is locked"
    );
    let (_, html) = page(hers, server, "/sign-in").await;
    let r = post(
        hers,
        server,
        "/sign-in",
        &csrf_in(&html),
        &[("email", "gus@example.org"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "she is not");
}
