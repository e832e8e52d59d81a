//! `cista demo`, as a new user runs it: prints the links and the CA, serves HTTPS, stops
//! cleanly on SIGTERM, and reuses its data the second time.

use crate::{Running, cista, client, free_port};
use std::path::Path;

#[test]
fn the_demo_serves_then_reuses_its_data() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cista-data");
    let port = free_port();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let mut command = cista(&data);
    command.args(["demo", "--listen", &format!("127.0.0.1:{port}")]);
    let mut demo = Running::spawn(command);
    demo.wait_for("Press Ctrl-C to stop.");
    let printed = demo.seen.join("\n");
    assert!(
        printed.contains(&format!("https://localhost:{port}/security")),
        "{printed}"
    );
    assert!(
        printed.contains(&data.join("tls/ca.pem").display().to_string()),
        "{printed}"
    );
    assert!(
        printed.contains("created organization    Palm Court Condominium Association"),
        "{printed}"
    );
    assert!(
        printed.contains("created organization    Harbor Advisory (an advisory firm)"),
        "{printed}"
    );
    assert!(
        printed.contains("The firm's web site     https://localhost:"),
        "{printed}"
    );

    let http = client(&data, port);
    the_pages_trust_report_and_metrics_answer(&runtime, &http, &data, port);

    // Rotating keys from another process while the demo serves: no restart, no downtime.
    // Key ids are for staff and the operator, never in the public trust report.
    keys_rotate_while_it_serves(&runtime, &http, &data, port);
    assert_eq!(demo.terminate(), 0, "SIGTERM stops the demo cleanly");

    let mut again = cista(&data);
    again.args(["demo", "--listen", &format!("127.0.0.1:{port}")]);
    let mut demo = Running::spawn(again);
    demo.wait_for("Press Ctrl-C to stop.");
    let printed = demo.seen.join("\n");
    assert!(printed.contains("reused  database"), "{printed}");
    assert!(printed.contains("reused  organization"), "{printed}");
    assert_eq!(demo.terminate(), 0);

    // Everything the demo did is in the audit log, and it verifies: the instance and its
    // three keys, the organization, two invitations (their links are the ones printed: no
    // second link, so no second email), one fresh link (Sofia, invited by the roster import),
    // the roster import, the election (created, one contest, published), the amendment vote
    // (created, two contests, published), the quick poll (created, one contest, published,
    // and its paper in two envelopes: twelve outer envelopes checked in, one batch opened,
    // twelve inner ballots entered), the advisory firm (the organization, its advisor's
    // invitation, its assessment published, its settings telling the advisor of results),
    // two re-wrap batches, and (second run) four fresh
    // links for the people who had not set a password (the assessment is not published again:
    // the same definition, the same site). Then the water-quality project: the organization,
    // three invitations (its coordinator and two collectors), its form published, 30 records, a
    // photo of every third, and 20 reviews, and on each run a device issued for each collector (the printed phone
    // links), and on the second run a fresh link for its coordinator; its webhook to the
    // demo's receiver made on each run (on the second, the first run's removed first).
    let mut verify = cista(&data);
    verify.args(["audit", "verify"]);
    let ran = crate::ok(verify);
    assert!(ran.stdout.starts_with("audit log OK: "), "{}", ran.stdout);
    let entries: u64 = ran.stdout["audit log OK: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        entries,
        4 + 1
            + 2
            + 1
            + 1
            + 3
            + 4
            + 3
            + (12 + 1 + 12)
            + 4
            + 2
            + 4
            + (1 + 3 + 1 + 30 + 10 + 20)
            + 2 * 2
            + 1
            + (1 + 2),
        "{}",
        ran.stdout
    );
}

/// The landing page, the trust report (SQLite, a valid signed checkpoint) and the metrics
/// behind their token all answer.
fn the_pages_trust_report_and_metrics_answer(
    runtime: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    data: &Path,
    port: u16,
) {
    runtime.block_on(async {
        let page = http
            .get(format!("https://localhost:{port}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("Palm Court Condominium Association"),
            "{html}"
        );
        let trust: serde_json::Value = http
            .get(format!("https://localhost:{port}/api/v1/trust"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(trust["report"]["database"]["backend"], "Sqlite");
        assert_eq!(
            trust["report"]["audit"]["latest_checkpoint"]["signature_valid"],
            true
        );
        let token = std::fs::read_to_string(data.join("secrets/metrics-token")).unwrap();
        let metrics = http
            .get(format!("https://localhost:{port}/metrics"))
            .bearer_auth(token.trim())
            .send()
            .await
            .unwrap();
        assert_eq!(metrics.status(), 200);
    });
}

/// `keys rotate` from another process re-wraps every stored key while the demo serves; the
/// public trust report never names a key id.
fn keys_rotate_while_it_serves(
    runtime: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    data: &Path,
    port: u16,
) {
    let keys_status = || {
        let mut status = cista(data);
        status.args(["keys", "status"]);
        crate::ok(status).stdout
    };
    let active_kek = |printed: &str| {
        printed
            .lines()
            .find_map(|l| l.strip_prefix("active     "))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap()
            .to_owned()
    };
    let old_kek = active_kek(&keys_status());
    runtime.block_on(async {
        let text = http
            .get(format!("https://localhost:{port}/api/v1/trust"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!text.contains(&old_kek), "the public report names a key id");
    });
    let mut rotate = cista(data);
    rotate.args(["keys", "rotate"]);
    let rotated = crate::ok(rotate).stdout;
    // signing key, three instance keys, the three organizations' data keys (the association,
    // the advisory firm and the water-quality project), and 44 people's own keys in the vault
    // (the manager, the association's 39 owners, the firm's advisor, the project's coordinator
    // and its two collectors)
    assert!(rotated.contains("re-wrapped 51 stored keys"), "{rotated}");
    let after = keys_status();
    assert_ne!(active_kek(&after), old_kek);
    assert!(after.contains(&format!("retired    {old_kek}")), "{after}");
    runtime.block_on(async {
        let ready = http
            .get(format!("https://localhost:{port}/readyz"))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);
    });
}

/// A quick poll the demo could not show closing (under ten seconds) or that would outlast a
/// walk-through by days is refused before anything is written, naming the allowed range.
#[test]
fn a_quick_poll_wait_out_of_range_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cista-data");
    for seconds in ["5", "86401", "soon", "-1"] {
        let mut command = cista(&data);
        command.args(["demo", &format!("--quick-poll-seconds={seconds}")]);
        let ran = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&ran.stderr);
        assert_eq!(ran.status.code(), Some(2), "{seconds}: {stderr}");
        assert!(
            stderr.contains("--quick-poll-seconds"),
            "{seconds}: {stderr}"
        );
        assert!(!data.exists(), "{seconds}: a refused start writes nothing");
    }
}
