//! The raw durable commit rate the benchmarks print beside their own figures: single-row
//! inserts, each in its own write transaction with the durability of every vote (SQLite's
//! `synchronous=FULL` in WAL mode, PostgreSQL's `synchronous_commit on`).

use super::bench::{fail, ms, percentile, pool_of};
use super::bench_cpu::{CpuMeter, CpuUse};
use crate::runtime::Failure;
use cista_store::{RawCommits, SeaStore, Target};

/// `count` durable single-row commits on `store` from `writers` writers at once: the raw
/// commit rate every benchmark prints beside its own figures.
pub(crate) async fn raw_commits(
    store: &SeaStore,
    count: u32,
    writers: u32,
) -> Result<RawCommits, Failure> {
    store
        .measure_commits(count, writers)
        .await
        .map_err(fail("raw commits"))
}

/// The report's line for the raw commit rate.
pub(crate) fn commits_line(commits: &RawCommits) -> String {
    let writers = match commits.writers {
        1 => "one writer".to_owned(),
        n => format!("{n} writers at once"),
    };
    format!(
        "  raw commits    {:.1} durable single-row commits/s, {writers} (p50 {}, p99 {}) on the same database",
        commits.per_second(),
        ms(percentile(&commits.latencies, 50.0)),
        ms(percentile(&commits.latencies, 99.0))
    )
}

/// The raw commit rate of `target` from one writer and from `writers` at once, on a pool of
/// its own with a connection per writer (so no writer waits for a connection, whatever the
/// pool of the instance under test), warmed by a first round whose figures are not kept: it
/// opens every connection (and its TLS session), as the instance's were open by then. With
/// the processor time the many-writer round took (see [`CpuUse`]), the one the report gives.
pub(crate) async fn raw_commits_apart(
    target: &Target,
    count: u32,
    writers: u32,
) -> Result<([RawCommits; 2], Option<CpuUse>), Failure> {
    let writers = writers.max(1);
    let store = SeaStore::connect(target, &pool_of(writers))
        .await
        .map_err(fail("database"))?;
    raw_commits(&store, writers.saturating_mul(4), writers).await?;
    let alone = raw_commits(&store, count, 1).await?;
    let meter = CpuMeter::start();
    let together = raw_commits(&store, count, writers).await?;
    Ok(([alone, together], meter.stop()))
}
