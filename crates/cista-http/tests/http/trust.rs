//! The landing and trust pages report the running system.

use crate::{Options, TestServer};
use serde_json::Value;

#[tokio::test]
async fn the_trust_report_describes_this_connection_database_keys_and_checkpoint() {
    let server = TestServer::start(Options::default()).await;
    let response = server
        .client()
        .get(server.url("/api/v1/trust"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["this_connection"]["version"], "TLS 1.3");
    assert_eq!(
        report["tls"]["versions"],
        serde_json::json!(["TLS 1.3", "TLS 1.2"])
    );
    assert_eq!(report["report"]["database"]["backend"], "Sqlite");
    let settings = report["report"]["database"]["settings"].as_array().unwrap();
    assert!(settings.contains(&serde_json::json!(["journal_mode", "wal"])));
    assert!(settings.contains(&serde_json::json!(["synchronous", "FULL"])));
    assert_eq!(
        report["report"]["keys"]["provider"]["kind"],
        "local key file"
    );
    let checkpoint = &report["report"]["audit"]["latest_checkpoint"];
    assert_eq!(checkpoint["signature_valid"], true);
    assert_eq!(checkpoint["size"], report["report"]["audit"]["entries"]);
    // The report is public: no server paths.
    for leak in ["/tmp", ".kek", ".db", ".pem"] {
        assert!(
            !text.contains(leak),
            "the public trust report shows `{leak}`"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_tls_1_2_client_is_served_with_a_forward_secret_suite_and_reported_as_such() {
    let server = TestServer::start(Options::default()).await;
    let client = server
        .client_builder()
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .unwrap();
    let report: Value = client
        .get(server.url("/api/v1/trust"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["this_connection"]["version"], "TLS 1.2");
    let suite = report["this_connection"]["cipher_suite"].as_str().unwrap();
    assert!(suite.starts_with("TLS_ECDHE_"), "{suite}");
    let counts = &report["connections_by_version"];
    assert!(counts["TLS 1.2"].as_u64().unwrap() >= 1);
    server.stop().await;
}

#[tokio::test]
async fn the_pages_show_the_live_facts() {
    let server = TestServer::start(Options::default()).await;
    let client = server.client();
    let security = client.get(server.url("/security")).send().await.unwrap();
    assert_eq!(
        security.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let security = security.text().await.unwrap();
    for expected in [
        "TLS 1.3",
        "TLS13_AES_256_GCM_SHA384",
        "SQLite 3.",
        "local key file",
        "AES-256-GCM",
        "RFC 6962",
        "signature <strong>valid</strong>",
        "\u{2014} cista/",
    ] {
        assert!(security.contains(expected), "/security lacks `{expected}`");
    }
    let landing = client
        .get(server.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "Transport",
        "TLS 1.3",
        "Database",
        "Keys",
        "Audit log",
        "signature valid",
    ] {
        assert!(landing.contains(expected), "/ lacks `{expected}`");
    }
    server.stop().await;
}
