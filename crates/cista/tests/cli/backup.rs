//! Continuous backup through the binary: a running server ships to the default directory
//! target, `backup status | snapshot | verify`, point-in-time `restore` that replays the
//! erasure ledger, and the refusals (non-empty directory, time outside the window, another key
//! file, unreachable storage).

use crate::{Running, cista, client, fails, free_port, init, kek_path, ok, run};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn default_target(data: &Path) -> PathBuf {
    let mut p = data.as_os_str().to_owned();
    p.push("-backup");
    PathBuf::from(p)
}

fn now_rfc3339() -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%S.%3NZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Waits up to a minute (each check may start a `cista` process, slow on a busy 2-core
/// machine) for `check`.
fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..600 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn a_running_server_backs_up_and_restore_brings_back_a_past_moment_without_erased_people() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    std::fs::create_dir_all(default_target(&data)).unwrap();
    let subject = create_bayside_with_olivia(&data);

    let port = free_port();
    let mut serve = cista(&data);
    serve.args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
    let server = Running::spawn(serve);
    let status_file = data.join("backup-status.json");
    wait_until("the shipper's status", || status_file.exists());
    let status = || {
        let mut c = cista(&data);
        c.args(["backup", "status"]);
        run(c)
    };
    wait_until("a healthy backup", || status().code == 0);
    let ran = status();
    assert!(ran.stdout.contains("Restorable window"), "{}", ran.stdout);
    assert!(ran.stdout.contains("Lag "), "{}", ran.stdout);

    // The moment to come back to: Olivia is still a person with a name.
    std::thread::sleep(Duration::from_millis(1500));
    let before_erasure = now_rfc3339();
    std::thread::sleep(Duration::from_millis(1500));
    let mut erase = cista(&data);
    erase.args(["erase", &subject]);
    ok(erase);
    wait_until("the erasure in the ledger", || {
        status()
            .stdout
            .contains("Erasure ledger      1 erased subjects")
    });

    // An on-demand snapshot, taken by the running server.
    let mut snapshot = cista(&data);
    snapshot.args(["backup", "snapshot"]);
    let ran = ok(snapshot);
    assert!(ran.stdout.contains("snapshot stored at"), "{}", ran.stdout);

    // Restore to before the erasure: the copy predates it, the ledger is replayed anyway.
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
    assert!(ran.stdout.contains("integrity_check ok"), "{}", ran.stdout);
    the_copy_holds_the_organization_but_not_the_erased_person(&restored, &subject);

    // A restored copy serves: the audit log verifies with the same key file.
    let mut verify = cista(&restored);
    verify.env("CISTA_KEYS_FILE", kek_path(&data));
    verify.args(["audit", "verify"]);
    assert!(ok(verify).stdout.starts_with("audit log OK"));

    restore_refuses_what_it_cannot_do(&data, tmp.path(), &restored);

    // Verify: a scratch restore of the latest state, checked.
    let mut verify = cista(&data);
    verify.args(["backup", "verify"]);
    let ran = ok(verify);
    assert!(ran.stdout.starts_with("backup OK"), "{}", ran.stdout);

    assert_eq!(server.terminate(), 0);
    // Stopped: status says so but the backup is still there.
    let ran = status();
    assert!(ran.stdout.contains("not running"), "{}", ran.stdout);
}

#[test]
fn unreachable_storage_is_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let port = free_port();
    let mut status = cista(&data);
    status
        .env("CISTA_BACKUP_TARGET", "s3://cista-backups/palm-court")
        .env(
            "CISTA_BACKUP_S3_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        )
        .env("CISTA_BACKUP_S3_ACCESS_KEY_ID", "x")
        .env("CISTA_BACKUP_S3_SECRET_ACCESS_KEY", "y")
        .args(["backup", "status"]);
    let line = fails(status);
    assert!(
        line.contains("backup target s3://cista-backups/palm-court"),
        "{line}"
    );
    let mut remote_http = cista(&data);
    remote_http
        .env("CISTA_BACKUP_TARGET", "s3://cista-backups")
        .env("CISTA_BACKUP_S3_ENDPOINT", "http://backup.example.org:9000")
        .args(["backup", "status"]);
    assert!(fails(remote_http).contains("only over TLS"));
}

/// The backup key lives in the target, outside the store: a rotation re-wraps it too, so
/// removing the retired key-encryption keys leaves every backup restorable. `keys status`
/// counts it where it is wrapped. (Before, `--remove-retired` stranded it: `backup verify`
/// could no longer unwrap it, while the status still said all was well.)
#[test]
fn a_key_rotation_takes_the_backup_key_along() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    std::fs::create_dir_all(default_target(&data)).unwrap();
    let mut snapshot = cista(&data);
    snapshot.args(["backup", "snapshot"]);
    ok(snapshot);
    let mut rotate = cista(&data);
    rotate.args(["keys", "rotate"]);
    let rotated = ok(rotate).stdout;
    assert!(
        rotated.contains("re-wrapped the backup key under"),
        "{rotated}"
    );
    let mut status = cista(&data);
    status.args(["keys", "status"]);
    let status = ok(status).stdout;
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("active")
                && l.ends_with("wraps 4 stored keys and the backup key")),
        "{status}"
    );
    let mut prune = cista(&data);
    prune.args(["keys", "rotate", "--remove-retired"]);
    let pruned = ok(prune).stdout;
    assert!(pruned.contains("removed retired key"), "{pruned}");
    // Backups taken from now on, and the key they are sealed with, still open.
    let mut snapshot = cista(&data);
    snapshot.args(["backup", "snapshot"]);
    ok(snapshot);
    let mut verify = cista(&data);
    verify.args(["backup", "verify"]);
    let ran = ok(verify);
    assert!(ran.stdout.starts_with("backup OK"), "{}", ran.stdout);
}

/// libfaketime, as Debian's `faketime` package installs it, or None where it is absent.
/// CI installs it.
fn libfaketime() -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("faketime/libfaketime.so.1"))
        .chain([PathBuf::from("/usr/lib/faketime/libfaketime.so.1")])
        .find(|p| p.exists())
}

/// The binary with a system clock two hours behind: what `faketime -f -2h cista …` does
/// (the same preload and setting), without the wrapper process in between, so signals reach
/// the server itself and its exit code is its own.
fn cista_behind(libfaketime: &Path, data: &Path) -> std::process::Command {
    let mut command = cista(data);
    command
        .env("LD_PRELOAD", libfaketime)
        .env("FAKETIME", "-2h");
    command
}

fn create_org(mut command: std::process::Command, name: &str, owner: &str) {
    command.args([
        "org",
        "create",
        "--name",
        name,
        "--owner-email",
        owner,
        "--owner-first-name",
        "Olivia",
        "--owner-last-name",
        "Ortiz",
    ]);
    ok(command);
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_restart_with_the_clock_two_hours_behind_loses_nothing_and_says_so() {
    let Some(faketime) = libfaketime() else {
        eprintln!(
            "SKIPPED a_restart_with_the_clock_two_hours_behind_loses_nothing_and_says_so: \
             faketime is not installed (apt-get install faketime)"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let backup_dir = default_target(&data);
    std::fs::create_dir_all(&backup_dir).unwrap();
    let status = |command: std::process::Command| {
        let mut c = command;
        c.args(["backup", "status"]);
        run(c)
    };

    // Serve with the right clock, write once, stop.
    let port = free_port();
    let mut serve = cista(&data);
    serve.args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
    let server = Running::spawn(serve);
    wait_until("a healthy backup", || status(cista(&data)).code == 0);
    create_org(cista(&data), "Bayside Towers HOA", "olivia@bayside.example");
    std::thread::sleep(Duration::from_millis(1500));
    let worked_before = now_rfc3339();
    assert_eq!(server.terminate(), 0);
    let restored = tmp.path().join("before-the-step");
    let mut restore = cista(&data);
    restore.args(["restore", "--to", &worked_before, "--into"]);
    restore.arg(&restored);
    ok(restore);
    let db = restored.join("cista.db");
    assert_eq!(
        crate::query_sqlite(&db, "SELECT count(*) FROM organizations"),
        vec!["1"]
    );
    std::fs::remove_dir_all(&restored).unwrap();

    // Restart with the clock two hours behind, write once more.
    let mut serve = cista_behind(&faketime, &data);
    serve.args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
    let server = Running::spawn(serve);
    wait_until("a healthy backup", || {
        status(cista_behind(&faketime, &data)).code == 0
    });
    create_org(
        cista_behind(&faketime, &data),
        "Palm Court Condominium Association",
        "paula@palmcourt.example",
    );
    wait_until("the step back reported", || {
        status(cista_behind(&faketime, &data))
            .stdout
            .contains("Clock               WENT BACK")
    });
    // The trust page: the staff view names it; the public sees a neutral fact, no path.
    the_trust_pages_name_the_step_and_leak_nothing(&data, &backup_dir, port);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(server.terminate(), 0);

    // The clock is right again: everything restores, by sequence.
    let ran = status(cista(&data));
    assert!(
        ran.stdout.contains("Clock               WENT BACK"),
        "{}",
        ran.stdout
    );
    let latest = tmp.path().join("latest");
    let mut restore = cista(&data);
    restore.args(["restore", "--to", "latest", "--into"]);
    restore.arg(&latest);
    let ran = ok(restore);
    assert!(ran.stdout.contains("integrity_check ok"), "{}", ran.stdout);
    let db = latest.join("cista.db");
    assert_eq!(
        crate::query_sqlite(&db, "SELECT count(*) FROM organizations"),
        vec!["2"]
    );
    // As private as `init` makes the data directory.
    assert_eq!(mode(&latest), 0o700);
    for entry in std::fs::read_dir(&latest).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    let mut verify = cista(&data);
    verify.args(["backup", "verify"]);
    let ran = ok(verify);
    assert!(ran.stdout.starts_with("backup OK"), "{}", ran.stdout);
    // A time that restored before the step restores the same state now.
    let again = tmp.path().join("before-again");
    let mut restore = cista(&data);
    restore.args(["restore", "--to", &worked_before, "--into"]);
    restore.arg(&again);
    ok(restore);
    assert_eq!(
        crate::query_sqlite(
            &again.join("cista.db"),
            "SELECT count(*) FROM organizations"
        ),
        vec!["1"]
    );
}

/// The trust pages after the clock went back: the staff view names the step; the public sees
/// a neutral fact, and no page shows the backup directory, the data directory or the version.
fn the_trust_pages_name_the_step_and_leak_nothing(data: &Path, backup_dir: &Path, port: u16) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let http = client(data, port);
    runtime.block_on(async {
        for path in ["/", "/security", "/api/v1/trust"] {
            let body = http
                .get(format!("https://localhost:{port}{path}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            for leak in [
                backup_dir.display().to_string(),
                data.display().to_string(),
                format!("cista/{}", env!("CARGO_PKG_VERSION")),
            ] {
                assert!(!body.contains(&leak), "{path} shows `{leak}`");
            }
            if path == "/security" {
                assert!(body.contains("clock was once set back"), "{body}");
            }
        }
    });
}

/// Creates Bayside Towers with Olivia invited as its owner; returns her subject code.
fn create_bayside_with_olivia(data: &Path) -> String {
    let mut create = cista(data);
    create.args([
        "org",
        "create",
        "--name",
        "Bayside Towers HOA",
        "--owner-email",
        "olivia@bayside.example",
        "--owner-first-name",
        "Olivia",
        "--owner-last-name",
        "Ortiz",
    ]);
    let ran = ok(create);
    ran.stdout
        .lines()
        .find_map(|l| l.strip_prefix("invited owner         subject "))
        .unwrap()
        .trim()
        .to_owned()
}

/// The restored copy in place, with the organization but without the erased person: her
/// vault entry gone, her tombstone and her erased account there.
fn the_copy_holds_the_organization_but_not_the_erased_person(restored: &Path, subject: &str) {
    let db = restored.join("cista.db");
    assert!(db.exists());
    assert!(!restored.join(".restore-in-progress").exists());
    assert_eq!(
        crate::query_sqlite(
            &db,
            &format!("SELECT count(*) FROM vault_people WHERE subject = {subject}")
        ),
        vec!["0"]
    );
    assert_eq!(
        crate::query_sqlite(
            &db,
            &format!("SELECT count(*) FROM vault_tombstones WHERE subject = {subject}")
        ),
        vec!["1"]
    );
    assert_eq!(
        crate::query_sqlite(
            &db,
            &format!("SELECT status FROM accounts WHERE subject = {subject}")
        ),
        vec!["erased"]
    );
    // The organization created before the moment is there.
    assert_eq!(
        crate::query_sqlite(&db, "SELECT count(*) FROM organizations"),
        vec!["1"]
    );
}

/// Restore refuses a directory with something in it, a time outside the window, a bad time,
/// and another key file, leaving nothing behind.
fn restore_refuses_what_it_cannot_do(data: &Path, tmp: &Path, restored: &Path) {
    // Refusals: a directory with something in it, a time outside the window, a bad time.
    let mut again = cista(data);
    again.args(["restore", "--to", "latest", "--into"]);
    again.arg(restored);
    assert!(fails(again).contains("not empty"));
    let mut early = cista(data);
    early.args(["restore", "--to", "2001-01-01T00:00:00Z", "--into"]);
    early.arg(tmp.join("early"));
    assert!(fails(early).contains("outside the restorable window"));
    assert!(!tmp.join("early").exists(), "nothing is left behind");
    let mut garbage = cista(data);
    garbage.args(["restore", "--to", "yesterday", "--into"]);
    garbage.arg(tmp.join("garbage"));
    assert!(fails(garbage).contains("RFC 3339"));

    // Another key file cannot unwrap the backup key.
    let other = tmp.join("other");
    init(&other);
    let mut wrong_key = cista(data);
    wrong_key.env("CISTA_KEYS_FILE", kek_path(&other));
    wrong_key.args(["restore", "--to", "latest", "--into"]);
    wrong_key.arg(tmp.join("wrong-key"));
    assert!(fails(wrong_key).contains("cannot be unwrapped"));
}
