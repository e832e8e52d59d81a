//! `cista bench assessment`: how fast clients submit an embedded assessment through the real
//! embed API — a load (the page's `Origin` checked, a signed load token issued), then a
//! submission (token checked and spent, answers checked and scored on the server, the client
//! sealed in the person vault, the result sealed and recorded with its audit entry) — next to
//! the raw durable commit rate of the same database in the same run; then how fast the
//! advisor's report is drawn (pages per second, a vault read and a PDF each), and the size of
//! the loader a firm's page downloads.

use super::bench::{
    BENCH_POOL, fail, loopback_listener, loopback_state, ms, open_instance, percentile,
    scratch_database, spawn_server,
};
use super::bench_commits::{commits_line, raw_commits};
use crate::cli::AssessmentBenchArgs;
use crate::runtime::Failure;
use cista_core::products::assessment::RISK_PROFILE;
use cista_core::{Actor, Cista, Store as _};
use cista_http::Limits;
use cista_http::embed::limits::EmbedLimits;
use cista_types::{FormId, OrgId, OrgName, OrgSlug, SubmissionId};
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The firm's site the benchmark's requests say they come from.
const SITE: &str = "https://www.bench-firm.example";
const FIRM: &str = "bench-firm";
const FORM: &str = "risk-profile";

pub async fn run(args: &AssessmentBenchArgs) -> Result<(), Failure> {
    let (scratch, target, label) = scratch_database(args.database_url.as_ref()).await?;
    let dir = scratch.dir.clone();
    scratch
        .run_then_remove(bench(args, &dir, &target, &label))
        .await
}

async fn bench(
    args: &AssessmentBenchArgs,
    dir: &Path,
    target: &cista_store::Target,
    label: &str,
) -> Result<(), Failure> {
    let submissions = args.submissions.max(1);
    let concurrency = args.concurrency.max(1);
    let (listener, addr, origin) = loopback_listener()?;
    let (cista, store) = open_instance(target, dir, &origin, 64, BENCH_POOL).await?;
    let (org, form) = firm(&cista).await?;

    // Every request comes from one address: the per-address and per-form limits are lifted
    // so that the benchmark measures the work, not the limiter.
    let limits = Limits {
        embed: EmbedLimits {
            per_address_per_minute: u32::MAX,
            per_form_per_minute: u32::MAX,
        },
        ..Limits::default()
    };
    let (state, ca) = loopback_state(&cista, &origin, dir, limits)?;
    let (stop, server) = spawn_server(state, listener);
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .resolve("localhost", addr)
        .build()
        .map_err(|e| Failure(e.to_string()))?;

    println!(
        "Submitting {submissions} assessments through the embed API, {concurrency} at a time ({label})…"
    );
    let started = Instant::now();
    let measured = submit_all(&client, &origin, submissions, concurrency).await;
    let wall = started.elapsed();
    let _ = stop.send(());
    let _ = server.await;
    let (mut loads, mut submits, ids) = measured?;
    loads.sort();
    submits.sort();

    let stored = store
        .intake()
        .submissions_of(org, &[form], None, u64::MAX)
        .await
        .map_err(fail("counting the results"))?
        .len();
    let commits = raw_commits(&store, args.commits, 1).await?;
    let reports = reports(&cista, org, &ids, args.reports).await?;

    let rate = submissions as f64 / wall.as_secs_f64();
    let loader = cista_http::embed::loader::LOADER;
    println!();
    println!("Cista embedded assessment benchmark — {label}");
    println!(
        "  submissions    {submissions} through GET /embed/v1 (load token) then POST …/submissions, over HTTPS, {concurrency} at a time"
    );
    println!(
        "  throughput     {rate:.1} submissions/s ({submissions} in {:.2} s, load and submit)",
        wall.as_secs_f64()
    );
    println!(
        "  submit         p50 {}   p99 {}   max {}",
        ms(percentile(&submits, 50.0)),
        ms(percentile(&submits, 99.0)),
        ms(submits.last().copied().unwrap_or_default())
    );
    println!(
        "  load           p50 {}   p99 {}",
        ms(percentile(&loads, 50.0)),
        ms(percentile(&loads, 99.0))
    );
    println!("{}", commits_line(&commits));
    println!(
        "  reports        {} reports, {} pages in {:.2} s: {:.1} pages/s (vault read, audit entry and PDF each, one at a time)",
        reports.count,
        reports.pages,
        reports.took.as_secs_f64(),
        reports.pages as f64 / reports.took.as_secs_f64().max(f64::EPSILON)
    );
    println!(
        "  loader         /widget.js {} bytes, {} bytes gzipped (limit 2,048)",
        loader.len(),
        gzipped_len(loader.as_bytes())?
    );
    println!("  check          {stored} results stored for {submissions} submissions answered");
    if stored != submissions {
        return Err(Failure(format!(
            "{stored} results stored for {submissions} submissions answered with a result"
        )));
    }
    Ok(())
}

/// The benchmark's firm and its published assessment, embeddable on `SITE`.
async fn firm(cista: &Cista) -> Result<(OrgId, FormId), Failure> {
    let operator = Actor::operator("bench");
    let org = cista
        .create_organization(
            &operator,
            OrgName::parse("Bench Advisory")?,
            OrgSlug::parse(FIRM)?,
        )
        .await?;
    let mut definition: serde_json::Value = serde_json::from_str(RISK_PROFILE)
        .map_err(|e| Failure(format!("the example assessment: {e}")))?;
    if let Some(fields) = definition.as_object_mut() {
        fields.insert(
            "embed".to_owned(),
            serde_json::json!({ "allowed_origins": [SITE] }),
        );
    }
    let form = cista
        .publish_assessment(&operator, org.id, FORM, &definition)
        .await?
        .form
        .id;
    Ok((org.id, form))
}

type Measured = (Vec<Duration>, Vec<Duration>, Vec<SubmissionId>);

/// Loads and submits `submissions` assessments, `concurrency` at a time; each must come back
/// with the client's band. Returns the loads' and the submissions' latencies and the ids.
async fn submit_all(
    client: &reqwest::Client,
    origin: &str,
    submissions: usize,
    concurrency: usize,
) -> Result<Measured, Failure> {
    let gate = Arc::new(Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..submissions {
        let (client, gate) = (client.clone(), gate.clone());
        let base = format!("{origin}/embed/v1/{FIRM}/{FORM}");
        tasks.spawn(async move {
            let _permit = gate.acquire().await;
            let began = Instant::now();
            let loaded: serde_json::Value = client
                .get(&base)
                .header("origin", SITE)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| format!("a load failed: {e}"))?
                .json()
                .await
                .map_err(|e| format!("a load's answer: {e}"))?;
            let load = began.elapsed();
            let body = serde_json::json!({
                "form": loaded.get("form"),
                "load_token": loaded.get("load_token"),
                "client": {
                    "first_name": "Bench",
                    "last_name": format!("Client {i}"),
                    "email": format!("client{i}@bench.example"),
                    "consent": true
                },
                "answers": answers(i),
            });
            let began = Instant::now();
            let shown: serde_json::Value = client
                .post(format!("{base}/submissions"))
                .header("origin", SITE)
                .json(&body)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| format!("a submission failed: {e}"))?
                .json()
                .await
                .map_err(|e| format!("a submission's answer: {e}"))?;
            let submit = began.elapsed();
            if shown
                .pointer("/band/label")
                .and_then(|l| l.as_str())
                .is_none()
            {
                return Err(format!("a submission answered without a band: {shown}"));
            }
            let id = shown
                .get("submission")
                .and_then(|s| s.as_str())
                .and_then(|s| s.parse::<i64>().ok())
                .map(SubmissionId::from_i64)
                .ok_or_else(|| format!("a submission answered without its id: {shown}"))?;
            Ok::<_, String>((load, submit, id))
        });
    }
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    while let Some(done) = tasks.join_next().await {
        let (load, submit, id) = done.map_err(|e| Failure(e.to_string()))?.map_err(Failure)?;
        out.0.push(load);
        out.1.push(submit);
        out.2.push(id);
    }
    Ok(out)
}

/// Answers that vary with `i`, so results spread over the bands.
fn answers(i: usize) -> serde_json::Value {
    let horizon = match i % 3 {
        0 => "under_3",
        1 => "from_3_to_7",
        _ => "over_7",
    };
    let drop = match i % 4 {
        0 => "sell_all",
        1 => "sell_some",
        2 => "hold",
        _ => "buy",
    };
    serde_json::json!({
        "horizon": horizon, "income": "steady", "reserve": "over_3", "age": 30 + i % 40,
        "drop": drop, "experience": "some", "goals": ["growth"], "comfort": 1 + i % 10
    })
}

struct Reports {
    count: usize,
    pages: usize,
    took: Duration,
}

/// Draws the advisor's report of the first `count` results, one after the other.
async fn reports(
    cista: &Cista,
    org: OrgId,
    ids: &[SubmissionId],
    count: usize,
) -> Result<Reports, Failure> {
    let operator = Actor::operator("bench");
    let started = Instant::now();
    let mut pages = 0;
    let chosen: Vec<&SubmissionId> = ids.iter().take(count).collect();
    for id in &chosen {
        let report = cista.assessment_report(&operator, org, **id).await?;
        let drawn = cista_report::assessment_report(&report)
            .map_err(|e| Failure(format!("a report: {e}")))?;
        pages += drawn.pages;
    }
    Ok(Reports {
        count: chosen.len(),
        pages,
        took: started.elapsed(),
    })
}

fn gzipped_len(bytes: &[u8]) -> Result<usize, Failure> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes)
        .and_then(|()| gz.finish())
        .map(|out| out.len())
        .map_err(|e| Failure(e.to_string()))
}
