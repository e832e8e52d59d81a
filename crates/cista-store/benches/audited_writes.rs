//! How fast the store commits audited writes: every later change (a vote, a sign-in) pays for
//! one audit append in its transaction, and the appends serialize on the log head. Prints
//! commits per second and latency percentiles for one writer and for eight concurrent ones,
//! on SQLite (WAL, synchronous=FULL, a real file) and, if `CISTA_TEST_POSTGRES_URL` is set,
//! on PostgreSQL.
//!
//! Run: `cargo bench -p cista-store --bench audited_writes` (`-- --quick` for a short run).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

use cista_core::platform::audit::{AuditKind, NewAuditEntry};
use cista_core::{Actor, Store as _};
use cista_store::{ConnectOptions, SeaStore, Target};
use cista_types::{Clock as _, OsRng, Rng as _, SystemClock};
use sea_orm::ConnectionTrait as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn entry(n: u64) -> NewAuditEntry {
    NewAuditEntry::new(
        SystemClock.now(),
        &Actor::System,
        None,
        AuditKind::KeysRewrapped,
        serde_json::json!({ "n": n }),
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn measure(label: &str, store: Arc<SeaStore>, writers: usize, per_writer: u64) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_writer as usize);
            for i in 0..per_writer {
                let t = Instant::now();
                store
                    .append_audit(entry(w as u64 * per_writer + i))
                    .await
                    .unwrap();
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    println!(
        "{label:<28} {writers:>2} {:<7} {:>6} commits  {:>8.0} commits/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        if writers == 1 { "writer" } else { "writers" },
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n: u64 = if quick { 200 } else { 2000 };

    let dir = tempfile::tempdir().unwrap();
    let sqlite = Arc::new(
        SeaStore::connect_and_migrate(
            &Target::SqliteFile(dir.path().join("bench.db")),
            &ConnectOptions::default(),
        )
        .await
        .unwrap(),
    );
    measure("SQLite (WAL, FULL)", sqlite.clone(), 1, n).await;
    measure("SQLite (WAL, FULL)", sqlite.clone(), 8, n / 8).await;
    let head = sqlite.audit_head().await.unwrap();
    println!("  log now {} entries, root {}", head.size, head.root);

    if let Ok(url) = std::env::var("CISTA_TEST_POSTGRES_URL") {
        let schema = format!("cista_bench_{:x}", OsRng.id63());
        let admin = SeaStore::connect(&Target::parse(&url).unwrap(), &ConnectOptions::default())
            .await
            .unwrap();
        admin
            .connection()
            .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        let sep = if url.contains('?') { '&' } else { '?' };
        let target =
            Target::parse(&format!("{url}{sep}options=-c%20search_path%3D{schema}")).unwrap();
        let pg = Arc::new(
            SeaStore::connect_and_migrate(&target, &ConnectOptions::default())
                .await
                .unwrap(),
        );
        measure("PostgreSQL", pg.clone(), 1, n).await;
        measure("PostgreSQL", pg.clone(), 8, n / 8).await;
        admin
            .connection()
            .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
    } else {
        println!("PostgreSQL: skipped (set CISTA_TEST_POSTGRES_URL)");
    }
}
