//! The landing and trust pages report the running system.

use crate::people::{active, org};
use crate::web::sign_in;
use crate::{Options, TestServer};
use cista_core::Actor;
use cista_http::{BackupLine, BackupProbe};
use cista_types::Role;
use serde_json::Value;
use std::sync::Arc;

/// A backup line as the binary's shipper makes it for a directory target: the public summary
/// says what is true, the staff summary and details name the directory and the lineage.
#[derive(Debug)]
struct DirectoryBackup;

const BACKUP_DIR: &str = "/srv/cista/palm-court-backup";
const LINEAGE: &str = "000001-20261130T181500Z-abcd0123";

impl BackupProbe for DirectoryBackup {
    fn line(&self) -> BackupLine {
        BackupLine {
            ok: true,
            summary: "continuous, encrypted; lag 0.1 s".to_owned(),
            staff_summary: format!("continuous to {BACKUP_DIR}; lag 0.1 s"),
            details: vec![
                ("Target".to_owned(), BACKUP_DIR.to_owned()),
                ("Lineage".to_owned(), format!("{LINEAGE}, 3 segments")),
            ],
            notices: vec!["the server's clock was once set back".to_owned()],
        }
    }
}

/// What must never reach an anonymous visitor: paths, exact versions, key ids.
async fn secrets_of(server: &TestServer) -> Vec<String> {
    let full = server
        .state
        .cista
        .trust_report(&Actor::operator("test"))
        .await
        .unwrap();
    assert!(full.details);
    let engine_version = full
        .database
        .version
        .strip_prefix("SQLite ")
        .unwrap()
        .to_owned();
    let mut secrets = vec![
        BACKUP_DIR.to_owned(),
        LINEAGE.to_owned(),
        server.data_dir().display().to_string(),
        engine_version,
        format!("cista/{}", env!("CARGO_PKG_VERSION")),
        full.keys.provider.active_kek.unwrap().to_string(),
        full.audit.key_id.unwrap(),
        full.audit.verifier_key.unwrap(),
    ];
    if !full.database.schema.is_empty() {
        secrets.push(full.database.schema);
    }
    secrets
}

#[tokio::test]
async fn anonymous_visitors_see_facts_but_no_path_version_or_key_id() {
    let server = TestServer::start(Options {
        backup: Arc::new(DirectoryBackup),
        ..Options::default()
    })
    .await;
    let secrets = secrets_of(&server).await;
    let client = server.client();
    for path in [
        "/",
        "/security",
        "/api/v1/trust",
        "/no-such-page",
        "/healthz",
        "/readyz",
    ] {
        let response = client.get(server.url(path)).send().await.unwrap();
        for header in ["server", "x-powered-by", "via"] {
            assert!(
                response.headers().get(header).is_none(),
                "{path} sends a {header} header"
            );
        }
        let headers = format!("{:?}", response.headers());
        let body = response.text().await.unwrap();
        for secret in &secrets {
            assert!(
                !body.contains(secret.as_str()),
                "{path} shows `{secret}`:\n{body}"
            );
            assert!(
                !headers.contains(secret.as_str()),
                "{path} headers show `{secret}`"
            );
        }
    }
    // The facts are there: TLS, encryption, the backup running and its lag, the audit log.
    let security = client
        .get(server.url("/security"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for fact in [
        "TLS 1.3",
        "AES-256-GCM",
        "continuous, encrypted; lag 0.1 s",
        "signature <strong>valid</strong>",
        "clock was once set back",
        "shown to signed-in staff only",
    ] {
        assert!(security.contains(fact), "/security lacks `{fact}`");
    }
    let report: Value = client
        .get(server.url("/api/v1/trust"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["report"]["database"]["version"], "SQLite");
    assert_eq!(report["report"]["details"], false);
    assert!(report["report"]["keys"]["provider"]["active_kek"].is_null());
    assert_eq!(report["backup"]["ok"], true);
    assert!(report["backup"]["details"].is_null());
    server.stop().await;
}

#[tokio::test]
async fn signed_in_staff_see_paths_versions_and_key_ids() {
    let server = TestServer::start(Options {
        backup: Arc::new(DirectoryBackup),
        ..Options::default()
    })
    .await;
    let secrets = secrets_of(&server).await;
    let cista = &server.state.cista;
    let home = org(cista, "staff-trust").await;
    active(
        cista,
        home,
        "inspector@staff-trust.example",
        Role::Inspector,
    )
    .await;
    active(cista, home, "member@staff-trust.example", Role::Member).await;

    let staff = sign_in(&server, "inspector@staff-trust.example").await;
    let security = staff
        .get(server.url("/security"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for shown in [
        BACKUP_DIR,
        LINEAGE,
        "SQLite 3.",
        "\u{2014} cista/",
        secrets[5].as_str(),
        secrets[6].as_str(),
        "0 breaches recorded on this instance, 0 notices delivered",
    ] {
        assert!(security.contains(shown), "staff do not see `{shown}`");
    }
    assert!(!security.contains("shown to signed-in staff only"));

    // A member is signed in but not staff: the public view.
    let member = sign_in(&server, "member@staff-trust.example").await;
    let page = member
        .get(server.url("/security"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for secret in &secrets {
        assert!(!page.contains(secret.as_str()), "a member sees `{secret}`");
    }
    assert!(
        !page.contains("breaches recorded"),
        "a member sees the breach counts"
    );
    server.stop().await;
}

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
        "SQLite",
        "local key file",
        "AES-256-GCM",
        "RFC 6962",
        "signature <strong>valid</strong>",
        "Breach notification",
        "72 hours to tell the supervisory authority",
    ] {
        assert!(security.contains(expected), "/security lacks `{expected}`");
    }
    assert!(
        !security.contains("breaches recorded"),
        "a visitor never learns of a tenant's breach from the counts"
    );
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
