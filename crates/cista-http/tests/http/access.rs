//! The people-and-access pages over real HTTPS with a cookie-keeping client: flows, the
//! generated authorization matrix, identical answers, CSRF on every form, cookies, limits.

mod hostile;
mod joining;
mod matrix;

use crate::people::{self, PASSWORD};
use crate::web::{page, post, sign_in};
use crate::{Options, TestServer, csrf_in};
use cista_core::platform::notices::Notice;
use cista_types::Role;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_set_password_sign_in_and_sign_out() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = people::org(cista, "bayview").await;
    let link = people::invited(cista, org, "ann@example.org", None, Role::Member).await;
    let path = link.trim_start_matches("https://localhost:8443");
    let browser = server.browser();

    let (status, html) = page(&browser, &server, path).await;
    assert_eq!(status, 200);
    assert!(html.contains("Hello Test"), "{html}");
    let token = csrf_in(&html);
    // Mismatched confirmation and a weak password are explained on the page.
    let r = post(
        &browser,
        &server,
        path,
        &token,
        &[("password", PASSWORD), ("confirm", "other")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("not the same"));
    let r = post(
        &browser,
        &server,
        path,
        &token,
        &[("password", "password1"), ("confirm", "password1")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("too easy to guess"));
    let r = post(
        &browser,
        &server,
        path,
        &token,
        &[("password", PASSWORD), ("confirm", PASSWORD)],
    )
    .await;
    // Choosing the password signs this browser in and goes on (to the account page: the
    // link named nothing else).
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/me");
    let (status, me) = page(&browser, &server, "/me").await;
    assert_eq!(status, 200);
    // The link is spent.
    let (status, html) = page(&browser, &server, path).await;
    assert_eq!(status, 400);
    assert!(html.contains("This link does not work"));
    let r = post(&browser, &server, "/sign-out", &csrf_in(&me), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let (_, html) = page(&browser, &server, "/sign-in").await;
    let r = post(
        &browser,
        &server,
        "/sign-in",
        &csrf_in(&html),
        &[("email", "ann@example.org"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in [
        "__Host-cista_session=",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    let (status, html) = page(&browser, &server, "/me").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Hello Test") && html.contains("Org bayview"),
        "{html}"
    );
    assert_eq!(
        browser
            .get(server.url("/me"))
            .send()
            .await
            .unwrap()
            .headers()["cache-control"],
        "no-store"
    );

    let r = post(&browser, &server, "/sign-out", &csrf_in(&html), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = browser.get(server.url("/me")).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "signed out: /me sends to sign in"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_reset_resend_and_sms_answer_identically_for_unknown_addresses() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = people::org(cista, "bayview").await;
    people::active(cista, org, "known@example.org", Role::Member).await;
    people::invited(
        cista,
        org,
        "invited@example.org",
        Some("+13055550142"),
        Role::Member,
    )
    .await;
    people::last_notice(cista, "x").await;
    let browser = server.browser();
    let (_, html) = page(&browser, &server, "/sign-in").await;
    let token = csrf_in(&html);

    for (path, field, known, unknown) in [
        (
            "/reset",
            "email",
            "known@example.org",
            "unknown@example.org",
        ),
        (
            "/invitation",
            "email",
            "invited@example.org",
            "unknown@example.org",
        ),
        ("/sms", "identifier", "+13055550142", "+13055550199"),
    ] {
        let a = post(&browser, &server, path, &token, &[(field, known)]).await;
        let b = post(&browser, &server, path, &token, &[(field, unknown)]).await;
        assert_eq!(a.status(), b.status(), "{path}");
        assert_eq!(
            a.headers().get("location"),
            b.headers().get("location"),
            "{path}: the answer tells known from unknown"
        );
        let (a, b) = (a.text().await.unwrap(), b.text().await.unwrap());
        assert_eq!(a, b, "{path}: the answer tells known from unknown");
    }
    // The same answers, but something was sent for the known ones and nothing for the others.
    let sent: Vec<_> = cista
        .due_deliveries(&cista_core::Actor::System, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.address, d.notice.template()))
        .collect();
    assert_eq!(
        sent.len(),
        3,
        "a reset, an invitation and an SMS code, nothing for unknown addresses: {sent:?}"
    );
    assert!(sent.contains(&("known@example.org".to_owned(), "password-reset")));
    assert!(sent.contains(&("invited@example.org".to_owned(), "invitation")));
    assert!(sent.contains(&("+13055550142".to_owned(), "sms-code")));

    let wrong = post(
        &browser,
        &server,
        "/sign-in",
        &token,
        &[
            ("email", "known@example.org"),
            ("password", "wrong-one-xyz"),
        ],
    )
    .await;
    let unknown = post(
        &browser,
        &server,
        "/sign-in",
        &token,
        &[
            ("email", "ghost@example.org"),
            ("password", "wrong-one-xyz"),
        ],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status(), unknown.status());
    // The same page but for the values drawn afresh for every response (the CSP nonce and the
    // forms' submission id).
    let wrong = without_fresh_values(
        &wrong
            .text()
            .await
            .unwrap()
            .replace("known@example.org", "E"),
    );
    let unknown = without_fresh_values(
        &unknown
            .text()
            .await
            .unwrap()
            .replace("ghost@example.org", "E"),
    );
    assert_eq!(wrong, unknown);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_form_needs_its_csrf_token() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = people::org(cista, "bayview").await;
    let target = people::active(cista, org, "target@example.org", Role::Member).await;
    people::active(cista, org, "owner@example.org", Role::Owner).await;
    let browser = sign_in(&server, "owner@example.org").await;
    for path in [
        "/sign-in".to_owned(),
        "/sign-out".to_owned(),
        "/reset".to_owned(),
        "/invitation".to_owned(),
        "/sms".to_owned(),
        "/sms/verify".to_owned(),
        "/mfa".to_owned(),
        "/mfa/enrol".to_owned(),
        "/me/password".to_owned(),
        "/admin/bayview/invite".to_owned(),
        format!("/admin/bayview/people/{target}/role"),
        format!("/admin/bayview/people/{target}/resend"),
        format!("/admin/bayview/people/{target}/erase"),
    ] {
        for token in ["", "forged-token"] {
            let r = post(
                &browser,
                &server,
                &path,
                token,
                &[("role", "admin"), ("confirm", "erase")],
            )
            .await;
            assert_eq!(
                r.status(),
                StatusCode::FORBIDDEN,
                "{path} with token {token:?}"
            );
        }
    }
    // Nothing happened to the target.
    assert_eq!(
        cista
            .store()
            .membership(org, target)
            .await
            .unwrap()
            .unwrap()
            .role,
        Role::Member
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_session_can_reach_no_staff_page() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = people::org(cista, "bayview").await;
    people::invited(
        cista,
        org,
        "gus@example.org",
        Some("+13055550142"),
        Role::Owner,
    )
    .await;
    people::last_notice(cista, "x").await;
    let browser = server.browser();
    let (_, html) = page(&browser, &server, "/sms").await;
    let r = post(
        &browser,
        &server,
        "/sms",
        &csrf_in(&html),
        &[("identifier", "gus@example.org")],
    )
    .await;
    let (_, status, html) = crate::web::follow(&browser, &server, r).await;
    assert_eq!(status, StatusCode::OK);
    let Some(Notice::SmsCode { code, .. }) = people::last_notice(cista, "+13055550142").await
    else {
        panic!("no SMS code sent");
    };
    let r = post(
        &browser,
        &server,
        "/sms/verify",
        &csrf_in(&html),
        &[("code", "000000")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = post(
        &browser,
        &server,
        "/sms/verify",
        &csrf_in(&html),
        &[("code", &code)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, me) = page(&browser, &server, "/me").await;
    assert_eq!(status, 200);
    assert!(me.contains("signed in with a code sent by SMS"), "{me}");
    for path in [
        "/admin/bayview",
        "/admin/bayview/people",
        "/admin/bayview/invite",
    ] {
        let r = browser.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_sign_in_attempts_from_one_address_are_refused() {
    let server = crate::server_limiting_forms_to(5).await;
    let browser = server.browser();
    let (_, html) = page(&browser, &server, "/sign-in").await;
    let token = csrf_in(&html);
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = post(
            &browser,
            &server,
            "/sign-in",
            &token,
            &[("email", "a@example.org"), ("password", "x")],
        )
        .await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            // When this address may post again: within the minute the quota spans.
            let wait: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&wait), "Retry-After: {wait}");
        }
        statuses.push(r.status());
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        3,
        "{statuses:?}"
    );
    server.stop().await;
}

/// A page without the values every response draws afresh: the CSP nonce and the submission id
/// that follows the dot in the forms' `csrf` field.
fn without_fresh_values(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find("nonce=\"") {
        out.push_str(&rest[..at + 7]);
        rest = &rest[at + 7..];
        rest = &rest[rest.find('"').unwrap_or(0)..];
    }
    out.push_str(rest);
    let marker = r#"name="csrf" value=""#;
    let mut cleaned = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(at) = rest.find(marker) {
        let start = at + marker.len();
        cleaned.push_str(&rest[..start]);
        let value = &rest[start..rest[start..].find('"').map_or(rest.len(), |e| start + e)];
        cleaned.push_str(value.split('.').next().unwrap_or(""));
        rest = &rest[start + value.len()..];
    }
    cleaned.push_str(rest);
    cleaned
}

/// Two organizations: Palm Court, where Ann has a password and a phone on file, and Bay, whose
/// owner is signed in (the browser returned).
async fn ann_of_palm_and_the_owner_of_bay(server: &TestServer) -> reqwest::Client {
    let cista = &server.state.cista;
    let palm = people::org(cista, "palm").await;
    let bay = people::org(cista, "bay").await;
    let link = people::invited(
        cista,
        palm,
        "ann@example.org",
        Some("+13055550123"),
        Role::Member,
    )
    .await;
    cista
        .set_password_with_link(
            cista_testkit::fixtures::token_of(&link),
            cista_core::ports::CredentialPurpose::Invite,
            &cista_types::Password::parse(PASSWORD).unwrap(),
        )
        .await
        .unwrap();
    people::active(cista, bay, "boss@example.org", Role::Owner).await;
    sign_in(server, "boss@example.org").await
}

/// Invites `email` to Bay as a member through the invitation form; the people page after it.
async fn invite_to_bay(boss: &reqwest::Client, server: &TestServer, email: &str) -> String {
    let (_, html) = page(boss, server, "/admin/bay/invite").await;
    let r = post(
        boss,
        server,
        "/admin/bay/invite",
        &csrf_in(&html),
        &[
            ("first_name", "Anne"),
            ("last_name", "Leigh"),
            ("email", email),
            ("phone", ""),
            ("role", "member"),
        ],
    )
    .await;
    let (_, status, people_page) = crate::web::follow(boss, server, r).await;
    assert_eq!(status, 200);
    assert!(people_page.contains("The invitation is on its way"));
    people_page
}

/// The path of the invitation to join last sent to `email`.
async fn join_path(server: &TestServer, email: &str) -> String {
    let Some(Notice::JoinInvitation { link, .. }) =
        people::last_notice(&server.state.cista, email).await
    else {
        panic!("no invitation to join was sent to {email}");
    };
    link.trim_start_matches("https://localhost:8443").to_owned()
}

/// Someone another organization knows is invited by this one's owner: the people page shows
/// nothing of them until they accept on the link's page, which asks only for a click.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_known_elsewhere_joins_by_accepting_and_is_shown_only_then() {
    let server = TestServer::start(Options::default()).await;
    let boss = ann_of_palm_and_the_owner_of_bay(&server).await;
    let people_page = invite_to_bay(&boss, &server, "ann@example.org").await;
    for absent in ["0123", "Anne", "Leigh"] {
        assert!(!people_page.contains(absent), "{absent}: {people_page}");
    }
    // Listed as waiting for an answer, by role and dates only.
    let waiting = crate::web::between(
        &people_page,
        "Invitations waiting for an answer",
        "</table>",
    );
    assert!(
        waiting.contains("Member") && waiting.contains("Withdraw"),
        "{waiting}"
    );

    let path = join_path(&server, "ann@example.org").await;
    let ann = server.browser();
    let (status, html) = page(&ann, &server, &path).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Join Org bay") && html.contains("as Member"),
        "{html}"
    );
    assert!(!html.contains("new-password"), "no password asked: {html}");
    let r = post(
        &ann,
        &server,
        &format!("{path}/accept"),
        &csrf_in(&html),
        &[],
    )
    .await;
    let (to, status, html) = crate::web::follow(&ann, &server, r).await;
    assert_eq!((to.as_str(), status.as_u16()), ("/joined", 200));
    assert!(html.contains("You have joined"), "{html}");

    let (_, people_page) = page(&boss, &server, "/admin/bay/people").await;
    assert!(people_page.contains("0123"), "a member now: {people_page}");
    assert!(!people_page.contains("Invitations waiting for an answer"));
    // The link is spent, and only the organization can invite again.
    let (status, html) = page(&ann, &server, &path).await;
    assert_eq!(status, 400);
    assert!(
        html.contains("ask the organization to invite you again"),
        "{html}"
    );
    server.stop().await;
}

/// An invitation to join is withdrawn from the people page: its link stops working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_withdraw_an_invitation_to_join_from_the_people_page() {
    let server = TestServer::start(Options::default()).await;
    let boss = ann_of_palm_and_the_owner_of_bay(&server).await;
    let people_page = invite_to_bay(&boss, &server, "ann@example.org").await;
    let path = join_path(&server, "ann@example.org").await;
    let subject = crate::web::between(&people_page, "/admin/bay/invitations/", "/withdraw");
    let r = post(
        &boss,
        &server,
        &format!("/admin/bay/invitations/{subject}/withdraw"),
        &csrf_in(&people_page),
        &[],
    )
    .await;
    let (_, status, people_page) = crate::web::follow(&boss, &server, r).await;
    assert_eq!(status, 200);
    assert!(
        people_page.contains("The invitation is withdrawn"),
        "{people_page}"
    );
    assert!(!people_page.contains("Invitations waiting for an answer"));
    let (status, _) = page(&server.browser(), &server, &path).await;
    assert_eq!(status, 400, "the withdrawn link no longer works");
    server.stop().await;
}
