//! The same binary on PostgreSQL, given a URL: init, serve, report, verify. Runs when
//! `CISTA_TEST_POSTGRES_URL` is set; with `CISTA_TEST_REQUIRE_POSTGRES=1` it must.

use crate::{Running, cista, client, free_port, ok};

#[test]
fn the_same_binary_runs_on_postgresql() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(schema) = runtime.block_on(cista_testkit::postgres::PrivateSchema::create()) else {
        return;
    };
    let url = schema.url();

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

    runtime.block_on(schema.drop_now());
}
