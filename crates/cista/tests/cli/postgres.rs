//! The same binary on PostgreSQL, given a URL: init, serve, report, verify. Runs when
//! `CISTA_TEST_POSTGRES_URL` is set; with `CISTA_TEST_REQUIRE_POSTGRES=1` it must.

use crate::{Running, cista, client, free_port, ok};
use cista_types::Rng as _;

fn postgres_url() -> Option<String> {
    let required = std::env::var("CISTA_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    match std::env::var("CISTA_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                !required,
                "CISTA_TEST_REQUIRE_POSTGRES=1 but CISTA_TEST_POSTGRES_URL is not set"
            );
            eprintln!("SKIPPED: set CISTA_TEST_POSTGRES_URL to run the binary on PostgreSQL");
            None
        }
    }
}

#[test]
fn the_same_binary_runs_on_postgresql() {
    let Some(base) = postgres_url() else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let schema = format!("cista_cli_{:x}", cista_types::OsRng.id63());
    let admin = runtime.block_on(async {
        use sea_orm::ConnectionTrait as _;
        let admin = cista_store::SeaStore::connect(
            &cista_store::Target::parse(&base).unwrap(),
            &cista_store::ConnectOptions::default(),
        )
        .await
        .unwrap();
        admin
            .connection()
            .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        admin
    });
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut init = cista(&data);
    init.env("CISTA_DATABASE_URL", &url).arg("init");
    let ran = ok(init);
    assert!(
        ran.stdout.contains("created database        postgres://"),
        "{}",
        ran.stdout
    );
    assert!(
        !data.join("cista.db").exists(),
        "no SQLite file when a URL is given"
    );

    let port = free_port();
    let mut serve = cista(&data);
    serve
        .env("CISTA_DATABASE_URL", &url)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
    let server = Running::spawn(serve);
    let http = client(&data, port);
    runtime.block_on(async {
        let mut report = None;
        for _ in 0..100 {
            if let Ok(r) = http
                .get(format!("https://localhost:{port}/api/v1/trust"))
                .send()
                .await
            {
                report = Some(r.json::<serde_json::Value>().await.unwrap());
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let report = report.expect("the server answered");
        assert_eq!(report["report"]["database"]["backend"], "Postgres");
        // The public report names the database, not its exact version (staff see that).
        assert_eq!(report["report"]["database"]["version"], "PostgreSQL");
    });
    assert_eq!(server.terminate(), 0);

    let mut verify = cista(&data);
    verify
        .env("CISTA_DATABASE_URL", &url)
        .args(["audit", "verify"]);
    assert!(ok(verify).stdout.starts_with("audit log OK"));

    runtime.block_on(async {
        use sea_orm::ConnectionTrait as _;
        admin
            .connection()
            .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
    });
}
