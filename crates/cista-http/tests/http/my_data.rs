//! Subject access over the web (GDPR Art. 15/20; issue 14, item 6): a signed-in member
//! downloads everything held about them as JSON and as a readable PDF (never cached, never
//! the password hash), an administrator downloads it for a member, another member cannot, and
//! each download is an audit entry.

use crate::people::{active, org};
use crate::web::{page, sign_in};
use crate::{Options, TestServer};
use cista_types::Role;
use reqwest::StatusCode;

async fn get(client: &reqwest::Client, server: &TestServer, path: &str) -> reqwest::Response {
    client.get(server.url(path)).send().await.unwrap()
}

#[tokio::test]
async fn a_member_downloads_everything_held_about_them_and_staff_can_for_a_member() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let home = org(cista, "data-request").await;
    let ivy = active(cista, home, "ivy@data-request.example", Role::Member).await;
    active(cista, home, "hal@data-request.example", Role::Member).await;
    active(cista, home, "ada@data-request.example", Role::Admin).await;

    let member = sign_in(&server, "ivy@data-request.example").await;
    let (status, me) = page(&member, &server, "/me").await;
    assert_eq!(status, StatusCode::OK);
    assert!(me.contains(r#"href="/me/data""#), "{me}");
    let (status, html) = page(&member, &server, "/me/data").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("/me/data.pdf"), "{html}");

    let json = get(&member, &server, "/me/data.json").await;
    assert_eq!(json.status(), StatusCode::OK);
    assert_eq!(json.headers()["content-type"], "application/json");
    assert_eq!(json.headers()["cache-control"], "no-store");
    assert!(
        json.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"cista-data-")
    );
    let body: serde_json::Value = json.json().await.unwrap();
    assert_eq!(body["subject"], ivy.to_string());
    assert_eq!(body["person"]["email"], "ivy@data-request.example");
    assert_eq!(body["memberships"][0]["slug"], "data-request");
    assert_eq!(body["account"]["password_set"], true);
    assert!(!body.to_string().contains("argon2"), "{body}");
    assert!(
        body["audit_entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "sign_in.succeeded"),
        "her sign-in is in the log: {body}"
    );

    let pdf = get(&member, &server, "/me/data.pdf").await;
    assert_eq!(pdf.status(), StatusCode::OK);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert_eq!(pdf.headers()["cache-control"], "no-store");
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    if let Some(dir) = std::env::var_os("CISTA_SCREENSHOT_DIR") {
        std::fs::write(
            std::path::Path::new(&dir).join("subject-access.pdf"),
            &bytes,
        )
        .unwrap();
    }

    // Another member: not through the staff route; an administrator: yes.
    let path = format!("/admin/data-request/people/{ivy}/data.json");
    let hal = sign_in(&server, "hal@data-request.example").await;
    assert!(get(&hal, &server, &path).await.status().is_client_error());
    let admin = sign_in(&server, "ada@data-request.example").await;
    let (_, people) = page(&admin, &server, "/admin/data-request/people").await;
    assert!(people.contains(&path), "{people}");
    let by_staff = get(&admin, &server, &path).await;
    assert_eq!(by_staff.status(), StatusCode::OK);
    let body: serde_json::Value = by_staff.json().await.unwrap();
    assert_eq!(body["person"]["first_name"], "Test");
    let pdf_path = format!("/admin/data-request/people/{ivy}/data.pdf");
    assert_eq!(
        get(&admin, &server, &pdf_path).await.status(),
        StatusCode::OK
    );
    // Someone who is no member of the organization is not found there.
    let outsider = format!("/admin/data-request/people/{}/data.json", "S-0000000000");
    assert_eq!(
        get(&admin, &server, &outsider).await.status(),
        StatusCode::NOT_FOUND
    );

    let productions = cista
        .store()
        .audit_entries(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.details.contains("subject access request"))
        .count();
    assert_eq!(productions, 4, "each download is audited");
    server.stop().await;
}
