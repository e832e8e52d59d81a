//! Cista's HTTPS surfaces. Only this crate knows axum: a handler extracts, calls one core
//! function and renders. Each surface is a folder with its own policy stack, chosen by path:
//!
//! - `web/`: the pages people use in a browser (cookie sessions, CSRF tokens and the Origin
//!   check, error pages, `frame-ancestors 'none'`); every path no other surface claims;
//! - `api/`: the JSON API under `/api/` (bearer app tokens only, no cookies and so no CSRF,
//!   JSON errors, per-route body limits, the OpenAPI document);
//! - `ops/`: `/healthz`, `/readyz`, `/metrics` for load balancers and monitoring;
//! - `embed/`: the embeddable widget's loader, page and JSON calls (no cookies, a per-form
//!   site allow-list driving `frame-ancestors`, CORS and the Origin check, a signed
//!   single-use load token instead of session and CSRF token).
//!
//! What they share: request ids, logs, metrics and security headers (`middleware`), the one
//! place where core errors become HTTP statuses and codes (`error`), the trust report
//! (`trust`), and TLS serving (`tls`, `server`, `redirect`).

pub mod api;
mod body;
pub mod demo_receiver;
pub mod demo_site;
pub mod disclosure;
pub mod embed;
pub mod error;
mod fields;
pub mod map_tiles;
pub mod middleware;
pub mod ops;
pub mod redirect;
pub mod server;
mod shed;
pub mod tls;
pub mod trust;
pub mod web;

use axum::Router;
use cista_core::Cista;
use std::sync::Arc;
use std::time::Duration;

pub use map_tiles::MapTiles;
pub use server::{Listeners, serve};
pub use tls::{TlsSettings, TlsStats};

/// What a demo instance shows: its organizations in words, and the folder its "sent" messages
/// go to.
#[derive(Debug, Clone)]
pub struct DemoInfo {
    pub organization: String,
    /// The local outbox, served at `/demo/outbox`.
    pub outbox_dir: Option<std::path::PathBuf>,
    /// The demo's webhook receiver, at `/demo/webhook-receiver` and `/demo/webhooks`.
    pub webhooks: Option<Arc<demo_receiver::DemoReceiver>>,
}

/// Requests handled at once unless configured otherwise: far above what two cores finish in
/// a request's lifetime at full speed, far below what would exhaust memory.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 512;

/// Limits applied to every request.
#[derive(Debug, Clone)]
pub struct Limits {
    pub body_bytes: usize,
    pub request_timeout: Duration,
    /// The embed surface's rate limits.
    pub embed: embed::limits::EmbedLimits,
    /// Requests handled at once; one more is refused at once with 503 and `Retry-After`
    /// (load shedding, see `shed`), so an overload cannot queue without bound.
    pub max_in_flight: usize,
    /// Pages of election bundles (`/e/BALLOT/bundle.json`, 2,000 ballots a page) read and
    /// opened at once. A download reads and opens a whole ballot box (a million ballots:
    /// seconds of a core), and the route is public; so downloads take turns a page at a time
    /// rather than take every core. Default: half the cores, at least one.
    pub bundle_readers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            embed: embed::limits::EmbedLimits::default(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            bundle_readers: std::thread::available_parallelism()
                .map_or(1, |cores| cores.get() / 2)
                .max(1),
        }
    }
}

/// Everything a handler may need: one `Arc`, so cloning it per request and per layer is one
/// reference count.
#[derive(Debug, Clone)]
pub struct AppState {
    shared: Arc<Shared>,
    /// One permit per request being handled (`Limits::max_in_flight`).
    pub(crate) in_flight: Arc<tokio::sync::Semaphore>,
    /// One permit per page of an election bundle being read (`Limits::bundle_readers`).
    pub(crate) bundle_readers: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        let permits = shared
            .limits
            .max_in_flight
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        let bundles = shared
            .limits
            .bundle_readers
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        Self {
            shared: Arc::new(shared),
            in_flight: Arc::new(tokio::sync::Semaphore::new(permits)),
            bundle_readers: Arc::new(tokio::sync::Semaphore::new(bundles)),
        }
    }

    /// One permit per request being handled (`Limits::max_in_flight`): what the load
    /// shedding counts, and what a test holds to stand for requests in flight.
    pub fn in_flight(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.in_flight
    }

    /// One permit per page of an election bundle being read (`Limits::bundle_readers`).
    pub fn bundle_readers(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.bundle_readers
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// What every handler of every surface may read (see `AppState`).
#[derive(Debug)]
pub struct Shared {
    pub cista: Cista,
    /// The origin browsers see, e.g. `https://localhost:8443`; used for the CSRF origin
    /// check and redirects, never taken from the request's Host header.
    pub public_origin: Arc<str>,
    pub tls: Arc<TlsSettings>,
    pub tls_stats: Arc<TlsStats>,
    /// Whether a plain-HTTP listener redirects to HTTPS (shown on the trust page).
    pub http_redirect: bool,
    /// Bearer token that unlocks `/metrics`; without one, `/metrics` is not served.
    pub metrics_token: Option<Arc<str>>,
    pub limits: Limits,
    pub auth_limiter: Arc<web::limits::AuthLimiter>,
    pub demo: Option<DemoInfo>,
    pub checkpoint_interval: Duration,
    /// How email and SMS leave this instance (for the trust page).
    pub messaging: Arc<[MessagingLine]>,
    /// What the backup is doing right now (for the trust page).
    pub backup: Arc<dyn BackupProbe>,
    /// Where attachments' bytes go (sealed by the core before they get there).
    pub blobs: Arc<dyn cista_core::ports::BlobStore>,
    /// The tile server under the records map; `None` (the default): a plain grid.
    pub map_tiles: Option<MapTiles>,
    /// Every external service this instance's configuration sends data to (the trust page's
    /// third parties; webhook receivers are added live from the database).
    pub third_parties: Arc<[ThirdParty]>,
    /// The `/.well-known/security.txt` the `[disclosure]` section describes; `None`: not
    /// configured (the file answers 404 and the trust page says so).
    pub disclosure: Option<disclosure::SecurityTxt>,
}

/// One external service that receives data from this instance, as the trust page lists it
/// (`/security/third-parties`, `third_parties` in `/api/v1/trust`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ThirdParty {
    /// What kind of service: `Email relay (SMTP)`, `Map tiles`, ….
    pub service: String,
    /// Who, for everyone: a host name, or a phrase when the address is for staff only.
    pub public_endpoint: String,
    /// Who, for staff: the host and port (never a password or a path).
    pub endpoint: String,
    /// What it receives, and what it never does.
    pub receives: String,
    /// The configuration keys that send data there (`email.smtp_host`).
    pub settings: Vec<String>,
}

/// One way messages leave this instance, as the trust page shows it.
#[derive(Debug, Clone)]
pub struct MessagingLine {
    /// `Email`, `SMS`.
    pub channel: String,
    /// For everyone: the processor and how it is reached, no server paths.
    pub public: String,
    /// For staff: everything (an outbox folder's path, say).
    pub staff: String,
}

/// The trust page's backup line, filled in by whatever runs the backup (the binary's
/// shipper on SQLite, pgBackRest's state on PostgreSQL). The public sees `ok`, `summary` and
/// `notices`: facts without paths, ids or error text; staff also see the rest.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BackupLine {
    /// Shipping keeps up and nothing has failed for longer than the configured bound.
    pub ok: bool,
    /// For everyone: running or failing, and the lag.
    pub summary: String,
    /// For staff: the summary with the target and any error verbatim (empty: as `summary`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub staff_summary: String,
    /// For staff: target, method, lineage, snapshots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<(String, String)>,
    /// Neutral facts for everyone (the clock was set back; restores are unaffected).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
}

impl BackupLine {
    /// What a visitor who is not staff may see.
    pub fn public(self) -> Self {
        Self {
            staff_summary: String::new(),
            details: Vec::new(),
            ..self
        }
    }

    /// The summary for staff.
    pub fn staff_summary(&self) -> &str {
        if self.staff_summary.is_empty() {
            &self.summary
        } else {
            &self.staff_summary
        }
    }
}

pub trait BackupProbe: Send + Sync + std::fmt::Debug {
    fn line(&self) -> BackupLine;
}

/// No backup is configured: said plainly, in red.
#[derive(Debug, Default)]
pub struct NoBackup;

impl BackupProbe for NoBackup {
    fn line(&self) -> BackupLine {
        BackupLine {
            ok: false,
            summary: "not configured".to_owned(),
            staff_summary: "not configured: set backup.target (a directory or s3://bucket/prefix)"
                .to_owned(),
            ..BackupLine::default()
        }
    }
}

/// The demo's webhook receiver in the operational endpoints' stack (no cookies, no CSRF:
/// a webhook's signature authenticates it); nothing outside the demo.
fn demo_receiver_surface(state: &AppState) -> Router<AppState> {
    if state.demo.as_ref().is_none_or(|d| d.webhooks.is_none()) {
        return Router::new();
    }
    let routes = Router::new().route(
        "/demo/webhook-receiver",
        axum::routing::post(demo_receiver::receive),
    );
    let routes = middleware::guarded(routes, state).layer(axum::middleware::from_fn_with_state(
        state.clone(),
        middleware::render_json_errors,
    ));
    middleware::common(routes, state)
}

/// The application: each surface in its own stack. `/api/…` is the API's (its own 404s
/// included), the operational endpoints are `ops`', and every other path is the web's.
pub fn app(state: AppState) -> Router {
    Router::new()
        .nest("/api", api::surface(&state))
        .merge(ops::surface(&state))
        .merge(demo_receiver_surface(&state))
        .merge(embed::surface(&state))
        .merge(web::surface(&state))
        .with_state(state)
}
