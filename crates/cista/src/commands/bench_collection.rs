//! `cista bench collection`: how fast collectors' phones send records through the real JSON
//! API, next to the raw durable commit rate of the same database in the same run. It builds a
//! throw-away instance with a published record form and `--concurrency` collectors, pairs a
//! phone for each through `POST /api/v1/devices/pair` (a device token each), then sends
//! `--records` records as Cista Collect does (`POST /api/v1/forms/{form}/submissions` with a
//! UUID idempotency key), first without a photo, then each with a 2 MB photo uploaded after
//! it (`PUT /api/v1/submissions/{id}/files/p1`, with its `Content-Digest`); and last uploads
//! 20 photos of 20 MB at once while it samples the process's resident memory, which must stay
//! bounded (uploads stream into the blob store).

use super::bench::{
    BENCH_POOL, loopback_listener, loopback_state, ms, open_instance, percentile, scratch_database,
    spawn_server,
};
use super::bench_commits::{commits_line, raw_commits};
use crate::cli::CollectionBenchArgs;
use crate::runtime::Failure;
use base64::Engine as _;
use cista_core::platform::access::invitations::Invitee;
use cista_core::platform::intake::FormProduct;
use cista_core::products::collection::DeviceRequest;
use cista_core::products::collection::ReviewState;
use cista_core::products::collection::records::RecordFilter;
use cista_core::{Actor, Cista, Store as _};
use cista_crypto::Digest32;
use cista_http::Limits;
use cista_store::SeaStore;
use cista_types::{Email, FormId, OrgId, OrgName, OrgSlug, OsRng, PersonName, Rng as _, Role};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// A megabyte as the figures count it (10^6 bytes).
const MB: usize = 1_000_000;
/// The photo each record of the second run carries.
const PHOTO_BYTES: usize = 2 * MB;
/// The issue's goal for records without a photo, on the 2-core machine.
const GOAL_PER_SECOND: f64 = 250.0;
const GOAL_P99: Duration = Duration::from_millis(200);

/// The benchmark's form: the demo's Stream survey with one photo of up to 20 MiB (the API's
/// limit), in the record form file format (`docs/collection.md`).
const SURVEY: &str = r#"{
  "title": "Bench survey",
  "fields": [
    { "id": "site", "label": "Site name", "kind": "text", "required": true, "max_length": 80 },
    { "id": "clarity", "label": "Water clarity", "kind": "select_one", "required": true,
      "choices": [ { "id": "clear", "label": "Clear" }, { "id": "cloudy", "label": "Cloudy" },
                   { "id": "murky", "label": "Murky" } ] },
    { "id": "temperature_c", "label": "Water temperature (°C)", "kind": "number", "min": -2, "max": 40 },
    { "id": "where", "label": "Where you stand", "kind": "geopoint", "required": true },
    { "id": "photos", "label": "Photo", "kind": "photos", "max": 1, "max_bytes": 20971520 },
    { "id": "notes", "label": "Notes", "kind": "text", "max_length": 1000 }
  ]
}"#;

pub async fn run(args: &CollectionBenchArgs) -> Result<(), Failure> {
    let (scratch, target, label) = scratch_database(args.database_url.as_ref()).await?;
    let dir = scratch.dir.clone();
    scratch
        .run_then_remove(bench(args, &dir, &target, &label))
        .await
}

/// The phones: one HTTPS client, the server's origin, the form's id and a device token per
/// collector.
struct Phones {
    client: reqwest::Client,
    origin: String,
    form: String,
    tokens: Vec<String>,
}

/// A photo to upload: its bytes and its `Content-Digest` field.
#[derive(Clone)]
struct Photo {
    bytes: bytes::Bytes,
    digest: String,
}

impl Photo {
    fn new(bytes: Vec<u8>) -> Self {
        let sha256 = Digest32::sha256(&[&bytes]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(sha256.as_bytes());
        Self {
            bytes: bytes.into(),
            digest: format!("sha-256=:{b64}:"),
        }
    }
}

/// What one run measured: wall time, each success's latency (sorted), how many were sent,
/// the bytes of photos sent, and the first refusals.
struct Run {
    wall: Duration,
    latencies: Vec<Duration>,
    sent: usize,
    bytes: usize,
    failures: Vec<String>,
}

impl Run {
    fn ok(&self) -> usize {
        self.latencies.len()
    }

    fn rate(&self) -> f64 {
        self.ok() as f64 / self.wall.as_secs_f64().max(f64::EPSILON)
    }

    fn megabytes_per_second(&self) -> f64 {
        self.bytes as f64 / MB as f64 / self.wall.as_secs_f64().max(f64::EPSILON)
    }

    fn summary(&self) -> String {
        format!(
            "p50 {}   p99 {}   max {}   success {}/{} ({:.1} %)",
            ms(percentile(&self.latencies, 50.0)),
            ms(percentile(&self.latencies, 99.0)),
            ms(self.latencies.last().copied().unwrap_or_default()),
            self.ok(),
            self.sent,
            100.0 * self.ok() as f64 / self.sent.max(1) as f64
        )
    }
}

/// The memory figure: the process's peak resident set while the large photos went up, and
/// what it was just before.
struct Memory {
    run: Run,
    before_kib: u64,
    peak_kib: u64,
}

async fn bench(
    args: &CollectionBenchArgs,
    dir: &Path,
    target: &cista_store::Target,
    label: &str,
) -> Result<(), Failure> {
    let records = args.records.max(1);
    let concurrency = args.concurrency.max(1);
    let (listener, addr, origin) = loopback_listener()?;
    let (cista, store) = open_instance(target, dir, &origin, 64, BENCH_POOL).await?;
    println!("Setting up a record form and {concurrency} collectors ({label})…");
    let (org, form) = project(&cista).await?;
    let codes = pairing_codes(&cista, org, concurrency).await?;
    let (state, ca) = loopback_state(&cista, &origin, dir, Limits::default())?;
    let (stop, server) = spawn_server(state, listener);
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .resolve("localhost", addr)
        .build()
        .map_err(|e| Failure(e.to_string()))?;
    let measured = async {
        let phones = Arc::new(pair(client, &origin, form, codes).await?);
        println!("Sending {records} records without a photo, {concurrency} at a time…");
        let bare = run_records(&phones, records, concurrency, None).await;
        println!("Sending {records} records with a 2 MB photo each, {concurrency} at a time…");
        let photo = Photo::new(photo_bytes(PHOTO_BYTES)?);
        let photos = run_records(&phones, records, concurrency, Some(photo)).await;
        let large = args.large_photos.max(1);
        let size = args.large_photo_mb.clamp(1, 20) * MB;
        println!("Uploading {large} photos of {} MB at once…", size / MB);
        let memory = large_uploads(&phones, large, size).await?;
        Ok::<_, Failure>((bare, photos, memory))
    }
    .await;
    let _ = stop.send(());
    let _ = server.await;
    let (bare, photos, memory) = measured?;
    let commits = raw_commits(&store, args.commits, 1).await?;
    let (stored, attached) = stored(&store, org, form).await?;
    let listing = list_matching_none(&cista, org).await?;
    let expected = (
        bare.ok() + photos.ok() + memory.run.sent,
        photos.ok() + memory.run.ok(),
    );

    println!();
    println!("Cista field data collection benchmark — {label}");
    println!(
        "  phones         {concurrency} collectors, a device token each (paired over the API), sending {concurrency} at a time over HTTPS"
    );
    println!(
        "  no photo       {:.1} records/s ({} in {:.2} s)   {}",
        bare.rate(),
        bare.ok(),
        bare.wall.as_secs_f64(),
        bare.summary()
    );
    println!(
        "  2 MB photo     {:.1} records/s, {:.1} MB/s ({} records, then each one's photo, in {:.2} s)   {}",
        photos.rate(),
        photos.megabytes_per_second(),
        photos.ok(),
        photos.wall.as_secs_f64(),
        photos.summary()
    );
    println!("{}", commits_line(&commits));
    println!(
        "  records list   a filter matching none of the {stored} records (every page read): median {}, fastest {} ({LIST_RUNS} runs)",
        ms(percentile(&listing, 50.0)),
        ms(listing.first().copied().unwrap_or_default())
    );
    print_memory(&memory, size_label(args));
    let met = bare.rate() >= GOAL_PER_SECOND
        && percentile(&bare.latencies, 99.0) <= GOAL_P99
        && bare.ok() == bare.sent;
    println!(
        "  goal           {GOAL_PER_SECOND} records/s with p99 ≤ {} and 100 % success, without a photo: {}",
        ms(GOAL_P99),
        if met { "met" } else { "not met" }
    );
    println!(
        "  check          {stored} records and {attached} photos stored for {} records and {} photos answered 201",
        expected.0, expected.1
    );
    for failure in bare
        .failures
        .iter()
        .chain(&photos.failures)
        .chain(&memory.run.failures)
    {
        println!("  refused        {failure}");
    }
    let all = bare.sent + photos.sent + memory.run.sent;
    let ok = bare.ok() + photos.ok() + memory.run.ok();
    if ok != all || (stored, attached) != expected {
        return Err(Failure(format!(
            "{ok} of {all} requests succeeded; {stored} records and {attached} photos stored"
        )));
    }
    Ok(())
}

/// How many times the records list is read for its figure.
const LIST_RUNS: usize = 5;

/// How long a reviewer's records list takes, `LIST_RUNS` times, sorted, when its filter
/// (rejected records) matches none of the records: every page of the history is read, its
/// payloads opened and its records' review states looked up.
async fn list_matching_none(cista: &Cista, org: OrgId) -> Result<Vec<Duration>, Failure> {
    let filter = RecordFilter {
        state: Some(ReviewState::Rejected),
        ..RecordFilter::default()
    };
    let mut took = Vec::with_capacity(LIST_RUNS);
    for _ in 0..LIST_RUNS {
        let began = Instant::now();
        let rows = cista
            .records(&Actor::operator("bench"), org, &filter)
            .await?;
        took.push(began.elapsed());
        if !rows.is_empty() {
            return Err(Failure(format!(
                "{} records listed as rejected",
                rows.len()
            )));
        }
    }
    took.sort();
    Ok(took)
}

fn size_label(args: &CollectionBenchArgs) -> String {
    format!(
        "{} photos of {} MB",
        args.large_photos.max(1),
        args.large_photo_mb.clamp(1, 20)
    )
}

fn print_memory(memory: &Memory, what: String) {
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "  large photos   {what} at once: {:.2} s, {:.1} MB/s   {}",
        memory.run.wall.as_secs_f64(),
        memory.run.megabytes_per_second(),
        memory.run.summary()
    );
    println!(
        "  peak RSS       {:.1} MiB while they went up ({:.1} MiB before, +{:.1} MiB); server and phones are one process, the phones sending from one shared buffer",
        mib(memory.peak_kib),
        mib(memory.before_kib),
        mib(memory.peak_kib.saturating_sub(memory.before_kib))
    );
}

/// The benchmark's project and its published form.
async fn project(cista: &Cista) -> Result<(OrgId, FormId), Failure> {
    let operator = Actor::operator("bench");
    let org = cista
        .create_organization(
            &operator,
            OrgName::parse("Bench Field Survey")?,
            OrgSlug::parse("bench-field")?,
        )
        .await?
        .id;
    let definition: serde_json::Value = serde_json::from_str(SURVEY)
        .map_err(|e| Failure(format!("the benchmark's record form: {e}")))?;
    let form = cista
        .publish_form(
            &operator,
            org,
            FormProduct::Collection,
            "bench-survey",
            &definition,
        )
        .await?;
    Ok((org, form.id))
}

/// Invites `count` collectors and issues a phone for each: the pairing codes their QR codes
/// would show.
async fn pairing_codes(cista: &Cista, org: OrgId, count: usize) -> Result<Vec<String>, Failure> {
    let operator = Actor::operator("bench");
    let mut codes = Vec::with_capacity(count);
    for i in 0..count {
        let invited = cista
            .invite(
                &operator,
                org,
                Invitee {
                    first_name: PersonName::parse("Bench")?,
                    last_name: PersonName::parse(&format!("Collector {i}"))?,
                    email: Email::parse(&format!("collector{i}@bench.example"))?,
                    phone: None,
                    role: Role::Collector,
                },
            )
            .await?;
        let issued = cista
            .issue_device(
                &operator,
                org,
                &DeviceRequest::for_collector(invited.subject),
            )
            .await?;
        codes.push(issued.code.expose().to_owned());
    }
    Ok(codes)
}

/// Pairs a phone for each code through the API, and finds the form as the app does
/// (`GET /api/v1/forms`).
async fn pair(
    client: reqwest::Client,
    origin: &str,
    form: FormId,
    codes: Vec<String>,
) -> Result<Phones, Failure> {
    let mut tokens = Vec::with_capacity(codes.len());
    for (i, code) in codes.into_iter().enumerate() {
        let paired: serde_json::Value = client
            .post(format!("{origin}/api/v1/devices/pair"))
            .json(&serde_json::json!({ "code": code, "device_name": format!("Bench phone {i}") }))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| Failure(format!("pairing a phone: {e}")))?
            .json()
            .await
            .map_err(|e| Failure(format!("pairing a phone: {e}")))?;
        let token = paired.get("token").and_then(|t| t.as_str());
        tokens.push(
            token
                .ok_or_else(|| Failure(format!("pairing answered without a token: {paired}")))?
                .to_owned(),
        );
    }
    let first = tokens.first().map(String::as_str).unwrap_or_default();
    let listed: serde_json::Value = client
        .get(format!("{origin}/api/v1/forms"))
        .bearer_auth(first)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| Failure(format!("listing the forms: {e}")))?
        .json()
        .await
        .map_err(|e| Failure(format!("listing the forms: {e}")))?;
    let wanted = form.as_i64().to_string();
    let found = listed.as_array().is_some_and(|forms| {
        forms
            .iter()
            .any(|f| f.get("form").and_then(|v| v.as_str()) == Some(wanted.as_str()))
    });
    if !found {
        return Err(Failure(format!("the phones do not see the form: {listed}")));
    }
    Ok(Phones {
        client,
        origin: origin.to_owned(),
        form: wanted,
        tokens,
    })
}

/// A version 4 UUID, as the app makes one per record for its idempotency key.
fn uuid() -> String {
    let mut b = [0u8; 16];
    OsRng.fill(&mut b);
    let hex: String = b
        .iter()
        .enumerate()
        .map(|(i, byte)| match i {
            6 => format!("{:02x}", 0x40 | (byte & 0x0f)),
            8 => format!("{:02x}", 0x80 | (byte & 0x3f)),
            _ => format!("{byte:02x}"),
        })
        .collect();
    let part = |from: usize, to: usize| hex.get(from..to).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        part(0, 8),
        part(8, 12),
        part(12, 16),
        part(16, 20),
        part(20, 32)
    )
}

/// The answers of record `i`, naming its photo when it has one.
fn answers(i: usize, photo: bool) -> serde_json::Value {
    let clarity = ["clear", "cloudy", "murky"];
    let mut answers = serde_json::json!({
        "site": format!("Bench site {}", i % 97),
        "clarity": clarity.get(i % 3).copied().unwrap_or("clear"),
        "temperature_c": 8.0 + (i % 20) as f64 * 0.5,
        "where": {
            "latitude": 45.45 + (i % 1000) as f64 * 0.0001,
            "longitude": -122.67 + (i % 37) as f64 * 0.0002,
            "accuracy_m": 3.0 + (i % 9) as f64
        },
        "notes": "Water level normal; a heron on the far bank."
    });
    if photo && let Some(fields) = answers.as_object_mut() {
        fields.insert("photos".to_owned(), serde_json::json!(["p1"]));
    }
    answers
}

impl Phones {
    fn token(&self, i: usize) -> &str {
        let n = self.tokens.len().max(1);
        self.tokens
            .get(i % n)
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// Sends record `i` and returns its submission id; anything but `201` is a failure.
    async fn create(&self, i: usize, photo: bool) -> Result<String, String> {
        let r = self
            .client
            .post(format!(
                "{}/api/v1/forms/{}/submissions",
                self.origin, self.form
            ))
            .bearer_auth(self.token(i))
            .json(&serde_json::json!({ "idempotency_key": uuid(), "payload": answers(i, photo) }))
            .send()
            .await
            .map_err(|e| format!("record {i}: {e}"))?;
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        match body.get("submission").and_then(|s| s.as_str()) {
            Some(id) if status == 201 => Ok(id.to_owned()),
            _ => Err(format!("record {i}: {status} {body}")),
        }
    }

    /// Uploads the photo of record `i` (submission `id`); anything but `201` is a failure.
    async fn upload(&self, i: usize, id: &str, photo: &Photo) -> Result<(), String> {
        let r = self
            .client
            .put(format!("{}/api/v1/submissions/{id}/files/p1", self.origin))
            .bearer_auth(self.token(i))
            .header("content-type", "image/jpeg")
            .header("content-digest", photo.digest.as_str())
            .body(photo.bytes.clone())
            .send()
            .await
            .map_err(|e| format!("photo of record {i}: {e}"))?;
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        if status != 201 {
            return Err(format!("photo of record {i}: {status} {body}"));
        }
        Ok(())
    }
}

/// Sends `count` records, `concurrency` at a time, each followed by its own copy of `photo`
/// (the last 8 bytes made the record's, so no two photos are the same) when there is one.
async fn run_records(
    phones: &Arc<Phones>,
    count: usize,
    concurrency: usize,
    photo: Option<Photo>,
) -> Run {
    let bytes_each = photo.as_ref().map_or(0, |p| p.bytes.len());
    let photo = photo.map(|p| p.bytes);
    let phones = phones.clone();
    let mut run = drive(count, concurrency, move |i| {
        let (phones, photo) = (phones.clone(), photo.clone());
        async move {
            let mine = photo.map(|base| {
                let mut bytes = base.to_vec();
                let at = bytes.len().saturating_sub(8);
                let mark = (i as u64).to_le_bytes();
                for (byte, m) in bytes.iter_mut().skip(at).zip(mark) {
                    *byte = m;
                }
                Photo::new(bytes)
            });
            let began = Instant::now();
            let id = phones.create(i, mine.is_some()).await?;
            if let Some(photo) = &mine {
                phones.upload(i, &id, photo).await?;
            }
            Ok(began.elapsed())
        }
    })
    .await;
    run.bytes = bytes_each * run.ok();
    run
}

/// Runs `job(0..count)`, `concurrency` at a time, timing the whole.
async fn drive<F, Fut>(count: usize, concurrency: usize, job: F) -> Run
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<Duration, String>> + Send + 'static,
{
    let gate = Arc::new(Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for i in 0..count {
        let (gate, work) = (gate.clone(), job(i));
        tasks.spawn(async move {
            let _permit = gate.acquire().await;
            work.await
        });
    }
    let mut run = Run {
        wall: Duration::ZERO,
        latencies: Vec::with_capacity(count),
        sent: count,
        bytes: 0,
        failures: Vec::new(),
    };
    while let Some(done) = tasks.join_next().await {
        match done.map_err(|e| e.to_string()).and_then(|r| r) {
            Ok(took) => run.latencies.push(took),
            Err(e) if run.failures.len() < 5 => run.failures.push(e),
            Err(_) => {}
        }
    }
    run.wall = started.elapsed();
    run.latencies.sort();
    run
}

/// `count` records, then all their photos of `size` bytes at once (the same bytes: the
/// phones hold one buffer, so what the process gains is the server's), while a thread samples
/// the resident set.
async fn large_uploads(phones: &Arc<Phones>, count: usize, size: usize) -> Result<Memory, Failure> {
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        ids.push(phones.create(i, true).await.map_err(Failure)?);
    }
    let photo = Arc::new(Photo::new(photo_bytes(size)?));
    let ids = Arc::new(ids);
    // Freed memory of the earlier runs is handed back before the baseline is read.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let watch = RssWatch::start();
    let before_kib = watch.before_kib;
    let phones = phones.clone();
    let mut run = drive(count, count, move |i| {
        let (phones, ids, photo) = (phones.clone(), ids.clone(), photo.clone());
        async move {
            let id = ids.get(i).cloned().unwrap_or_default();
            let began = Instant::now();
            phones.upload(i, &id, &photo).await?;
            Ok(began.elapsed())
        }
    })
    .await;
    let peak_kib = watch.finish();
    run.bytes = size * run.ok();
    Ok(Memory {
        run,
        before_kib,
        peak_kib,
    })
}

/// A photo of `size` bytes: a real JPEG, then bytes that do not compress, as a camera's are.
fn photo_bytes(size: usize) -> Result<Vec<u8>, Failure> {
    let mut bytes = cista_core::products::collection::media::sample_photo(64, 48, 1, 7)?;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while bytes.len() < size {
        // xorshift64: cheap noise.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(size);
    Ok(bytes)
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`), where there is one (Linux).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Samples the resident set every 2 ms from a thread of its own, from before the uploads to
/// after them; the peak is also read from `VmHWM` when the kernel let it be reset first.
struct RssWatch {
    before_kib: u64,
    hwm_reset: bool,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl RssWatch {
    fn start() -> Self {
        // Writing 5 to clear_refs resets the peak resident set (proc(5)).
        let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let before_kib = status_kib("VmRSS:").unwrap_or(0);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            loop {
                peak = peak.max(status_kib("VmRSS:").unwrap_or(0));
                if stopping.load(Ordering::Relaxed) {
                    return peak;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        Self {
            before_kib,
            hwm_reset,
            stop,
            thread,
        }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let sampled = self.thread.join().unwrap_or(0);
        let hwm = if self.hwm_reset {
            status_kib("VmHWM:").unwrap_or(0)
        } else {
            0
        };
        sampled.max(hwm)
    }
}

/// The records and photos stored in the benchmark's project.
async fn stored(store: &SeaStore, org: OrgId, form: FormId) -> Result<(usize, usize), Failure> {
    let intake = store.intake();
    let records = intake.submissions_of(org, &[form], None, u64::MAX).await?;
    let mut photos = 0;
    for record in &records {
        photos += intake.attachments(record.id).await?.len();
    }
    Ok((records.len(), photos))
}
