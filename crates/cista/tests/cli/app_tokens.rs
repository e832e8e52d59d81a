//! `cista app-token create|list|revoke` and `cista blobs sweep` against a stopped instance.

use crate::{cista, fails, init, ok};

fn app_token(data: &std::path::Path, args: &[&str]) -> std::process::Command {
    let mut command = cista(data);
    command.arg("app-token").args(args);
    command
}

#[test]
fn app_tokens_are_created_once_shown_listed_and_revoked() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let mut org = cista(&data);
    org.args([
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
    ok(org);
    let org = "bayside-towers-hoa";

    let line = ok(app_token(&data, &["list", "--org", org])).stdout;
    assert!(line.contains("has no app tokens"), "{line}");
    let made = ok(app_token(
        &data,
        &[
            "create",
            "--org",
            org,
            "--purpose",
            "voting.results",
            "--label",
            "Board web site",
            "--days",
            "30",
        ],
    ))
    .stdout;
    let secret = made
        .lines()
        .find(|l| l.starts_with("cista_"))
        .unwrap_or_else(|| panic!("no token printed:\n{made}"));
    assert_eq!(secret.len(), "cista_".len() + 43, "{made}");
    let id = made
        .lines()
        .find_map(|l| l.strip_prefix("created app token "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no id printed:\n{made}"))
        .to_owned();
    assert!(id.starts_with("at-") && id.len() == 19, "{id}");

    let listed = ok(app_token(&data, &["list", "--org", org])).stdout;
    let row = listed
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} not listed:\n{listed}"));
    assert!(
        row.contains("voting.results") && row.contains("active") && row.contains("never"),
        "{row}"
    );
    assert!(row.ends_with("Board web site"), "{row}");
    assert!(!listed.contains(secret), "the list never shows the token");

    let revoked = ok(app_token(&data, &["revoke", "--org", org, "--id", &id])).stdout;
    assert!(revoked.contains(&format!("revoked {id}")), "{revoked}");
    let again = ok(app_token(&data, &["revoke", "--org", org, "--id", &id])).stdout;
    assert!(again.contains("already revoked"), "{again}");
    let listed = ok(app_token(&data, &["list", "--org", org])).stdout;
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("revoked")),
        "{listed}"
    );

    // Bad input is one clear line, and nothing is written.
    bad_input_is_one_clear_line(&data, org);
    let listed = ok(app_token(&data, &["list", "--org", org])).stdout;
    assert_eq!(listed.lines().count(), 2, "{listed}");
}

/// Each bad `create` or `revoke` fails with one line naming what is wrong.
fn bad_input_is_one_clear_line(data: &std::path::Path, org: &str) {
    for (args, needle) in [
        (
            vec![
                "create",
                "--org",
                org,
                "--purpose",
                "everything",
                "--label",
                "x",
            ],
            "--purpose",
        ),
        (
            vec![
                "create",
                "--org",
                org,
                "--purpose",
                "voting.results",
                "--label",
                " ",
            ],
            "name",
        ),
        (
            vec![
                "create",
                "--org",
                org,
                "--purpose",
                "voting.results",
                "--label",
                "x",
                "--days",
                "400",
            ],
            "365",
        ),
        (
            vec![
                "create",
                "--org",
                "nowhere",
                "--purpose",
                "voting.results",
                "--label",
                "x",
            ],
            "nowhere",
        ),
        (vec!["revoke", "--org", org, "--id", "at-nothex"], "--id"),
        (
            vec!["revoke", "--org", org, "--id", "at-0000000000000001"],
            "not found",
        ),
    ] {
        let line = fails(app_token(data, &args));
        assert!(line.contains(needle), "{args:?}: {line}");
    }
}

/// `cista blobs sweep` on a stopped instance: a stale staging file (an upload that died) goes,
/// a recent one stays, a dry run only counts, and a grace period under an hour is refused.
#[test]
fn blobs_sweep_removes_stale_staging_files_and_refuses_a_short_grace() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let staging = data.join("blobs").join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let stale = staging.join("stale");
    std::fs::write(&stale, b"sealed bytes of an upload that died").unwrap();
    let now = cista_types::Clock::now(&cista_types::SystemClock).unix_micros();
    let two_days_ago = std::time::UNIX_EPOCH
        + std::time::Duration::from_micros(u64::try_from(now).unwrap())
        - std::time::Duration::from_secs(48 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(two_days_ago)
        .unwrap();
    let fresh = staging.join("fresh");
    std::fs::write(&fresh, b"an upload in flight").unwrap();
    let sweep = |args: &[&str]| {
        let mut command = cista(&data);
        command.args(["blobs", "sweep"]).args(args);
        command
    };

    let counted = ok(sweep(&["--dry-run"])).stdout;
    assert!(
        counted.contains("would remove 0 unreferenced blobs and 1 stale staging file;"),
        "{counted}"
    );
    assert!(stale.exists() && fresh.exists());
    let swept = ok(sweep(&[])).stdout;
    assert!(
        swept.contains("removed 0 unreferenced blobs and 1 stale staging file;")
            && swept.contains("1 recent"),
        "{swept}"
    );
    assert!(!stale.exists(), "the stale staging file is gone");
    assert!(fresh.exists(), "the recent one is kept");

    let refused = fails(sweep(&["--grace-hours", "0"]));
    assert!(refused.contains("uploads in flight"), "{refused}");
    assert!(fresh.exists());
}
