//! A clock that jumps backwards: the backup's own sequence, not the stamps, orders restores.

use super::*;

fn ms(clock: &ManualClock) -> i64 {
    clock.now().unix_micros() / 1000
}

/// A shipper on `clock` that publishes into `status`.
async fn shipper_with_status(
    f: &Fixture,
    clock: Arc<ManualClock>,
    status: Arc<Mutex<BackupStatus>>,
) -> Shipper {
    Shipper::start(
        settings(f),
        f.target.clone(),
        f.key.clone(),
        Arc::new(OsRng),
        clock,
        None,
        status,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_clock_set_back_two_hours_changes_nothing_restores_follow_the_sequence() {
    let f = fixture().await;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let status = Arc::new(Mutex::new(BackupStatus::default()));
    let mut s = shipper_with_status(&f, clock.clone(), status.clone()).await;
    s.flush().await.unwrap();
    let lineage = s.lineage().to_owned();
    let mut worked_before = 0;
    for n in 0..3 {
        clock.advance(time::Duration::seconds(1));
        insert(&f.pool, n, 100).await;
        s.tick().await.unwrap();
        if n == 1 {
            worked_before = ms(&clock) + 500;
        }
    }
    let before_step: Vec<String> = (0..2).map(|n| format!("unit-{n}")).collect();
    assert_eq!(
        restore_units(&f, RestorePoint::At(worked_before), "before")
            .await
            .unwrap(),
        before_step
    );

    // The clock is set back two hours while the shipper runs: the next segments carry
    // stamps older than the ones before them.
    clock.advance(time::Duration::hours(-2));
    for n in 3..5 {
        clock.advance(time::Duration::seconds(1));
        insert(&f.pool, n, 100).await;
        s.tick().await.unwrap();
    }
    // A restart with the clock still behind continues the lineage by sequence.
    drop(s);
    let mut s = shipper_with_status(&f, clock.clone(), status.clone()).await;
    assert_eq!(s.lineage(), lineage);
    clock.advance(time::Duration::seconds(1));
    insert(&f.pool, 5, 100).await;
    s.tick().await.unwrap();
    s.flush().await.unwrap();

    let listing = f.target.list(format::SQLITE).await.unwrap();
    let catalog = format::catalog(&listing);
    let stamps: Vec<i64> = catalog[0].segments.iter().map(|s| s.first_ms).collect();
    assert!(
        stamps.windows(2).any(|w| w[1] < w[0]),
        "the stamps go backwards in sequence order: {stamps:?}"
    );
    let steps = format::clock_steps(&catalog);
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0].seq, 4, "the first segment written after the step");
    assert!(steps[0].behind_ms > 7_000_000, "{steps:?}");

    // Latest (what `backup verify` restores) holds every transaction, applied by sequence.
    let all: Vec<String> = (0..6).map(|n| format!("unit-{n}")).collect();
    assert_eq!(
        restore_units(&f, RestorePoint::Latest, "latest")
            .await
            .unwrap(),
        all
    );
    // A time that restored before the step still restores, to the very same state.
    assert_eq!(
        restore_units(&f, RestorePoint::At(worked_before), "before-again")
            .await
            .unwrap(),
        before_step
    );
    // The step is reported; it does not make the backup unhealthy.
    let published = status.lock().unwrap().clone();
    let step = published
        .clock_step
        .clone()
        .expect("the step is in the status");
    assert!(step.behind_ms > 7_000_000, "{step:?}");
    assert!(published.healthy(ms(&clock)), "{published:?}");
}

#[tokio::test]
async fn a_new_lineage_begun_with_a_clock_behind_is_still_the_newest() {
    let f = fixture().await;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let status = Arc::new(Mutex::new(BackupStatus::default()));
    let mut s = shipper_with_status(&f, clock.clone(), status.clone()).await;
    s.flush().await.unwrap();
    let first = s.lineage().to_owned();
    for n in 0..3 {
        clock.advance(time::Duration::seconds(1));
        insert(&f.pool, n, 100).await;
        s.tick().await.unwrap();
    }
    s.flush().await.unwrap();
    drop(s);

    // Everything is written to the database file, and a new WAL starts from nothing: the
    // shipper cannot continue the lineage and begins another, with the clock two hours behind.
    // (The dropped shipper's read transaction ends when its connection closes.)
    for _ in 0..100 {
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&f.pool)
            .await
            .unwrap();
        if busy == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    clock.advance(time::Duration::hours(-2));
    insert(&f.pool, 3, 100).await;
    let mut s = shipper_with_status(&f, clock.clone(), status.clone()).await;
    let second = s.lineage().to_owned();
    assert_ne!(second, first);
    clock.advance(time::Duration::seconds(1));
    insert(&f.pool, 4, 100).await;
    s.tick().await.unwrap();
    s.flush().await.unwrap();

    let listing = f.target.list(format::SQLITE).await.unwrap();
    let ids: Vec<String> = format::catalog(&listing)
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(
        ids,
        [first, second.clone()],
        "the backup's order, not the clock's"
    );
    let all: Vec<String> = (0..5).map(|n| format!("unit-{n}")).collect();
    assert_eq!(
        restore_units(&f, RestorePoint::Latest, "latest")
            .await
            .unwrap(),
        all
    );
    let step = status.lock().unwrap().clock_step.clone();
    assert!(step.is_some_and(|s| s.behind_ms > 7_000_000));
}

/// The CLI's case: a clean stop vouches for the quiet seconds before it (the heartbeat), then a
/// restart with the clock two hours behind continues the lineage and writes its own, earlier
/// heartbeat over it. The quiet time must stay restorable, to the state it had, and a snapshot
/// taken after the step must not be mistaken for it.
#[tokio::test]
async fn a_restart_behind_a_clean_stop_keeps_the_quiet_time_before_it() {
    let f = fixture().await;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let status = Arc::new(Mutex::new(BackupStatus::default()));
    let mut s = shipper_with_status(&f, clock.clone(), status.clone()).await;
    s.flush().await.unwrap();
    let lineage = s.lineage().to_owned();
    clock.advance(time::Duration::seconds(1));
    insert(&f.pool, 0, 100).await;
    s.tick().await.unwrap();
    clock.advance(time::Duration::seconds(1));
    let quiet = ms(&clock);
    clock.advance(time::Duration::seconds(1));
    s.flush().await.unwrap();
    drop(s);
    let before_step = vec!["unit-0".to_owned()];
    assert_eq!(
        restore_units(&f, RestorePoint::At(quiet), "quiet")
            .await
            .unwrap(),
        before_step
    );

    clock.advance(time::Duration::hours(-2));
    let mut s = shipper_with_status(&f, clock.clone(), status.clone()).await;
    assert_eq!(
        s.lineage(),
        lineage,
        "the WAL still holds the last shipped frame"
    );
    s.flush().await.unwrap();
    clock.advance(time::Duration::seconds(1));
    insert(&f.pool, 1, 100).await;
    s.tick().await.unwrap();
    s.snapshot_now().await.unwrap();
    clock.advance(time::Duration::seconds(1));
    insert(&f.pool, 2, 100).await;
    s.tick().await.unwrap();
    s.flush().await.unwrap();
    drop(s);

    let catalog = format::catalog(&f.target.list(format::SQLITE).await.unwrap());
    assert_eq!(catalog.len(), 1);
    assert_eq!(catalog[0].reached.len(), 1, "{catalog:?}");
    assert!(catalog[0].reached[0].at_ms > quiet);
    assert_eq!(
        restore_units(&f, RestorePoint::At(quiet), "quiet-again")
            .await
            .unwrap(),
        before_step,
        "the same state as before the step"
    );
    let all: Vec<String> = (0..3).map(|n| format!("unit-{n}")).collect();
    assert_eq!(
        restore_units(&f, RestorePoint::Latest, "latest")
            .await
            .unwrap(),
        all
    );
}
