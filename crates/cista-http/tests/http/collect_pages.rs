//! Collectors' phones on the staff pages: an owner opens a collector's phones from the People
//! page, shows a sign-in QR code (shown once), the phone pairs with it, the page lists the phone
//! and its use, and "Sign out every phone" ends it at once. The collector reaches their own
//! phones from the organization's home; a reviewer and another collector are refused.

use crate::people::{active, org};
use crate::web::{between, follow, page, post, sign_in};
use crate::{Options, TestServer, csrf_in};
use cista_types::Role;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn staff_show_a_qr_code_once_and_sign_phones_out() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = org(cista, "river-watch").await;
    active(cista, org, "olivia@river.example", Role::Owner).await;
    let ana = active(cista, org, "ana@river.example", Role::Collector).await;
    let bo = active(cista, org, "bo@river.example", Role::Collector).await;
    active(cista, org, "rex@river.example", Role::Reviewer).await;
    let owner = sign_in(&server, "olivia@river.example").await;
    let phones = format!("/admin/river-watch/people/{ana}/devices");

    let (status, people) = page(&owner, &server, "/admin/river-watch/people").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        people.contains(&phones),
        "the People page links to a collector's phones"
    );
    let (status, html) = page(&owner, &server, &phones).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("No phone has been signed in yet"), "{html}");
    let r = post(
        &owner,
        &server,
        &phones,
        &csrf_in(&html),
        &[("days", "400")],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "a lifetime over a year"
    );
    let r = post(&owner, &server, &phones, &csrf_in(&html), &[("days", "30")]).await;
    let (to, status, shown) = follow(&owner, &server, r).await;
    assert_eq!((to.as_str(), status), (phones.as_str(), StatusCode::OK));
    assert!(
        shown.contains(r#"<img src="data:image/svg+xml;base64,"#),
        "{shown}"
    );
    let code = between(&shown, "/collect/#pair=", "<").to_owned();
    assert!(code.starts_with("cista_pc_"), "{shown}");
    let (_, again) = page(&owner, &server, &phones).await;
    assert!(!again.contains(&code), "the code is shown once");
    assert!(again.contains("waiting to be paired"), "{again}");

    let r = server
        .client()
        .post(server.url("/api/v1/devices/pair"))
        .json(&json!({ "code": code, "device_name": "Ana's Pixel" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let token = r.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let device = |token: String| {
        let client = server.client();
        let url = server.url("/api/v1/device");
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(device(token.clone()).await, StatusCode::OK);
    let (_, listed) = page(&owner, &server, &phones).await;
    assert!(
        listed.contains("Ana&#39;s Pixel") || listed.contains("Ana's Pixel"),
        "{listed}"
    );
    assert!(listed.contains("active"), "{listed}");

    // The collector finds her own phones from the organization's home; others may not look.
    let collector = sign_in(&server, "ana@river.example").await;
    let (_, home) = page(&collector, &server, "/admin/river-watch").await;
    assert!(home.contains(&phones), "{home}");
    let (status, own) = page(&collector, &server, &phones).await;
    assert_eq!(status, StatusCode::OK);
    assert!(own.contains("Your phones"), "{own}");
    let others = format!("/admin/river-watch/people/{bo}/devices");
    assert_eq!(
        page(&collector, &server, &others).await.0,
        StatusCode::FORBIDDEN
    );
    let reviewer = sign_in(&server, "rex@river.example").await;
    assert_eq!(
        page(&reviewer, &server, &phones).await.0,
        StatusCode::FORBIDDEN
    );

    let r = post(
        &owner,
        &server,
        &format!("{phones}/revoke-all"),
        &csrf_in(&listed),
        &[],
    )
    .await;
    let (_, _, after) = follow(&owner, &server, r).await;
    assert!(after.contains("1 phone is signed out."), "{after}");
    assert_eq!(device(token).await, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

/// Cista Collect's manifest names its icons, and each is served with the type and, for the
/// bitmaps, the size it declares (what a browser checks before it offers to install the app).
#[tokio::test]
async fn the_apps_manifest_icons_are_served_as_declared() {
    let server = TestServer::start(Options::default()).await;
    let client = server.client();
    let manifest: serde_json::Value = client
        .get(server.url("/collect/manifest.webmanifest"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let icons = manifest["icons"].as_array().unwrap();
    assert!(icons.iter().any(|i| i["sizes"] == "512x512"), "{manifest}");
    for icon in icons {
        let r = client
            .get(server.url(icon["src"].as_str().unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{icon}");
        assert_eq!(r.headers()["content-type"], icon["type"].as_str().unwrap());
        let bytes = r.bytes().await.unwrap();
        if icon["type"] == "image/png" {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{icon}");
            let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
            let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
            assert_eq!(format!("{width}x{height}"), icon["sizes"].as_str().unwrap());
        }
    }
}
