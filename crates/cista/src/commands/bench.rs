//! `cista bench voting`: how fast ballots are cast over HTTPS with real sessions, next to the
//! raw durable commit rate of the same database measured in the same run. It builds a
//! throw-away instance (SQLite in a temporary directory, or a fresh schema on the PostgreSQL
//! server given), an association of `--voters` units with one owner each and a published
//! ballot, serves it on a loopback port, signs every owner in through the sign-in form, then
//! has `--concurrency` browsers cast one vote per unit through the ballot form and reports
//! casts per second and the p50/p99 latency of a cast.

use crate::cli::BenchArgs;
use crate::runtime::Failure;
use cista_core::products::voting::ballots::{BallotSettings, NewContest};
use cista_core::products::voting::definition::{
    ContestKind, Secrecy, Threshold, Weighting, candidates_from_lines,
};
use cista_core::{AccessSettings, Actor, Cista, Deps, Store as _};
use cista_crypto::LocalKeyFile;
use cista_http::web::limits::{AuthLimiter, AuthLimits};
use cista_http::{AppState, Limits, Listeners, TlsSettings, TlsStats};
use cista_store::{ConnectOptions, SeaStore, SeaVault, Target};

use super::bench_clients::HttpsFloor;
pub(crate) use super::bench_clients::{Browser, sign_in_all};
use super::bench_commits::raw_commits_apart;
use super::bench_cpu::CpuMeter;
use super::bench_report::{Casts, print_report};
use cista_types::{Clock as _, OrgName, OrgSlug, OsRng, Percent, Rng as _, SystemClock, UnitId};
use sea_orm::ConnectionTrait as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

pub(crate) const PASSWORD: &str = "bench-orbit-mango-cellar-91";

/// Requests sent to each endpoint of the HTTPS floor: enough for half a second or more at
/// the floor's rate on the 2-core machine, whatever the number of voters.
const FLOOR_REQUESTS: usize = 4_000;

pub(crate) fn fail(what: &str) -> impl Fn(cista_core::Error) -> Failure + '_ {
    move |e| Failure(format!("{what}: {}", e.chain()))
}

/// Where the throw-away instance lives, removed at the end.
pub(crate) struct Scratch {
    pub(crate) dir: std::path::PathBuf,
    postgres: Option<(SeaStore, String)>,
}

impl Scratch {
    /// Runs `bench` on this throw-away instance, then removes it: also when the bench fails,
    /// and when SIGINT (Ctrl-C) or SIGTERM stops it, so an interrupted run leaves no scratch
    /// schema on the PostgreSQL server it was given, nor a directory. Returns the bench's
    /// result, or a failure saying it was interrupted.
    pub(crate) async fn run_then_remove(
        self,
        bench: impl std::future::Future<Output = Result<(), Failure>>,
    ) -> Result<(), Failure> {
        let interrupted = crate::commands::serve::shutdown_signal();
        let result = match interrupted {
            Ok(interrupted) => tokio::select! {
                result = bench => result,
                () = interrupted => Err(Failure(
                    "interrupted; the benchmark's scratch database is removed".to_owned(),
                )),
            },
            Err(e) => Err(e),
        };
        self.cleanup().await;
        result
    }

    async fn cleanup(self) {
        if let Some((admin, schema)) = &self.postgres {
            let _ = admin
                .connection()
                .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
                .await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted
        .get(rank.min(sorted.len() - 1))
        .copied()
        .unwrap_or_default()
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A listener on a free loopback port, its address, and the origin clients reach it at
/// (`https://localhost:PORT`: the certificate of [`loopback_state`] names `localhost`).
pub(crate) fn loopback_listener()
-> Result<(std::net::TcpListener, std::net::SocketAddr, String), Failure> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Failure(format!("cannot listen on loopback: {e}")))?;
    let addr = listener.local_addr().map_err(|e| Failure(e.to_string()))?;
    let origin = format!("https://localhost:{}", addr.port());
    Ok((listener, addr, origin))
}

pub async fn run(args: &BenchArgs) -> Result<(), Failure> {
    let voters = args.voters.max(1);
    let concurrency = args.concurrency.max(1);
    let (scratch, target, label) = scratch_database(args.database_url.as_ref()).await?;
    let dir = scratch.dir.clone();
    scratch
        .run_then_remove(bench(args, voters, concurrency, &dir, &target, &label))
        .await
}

/// A throw-away database for a benchmark: a SQLite file in a new temporary directory, or a
/// new schema on the PostgreSQL server at `database_url`; with its description.
pub(crate) async fn scratch_database(
    database_url: Option<&cista_types::Secret>,
) -> Result<(Scratch, Target, String), Failure> {
    let dir = std::env::temp_dir().join(format!("cista-bench-{:x}", OsRng.id63()));
    std::fs::create_dir_all(&dir).map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
    let mut scratch = Scratch {
        dir: dir.clone(),
        postgres: None,
    };
    let (target, label) = match database_url {
        None => (
            Target::SqliteFile(dir.join("bench.db")),
            "SQLite (file, WAL, synchronous=FULL)".to_owned(),
        ),
        Some(url) => {
            let url = url.expose();
            let admin = SeaStore::connect(&Target::parse(url)?, &ConnectOptions::default())
                .await
                .map_err(fail("cannot reach the PostgreSQL server"))?;
            let schema = format!("cista_bench_{:x}", OsRng.id63());
            admin
                .connection()
                .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                .await
                .map_err(|e| Failure(format!("cannot create a scratch schema: {e}")))?;
            let sep = if url.contains('?') { '&' } else { '?' };
            let scoped = format!("{url}{sep}options=-c%20search_path%3D{schema}");
            scratch.postgres = Some((admin, schema));
            (
                Target::parse(&scoped)?,
                "PostgreSQL (synchronous_commit on)".to_owned(),
            )
        }
    };
    Ok((scratch, target, label))
}

async fn bench(
    args: &BenchArgs,
    voters: usize,
    concurrency: usize,
    dir: &std::path::Path,
    target: &Target,
    label: &str,
) -> Result<(), Failure> {
    let (listener, addr, origin) = loopback_listener()?;
    // The server's pool is `serve`'s default (`database.max_connections`, 8), as a default
    // server runs; with the 16 connections it had before, the casts were 6-12 % slower on
    // PostgreSQL and 6 % on SQLite (medians of interleaved runs, 5 December).
    let pool = ConnectOptions::default().max_connections;
    let (cista, store) = open_instance(target, dir, &origin, voters, pool).await?;
    println!("Setting up {voters} units with one owner each ({label})…");
    let BenchAssociation {
        org,
        ballot,
        hash,
        units,
    } = seed_association(&cista, voters).await?;

    // The server, on loopback, with its own certificate.
    let (state, ca) = loopback_state(&cista, &origin, dir, Limits::default())?;
    let (stop, server) = spawn_server(state, listener);

    // Every owner signs in through the form: a real session and its CSRF token each.
    println!("Signing in {voters} owners over HTTPS…");
    let browsers = sign_in_all(&origin, addr, &ca, voters, concurrency).await?;

    // The measured part: one cast per unit, `concurrency` at a time.
    println!("Casting {voters} ballots, {concurrency} at a time…");
    let memory = crate::commands::bench_memory::PeakRss::watch();
    let (processor, groups_before) = (CpuMeter::start(), cista.group_commits());
    let started = Instant::now();
    let mut latencies = cast_all(
        &origin,
        ballot,
        &hash,
        browsers.clone(),
        units.clone(),
        concurrency,
    )
    .await?;
    let wall = started.elapsed();
    let cpu = processor.stop();
    let groups = cista.group_commits().since(groups_before);
    let peak_rss = memory.stop().await;
    let floor = HttpsFloor::measure(&origin, &browsers, FLOOR_REQUESTS, concurrency).await?;
    // Then open-loop: every unit once more at half the reached rate (the latency a server
    // gives at half its throughput), and, when asked, ten times that rate.
    let open_loop = crate::commands::bench_overload::Overload {
        cista: &cista,
        org,
        origin: &origin,
        browsers: &browsers,
        units: &units,
    };
    let reached = voters as f64 / wall.as_secs_f64().max(f64::EPSILON);
    let paced = open_loop.paced(reached).await;
    let overloaded = match args.overload {
        Some(seconds) => Some(open_loop.run(reached, seconds).await),
        None => None,
    };
    let _ = stop.send(());
    let _ = server.await;
    latencies.sort();

    let stored = store.voting().participation(ballot).await?.len() as u64;
    // The same database's raw durable single-row commit rate, in the same run: from one
    // writer and from as many writers as there were casts at once (PostgreSQL flushes
    // concurrent commits together; SQLite's writers take turns). The casts are measured
    // against the better of the two. The raw writers have a pool of their own, a connection
    // each, so that none of them waits for a connection of the server's smaller pool.
    let writers = u32::try_from(concurrency).unwrap_or(u32::MAX);
    let ([alone, together], together_cpu) =
        raw_commits_apart(target, args.commits, writers).await?;
    let casts = Casts {
        voters,
        concurrency,
        wall,
        latencies,
        peak_rss,
        cpu,
        groups,
    };
    print_report(
        label,
        &casts,
        [&alone, &together],
        together_cpu.as_ref(),
        &floor,
        stored,
    );
    let commits = if together.per_second() > alone.per_second() {
        &together
    } else {
        &alone
    };
    if stored != voters as u64 {
        return Err(Failure(format!(
            "{stored} votes stored for {voters} casts answered with a receipt"
        )));
    }
    paced?;
    if let Some(result) = overloaded {
        result?;
    }
    let ratio = casts.per_second() / commits.per_second().max(f64::EPSILON);
    if let Some(min) = args.min_ratio
        && ratio < min
    {
        return Err(Failure(format!(
            "casts reached {:.0} % of the raw commit rate, below the {:.0} % asked for",
            ratio * 100.0,
            min * 100.0
        )));
    }
    Ok(())
}

/// Serves `state` on `listener` until the sender is used (or dropped); the handle ends when
/// the server has stopped.
pub(crate) fn spawn_server(
    state: AppState,
    listener: std::net::TcpListener,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(cista_http::serve(
        state,
        Listeners {
            https: listener,
            http_redirect: None,
        },
        async {
            let _ = stopped.await;
        },
        Duration::from_secs(5),
    ));
    (stop, server)
}

/// The connection pool of the instances the assessment, collection and tally benches open
/// (the cast bench's serves with `serve`'s default instead, `ConnectOptions::default()`).
pub(crate) const BENCH_POOL: u32 = 16;

/// The connection settings every bench opens its stores with: the defaults (those of
/// `serve`), with `connections` in the pool.
pub(crate) fn pool_of(connections: u32) -> ConnectOptions {
    ConnectOptions {
        max_connections: connections,
        ..ConnectOptions::default()
    }
}

/// Migrates the scratch database and opens Cista on it, with a fresh key file in `dir` and a
/// pool of `pool` connections.
pub(crate) async fn open_instance(
    target: &Target,
    dir: &std::path::Path,
    origin: &str,
    voters: usize,
    pool: u32,
) -> Result<(Cista, Arc<SeaStore>), Failure> {
    open_instance_with_clock(target, dir, origin, voters, Arc::new(SystemClock), pool).await
}

/// `open_instance` with its own clock (a `ShiftedClock` lets a bench jump past a close).
pub(crate) async fn open_instance_with_clock(
    target: &Target,
    dir: &std::path::Path,
    origin: &str,
    voters: usize,
    clock: Arc<dyn cista_types::Clock>,
    pool: u32,
) -> Result<(Cista, Arc<SeaStore>), Failure> {
    let store = SeaStore::connect_and_migrate(target, &pool_of(pool))
        .await
        .map_err(fail("database"))?;
    let vault = SeaVault::on(&store);
    vault.migrate().await?;
    let keys = LocalKeyFile::create(&dir.join("bench.kek"), &OsRng, SystemClock.now())?;
    let store = Arc::new(store);
    let deps = Deps {
        store: store.clone(),
        vault: Arc::new(vault),
        keys: Arc::new(keys),
        clock,
        rng: Arc::new(OsRng),
        settings: AccessSettings {
            public_origin: origin.to_owned(),
            concurrent_hashes: 2,
            hash_queue: voters.max(64),
            ..AccessSettings::default()
        },
    };
    let operator = Actor::operator("bench");
    let (cista, _) = Cista::open_or_initialize(deps, &operator, None).await?;
    Ok((cista, store))
}

/// The server's state with a self-signed certificate for `localhost` (no rate limit on
/// sign-in, no backup, `limits` for the rest), and that certificate for the clients to trust.
pub(crate) fn loopback_state(
    cista: &Cista,
    origin: &str,
    dir: &std::path::Path,
    limits: Limits,
) -> Result<(AppState, reqwest::Certificate), Failure> {
    let key = rcgen::KeyPair::generate().map_err(|e| Failure(e.to_string()))?;
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .map_err(|e| Failure(e.to_string()))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| Failure(e.to_string()))?;
    let tls = TlsSettings::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes())?;
    let state = AppState::new(cista_http::Shared {
        cista: cista.clone(),
        public_origin: Arc::from(origin),
        tls: Arc::new(tls),
        tls_stats: Arc::new(TlsStats::default()),
        http_redirect: false,
        metrics_token: None,
        limits,
        auth_limiter: AuthLimiter::new(AuthLimits {
            per_minute: 1_000_000,
            response_floor: Duration::ZERO,
        }),
        demo: None,
        checkpoint_interval: Duration::from_secs(60),
        messaging: Arc::from(Vec::<cista_http::MessagingLine>::new()),
        backup: Arc::new(cista_http::NoBackup),
        map_tiles: None,
        third_parties: Arc::from(Vec::<cista_http::ThirdParty>::new()),
        disclosure: None,
        blobs: Arc::new(
            cista_backup::blobs::ObjectBlobStore::open(&cista_backup::TargetSpec::Local(
                dir.join("blobs"),
            ))
            .map_err(|e| Failure(e.to_string()))?,
        ),
    });
    let ca = reqwest::Certificate::from_pem(cert.pem().as_bytes())
        .map_err(|e| Failure(e.to_string()))?;
    Ok((state, ca))
}

/// Casts one vote per unit through the ballot form, `concurrency` at a time, and returns each
/// cast's latency; any answer but the receipt (303 to it, or 200) fails the run.
async fn cast_all(
    origin: &str,
    ballot: cista_types::BallotId,
    hash: &str,
    browsers: Vec<Browser>,
    units: Vec<UnitId>,
    concurrency: usize,
) -> Result<Vec<Duration>, Failure> {
    let mut casts = tokio::task::JoinSet::new();
    let gate = Arc::new(Semaphore::new(concurrency));
    for (browser, unit) in browsers.into_iter().zip(units) {
        let (i, csrf) = (browser.index, browser.csrf.clone());
        let (origin, gate, hash) = (origin.to_owned(), gate.clone(), hash.to_owned());
        casts.spawn(async move {
            let _permit = gate.acquire().await;
            let answer = if i % 3 == 0 { "no" } else { "yes" };
            let candidate = ((i % 4) + 1).to_string();
            let began = Instant::now();
            let r = browser
                .post(format!("{origin}/vote/{ballot}/unit/{unit}"))
                .header("origin", origin.as_str())
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("definition", hash.as_str()),
                    ("c1", answer),
                    ("c2", candidate.as_str()),
                ])
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = r.status();
            let receipt = r
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .is_some_and(|l| l == format!("/vote/{ballot}/unit/{unit}/receipt"));
            let _ = r.bytes().await;
            let took = began.elapsed();
            // A cast answers 303 to its receipt page (or, when the sealed receipt does not fit
            // in a cookie, the receipt page itself): the vote is committed by then.
            if !(status == 303 && receipt || status == 200) {
                return Err(format!("a cast for unit {unit} answered {status}"));
            }
            Ok::<_, String>(took)
        });
    }
    let mut latencies = Vec::with_capacity(casts.len());
    while let Some(done) = casts.join_next().await {
        latencies.push(done.map_err(|e| Failure(e.to_string()))?.map_err(Failure)?);
    }
    Ok(latencies)
}

/// The benchmark association: one owner per unit, each with a password, and a published
/// secret ballot open for a day.
pub(crate) struct BenchAssociation {
    pub org: cista_types::OrgId,
    pub ballot: cista_types::BallotId,
    /// The ballot definition's hash, which the ballot form carries.
    pub hash: String,
    pub units: Vec<UnitId>,
}

/// Creates the benchmark association in `cista` (voters `voter{i}@bench.example`).
pub(crate) async fn seed_association(
    cista: &Cista,
    voters: usize,
) -> Result<BenchAssociation, Failure> {
    let operator = Actor::operator("bench");
    let org = cista
        .create_organization(
            &operator,
            OrgName::parse("Benchmark Towers")?,
            OrgSlug::parse("bench")?,
        )
        .await?
        .id;
    let mut csv =
        String::from("unit,weight,first_name,last_name,email,phone,designated_voter,consent\n");
    for i in 0..voters {
        csv.push_str(&format!(
            "U{i:05},1,Voter,Number{i},voter{i}@bench.example,,,yes\n"
        ));
    }
    let plan = cista.plan_import(&operator, org, csv.as_bytes()).await?;
    cista
        .apply_import(
            &operator,
            org,
            csv.as_bytes(),
            &plan.fingerprint,
            &|_, _| {},
        )
        .await?;
    let (ballot, hash) = publish_ballot(cista, org, "Benchmark ballot").await?;
    let units = unit_ids(cista, org, voters).await?;

    // Owners choose passwords (Argon2id; two at a time, as the server does).
    let mut setting = tokio::task::JoinSet::new();
    let gate = Arc::new(Semaphore::new(4));
    for i in 0..voters {
        let cista = cista.clone();
        let gate = gate.clone();
        setting.spawn(async move {
            let _permit = gate.acquire().await;
            let email = format!("voter{i}@bench.example");
            let subject = cista
                .subject_for_email(&Actor::operator("bench"), &email)
                .await?
                .ok_or(cista_core::Error::NotFound { what: "a voter" })?;
            let link = cista
                .resend_invitation(&Actor::operator("bench"), org, subject)
                .await?;
            let token = link.rsplit('/').next().unwrap_or_default().to_owned();
            cista
                .set_password_with_link(
                    &token,
                    cista_core::ports::CredentialPurpose::Invite,
                    &cista_types::Password::parse(PASSWORD)?,
                )
                .await
        });
    }
    while let Some(done) = setting.join_next().await {
        done.map_err(|e| Failure(e.to_string()))??;
    }

    Ok(BenchAssociation {
        org,
        ballot,
        hash,
        units,
    })
}

/// Creates and publishes a secret ballot of two contests in `org`, open for a day; returns it
/// with its definition's hash (which the ballot form carries).
pub(crate) async fn publish_ballot(
    cista: &Cista,
    org: cista_types::OrgId,
    title: &str,
) -> Result<(cista_types::BallotId, String), Failure> {
    publish_ballot_with(
        cista,
        org,
        title,
        Weighting::PerUnit,
        vec![
            NewContest {
                title: "Resolution".to_owned(),
                description: String::new(),
                kind: ContestKind::Resolution {
                    threshold: Threshold::MajorityOfCast,
                },
            },
            NewContest {
                title: "Board".to_owned(),
                description: String::new(),
                kind: ContestKind::Election {
                    seats: 2,
                    candidates: candidates_from_lines("Alma\nBen\nCarla\nDavid"),
                    shuffle: true,
                },
            },
        ],
    )
    .await
}

/// Creates and publishes a secret ballot of `contests` in `org` (quorum 30 %), open from a
/// minute ago for a day by Cista's clock; returns it with its definition's hash.
pub(crate) async fn publish_ballot_with(
    cista: &Cista,
    org: cista_types::OrgId,
    title: &str,
    weighting: Weighting,
    contests: Vec<NewContest>,
) -> Result<(cista_types::BallotId, String), Failure> {
    let operator = Actor::operator("bench");
    let now = cista.clock().now();
    let ballot = cista
        .create_ballot(
            &operator,
            org,
            BallotSettings {
                title: title.to_owned(),
                description: String::new(),
                opens_at: now.plus(time::Duration::minutes(-1)),
                closes_at: now.plus(time::Duration::days(1)),
                secrecy: Secrecy::Secret,
                weighting,
                quorum: Percent::parse("30")?,
                min_turnout: None,
                paper: false,
                notify_sms: false,
                reminder_hours: Vec::new(),
            },
        )
        .await?;
    for contest in contests {
        cista.add_contest(&operator, org, ballot, contest).await?;
    }
    cista.publish_ballot(&operator, org, ballot).await?;
    let hash = cista
        .store()
        .voting()
        .ballot(ballot)
        .await?
        .ok_or_else(|| Failure("the ballot vanished".to_owned()))?
        .definition_hash
        .to_hex();
    Ok((ballot, hash))
}

async fn unit_ids(
    cista: &Cista,
    org: cista_types::OrgId,
    voters: usize,
) -> Result<Vec<UnitId>, Failure> {
    let mut units = cista.store().voting().units(org).await?;
    units.sort_by(|a, b| a.label.as_str().cmp(b.label.as_str()));
    if units.len() != voters {
        return Err(Failure(format!(
            "{} units for {voters} voters",
            units.len()
        )));
    }
    Ok(units.into_iter().map(|u| u.id).collect())
}
