//! Each command's normal path.

use crate::{cista, init, kek_path, ok};

#[test]
fn every_command_has_help_with_the_global_options() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec![],
        vec!["demo"],
        vec!["serve"],
        vec!["init"],
        vec!["migrate"],
        vec!["configtest"],
        vec!["audit"],
        vec!["audit", "verify"],
        vec!["keys"],
        vec!["keys", "status"],
        vec!["keys", "rotate"],
        vec!["org"],
        vec!["org", "create"],
        vec!["erase"],
        vec!["blobs"],
        vec!["blobs", "sweep"],
        vec!["bench", "voting"],
        vec!["bench", "collection"],
        vec!["assessment", "import"],
        vec!["assessment", "export"],
        vec!["record-form", "import"],
        vec!["record-form", "export"],
        vec!["breach", "assess"],
        vec!["breach", "record"],
        vec!["breach", "list"],
        vec!["breach", "notice"],
        vec!["breach", "notify"],
        vec!["breach", "reported"],
    ] {
        let mut command = cista(dir.path());
        command.args(&args).arg("--help");
        let ran = ok(command);
        assert!(ran.stdout.contains("--config"), "{args:?}");
        assert!(ran.stdout.contains("--data-dir"), "{args:?}");
        if matches!(args.as_slice(), ["demo"] | ["serve"]) {
            assert!(ran.stdout.contains("--listen"), "{args:?}");
            assert!(ran.stdout.contains("CISTA_LISTEN"), "{args:?}");
        }
    }
    assert!(
        !dir.path().join("cista-data").exists(),
        "help writes nothing"
    );
}

#[test]
fn init_creates_everything_once_then_reuses_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let first = init(&data);
    assert_eq!(
        first.stdout.matches("created").count(),
        5,
        "{}",
        first.stdout
    );
    for file in [
        "cista.db",
        "tls/ca.pem",
        "tls/server.pem",
        "tls/server-key.pem",
        "tls/ca-key.pem",
    ] {
        assert!(data.join(file).exists(), "{file}");
    }
    let kek = kek_path(&data);
    assert!(
        kek.exists(),
        "the key file lives beside, not inside, the data directory"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&kek), 0o600);
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("tls/server-key.pem")), 0o600);
        assert_eq!(mode(&data.join("tls/ca-key.pem")), 0o600);
    }
    let ca = std::fs::read(data.join("tls/ca.pem")).unwrap();
    let key_file = std::fs::read(&kek).unwrap();

    let second = init(&data);
    assert_eq!(
        second.stdout.matches("reused").count(),
        5,
        "{}",
        second.stdout
    );
    assert_eq!(std::fs::read(data.join("tls/ca.pem")).unwrap(), ca);
    assert_eq!(std::fs::read(&kek).unwrap(), key_file);

    let mut verify = cista(&data);
    verify.args(["audit", "verify"]);
    let verified = ok(verify);
    assert!(
        // instance initialized + its three instance-level keys created
        verified.stdout.starts_with("audit log OK: 4 entries"),
        "{}",
        verified.stdout
    );

    let mut test = cista(&data);
    test.arg("configtest");
    let tested = ok(test);
    assert!(
        tested.stdout.contains("configuration OK"),
        "{}",
        tested.stdout
    );

    let mut migrate = cista(&data);
    migrate.arg("migrate");
    assert!(ok(migrate).stdout.contains("schema up to date"));
}

#[test]
fn keys_rotate_rewraps_and_everything_still_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let mut status = cista(&data);
    status.args(["keys", "status"]);
    let before = ok(status).stdout;
    // the audit signing key and the blind-index, secrets and MAC keys
    assert!(before.contains("wraps 4 stored keys"), "{before}");

    let mut rotate = cista(&data);
    rotate.args(["keys", "rotate"]);
    let rotated = ok(rotate).stdout;
    assert!(rotated.contains("re-wrapped 4 stored keys"), "{rotated}");
    assert!(rotated.contains("kept retired key"), "{rotated}");

    let mut status = cista(&data);
    status.args(["keys", "status"]);
    let after = ok(status).stdout;
    assert!(after.contains("retired"), "{after}");
    assert!(after.contains("wraps 0 stored keys"), "{after}");

    let mut prune = cista(&data);
    prune.args(["keys", "rotate", "--remove-retired"]);
    assert!(ok(prune).stdout.contains("removed retired key"));

    let mut verify = cista(&data);
    verify.args(["audit", "verify"]);
    assert!(ok(verify).stdout.starts_with("audit log OK"));
}

#[test]
fn audit_verify_names_the_first_tampered_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let mut rotate = cista(&data);
    rotate.args(["keys", "rotate"]);
    ok(rotate);
    // The newest checkpoint is printed to be kept elsewhere, and checked when given back.
    let mut verify = cista(&data);
    verify.args(["audit", "verify"]);
    let out = ok(verify).stdout;
    let note = out
        .split_once("--against FILE:\n\n")
        .map(|(_, note)| note.to_owned())
        .unwrap_or_else(|| panic!("no checkpoint printed: {out}"));
    let kept = tmp.path().join("checkpoint.note");
    std::fs::write(&kept, &note).unwrap();
    let mut against = cista(&data);
    against.args(["audit", "verify", "--against"]).arg(&kept);
    assert!(ok(against).stdout.starts_with("audit log OK"));
    std::fs::write(&kept, note.replacen('\n', "\n1", 1)).unwrap();
    let mut against = cista(&data);
    against.args(["audit", "verify", "--against"]).arg(&kept);
    let ran = crate::run(against);
    assert_eq!(ran.code, 1, "an altered kept note: {}", ran.stdout);

    crate::tamper_sqlite(
        &data,
        r#"UPDATE audit_entries SET actor = 'operator:someone-else' WHERE seq = 1"#,
    );
    let mut verify = cista(&data);
    verify.args(["audit", "verify"]);
    let ran = crate::run(verify);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout.contains("audit log FAILED at entry 1"),
        "{}",
        ran.stdout
    );

    let mut json = cista(&data);
    json.args(["audit", "verify", "--json"]);
    let ran = crate::run(json);
    assert_eq!(ran.code, 1);
    let report: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(report["problem"]["first_bad_entry"], 1);
}

/// `cista bench voting` runs end to end on a small scale: every cast answered with its receipt
/// and stored (a cast's answer changed to a 303 once and the bench failed every run since).
#[test]
fn the_voting_bench_casts_every_ballot_and_counts_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bench = cista(&tmp.path().join("data"));
    bench.args([
        "bench",
        "voting",
        "--voters",
        "8",
        "--concurrency",
        "4",
        "--commits",
        "20",
    ]);
    let ran = ok(bench).stdout;
    assert!(ran.contains("throughput"), "{ran}");
    assert!(ran.contains("8 participation rows for 8 units"), "{ran}");
    // The processor time a cast took (this process's at least; the machine's and the
    // ceiling it puts on the casts only over a part long enough for `/proc/stat`'s ticks,
    // which eight casts are not), read off `CLOCK_PROCESS_CPUTIME_ID` on Linux.
    if !cfg!(target_os = "linux") {
        return;
    }
    let processor = ran
        .lines()
        .find(|l| l.trim_start().starts_with("processor      casting:"))
        .unwrap_or_else(|| panic!("no processor line: {ran}"));
    let micros: f64 = processor
        .split("this process ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{processor}"));
    assert!(micros > 0.0, "{processor}");
    assert!(ran.contains("raw commits, 4 writers: "), "{ran}");
    assert!(ran.contains("GET /healthz: "), "{ran}");
}

/// The assessment bench goes through the real embed API, counts what was stored, draws
/// reports and reports the loader's size.
#[test]
fn the_assessment_bench_submits_through_the_embed_api_and_counts_the_results() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bench = cista(&tmp.path().join("data"));
    bench.args([
        "bench",
        "assessment",
        "--submissions",
        "12",
        "--concurrency",
        "4",
        "--commits",
        "20",
        "--reports",
        "2",
    ]);
    let ran = ok(bench).stdout;
    assert!(ran.contains("submissions/s"), "{ran}");
    assert!(
        ran.contains("12 results stored for 12 submissions"),
        "{ran}"
    );
    assert!(ran.contains("2 reports, "), "{ran}");
    assert!(ran.contains("bytes gzipped (limit 2,048)"), "{ran}");
}

/// The collection bench pairs phones over the API, sends records with and without a photo,
/// uploads photos at once for the memory figure, and every request succeeds and is stored.
#[test]
fn the_collection_bench_sends_every_record_and_photo_through_the_api() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bench = cista(&tmp.path().join("data"));
    bench.args([
        "bench",
        "collection",
        "--records",
        "12",
        "--concurrency",
        "4",
        "--large-photos",
        "3",
        "--large-photo-mb",
        "1",
        "--commits",
        "20",
    ]);
    let ran = ok(bench).stdout;
    for line in [
        "no photo",
        "2 MB photo",
        "large photos",
        "raw commits",
        "goal",
    ] {
        assert!(ran.contains(line), "{line}: {ran}");
    }
    assert!(ran.contains("records/s"), "{ran}");
    assert!(ran.contains(" MB/s"), "{ran}");
    assert_eq!(ran.matches("success 12/12 (100.0 %)").count(), 2, "{ran}");
    assert!(ran.contains("success 3/3 (100.0 %)"), "{ran}");
    assert!(ran.contains("peak RSS"), "{ran}");
    assert!(
        ran.contains("27 records and 15 photos stored for 27 records and 15 photos answered 201"),
        "{ran}"
    );
    assert!(!ran.contains("refused"), "{ran}");
}

/// A command run where the environment names no user (a service unit, a container) still
/// names its operator in the audit log: by the process's user id, never "unknown".
#[test]
fn an_operator_without_a_user_name_is_named_by_user_id() {
    use std::os::unix::fs::MetadataExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let mut rotate = cista(&data);
    rotate
        .env_remove("USER")
        .env_remove("LOGNAME")
        .args(["keys", "rotate"]);
    ok(rotate);
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(
        crate::query_sqlite(
            &data.join("cista.db"),
            "SELECT actor FROM audit_entries ORDER BY seq DESC LIMIT 1"
        ),
        vec![format!("operator:uid-{uid}")]
    );
}

/// Runs `cista bench voting` with `extra` arguments and a temporary directory of its own
/// (`TMPDIR`), interrupts it with SIGINT while it signs its owners in, and returns its exit
/// code, its standard error and that directory.
fn interrupt_a_bench(extra: &[&str]) -> (i32, String, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let scratch_parent = tempfile::tempdir().unwrap();
    let mut bench = cista(&tmp.path().join("data"));
    bench
        .env("TMPDIR", scratch_parent.path())
        .args(["bench", "voting", "--voters", "300", "--commits", "20"])
        .args(extra);
    let mut running = crate::Running::spawn(bench);
    running.wait_for("Signing in");
    std::process::Command::new("kill")
        .args(["-INT", &running.child.id().to_string()])
        .status()
        .unwrap();
    let output = running.child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        scratch_parent,
    )
}

/// A bench stopped with Ctrl-C fails with a clear line and removes its scratch instance: the
/// directory of its SQLite file, and on PostgreSQL the scratch schema it made on the server
/// (which an interrupted run used to leave behind).
#[test]
fn an_interrupted_bench_removes_its_scratch_database() {
    let (code, stderr, scratch_parent) = interrupt_a_bench(&[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(scratch_parent.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    let Some(server) = cista_testkit::postgres::server_url() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bench_schemas = || {
        runtime.block_on(async {
            let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
                .await
                .unwrap();
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'cista_bench_%'",
            )
            .fetch_all(&mut admin)
            .await
            .unwrap();
            names
        })
    };
    let before = bench_schemas();
    let (code, stderr, _) = interrupt_a_bench(&["--database-url", &server]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let after = bench_schemas();
    assert!(
        after.iter().all(|name| before.contains(name)),
        "left behind: {after:?} (before: {before:?})"
    );
}
