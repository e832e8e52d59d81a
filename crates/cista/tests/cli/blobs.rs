//! `cista blobs sweep` against a stopped instance.

use crate::{cista, fails, init, ok};

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
