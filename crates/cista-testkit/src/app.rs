//! `spawn_app`: a real HTTPS server on a free local port, with its own database and key file in
//! a temporary directory, a self-signed certificate its clients trust, and a clock the test
//! moves forward past a deadline instead of sleeping until it.

use crate::instance::cista_with_clock;
use cista_core::Cista;
use cista_http::{AppState, Limits, Listeners, TlsSettings, TlsStats};
use cista_store::Target;
use cista_types::ShiftedClock;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Starts a server with these options on SQLite; the same as [`TestServer::start`].
pub async fn spawn_app(options: Options) -> TestServer {
    TestServer::start(options).await
}

/// A running test server; [`TestServer::stop`] shuts it down gracefully and fails the test if
/// serving failed.
#[derive(Debug)]
pub struct TestServer {
    /// The HTTPS listener (127.0.0.1, a free port); clients resolve `localhost` to it.
    pub addr: SocketAddr,
    /// The plain-HTTP listener that redirects to HTTPS, when `Options::with_redirect`.
    pub redirect_addr: Option<SocketAddr>,
    /// `https://localhost:PORT`, the server's public origin (for the Origin header of forms).
    pub origin: String,
    /// The self-signed certificate (PEM), the clients' only trusted root.
    pub ca_pem: String,
    /// The bearer token `/metrics` takes, when `Options::metrics_token`.
    pub metrics_token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub state: AppState,
    /// The server's clock: real time, which a test moves forward past a deadline (a ballot's
    /// close) instead of sleeping until it.
    pub clock: Arc<ShiftedClock>,
    _dir: tempfile::TempDir,
}

/// How the test server is set up; `Options::default()` is the usual server, with sign-in limits
/// high enough that tests signing in many times are not throttled.
#[derive(Debug)]
pub struct Options {
    /// Also listen for plain HTTP, which only redirects to HTTPS.
    pub with_redirect: bool,
    /// Serve `/metrics` behind a bearer token (`TestServer::metrics_token`).
    pub metrics_token: bool,
    /// Body sizes, timeouts and concurrency.
    pub limits: Limits,
    /// Sign-in attempts per minute and the constant response time of sign-in forms.
    pub auth_limits: cista_http::web::limits::AuthLimits,
    /// What the trust page reports of the backup.
    pub backup: Arc<dyn cista_http::BackupProbe>,
    /// A tile server under the records map (listed on the trust page, as `serve` does).
    pub map_tiles: Option<cista_http::MapTiles>,
    /// More third parties for the trust page (what `serve` derives from its configuration).
    pub third_parties: Vec<cista_http::ThirdParty>,
    /// The `/.well-known/security.txt` to serve, if any.
    pub disclosure: Option<cista_http::disclosure::SecurityTxt>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            with_redirect: false,
            metrics_token: true,
            limits: Limits::default(),
            auth_limits: cista_http::web::limits::AuthLimits {
                per_minute: 1000,
                response_floor: Duration::from_millis(50),
            },
            backup: Arc::new(cista_http::NoBackup),
            map_tiles: None,
            third_parties: Vec::new(),
            disclosure: None,
        }
    }
}

/// A self-signed certificate for localhost, as the client's only trusted root.
fn certificate() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// The shared state of a server for `cista` (what `serve` is given), with its uploads in
/// `blobs_dir`; for tests that drive the router in process.
pub fn state_for(
    cista: Cista,
    tls: TlsSettings,
    origin: &str,
    options: &Options,
    blobs_dir: &std::path::Path,
) -> AppState {
    AppState::new(cista_http::Shared {
        cista,
        public_origin: Arc::from(origin),
        tls: Arc::new(tls),
        tls_stats: Arc::new(TlsStats::default()),
        http_redirect: options.with_redirect,
        metrics_token: options
            .metrics_token
            .then(|| Arc::from("test-metrics-token")),
        limits: options.limits.clone(),
        auth_limiter: cista_http::web::limits::AuthLimiter::new(options.auth_limits.clone()),
        demo: None,
        checkpoint_interval: Duration::from_secs(60),
        messaging: Arc::from(vec![cista_http::MessagingLine {
            channel: "Email".to_owned(),
            public: "test".to_owned(),
            staff: "test".to_owned(),
        }]),
        third_parties: options
            .third_parties
            .iter()
            .cloned()
            .chain(
                options
                    .map_tiles
                    .iter()
                    .map(cista_http::MapTiles::third_party),
            )
            .collect(),
        disclosure: options.disclosure.clone(),
        backup: options.backup.clone(),
        map_tiles: options.map_tiles.clone(),
        blobs: Arc::new(
            cista_backup::blobs::ObjectBlobStore::open(&cista_backup::TargetSpec::Local(
                blobs_dir.to_owned(),
            ))
            .unwrap(),
        ),
    })
}

impl TestServer {
    /// A server on a fresh SQLite database in a temporary directory.
    pub async fn start(options: Options) -> Self {
        Self::start_on(options, None).await
    }

    /// A server on this database (None: SQLite in a temporary directory).
    pub async fn start_on(options: Options, target: Option<Target>) -> Self {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        cista_http::ops::metrics::handle();
        let dir = tempfile::tempdir().unwrap();
        let target = target.unwrap_or_else(|| Target::SqliteFile(dir.path().join("cista.db")));
        let clock = Arc::new(ShiftedClock::new());
        let cista = cista_with_clock(dir.path(), target, clock.clone()).await;
        let (cert, key) = certificate();
        let tls = TlsSettings::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
        let https = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = https.local_addr().unwrap();
        let redirect = options
            .with_redirect
            .then(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap());
        let redirect_addr = redirect.as_ref().map(|l| l.local_addr().unwrap());
        let origin = format!("https://localhost:{}", addr.port());
        let state = state_for(cista, tls, &origin, &options, &dir.path().join("blobs"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(cista_http::serve(
            state.clone(),
            Listeners {
                https,
                http_redirect: redirect,
            },
            async {
                let _ = stopped.await;
            },
            Duration::from_secs(5),
        ));
        Self {
            addr,
            redirect_addr,
            origin,
            ca_pem: cert,
            metrics_token: "test-metrics-token".to_owned(),
            stop: Some(stop),
            task: Some(task),
            state,
            clock,
            _dir: dir,
        }
    }

    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap()])
            .resolve("localhost", self.addr)
            .redirect(reqwest::redirect::Policy::none())
    }

    pub fn client(&self) -> reqwest::Client {
        self.client_builder().build().unwrap()
    }

    /// A client that keeps cookies, like a browser.
    pub fn browser(&self) -> reqwest::Client {
        self.client_builder().cookie_store(true).build().unwrap()
    }

    /// The server's own data directory (its database and key file live here).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

/// Runs `test` on a private schema of the PostgreSQL test server, then drops the schema; does
/// nothing (after saying so) when no server is configured and none is required.
pub async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(Target) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(schema) = crate::postgres::PrivateSchema::create().await else {
        return;
    };
    test(Target::parse(&schema.url()).unwrap()).await;
    schema.drop_now().await;
}
