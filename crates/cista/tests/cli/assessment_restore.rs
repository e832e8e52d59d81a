//! An embedded assessment's client erased, then a restore to a moment before the erasure:
//! the client's name and email stay unreadable in the restored copy (their key is gone and
//! their tombstone is there, from the erasure ledger beside the backups), while the scored,
//! de-identified result is still there.

use crate::{Running, cista, cista_command, client, create_org, free_port, init, ok, run};
use std::path::Path;
use std::time::Duration;

const SITE: &str = "https://www.harbor-advisory.example";

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..300 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

fn now_rfc3339() -> String {
    cista_types::Clock::now(&cista_types::SystemClock).to_rfc3339()
}

/// A client sends the risk profile through the embed API of the server on `port`; returns
/// the result's id.
fn a_client_submits(data: &Path, port: u16, org: &str) -> String {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let http = client(data, port);
    runtime.block_on(async {
        let base = format!("https://localhost:{port}/embed/v1/{org}/risk");
        let loaded: serde_json::Value = http
            .get(&base)
            .header("origin", SITE)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let sent = http
            .post(format!("{base}/submissions"))
            .header("origin", SITE)
            .json(&serde_json::json!({
                "form": loaded["form"],
                "load_token": loaded["load_token"],
                "client": {
                    "first_name": "Zebediah", "last_name": "Quillfeather",
                    "email": "zeb@client.example", "consent": true
                },
                "answers": {
                    "horizon": "over_7", "income": "steady", "reserve": "over_3", "age": 45,
                    "drop": "hold", "experience": "some", "goals": ["growth"], "comfort": 7
                }
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 201);
        let shown: serde_json::Value = sent.json().await.unwrap();
        shown["submission"].as_str().unwrap().to_owned()
    })
}

#[test]
fn an_erased_assessment_client_stays_unreadable_through_a_restore_and_the_result_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    std::fs::create_dir_all(data.with_file_name("data-backup")).unwrap();
    let org = create_org(
        &data,
        "Harbor Advisory",
        ("Hana", "Okafor", "hana@harbor.example"),
    );
    let mut definition: serde_json::Value =
        serde_json::from_str(cista_core::products::assessment::RISK_PROFILE).unwrap();
    definition["embed"] = serde_json::json!({ "allowed_origins": [SITE] });
    let file = tmp.path().join("risk.json");
    std::fs::write(&file, definition.to_string()).unwrap();
    let import = [
        "import",
        "--org",
        &org,
        "--key",
        "risk",
        file.to_str().unwrap(),
    ];
    ok(cista_command(&data, "assessment", &import));

    let port = free_port();
    let mut serve = cista(&data);
    serve.args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
    let server = Running::spawn(serve);
    let status = || {
        let mut c = cista(&data);
        c.args(["backup", "status"]);
        run(c)
    };
    wait_until("a healthy backup", || status().code == 0);
    let result = a_client_submits(&data, port, &org);
    let db = data.join("cista.db");
    let details = crate::query_sqlite(
        &db,
        "SELECT details FROM audit_entries WHERE kind = 'submission.received'",
    );
    let details: serde_json::Value = serde_json::from_str(&details[0]).unwrap();
    assert_eq!(details["submission"].to_string().trim_matches('"'), result);
    let subject = details["subject"].as_str().unwrap().to_owned();

    // The moment to come back to: the client still has a name. Then the client is erased.
    std::thread::sleep(Duration::from_millis(1500));
    let before_erasure = now_rfc3339();
    std::thread::sleep(Duration::from_millis(1500));
    ok(cista_command(&data, "erase", &[&subject]));
    wait_until("the erasure in the ledger", || {
        status()
            .stdout
            .contains("Erasure ledger      1 erased subjects")
    });
    ok(cista_command(&data, "backup", &["snapshot"]));

    let restored = tmp.path().join("restored");
    let mut restore = cista(&data);
    restore.args(["restore", "--to", &before_erasure, "--into"]);
    restore.arg(&restored);
    let ran = ok(restore);
    assert!(
        ran.stdout.contains("erasure ledger replayed: 1"),
        "{}",
        ran.stdout
    );
    let copy = restored.join("cista.db");
    let count = |sql: &str| crate::query_sqlite(&copy, sql);
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM vault_people WHERE subject = {subject}"
        )),
        vec!["0"],
        "the client's sealed name and email and their key are gone"
    );
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM vault_tombstones WHERE subject = {subject}"
        )),
        vec!["1"]
    );
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM submissions WHERE id = {result}"
        )),
        vec!["1"],
        "the de-identified result stays"
    );
    assert_eq!(server.terminate(), 0);
}
