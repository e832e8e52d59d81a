//! The voting benchmark's report: throughput and latency of the measured casts, the raw
//! commit rate beside them and their ratio, the processor time a cast and a commit took and
//! the ceiling that puts on the casts, the HTTPS floor, memory and the stored count.

use super::bench::{ms, percentile};
use super::bench_clients::HttpsFloor;
use super::bench_commits::commits_line;
use super::bench_cpu::CpuUse;
use cista_core::products::voting::cast::GroupCommits;
use cista_store::RawCommits;
use std::time::Duration;

/// The measured casts: how many, how many at once, how long in all and each (sorted), the
/// process's peak resident memory while they ran (bytes; the server and the clients) and the
/// processor time they took, and the group commits that wrote them.
pub(super) struct Casts {
    pub voters: usize,
    pub concurrency: usize,
    pub wall: Duration,
    pub latencies: Vec<Duration>,
    pub peak_rss: Option<u64>,
    pub cpu: Option<CpuUse>,
    /// The group commits the server wrote while casting: how many, and the casts they held.
    pub groups: GroupCommits,
}

impl Casts {
    pub(super) fn per_second(&self) -> f64 {
        self.voters as f64 / self.wall.as_secs_f64().max(f64::EPSILON)
    }
}

/// Prints the benchmark's result: throughput and cast latency, the raw commit rate beside it
/// and the ratio of the two, with the processor time a cast and a commit of the many-writer
/// round (`raw_cpu`) took and the most casts a second the cores allow at that cost.
pub(super) fn print_report(
    label: &str,
    casts: &Casts,
    raw: [&RawCommits; 2],
    raw_cpu: Option<&CpuUse>,
    floor: &HttpsFloor,
    stored: u64,
) {
    let (voters, rate) = (casts.voters, casts.per_second());
    let latencies = &casts.latencies;
    println!();
    println!("Cista voting benchmark — {label}");
    println!(
        "  ballots cast   {voters} over HTTPS with real sessions, {} at a time",
        casts.concurrency
    );
    println!(
        "  throughput     {rate:.1} casts/s ({voters} in {:.2} s)",
        casts.wall.as_secs_f64()
    );
    println!(
        "  cast latency   p50 {}   p99 {}   max {}",
        ms(percentile(latencies, 50.0)),
        ms(percentile(latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    if casts.groups.groups > 0 {
        println!(
            "  group commits  {} transactions for {} casts, {:.1} casts each",
            casts.groups.groups,
            casts.groups.casts,
            casts.groups.casts as f64 / casts.groups.groups as f64
        );
    }
    for commits in raw {
        println!("{}", commits_line(commits));
    }
    let best = raw.iter().map(|c| c.per_second()).fold(0.0, f64::max);
    println!(
        "  ratio          casts/s ÷ the better raw commits/s = {:.0} %",
        100.0 * rate / best.max(f64::EPSILON)
    );
    print_processor(casts, raw[1], raw_cpu, best);
    println!(
        "  HTTPS floor    GET /healthz {:.0} req/s, GET /readyz (one database round trip) {:.0} req/s, {} at a time; casts/s ÷ /healthz = {:.0} %",
        floor.healthz,
        floor.readyz,
        casts.concurrency,
        100.0 * rate / floor.healthz.max(f64::EPSILON)
    );
    let requests = floor.count as u64;
    for (path, cpu) in [
        ("/healthz", &floor.healthz_cpu),
        ("/readyz", &floor.readyz_cpu),
    ] {
        if let Some(cpu) = cpu {
            println!(
                "                 GET {path}: {}",
                cpu.describe(requests, "a request")
            );
        }
    }
    if let Some(bytes) = casts.peak_rss {
        println!(
            "  memory         peak RSS while casting {:.1} MB (server and clients in one process)",
            bytes as f64 / 1e6
        );
    }
    println!("  check          {stored} participation rows for {voters} units");
}

/// The report's processor lines: what a cast and a commit of the many-writer raw round cost in
/// processor time (the process holds the server and its clients, or the raw writers; the rest
/// of the machine is the database server when it runs here), and the ceiling that puts on
/// the casts: the cores divided by a cast's processor time, against the better raw rate.
fn print_processor(casts: &Casts, together: &RawCommits, raw_cpu: Option<&CpuUse>, best: f64) {
    let Some(cpu) = &casts.cpu else {
        return;
    };
    let voters = casts.voters as u64;
    println!(
        "  processor      casting: {}",
        cpu.describe(voters, "a cast")
    );
    if let Some(raw_cpu) = raw_cpu {
        let commits = together.latencies.len() as u64;
        println!(
            "                 raw commits, {} writers: {}",
            together.writers,
            raw_cpu.describe(commits, "a commit")
        );
    }
    if let Some(ceiling) = cpu.ceiling(voters) {
        println!(
            "  ceiling        at that processor time a cast, with every core busy, the cores allow at most {ceiling:.0} casts/s = {:.0} % of the better raw commits/s",
            100.0 * ceiling / best.max(f64::EPSILON)
        );
    }
}
