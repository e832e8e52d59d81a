//! HTTP tests: a real HTTPS server on a free port with its own database, driven by a real
//! client; and the middleware in process for the failure paths (panics, timeouts).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod access;
mod errors;
mod headers;
mod server;
mod trust;

use cista_core::{Actor, Cista, Deps};
use cista_crypto::LocalKeyFile;
use cista_http::{AppState, Limits, Listeners, TlsSettings, TlsStats};
use cista_store::{ConnectOptions, SeaStore, SeaVault, Target};
use cista_types::{OrgName, OrgSlug, OsRng, SystemClock};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A running test server.
#[derive(Debug)]
pub struct TestServer {
    pub addr: SocketAddr,
    pub redirect_addr: Option<SocketAddr>,
    pub origin: String,
    pub ca_pem: String,
    pub metrics_token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub state: AppState,
    _dir: tempfile::TempDir,
}

#[derive(Debug)]
pub struct Options {
    pub with_redirect: bool,
    pub metrics_token: bool,
    pub limits: Limits,
    pub auth_limits: cista_http::limits::AuthLimits,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            with_redirect: false,
            metrics_token: true,
            limits: Limits::default(),
            auth_limits: cista_http::limits::AuthLimits {
                per_minute: 1000,
                response_floor: Duration::from_millis(50),
            },
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

pub async fn cista_in(dir: &std::path::Path) -> Cista {
    let store = SeaStore::connect_and_migrate(
        &Target::SqliteFile(dir.join("cista.db")),
        &ConnectOptions::default(),
    )
    .await
    .unwrap();
    let keys = LocalKeyFile::create(
        &dir.join("k.kek"),
        &OsRng,
        cista_types::Clock::now(&SystemClock),
    )
    .unwrap();
    let vault = SeaVault::on(&store);
    vault.migrate().await.unwrap();
    let deps = Deps {
        store: Arc::new(store),
        vault: Arc::new(vault),
        keys: Arc::new(keys),
        clock: Arc::new(SystemClock),
        rng: Arc::new(OsRng),
        settings: cista_core::AccessSettings::default(),
    };
    let (cista, _) = Cista::open_or_initialize(deps, &Actor::operator("test"), None)
        .await
        .unwrap();
    cista
        .create_organization(
            &Actor::operator("test"),
            OrgName::parse("Palm Court").unwrap(),
            OrgSlug::parse("palm-court").unwrap(),
        )
        .await
        .unwrap();
    cista.sign_checkpoint(&Actor::System).await.unwrap();
    cista
}

pub fn state_for(cista: Cista, tls: TlsSettings, origin: &str, options: &Options) -> AppState {
    AppState {
        cista,
        public_origin: Arc::from(origin),
        tls: Arc::new(tls),
        tls_stats: Arc::new(TlsStats::default()),
        http_redirect: options.with_redirect,
        metrics_token: options
            .metrics_token
            .then(|| Arc::from("test-metrics-token")),
        limits: options.limits.clone(),
        auth_limiter: cista_http::limits::AuthLimiter::new(options.auth_limits.clone()),
        demo: None,
        checkpoint_interval: Duration::from_secs(60),
        messaging: Arc::from(vec![("Email".to_owned(), "test".to_owned())]),
    }
}

impl TestServer {
    pub async fn start(options: Options) -> Self {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        cista_http::metrics::handle();
        let dir = tempfile::tempdir().unwrap();
        let cista = cista_in(dir.path()).await;
        let (cert, key) = certificate();
        let tls = TlsSettings::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
        let https = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = https.local_addr().unwrap();
        let redirect = options
            .with_redirect
            .then(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap());
        let redirect_addr = redirect.as_ref().map(|l| l.local_addr().unwrap());
        let origin = format!("https://localhost:{}", addr.port());
        let state = state_for(cista, tls, &origin, &options);
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

/// The CSRF token in a page's forms.
pub fn csrf_in(html: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = html
        .find(marker)
        .expect("the page has a form with a CSRF token")
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

pub mod people {
    //! Making people for tests through the core, and reading what the outbox would send.
    use cista_core::access::invitations::Invitee;
    use cista_core::notices::{DeliveryOutcome, Notice};
    use cista_core::ports::CredentialPurpose;
    use cista_core::{Actor, Cista};
    use cista_types::{Email, OrgId, OrgName, OrgSlug, Password, PersonName, Phone, Role};

    pub const PASSWORD: &str = "orbit-mango-cellar-91";

    pub async fn org(cista: &Cista, slug: &str) -> OrgId {
        cista
            .create_organization(
                &Actor::operator("test"),
                OrgName::parse(&format!("Org {slug}")).unwrap(),
                OrgSlug::parse(slug).unwrap(),
            )
            .await
            .unwrap()
            .id
    }

    /// Delivers (takes) everything due and returns the newest notice sent to `address`.
    pub async fn last_notice(cista: &Cista, address: &str) -> Option<Notice> {
        let due = cista.due_deliveries(&Actor::System, 100).await.unwrap();
        for d in &due {
            cista
                .record_delivery(&Actor::System, d.id, d.attempts, DeliveryOutcome::Delivered)
                .await
                .unwrap();
        }
        due.into_iter()
            .rev()
            .find(|d| d.address == address)
            .map(|d| d.notice)
    }

    pub fn invitee(email: &str, phone: Option<&str>, role: Role) -> Invitee {
        Invitee {
            first_name: PersonName::parse("Test").unwrap(),
            last_name: PersonName::parse("Person").unwrap(),
            email: Email::parse(email).unwrap(),
            phone: phone.map(|p| Phone::parse(p).unwrap()),
            role,
        }
    }

    /// Invites someone (as the operator) and returns their link, undelivered.
    pub async fn invited(
        cista: &Cista,
        org: OrgId,
        email: &str,
        phone: Option<&str>,
        role: Role,
    ) -> String {
        cista
            .invite(&Actor::operator("test"), org, invitee(email, phone, role))
            .await
            .unwrap()
            .link
            .unwrap()
    }

    /// Someone with a password.
    pub async fn active(
        cista: &Cista,
        org: OrgId,
        email: &str,
        role: Role,
    ) -> cista_types::SubjectCode {
        let link = invited(cista, org, email, None, role).await;
        let token = link.rsplit('/').next().unwrap();
        cista
            .set_password_with_link(
                token,
                CredentialPurpose::Invite,
                &Password::parse(PASSWORD).unwrap(),
            )
            .await
            .unwrap()
    }
}
