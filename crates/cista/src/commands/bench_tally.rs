//! `cista bench tally`: the close, the published bundle, the bulletin and the recount of one
//! weighted ballot of four contests at `--units` units (a million by default), every unit
//! having voted. The units and the filled ballot box are written straight to the store
//! (`Cista::add_units_in_bulk`, `Cista::fill_ballot_box`; the cast path is what `cista bench
//! voting` measures); the box is shuffled as the voting worker does while a ballot is open;
//! then the clock jumps past the close and each step is timed with the process's peak
//! resident memory while it ran: the close (read, open, count, tree, sign, store), the count
//! alone, the staff page's lists, the participation record file, the bundle downloaded over
//! HTTPS, the bulletin's first and last pages, and
//! `verify-election` on the downloaded file.

use super::bench::{
    BENCH_POOL, fail, loopback_listener, loopback_state, ms, open_instance_with_clock,
    publish_ballot_with, scratch_database, spawn_server,
};
use super::bench_memory::PeakRss;
use crate::cli::TallyBenchArgs;
use crate::runtime::Failure;
use cista_core::products::voting::ballots::NewContest;
use cista_core::products::voting::bundle::Bundle;
use cista_core::products::voting::close::definition_of;
use cista_core::products::voting::definition::{
    ContestKind, Threshold, Weighting, candidates_from_lines,
};
use cista_core::products::voting::tally::tally;
use cista_core::{Actor, Cista};
use cista_http::Limits;
use cista_types::{BallotId, OrgId, OrgName, OrgSlug, Percent, ShiftedClock};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub async fn run(args: &TallyBenchArgs) -> Result<(), Failure> {
    let (scratch, target, label) = scratch_database(args.database_url.as_ref()).await?;
    let dir = scratch.dir.clone();
    scratch
        .run_then_remove(bench(args, &dir, &target, &label))
        .await
}

/// One measured step: how long it took, and the process's resident memory just before and
/// at its peak while it ran.
struct Step {
    took: Duration,
    before: Option<u64>,
    peak: Option<u64>,
}

impl Step {
    fn line(&self, what: &str, extra: &str) -> String {
        let mb = |b: u64| b / 1_000_000;
        let memory = match (self.before, self.peak) {
            (Some(before), Some(peak)) => format!(
                "peak RSS {:>5} MB (+{} MB)",
                mb(peak),
                mb(peak.saturating_sub(before))
            ),
            _ => "peak RSS ?".to_owned(),
        };
        format!("  {what:<20} {:>10}   {memory}{extra}", ms(self.took))
    }
}

/// Runs `work`, timing it and sampling the resident memory.
async fn measured<T, F: Future<Output = Result<T, Failure>>>(
    work: F,
) -> Result<(T, Step), Failure> {
    let before = super::bench_memory::resident_bytes();
    let memory = PeakRss::watch();
    let started = Instant::now();
    let out = work.await;
    let took = started.elapsed();
    let peak = memory.stop().await;
    Ok((out?, Step { took, before, peak }))
}

/// What the published side measured: the bundle, the bulletin's first page and its last
/// (a numbered page: the deepest offset), first with the list's marks still to read and then
/// again from them, as (bytes, step).
struct Published {
    bundle: (u64, Step),
    bulletin: (u64, Step),
    last_page: (u64, Step),
    last_page_again: (u64, Step),
}

async fn bench(
    args: &TallyBenchArgs,
    dir: &Path,
    target: &cista_store::Target,
    label: &str,
) -> Result<(), Failure> {
    let units = args.units.max(1);
    let (listener, addr, origin) = loopback_listener()?;
    let clock = Arc::new(ShiftedClock::new());
    let (cista, _store) =
        open_instance_with_clock(target, dir, &origin, 64, clock.clone(), BENCH_POOL).await?;
    println!("Setting up {units} units that all voted on one weighted ballot ({label})…");
    let (org, ballot) = set_up(&cista, units).await?;

    // The close: the clock jumps past the closing time, as the worker would find it.
    clock.advance(time::Duration::days(2));
    println!("Closing (read the box, open every ballot, count, tree, sign, store)…");
    let (_, close) = measured(async {
        cista
            .close_ballot_now(&Actor::operator("bench"), org, ballot)
            .await
            .map_err(fail("close"))
    })
    .await?;

    println!("Reading the staff page's lists and the participation record…");
    let (lists, staff) = staff_side(&cista, (org, ballot), dir).await?;

    println!("Downloading the bundle and the bulletin page over HTTPS…");
    let (state, ca) = loopback_state(&cista, &origin, dir, Limits::default())?;
    let (stop, server) = spawn_server(state, listener);
    let fetched = fetch_published(&origin, addr, ca, ballot, units, dir).await;
    let _ = stop.send(());
    let _ = server.await;
    let published = fetched?;

    println!("Recounting the downloaded bundle (cista verify-election)…");
    let bundle_path = dir.join("bundle.json");
    let ((verified, ballots), verify) = measured(async {
        let (bundle, verification) = super::verify_election::verify_file(&bundle_path, None)?;
        Ok((verification, bundle.ballots.len()))
    })
    .await?;
    let count = count_alone(&bundle_path).await?;

    println!("\n{label}, {units} units, weighted, 4 contests");
    println!("{}", close.line("close (whole)", ""));
    println!(
        "{}",
        count.line("count alone", "   (tally of the list in memory)")
    );
    for (what, (bytes, step)) in [
        ("bundle over HTTPS", &published.bundle),
        ("bulletin page", &published.bulletin),
        ("bulletin last page", &published.last_page),
        ("… again (marks kept)", &published.last_page_again),
    ] {
        let size = format!("   ({:.1} MB)", *bytes as f64 / 1e6);
        println!("{}", step.line(what, &size));
    }
    println!(
        "{}",
        staff.lists.line(
            "staff page lists",
            &format!("   ({lists} rows: first and last pages, a search)")
        )
    );
    let size = format!(
        "   ({:.1} MB, streamed to a file)",
        staff.record_bytes as f64 / 1e6
    );
    println!("{}", staff.record.line("participation.csv", &size));
    let outcome = if verified.ok() { "verified" } else { "FAILED" };
    let detail = format!("   ({ballots} ballots, {outcome})");
    println!("{}", verify.line("verify-election", &detail));
    println!("  goals: count ≤ 2 s, verify-election ≤ 10 s, bundle and bulletin memory bounded");
    if !verified.ok() {
        for check in verified.checks.iter().filter(|c| !c.ok) {
            println!("  FAIL {}: {}", check.name, check.detail);
        }
        return Err(Failure("the downloaded bundle does not verify".to_owned()));
    }
    if ballots != units {
        return Err(Failure(format!(
            "{ballots} ballots published for {units} units"
        )));
    }
    Ok(())
}

/// What the staff side measured: the ballot page's lists (the participation list's first and
/// last pages, the refused attempts, a search of the roll) and the participation record file.
struct StaffSide {
    lists: Step,
    record: Step,
    record_bytes: u64,
}

/// Reads what the staff's page of the closed ballot lists, as its handler does, and writes
/// the participation list as the record's CSV into `dir`, as its download streams it;
/// returns the rows the lists held, and the steps.
async fn staff_side(
    cista: &Cista,
    (org, ballot): (OrgId, BallotId),
    dir: &Path,
) -> Result<(usize, StaffSide), Failure> {
    let operator = Actor::operator("bench");
    let loaded = cista
        .ballot(&operator, org, ballot)
        .await
        .map_err(fail("read the ballot"))?;
    let (rows, lists) = measured(async {
        let first = cista.participation_page(&operator, &loaded, 1).await;
        let first = first.map_err(fail("participation page"))?;
        let last = cista
            .participation_page(&operator, &loaded, first.pages)
            .await
            .map_err(fail("participation page"))?;
        let refused = cista.refusals_page(&operator, &loaded, 1).await;
        let refused = refused.map_err(fail("refusals page"))?;
        let found = cista.roll_search(&operator, &loaded, "0000123").await;
        let found = found.map_err(fail("roll search"))?;
        Ok(first.items.len() + last.items.len() + refused.items.len() + found.units.len())
    })
    .await?;
    let file = cista_core::products::voting::record::RecordFile::Participation;
    let path = dir.join("participation.csv");
    let (bytes, record) = measured(async {
        let plan = cista.plan_record(&operator, org, ballot, file).await;
        let plan = plan.map_err(fail("participation.csv"))?;
        let mut out = tokio::fs::File::create(&path)
            .await
            .map_err(|e| Failure(format!("participation.csv: {e}")))?;
        let written = cista.write_record(&plan, &mut out).await;
        written.map_err(fail("participation.csv"))?;
        tokio::io::AsyncWriteExt::flush(&mut out)
            .await
            .map_err(|e| Failure(format!("participation.csv: {e}")))?;
        let size = tokio::fs::metadata(&path).await.map(|m| m.len());
        size.map_err(|e| Failure(format!("participation.csv: {e}")))
    })
    .await?;
    Ok((
        rows,
        StaffSide {
            lists,
            record,
            record_bytes: bytes,
        },
    ))
}

/// The association of `units` units, its weighted ballot published, every unit's ballot in
/// the box, and the box shuffled as the worker does while a ballot is open.
async fn set_up(cista: &Cista, units: usize) -> Result<(OrgId, BallotId), Failure> {
    let operator = Actor::operator("bench");
    let org = cista
        .create_organization(
            &operator,
            OrgName::parse("Million Towers")?,
            OrgSlug::parse("million")?,
        )
        .await?
        .id;
    let started = Instant::now();
    let report = |what: &'static str| {
        let step = (units / 4).max(1);
        move |done: usize| {
            if done % step < 10_000 || done == units {
                println!("  {what}: {done}");
            }
        }
    };
    cista
        .add_units_in_bulk(&operator, org, "M", units, &report("units"))
        .await
        .map_err(fail("units"))?;
    // Publication reads every unit and freezes the roll: its memory grows with the units.
    let (ballot, published) = measured(publish_weighted(cista, org)).await?;
    println!(
        "{}",
        published.line(
            "published",
            &format!("   (the roll of {units} units frozen)")
        )
    );
    cista
        .fill_ballot_box(&operator, org, ballot, &report("ballots"))
        .await
        .map_err(fail("ballot box"))?;
    let shuffled = std::sync::atomic::AtomicBool::new(false);
    let (shuffle, probes) = tokio::join!(
        async {
            let done = measured(async {
                cista
                    .run_voting_work(&Actor::System)
                    .await
                    .map_err(fail("shuffle"))
            })
            .await;
            shuffled.store(true, std::sync::atomic::Ordering::Relaxed);
            done
        },
        casts_lock_while(cista, ballot, &shuffled),
    );
    let (_, shuffle) = shuffle?;
    println!(
        "  set up in {:.1} s (the worker's shuffle of the open box: {})",
        started.elapsed().as_secs_f64(),
        ms(shuffle.took)
    );
    println!("  during the shuffle  {probes}");
    Ok((org, ballot))
}

/// What `casts_lock_while` saw: each transaction's time from its start to its commit, and
/// those that failed (on SQLite, a write turn not granted within the busy timeout).
#[derive(Default)]
struct LockProbes {
    took: Vec<Duration>,
    failed: Vec<Duration>,
}

impl std::fmt::Display for LockProbes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a transaction took the ballot's shared lock, as a cast's does, {} times",
            self.took.len()
        )?;
        let mut took = self.took.clone();
        took.sort_unstable();
        if let (Some(longest), Some(median)) = (took.last(), took.get(took.len() / 2)) {
            write!(
                f,
                ", each within {} (begin to commit; median {})",
                ms(*longest),
                ms(*median)
            )?;
        }
        if let Some(longest) = self.failed.iter().max() {
            write!(
                f,
                "; {} failed, after at most {}",
                self.failed.len(),
                ms(*longest)
            )?;
        }
        Ok(())
    }
}

/// Until `over` is set, every 100 ms: a transaction takes `ballot`'s shared lock, as each
/// cast's (group commit's) transaction does, and commits; it writes no rows. Measures what
/// the shuffle holds casts up by: on PostgreSQL the lock, on SQLite also the write turn,
/// which the shuffle's transaction holds throughout. A failure is counted, never fatal.
async fn casts_lock_while(
    cista: &Cista,
    ballot: BallotId,
    over: &std::sync::atomic::AtomicBool,
) -> LockProbes {
    let mut probes = LockProbes::default();
    while !over.load(std::sync::atomic::Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let locked = async {
            let mut tx = cista.store().begin().await?;
            tx.voting().lock_ballot(ballot, false).await?;
            tx.commit_housekeeping().await
        };
        match locked.await {
            Ok(()) => probes.took.push(started.elapsed()),
            Err(_) => probes.failed.push(started.elapsed()),
        }
    }
    probes
}

/// Downloads the bundle and the bulletin's first and last pages into `dir`, each timed and
/// measured.
async fn fetch_published(
    origin: &str,
    addr: std::net::SocketAddr,
    ca: reqwest::Certificate,
    ballot: BallotId,
    units: usize,
    dir: &Path,
) -> Result<Published, Failure> {
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .resolve("localhost", addr)
        .build()
        .map_err(|e| Failure(e.to_string()))?;
    let bundle = measured(download(
        &client,
        &format!("{origin}/e/{ballot}/bundle.json"),
        &dir.join("bundle.json"),
    ))
    .await?;
    let bulletin = measured(download(
        &client,
        &format!("{origin}/e/{ballot}/bulletin"),
        &dir.join("bulletin.html"),
    ))
    .await?;
    let last = format!(
        "{origin}/e/{ballot}/bulletin?page={}",
        (units as u64).div_ceil(cista_http::web::pages::bulletin::ROWS_PER_PAGE)
    );
    let last_path = dir.join("bulletin-last.html");
    // The first read this deep (past `MARKS_FROM`) reads the list's marks; the next starts
    // from them. The bench's lists are always that long.
    let last_page = measured(download(&client, &last, &last_path)).await?;
    let last_page_again = measured(download(&client, &last, &last_path)).await?;
    Ok(Published {
        bundle,
        bulletin,
        last_page,
        last_page_again,
    })
}

/// Streams the body at `url` into `path`; returns its length. Anything but 200 fails.
async fn download(client: &reqwest::Client, url: &str, path: &Path) -> Result<u64, Failure> {
    use tokio::io::AsyncWriteExt as _;
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| Failure(format!("{url}: {e}")))?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(Failure(format!("{url}: {}", response.status())));
    }
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    let mut length = 0u64;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Failure(format!("{url}: {e}")))?
    {
        length += chunk.len() as u64;
        file.write_all(&chunk)
            .await
            .map_err(|e| Failure(e.to_string()))?;
    }
    file.flush().await.map_err(|e| Failure(e.to_string()))?;
    Ok(length)
}

/// The count alone (`tally`), on the ballot list of the downloaded bundle read beforehand:
/// what a recount costs once the ballots are in memory.
async fn count_alone(bundle_path: &Path) -> Result<Step, Failure> {
    let bytes = std::fs::read(bundle_path).map_err(|e| Failure(e.to_string()))?;
    let bundle: Bundle = serde_json::from_slice(&bytes).map_err(|e| Failure(e.to_string()))?;
    drop(bytes);
    let definition = definition_of(&bundle)?;
    let (_, step) = measured(async {
        tally(&definition, bundle.turnout, &bundle.ballots).map_err(Failure::from)
    })
    .await?;
    Ok(step)
}

/// Creates and publishes the benchmark's weighted secret ballot: three resolutions (majority
/// of votes cast, two thirds of votes cast, a majority of all voting interests) and an
/// election of three seats among six candidates; open now, closing in a day.
async fn publish_weighted(cista: &Cista, org: OrgId) -> Result<BallotId, Failure> {
    let resolution = |title: &str, threshold| NewContest {
        title: title.to_owned(),
        description: String::new(),
        kind: ContestKind::Resolution { threshold },
    };
    let contests = vec![
        resolution("Budget", Threshold::MajorityOfCast),
        resolution("Amend the bylaws", Threshold::TwoThirdsOfCast),
        resolution(
            "Waive the reserves",
            Threshold::ShareOfAllInterests {
                percent: Percent::parse("50")?,
            },
        ),
        NewContest {
            title: "Board".to_owned(),
            description: String::new(),
            kind: ContestKind::Election {
                seats: 3,
                candidates: candidates_from_lines("Alma\nBen\nCarla\nDavid\nEva\nFrank"),
                shuffle: true,
            },
        },
    ];
    let (ballot, _) =
        publish_ballot_with(cista, org, "Annual meeting", Weighting::Weighted, contests).await?;
    Ok(ballot)
}
