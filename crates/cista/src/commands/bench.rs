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
use cista_types::{Clock as _, OrgName, OrgSlug, OsRng, Percent, Rng as _, SystemClock, UnitId};
use sea_orm::ConnectionTrait as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

const PASSWORD: &str = "bench-orbit-mango-cellar-91";

pub(crate) fn fail(what: &str) -> impl Fn(cista_core::Error) -> Failure + '_ {
    move |e| Failure(format!("{what}: {}", e.chain()))
}

/// Where the throw-away instance lives, removed at the end.
pub(crate) struct Scratch {
    pub(crate) dir: std::path::PathBuf,
    postgres: Option<(SeaStore, String)>,
}

impl Scratch {
    pub(crate) async fn cleanup(self) {
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

/// `count` durable single-row commits on `store`, one writer, each one's time, sorted: the
/// raw commit rate every benchmark prints beside its own figures.
pub(crate) async fn raw_commits(store: &SeaStore, count: u32) -> Result<Vec<Duration>, Failure> {
    let mut commits = store
        .measure_commits(count)
        .await
        .map_err(fail("raw commits"))?;
    commits.sort();
    Ok(commits)
}

/// The report's line for the raw commit rate (`commits` sorted).
pub(crate) fn commits_line(commits: &[Duration]) -> String {
    let total: Duration = commits.iter().sum();
    let rate = commits.len() as f64 / total.as_secs_f64().max(f64::EPSILON);
    format!(
        "  raw commits    {rate:.1} durable single-row commits/s, one writer (p50 {}, p99 {}) on the same database",
        ms(percentile(commits, 50.0)),
        ms(percentile(commits, 99.0))
    )
}

fn csrf_in(html: &str) -> Option<String> {
    let marker = r#"name="csrf" value=""#;
    let start = html.find(marker)? + marker.len();
    html.get(start..)?.split('"').next().map(str::to_owned)
}

pub async fn run(args: &BenchArgs) -> Result<(), Failure> {
    let voters = args.voters.max(1);
    let concurrency = args.concurrency.max(1);
    let (scratch, target, label) = scratch_database(args.database_url.as_ref()).await?;
    let dir = scratch.dir.clone();
    let result = bench(args, voters, concurrency, &dir, &target, &label).await;
    scratch.cleanup().await;
    result
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
    let (cista, store) = open_instance(target, dir, &origin, voters).await?;
    println!("Setting up {voters} units with one owner each ({label})…");
    let BenchAssociation {
        ballot,
        hash,
        units,
        ..
    } = seed_association(&cista, voters).await?;

    // The server, on loopback, with its own certificate.
    let (state, ca) = loopback_state(&cista, &origin, dir, Limits::default())?;
    let (stop, server) = spawn_server(state, listener);

    // Every owner signs in through the form: a real session and its CSRF token each.
    println!("Signing in {voters} owners over HTTPS…");
    let browsers = sign_in_all(&origin, addr, &ca, voters, concurrency).await?;

    // The measured part: one cast per unit, `concurrency` at a time.
    println!("Casting {voters} ballots, {concurrency} at a time…");
    let started = Instant::now();
    let mut latencies = cast_all(&origin, ballot, &hash, browsers, units, concurrency).await?;
    let wall = started.elapsed();
    let _ = stop.send(());
    let _ = server.await;
    latencies.sort();

    let stored = store.voting().participation(ballot).await?.len() as u64;
    // The same database's raw durable single-row commit rate, in the same run.
    let commits = raw_commits(&store, args.commits).await?;
    print_report(
        label,
        voters,
        concurrency,
        wall,
        &latencies,
        &commits,
        stored,
    );
    if stored != voters as u64 {
        return Err(Failure(format!(
            "{stored} votes stored for {voters} casts answered with a receipt"
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

/// Migrates the scratch database and opens Cista on it, with a fresh key file in `dir`.
pub(crate) async fn open_instance(
    target: &Target,
    dir: &std::path::Path,
    origin: &str,
    voters: usize,
) -> Result<(Cista, Arc<SeaStore>), Failure> {
    let store = SeaStore::connect_and_migrate(
        target,
        &ConnectOptions {
            max_connections: 16,
            ..ConnectOptions::default()
        },
    )
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
        clock: Arc::new(SystemClock),
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
    for ((i, browser, csrf), unit) in browsers.into_iter().zip(units) {
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

/// Prints the benchmark's result: throughput, cast latency and the raw commit rate beside it
/// (`latencies` and `commits` sorted).
fn print_report(
    label: &str,
    voters: usize,
    concurrency: usize,
    wall: Duration,
    latencies: &[Duration],
    commits: &[Duration],
    stored: u64,
) {
    let rate = voters as f64 / wall.as_secs_f64();
    println!();
    println!("Cista voting benchmark — {label}");
    println!("  ballots cast   {voters} over HTTPS with real sessions, {concurrency} at a time");
    println!(
        "  throughput     {rate:.1} casts/s ({voters} in {:.2} s)",
        wall.as_secs_f64()
    );
    println!(
        "  cast latency   p50 {}   p99 {}   max {}",
        ms(percentile(latencies, 50.0)),
        ms(percentile(latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    println!("{}", commits_line(commits));
    println!("  check          {stored} participation rows for {voters} units");
}

/// The benchmark association: one owner per unit, each with a password, and a published
/// secret ballot open for a day.
pub(crate) struct BenchAssociation {
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
    let now = SystemClock.now();
    let ballot = cista
        .create_ballot(
            &operator,
            org,
            BallotSettings {
                title: "Benchmark ballot".to_owned(),
                description: String::new(),
                opens_at: now.plus(time::Duration::minutes(-1)),
                closes_at: now.plus(time::Duration::days(1)),
                secrecy: Secrecy::Secret,
                weighting: Weighting::PerUnit,
                quorum: Percent::parse("30")?,
                min_turnout: None,
                paper: false,
                notify_sms: false,
                reminder_hours: Vec::new(),
            },
        )
        .await?;
    for contest in [
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
    ] {
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
        ballot,
        hash,
        units,
    })
}

/// A signed-in owner: their index, their browser (cookie jar) and their session's CSRF token.
pub(crate) type Browser = (usize, reqwest::Client, String);

/// Signs every owner in through the sign-in form, `concurrency` at a time.
pub(crate) async fn sign_in_all(
    origin: &str,
    addr: std::net::SocketAddr,
    ca: &reqwest::Certificate,
    voters: usize,
    concurrency: usize,
) -> Result<Vec<Browser>, Failure> {
    let mut sessions = tokio::task::JoinSet::new();
    let gate = Arc::new(Semaphore::new(concurrency));
    for i in 0..voters {
        let (ca, origin, gate) = (ca.clone(), origin.to_owned(), gate.clone());
        sessions.spawn(async move {
            let _permit = gate.acquire().await;
            let browser = reqwest::Client::builder()
                .tls_certs_only([ca])
                .resolve("localhost", addr)
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| e.to_string())?;
            let page = browser
                .get(format!("{origin}/sign-in"))
                .send()
                .await
                .map_err(|e| e.to_string())?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            let email = format!("voter{i}@bench.example");
            let csrf = csrf_in(&page).ok_or("no CSRF token on the sign-in page")?;
            let signed = browser
                .post(format!("{origin}/sign-in"))
                .header("origin", origin.as_str())
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("email", &email),
                    ("password", PASSWORD),
                ])
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if signed.status() != 303 {
                return Err(format!("sign-in of {email}: {}", signed.status()));
            }
            let me = browser
                .get(format!("{origin}/me"))
                .send()
                .await
                .map_err(|e| e.to_string())?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            let csrf = csrf_in(&me).ok_or("no CSRF token on /me")?;
            Ok::<_, String>((i, browser, csrf))
        });
    }
    let mut browsers = Vec::with_capacity(voters);
    while let Some(done) = sessions.join_next().await {
        browsers.push(done.map_err(|e| Failure(e.to_string()))?.map_err(Failure)?);
    }
    browsers.sort_by_key(|(i, _, _)| *i);

    Ok(browsers)
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
