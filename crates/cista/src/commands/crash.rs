//! `cista bench crash`, the crash harness: a real `cista serve` process backs up
//! continuously to a local directory while owners cast votes through it over HTTPS at a steady
//! rate; at a random moment it is killed with SIGKILL; the backup is restored into a fresh
//! directory with `cista restore` and compared with what the server had acknowledged. Each
//! round also pauses the voting, notes the time and dumps who had voted, and checks that a
//! restore to that time gives exactly that. Round 2 takes the backup target away for a few
//! seconds (writes must go on and shipping must catch up). The server restarts on the same
//! data directory each round, so resuming after a crash is exercised too.

use crate::cli::CrashArgs;
use crate::runtime::{Failure, Runtime};
use cista_types::{Clock as _, Rng as _, SystemClock};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn now_ms() -> i64 {
    SystemClock.now().unix_micros() / 1000
}

fn exe() -> Result<PathBuf, Failure> {
    std::env::current_exe().map_err(|e| Failure(format!("cannot find this binary: {e}")))
}

/// A `cista` command on the harness's data directory and backup target.
fn cista(data: &Path, target: &Path) -> Result<Command, Failure> {
    let mut command = Command::new(exe()?);
    for (key, _) in std::env::vars() {
        if key.starts_with("CISTA_") {
            command.env_remove(key);
        }
    }
    command
        .arg("--data-dir")
        .arg(data)
        .env("CISTA_BACKUP_TARGET", target)
        .env("CISTA_LOG_LEVEL", "warn");
    Ok(command)
}

fn check(output: std::process::Output, what: &str) -> Result<String, Failure> {
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(Failure(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// Units that have voted in `ballot`, read from a SQLite file.
async fn voted_units(db: &Path, ballot: i64) -> Result<BTreeSet<i64>, Failure> {
    use sqlx::{ConnectOptions as _, Connection as _};
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| Failure(format!("cannot open {}: {e}", db.display())))?;
    let units: Vec<i64> =
        sqlx::query_scalar("SELECT unit_id FROM participation WHERE ballot_id = ?")
            .bind(ballot)
            .fetch_all(&mut conn)
            .await
            .map_err(|e| Failure(format!("cannot read {}: {e}", db.display())))?;
    let _ = conn.close().await;
    Ok(units.into_iter().collect())
}

/// An acknowledged vote: the unit and when the server answered with its receipt.
type Acks = Arc<Mutex<Vec<(i64, i64)>>>;

struct Round {
    lost: usize,
    worst_lost_ms: i64,
    acked: usize,
    restore_secs: f64,
    pitr_match: bool,
    pitr_rows: usize,
    outage: Option<String>,
}

pub async fn run(args: &CrashArgs) -> Result<ExitCode, Failure> {
    let mut random = [0u8; 6];
    cista_types::OsRng.fill(&mut random);
    let root = std::env::temp_dir().join(format!(
        "cista-crash-{}",
        random
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    let result = harness(args, &root).await;
    let _ = std::fs::remove_dir_all(&root);
    result
}

/// The harness's instance: its data directory and backup target, the seeded association and
/// where `cista serve` listens.
struct Instance {
    data: PathBuf,
    target: PathBuf,
    association: super::bench::BenchAssociation,
    ballot: i64,
    port: u16,
    addr: std::net::SocketAddr,
    origin: String,
    ca: reqwest::Certificate,
}

/// Runs `cista init` in `root/data`, seeds the association straight into it and picks a free
/// loopback port for the server.
async fn prepare(args: &CrashArgs, root: &Path) -> Result<Instance, Failure> {
    let data = root.join("data");
    let target = root.join("backup");
    std::fs::create_dir_all(&target).map_err(|e| Failure(e.to_string()))?;
    check(
        cista(&data, &target)?
            .arg("init")
            .output()
            .map_err(|e| Failure(e.to_string()))?,
        "cista init",
    )?;
    // The association, written straight into the data directory before the server starts.
    // Defaults only: the harness's own instance ignores the caller's CISTA_ variables.
    let config = crate::config::Config::load(None, std::iter::empty())?;
    let paths = crate::config::Resolved::new(&config, &data);
    let rt = Runtime {
        config,
        paths,
        demo: false,
    };
    let association = {
        let cista = rt.open(false).await?;
        println!("Setting up {} units with one owner each…", args.voters);
        super::bench::seed_association(&cista, args.voters).await?
    };
    let ballot = association.ballot.as_i64();
    let port = {
        let probe =
            std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| Failure(e.to_string()))?;
        probe
            .local_addr()
            .map_err(|e| Failure(e.to_string()))?
            .port()
    };
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let origin = format!("https://localhost:{port}");
    let ca = reqwest::Certificate::from_pem(
        &std::fs::read(data.join("tls").join("ca.pem")).map_err(|e| Failure(e.to_string()))?,
    )
    .map_err(|e| Failure(e.to_string()))?;
    Ok(Instance {
        data,
        target,
        association,
        ballot,
        port,
        addr,
        origin,
        ca,
    })
}

/// Whether a cast's answer acknowledges the vote: a 303 to its receipt, or the receipt page.
fn acknowledged(response: &reqwest::Response) -> bool {
    let to_receipt = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .is_some_and(|l| l.ends_with("/receipt"));
    response.status() == 200 || response.status() == 303 && to_receipt
}

/// Owners casting at a steady rate through the running server, noting each acknowledgement.
struct Voting<'a> {
    instance: &'a Instance,
    browsers: &'a [super::bench::Browser],
    period: Duration,
    acks: Acks,
}

impl Voting<'_> {
    /// Plans as many casts as fit in `seconds` at the steady rate, taking owners from `next`,
    /// and spawns them into `casting`, each at its moment.
    fn cast_for(
        &self,
        seconds: f64,
        casting: &mut tokio::task::JoinSet<()>,
        next: &mut dyn Iterator<Item = (usize, cista_types::UnitId)>,
    ) {
        let period = self.period;
        let ballot = self.instance.ballot;
        let until = Instant::now() + Duration::from_secs_f64(seconds);
        let mut planned = Vec::new();
        while Instant::now() + period * u32::try_from(planned.len()).unwrap_or(0) < until {
            match next.next() {
                Some(p) => planned.push(p),
                None => break,
            }
        }
        planned.into_iter().enumerate().for_each(|(k, (i, unit))| {
            let (origin, hash, acks) = (
                self.instance.origin.clone(),
                self.instance.association.hash.clone(),
                self.acks.clone(),
            );
            let Some(browser) = self.browsers.get(i).cloned() else {
                return;
            };
            let csrf = browser.csrf.clone();
            let delay = period * u32::try_from(k).unwrap_or(0);
            casting.spawn(async move {
                tokio::time::sleep(delay).await;
                let sent = browser
                    .post(format!("{origin}/vote/{ballot}/unit/{unit}"))
                    .header("origin", origin.as_str())
                    .form(&[
                        ("csrf", csrf.as_str()),
                        ("definition", hash.as_str()),
                        ("c1", "yes"),
                        ("c2", "1"),
                    ])
                    .send()
                    .await;
                // A cast is acknowledged by its 303 to the receipt (or, when the sealed
                // receipt does not fit in a cookie, the receipt page itself).
                if let Ok(response) = sent
                    && acknowledged(&response)
                    && let Ok(mut a) = acks.lock()
                {
                    a.push((unit.as_i64(), now_ms()));
                }
            });
        });
    }

    /// Takes the backup target away for 3 s (a file where the directory was) while votes go
    /// on, puts it back and says how many votes were acknowledged meanwhile and whether
    /// shipping caught up.
    async fn through_an_outage(
        &self,
        root: &Path,
        casting: &mut tokio::task::JoinSet<()>,
        next: &mut dyn Iterator<Item = (usize, cista_types::UnitId)>,
    ) -> Result<String, Failure> {
        let target = &self.instance.target;
        let away = root.join("backup.away");
        std::fs::rename(target, &away).map_err(|e| Failure(e.to_string()))?;
        std::fs::write(target, b"not a directory").map_err(|e| Failure(e.to_string()))?;
        let before = self.acks.lock().map(|a| a.len()).unwrap_or(0);
        self.cast_for(3.0, casting, next);
        while casting.join_next().await.is_some() {}
        let during = self.acks.lock().map(|a| a.len()).unwrap_or(0) - before;
        std::fs::remove_file(target).map_err(|e| Failure(e.to_string()))?;
        std::fs::rename(&away, target).map_err(|e| Failure(e.to_string()))?;
        let back = Instant::now();
        let caught_up = wait_caught_up(&self.instance.data, Duration::from_secs(30)).await;
        Ok(match caught_up {
            Some(()) => format!(
                "target gone 3 s: {during} votes acknowledged meanwhile; shipping caught up {:.1} s after it returned",
                back.elapsed().as_secs_f64()
            ),
            None => "target gone 3 s: shipping did NOT catch up within 30 s".to_owned(),
        })
    }
}

async fn harness(args: &CrashArgs, root: &Path) -> Result<ExitCode, Failure> {
    let instance = prepare(args, root).await?;
    let (data, target, port) = (&instance.data, &instance.target, instance.port);

    // Owner i owns unit i: their browser casts that unit's vote.
    let mut units = instance.association.units.clone().into_iter().enumerate();
    let mut browsers = Vec::new();
    let mut rounds = Vec::new();
    let period = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    for round in 0..args.rounds {
        let mut server = cista(data, target)?
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            // Every owner signs in from this one address.
            .env("CISTA_LIMITS_AUTH_PER_MINUTE", "1000000")
            .env("CISTA_LIMITS_AUTH_RESPONSE_FLOOR_MS", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Failure(format!("cannot start cista serve: {e}")))?;
        wait_healthy(&instance.origin, instance.addr, &instance.ca).await?;
        if browsers.is_empty() {
            println!("Signing in {} owners over HTTPS…", args.voters);
            browsers = super::bench::sign_in_all(
                &instance.origin,
                instance.addr,
                &instance.ca,
                args.voters,
                8,
            )
            .await?;
        }
        let voting = Voting {
            instance: &instance,
            browsers: &browsers,
            period,
            acks: Arc::new(Mutex::new(Vec::new())),
        };
        let mut casting = tokio::task::JoinSet::new();
        let next = &mut units;
        // Warm up, then the point-in-time probe: pause, note T, dump, resume.
        voting.cast_for(1.0, &mut casting, next);
        while casting.join_next().await.is_some() {}
        tokio::time::sleep(Duration::from_millis(400)).await;
        let pitr_at = now_ms();
        let dump = voted_units(&data.join("cista.db"), instance.ballot).await?;
        tokio::time::sleep(Duration::from_millis(400)).await;

        // Round 2 takes the target away: a file where the directory was.
        let mut outage = None;
        if round == 1 {
            outage = Some(voting.through_an_outage(root, &mut casting, next).await?);
        }

        // Steady voting, then SIGKILL at a random moment.
        let mut r = [0u8; 2];
        cista_types::OsRng.fill(&mut r);
        let kill_after = 0.5 + f64::from(u16::from_le_bytes(r) % 2500) / 1000.0;
        voting.cast_for(kill_after + 1.0, &mut casting, next);
        tokio::time::sleep(Duration::from_secs_f64(kill_after)).await;
        let killed_at = now_ms();
        let _ = server.kill();
        let _ = server.wait();
        casting.abort_all();
        while casting.join_next().await.is_some() {}

        let acked: Vec<(i64, i64)> = voting.acks.lock().map(|a| a.clone()).unwrap_or_default();
        let killed = Killed {
            round,
            acked,
            killed_at,
            pitr_at,
            dump,
        };
        let outcome = compare_restores(&instance, root, killed, outage).await?;
        println!(
            "round {:>2}: killed {:.2} s into steady voting; {} acknowledged this round, {} lost (worst {} ms before the kill); restore {:.2} s; restore to T: {} ({} votes){}",
            round + 1,
            kill_after,
            outcome.acked,
            outcome.lost,
            outcome.worst_lost_ms,
            outcome.restore_secs,
            if outcome.pitr_match {
                "matches the dump"
            } else {
                "DIFFERS from the dump"
            },
            outcome.pitr_rows,
            outcome
                .outage
                .as_deref()
                .map(|o| format!("; {o}"))
                .unwrap_or_default()
        );
        rounds.push(outcome);
    }
    Ok(summarize(args, &rounds))
}

/// What a round knew when it killed the server: the acknowledged votes, the kill's time, and
/// the probe's time with the dump of who had voted then.
struct Killed {
    round: usize,
    acked: Vec<(i64, i64)>,
    killed_at: i64,
    pitr_at: i64,
    dump: BTreeSet<i64>,
}

/// Restores the latest state and the state at the probe's time into fresh directories and
/// compares them with the acknowledged votes and the dump; removes both copies after.
async fn compare_restores(
    instance: &Instance,
    root: &Path,
    killed: Killed,
    outage: Option<String>,
) -> Result<Round, Failure> {
    let (data, target, ballot) = (&instance.data, &instance.target, instance.ballot);
    let round = killed.round;
    // Restore the latest state into a fresh directory and compare.
    let restored = root.join(format!("restored-{round}"));
    let started = Instant::now();
    check(
        cista(data, target)?
            .args(["restore", "--to", "latest", "--into"])
            .arg(&restored)
            .output()
            .map_err(|e| Failure(e.to_string()))?,
        "cista restore --to latest",
    )?;
    let restore_secs = started.elapsed().as_secs_f64();
    let have = voted_units(&restored.join("cista.db"), ballot).await?;
    let lost: Vec<&(i64, i64)> = killed
        .acked
        .iter()
        .filter(|(u, _)| !have.contains(u))
        .collect();
    let worst_lost_ms = lost
        .iter()
        .map(|(_, at)| killed.killed_at - at)
        .max()
        .unwrap_or(0);

    // Restore to the probe's time and compare with the dump taken then.
    let at_probe = root.join(format!("pitr-{round}"));
    let to = cista_backup::restore::format_time(killed.pitr_at);
    check(
        cista(data, target)?
            .args(["restore", "--to", &to, "--into"])
            .arg(&at_probe)
            .output()
            .map_err(|e| Failure(e.to_string()))?,
        "cista restore --to T",
    )?;
    let then = voted_units(&at_probe.join("cista.db"), ballot).await?;
    let outcome = Round {
        lost: lost.len(),
        worst_lost_ms,
        acked: killed.acked.len(),
        restore_secs,
        pitr_match: then == killed.dump,
        pitr_rows: killed.dump.len(),
        outage,
    };
    let _ = std::fs::remove_dir_all(&restored);
    let _ = std::fs::remove_dir_all(&at_probe);
    Ok(outcome)
}

/// Prints the summary of all rounds and judges them: votes acknowledged, none lost more than a
/// second before the kill, every restore to T matching its dump, shipping caught up after
/// the outage.
fn summarize(args: &CrashArgs, rounds: &[Round]) -> ExitCode {
    let worst = rounds.iter().map(|r| r.worst_lost_ms).max().unwrap_or(0);
    let lost: usize = rounds.iter().map(|r| r.lost).sum();
    let acked: usize = rounds.iter().map(|r| r.acked).sum();
    let pitr_ok = rounds.iter().all(|r| r.pitr_match);
    let restore_max = rounds.iter().map(|r| r.restore_secs).fold(0.0, f64::max);
    let outage_ok = rounds
        .iter()
        .filter_map(|r| r.outage.as_deref())
        .all(|o| !o.contains("NOT"));
    println!();
    println!(
        "Crash harness — {} rounds of SIGKILL during steady voting ({} votes/s)",
        rounds.len(),
        args.rate
    );
    println!("  acknowledged   {acked} votes; lost after restore: {lost}");
    println!("  worst lost     {worst} ms (goal ≤ 1000 ms)");
    println!("  restore        slowest {restore_max:.2} s (cista restore --to latest)");
    println!(
        "  point in time  {}",
        if pitr_ok {
            "every restore to T matched the dump taken at T"
        } else {
            "MISMATCH"
        }
    );
    if acked == 0 {
        // Nothing acknowledged means nothing was checked: a harness that counts no answer
        // as an acknowledgement would pass whatever the server lost.
        println!("  FAILED         no vote was acknowledged, so no loss could be measured");
    }
    let ok = acked > 0 && worst <= 1000 && pitr_ok && outage_ok;
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn wait_healthy(
    origin: &str,
    addr: std::net::SocketAddr,
    ca: &reqwest::Certificate,
) -> Result<(), Failure> {
    let client = reqwest::Client::builder()
        .tls_certs_only([ca.clone()])
        .resolve("localhost", addr)
        .build()
        .map_err(|e| Failure(e.to_string()))?;
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{origin}/healthz")).send().await
            && r.status() == 200
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(Failure(
        "cista serve did not become healthy within 30 s".to_owned(),
    ))
}

/// Waits until the running shipper reports no lag and no error.
async fn wait_caught_up(data: &Path, limit: Duration) -> Option<()> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(s) = cista_backup::BackupStatus::read_file(&data.join("backup-status.json"))
            && s.last_error.is_none()
            && s.lag_ms == 0
            && now_ms() - s.updated_ms < 1000
        {
            return Some(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}
