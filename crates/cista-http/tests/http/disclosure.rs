//! Responsible disclosure and third parties (issue 14, items 1 and 3): security.txt is served
//! as RFC 9116 lays it out while it is valid and refused once it has expired or when no contact
//! is set; the policy page names the contacts; the third-parties page and `/api/v1/trust` list
//! exactly what the server was configured with plus the organizations' webhook receivers, with
//! database addresses and configuration keys for staff only.

use crate::people::{active, org};
use crate::web::{page, sign_in};
use crate::{Options, TestServer};
use cista_core::Actor;
use cista_core::products::collection::webhooks::WebhookEvent;
use cista_http::ThirdParty;
use cista_http::disclosure::{DisclosureSettings, SecurityTxt};
use cista_types::{Clock as _, Role, Timestamp};
use reqwest::StatusCode;

fn security_txt(expires: Timestamp) -> SecurityTxt {
    let contact = vec![
        "mailto:security@palmcourt.example".to_owned(),
        "https://palmcourt.example/report".to_owned(),
    ];
    let expires = expires.to_rfc3339();
    SecurityTxt::build(
        &DisclosureSettings {
            contact: &contact,
            expires: Some(&expires),
            ..DisclosureSettings::default()
        },
        "https://localhost:8443",
    )
    .unwrap()
}

fn in_days(days: i64) -> Timestamp {
    cista_types::SystemClock
        .now()
        .plus(time::Duration::days(days))
}

async fn get(server: &TestServer, path: &str) -> reqwest::Response {
    server.client().get(server.url(path)).send().await.unwrap()
}

#[tokio::test]
async fn security_txt_is_served_as_rfc_9116_says_while_it_is_valid() {
    let server = TestServer::start(Options {
        disclosure: Some(security_txt(in_days(180))),
        ..Options::default()
    })
    .await;
    let response = get(&server, "/.well-known/security.txt").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().get("set-cookie").is_none(),
        "a machine-read file starts no browser state"
    );
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    let body = response.text().await.unwrap();
    let fields: Vec<&str> = body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(": ").map(|(k, _)| k))
        .collect();
    assert_eq!(
        fields,
        [
            "Contact",
            "Contact",
            "Expires",
            "Preferred-Languages",
            "Canonical",
            "Policy"
        ],
        "{body}"
    );
    assert!(body.contains("Contact: mailto:security@palmcourt.example\n"));
    assert!(body.contains("Canonical: https://localhost:8443/.well-known/security.txt\n"));
    assert!(body.contains("Policy: https://localhost:8443/security/disclosure\n"));

    // The policy page and the trust page name the contacts and the file.
    let (status, policy) = page(&server.client(), &server, "/security/disclosure").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        policy.contains("mailto:security@palmcourt.example"),
        "{policy}"
    );
    assert!(policy.contains("Out of scope"), "{policy}");
    assert!(policy.contains("within 3 working days"), "{policy}");
    let (_, trust) = page(&server.client(), &server, "/security").await;
    assert!(trust.contains("Reporting a vulnerability"), "{trust}");
    assert!(
        trust.contains(r#"href="/.well-known/security.txt""#),
        "{trust}"
    );
    let api: serde_json::Value = get(&server, "/api/v1/trust").await.json().await.unwrap();
    assert_eq!(api["disclosure"]["served"], true);
    server.stop().await;
}

#[tokio::test]
async fn an_expired_or_missing_security_txt_is_not_served_and_the_trust_page_says_so() {
    for (disclosure, said) in [
        (Some(security_txt(in_days(-1))), "expired on"),
        (None, "no security contact is configured"),
    ] {
        let server = TestServer::start(Options {
            disclosure,
            ..Options::default()
        })
        .await;
        let response = get(&server, "/.well-known/security.txt").await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = response.text().await.unwrap();
        assert!(body.contains("not_found"), "a coded error: {body}");
        let (_, trust) = page(&server.client(), &server, "/security").await;
        assert!(trust.contains(said), "{trust}");
        let (_, policy) = page(&server.client(), &server, "/security/disclosure").await;
        assert!(
            !policy.contains(r#"href="/.well-known/security.txt""#),
            "{policy}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn third_parties_are_what_was_configured_with_addresses_for_staff_only() {
    let server = TestServer::start(Options::default()).await;
    let (_, none) = page(&server.client(), &server, "/security/third-parties").await;
    assert!(
        none.contains("sends data to no outside service") || none.contains("None."),
        "{none}"
    );
    let api: serde_json::Value = get(&server, "/api/v1/trust").await.json().await.unwrap();
    assert_eq!(api["third_parties"], serde_json::json!([]));
    server.stop().await;

    let database = ThirdParty {
        service: "PostgreSQL database".to_owned(),
        public_endpoint: "a PostgreSQL server (its address is shown to staff)".to_owned(),
        endpoint: "db.internal.example:6432".to_owned(),
        receives: "everything Cista stores".to_owned(),
        settings: vec!["database.url".to_owned()],
    };
    let server = TestServer::start(Options {
        third_parties: vec![database],
        ..Options::default()
    })
    .await;
    let cista = &server.state.cista;
    let home = org(cista, "river-watch").await;
    active(cista, home, "rex@river.example", Role::Inspector).await;
    active(cista, home, "mo@river.example", Role::Member).await;
    cista
        .create_webhook(
            &Actor::operator("test"),
            home,
            "https://partner.example.org/hooks/cista",
            &WebhookEvent::ALL,
        )
        .await
        .unwrap();

    let (status, public) = page(&server.client(), &server, "/security/third-parties").await;
    assert_eq!(status, StatusCode::OK);
    assert!(public.contains("PostgreSQL database"), "{public}");
    assert!(public.contains("Webhook receivers"), "{public}");
    assert!(
        public.contains("1 endpoint set by 1 organization"),
        "{public}"
    );
    for hidden in ["db.internal.example", "partner.example.org", "database.url"] {
        assert!(!public.contains(hidden), "the public sees `{hidden}`");
    }
    let member = sign_in(&server, "mo@river.example").await;
    let (_, as_member) = page(&member, &server, "/security/third-parties").await;
    assert!(!as_member.contains("db.internal.example"), "{as_member}");
    let api: serde_json::Value = get(&server, "/api/v1/trust").await.json().await.unwrap();
    let services: Vec<&str> = api["third_parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["PostgreSQL database", "Webhook receivers"]);
    assert!(!api.to_string().contains("db.internal.example"));

    let staff = sign_in(&server, "rex@river.example").await;
    let (_, as_staff) = page(&staff, &server, "/security/third-parties").await;
    for shown in ["db.internal.example:6432", "database.url"] {
        assert!(
            as_staff.contains(shown),
            "staff do not see `{shown}`: {as_staff}"
        );
    }
    // An organization's partners are its own: an inspector, who does not manage its
    // webhooks, sees the count, not the host (the operator sees hosts: conformance test).
    assert!(!as_staff.contains("partner.example.org"), "{as_staff}");
    let (_, trust) = page(&staff, &server, "/security").await;
    assert!(trust.contains("Third parties"), "{trust}");
    assert!(
        trust.contains("1 endpoint set by 1 organization"),
        "{trust}"
    );
    server.stop().await;
}
