//! Wiring: turns the CLI arguments and configuration into the store, the key provider and
//! an opened `Cista`, with errors that say what is wrong and how to fix it.

use crate::cli::GlobalArgs;
use crate::config::{Config, KeysConfig, Resolved};
use cista_core::{AccessSettings, Actor, Cista, Deps};
use cista_crypto::pkcs11::{Pkcs11Provider, Pkcs11Settings};
use cista_crypto::{KeyProvider, KeyProviderError, LocalKeyFile};
use cista_notify::{
    EmailSender, FileEmail, FileSms, HttpSms, HttpSmsSettings, SmsSender, SmtpEmail, SmtpSecurity,
    SmtpSettings,
};
use cista_store::{ConnectOptions, SeaStore, SeaVault, Target};
use cista_types::{Clock as _, OsRng, SystemClock, Timestamp};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A failure to report to the operator: one line, then exit 1.
#[derive(Debug)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<cista_core::Error> for Failure {
    fn from(e: cista_core::Error) -> Self {
        Failure(e.chain())
    }
}

impl From<crate::config::ConfigError> for Failure {
    fn from(e: crate::config::ConfigError) -> Self {
        Failure(e.to_string())
    }
}

impl From<KeyProviderError> for Failure {
    fn from(e: KeyProviderError) -> Self {
        Failure(e.to_string())
    }
}

impl From<cista_http::tls::TlsError> for Failure {
    fn from(e: cista_http::tls::TlsError) -> Self {
        Failure(e.to_string())
    }
}

impl From<cista_types::ParseError> for Failure {
    fn from(e: cista_types::ParseError) -> Self {
        Failure(format!("the {} {}", e.what, e.message))
    }
}

impl From<String> for Failure {
    fn from(e: String) -> Self {
        Failure(e)
    }
}

/// The configured email and SMS senders.
pub type Senders = (Arc<dyn EmailSender>, Arc<dyn SmsSender>);

/// The configured environment of one command.
#[derive(Debug)]
pub struct Runtime {
    pub config: Config,
    pub paths: Resolved,
    /// Running `cista demo`: webhooks may go to this machine (the demo's own receiver).
    pub demo: bool,
}

impl Runtime {
    pub fn load(global: &GlobalArgs) -> Result<Self, Failure> {
        let config = Config::load(global.config.as_deref(), std::env::vars())?;
        let data_dir = if global.data_dir.is_absolute() {
            global.data_dir.clone()
        } else {
            std::env::current_dir()
                .map_err(|e| Failure(format!("cannot read the current directory: {e}")))?
                .join(&global.data_dir)
        };
        let paths = Resolved::new(&config, &data_dir);
        Ok(Self {
            config,
            paths,
            demo: false,
        })
    }

    pub fn now(&self) -> Timestamp {
        SystemClock.now()
    }

    /// The person at the keyboard, named by their local account: `$USER`, else `$LOGNAME`,
    /// else (a service or container that sets neither) the process's user id as `uid-N`, read
    /// from the owner of `/proc/self`, so that the audit log and consent records always name
    /// an account that can be looked up.
    pub fn operator(&self) -> Actor {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|name| !name.trim().is_empty())
            .or_else(|| {
                use std::os::unix::fs::MetadataExt as _;
                std::fs::metadata("/proc/self")
                    .ok()
                    .map(|m| format!("uid-{}", m.uid()))
            })
            .unwrap_or_else(|| "unknown".to_owned());
        Actor::operator(user)
    }

    fn connect_options(&self, create: bool) -> ConnectOptions {
        ConnectOptions {
            max_connections: self.config.database.max_connections,
            connect_timeout: Duration::from_secs(self.config.database.connect_timeout_secs),
            create_if_missing: create,
            allow_unverified_postgres_tls: self.config.database.allow_unverified_postgres_tls,
            // With a backup, only the shipper may checkpoint: every process that opens this
            // SQLite file (server and CLI alike) leaves the WAL to it.
            checkpoints_by_backup: self.paths.backup_target.is_some(),
            ..ConnectOptions::default()
        }
    }

    pub fn target(&self) -> Result<Target, Failure> {
        Ok(Target::parse(self.paths.database_url.expose())?)
    }

    /// Connects to the database. `create` allows a new SQLite file; `migrate` applies
    /// pending migrations.
    pub async fn store(&self, create: bool, migrate: bool) -> Result<SeaStore, Failure> {
        let target = self.target()?;
        let options = self.connect_options(create);
        let store = match SeaStore::connect(&target, &options).await {
            Ok(store) => store,
            Err(cista_core::Error::NotInitialized) => {
                return Err(Failure(format!(
                    "there is no database at {}; run `cista init --data-dir {}` first",
                    target.describe(),
                    self.paths.data_dir.display()
                )));
            }
            Err(e) => {
                return Err(Failure(format!(
                    "cannot use the database {}: {}",
                    target.describe(),
                    e.chain()
                )));
            }
        };
        if migrate {
            for name in store.migrate().await? {
                tracing::info!(migration = %name, "applied migration");
            }
        }
        Ok(store)
    }

    /// The configured key provider, opened (its keys must exist: see `create_key_provider`).
    pub fn key_provider(&self) -> Result<Arc<dyn KeyProvider>, Failure> {
        match &self.config.keys {
            KeysConfig::Local { .. } => Ok(Arc::new(LocalKeyFile::open(&self.paths.kek_file)?)),
            KeysConfig::Pkcs11 { .. } => {
                let token = Pkcs11Provider::open(&self.pkcs11_settings()?)?;
                if !token.has_keys()? {
                    return Err(Failure(format!(
                        "the PKCS#11 token \"{}\" holds no Cista key-encryption key; run \
                         cista init first",
                        token.label()
                    )));
                }
                Ok(Arc::new(token))
            }
        }
    }

    /// The provider if its keys already exist (`cista init` reuses them), `None` if not.
    pub fn existing_key_provider(&self) -> Result<Option<Arc<dyn KeyProvider>>, Failure> {
        match &self.config.keys {
            KeysConfig::Local { .. } if !self.paths.kek_file.exists() => Ok(None),
            KeysConfig::Local { .. } => self.key_provider().map(Some),
            KeysConfig::Pkcs11 { .. } => {
                let token = Pkcs11Provider::open(&self.pkcs11_settings()?)?;
                Ok(if token.has_keys()? {
                    Some(Arc::new(token))
                } else {
                    None
                })
            }
        }
    }

    /// Where the key-encryption keys are, as an operator reads it.
    pub fn keys_location(&self) -> String {
        match &self.config.keys {
            KeysConfig::Local { .. } => format!("key file {}", self.paths.kek_file.display()),
            KeysConfig::Pkcs11 { token_label, .. } => {
                format!("PKCS#11 token \"{token_label}\"")
            }
        }
    }

    fn pkcs11_settings(&self) -> Result<Pkcs11Settings, Failure> {
        let KeysConfig::Pkcs11 {
            module,
            token_label,
            pin,
            ..
        } = &self.config.keys
        else {
            return Err(Failure("keys.provider is not pkcs11".to_owned()));
        };
        if let KeysConfig::Pkcs11 {
            pin_file: Some(path),
            ..
        } = &self.config.keys
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path)
                .map_err(|e| Failure(format!("keys.pin_file {}: {e}", path.display())))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(Failure(format!(
                    "keys.pin_file {} can be read by group or others (mode {:o}): the PIN \
                     unlocks the keys; chmod 600 {}",
                    path.display(),
                    mode & 0o777,
                    path.display()
                )));
            }
        }
        let Some(pin) = pin else {
            return Err(Failure(
                "keys.pin_file is not set: the PKCS#11 token needs its user PIN (a file of \
                 mode 0600 holding it)"
                    .to_owned(),
            ));
        };
        Ok(Pkcs11Settings {
            module: module
                .clone()
                .unwrap_or_else(|| cista_crypto::pkcs11::SOFTHSM2_MODULE.into()),
            token_label: token_label.clone(),
            pin: pin.expose().to_owned(),
        })
    }

    /// Creates the configured provider's first key-encryption key (`cista init`); refuses
    /// when keys already exist there.
    pub fn create_key_provider(&self) -> Result<Arc<dyn KeyProvider>, Failure> {
        match &self.config.keys {
            KeysConfig::Local { .. } => Ok(Arc::new(LocalKeyFile::create(
                &self.paths.kek_file,
                &OsRng,
                self.now(),
            )?)),
            KeysConfig::Pkcs11 { .. } => Ok(Arc::new(Pkcs11Provider::create(
                &self.pkcs11_settings()?,
                &OsRng,
                self.now(),
            )?)),
        }
    }

    /// The origin links and redirects use: `server.public_url`, or localhost on the port of
    /// `server.listen`.
    pub fn public_origin(&self) -> String {
        match &self.config.server.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let port = self
                    .config
                    .server
                    .listen
                    .rsplit(':')
                    .next()
                    .unwrap_or("8443");
                format!("https://localhost:{port}")
            }
        }
    }

    /// The tile server under the records map, if `[map] tile_url` is set and holds.
    pub fn map_tiles(&self) -> Result<Option<cista_http::MapTiles>, Failure> {
        let map = &self.config.map;
        match &map.tile_url {
            None => Ok(None),
            Some(url) if url.trim().is_empty() => Ok(None),
            Some(url) => {
                cista_http::MapTiles::parse(url, map.tile_attribution.as_deref().unwrap_or(""))
                    .map(Some)
                    .map_err(Failure)
            }
        }
    }

    /// The security.txt `[disclosure]` describes (its dates are checked by the caller, against
    /// `now`). `Ok(None)`: no contact is set (the file is not served). The demo, without a `[disclosure]` of its own, names the demo's
    /// outbox address and expires 90 days on, so a new user sees the file as it will be.
    pub fn disclosure(
        &self,
        now: Timestamp,
    ) -> Result<Option<cista_http::disclosure::SecurityTxt>, Failure> {
        let d = &self.config.disclosure;
        let demo_contact = ["mailto:security@cista.localhost".to_owned()];
        let demo_expires = now.plus(time::Duration::days(90)).to_rfc3339();
        let (contact, expires): (&[String], Option<&str>) = if d.contact.is_empty() && self.demo {
            (&demo_contact, Some(demo_expires.as_str()))
        } else {
            (&d.contact, d.expires.as_deref())
        };
        if contact.is_empty() {
            return Ok(None);
        }
        let settings = cista_http::disclosure::DisclosureSettings {
            contact,
            expires,
            preferred_languages: &d.preferred_languages,
            policy: d.policy.as_deref(),
            encryption: d.encryption.as_deref(),
            acknowledgments: d.acknowledgments.as_deref(),
        };
        cista_http::disclosure::SecurityTxt::build(&settings, &self.public_origin())
            .map(Some)
            .map_err(Failure)
    }

    /// Whether people outside this machine reach the instance: `server.public_url` names a host
    /// other than `localhost` or a loopback address. Such an instance must say where
    /// vulnerabilities are reported (`configtest`).
    pub fn is_public(&self) -> bool {
        let Some(url) = &self.config.server.public_url else {
            return false;
        };
        let Some(host) = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
        else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        !(host.eq_ignore_ascii_case("localhost")
            || host.to_ascii_lowercase().ends_with(".localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback()))
    }

    pub fn access_settings(&self) -> AccessSettings {
        let a = &self.config.access;
        let minutes = |m: u64| time::Duration::minutes(i64::try_from(m).unwrap_or(i64::MAX));
        let seconds = |s: u64| time::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX));
        AccessSettings {
            public_origin: self.public_origin(),
            invite_ttl: minutes(a.invite_ttl_hours.saturating_mul(60)),
            reset_ttl: minutes(a.reset_ttl_minutes),
            sms_code_ttl: minutes(a.sms_code_ttl_minutes),
            session_idle: minutes(a.session_idle_minutes),
            session_absolute: minutes(a.session_absolute_hours.saturating_mul(60)),
            lockout_after: i32::try_from(a.lockout_after).unwrap_or(i32::MAX).max(1),
            lockout_base: seconds(a.lockout_base_seconds),
            lockout_max: seconds(a.lockout_max_seconds),
            sends_per_hour: a.sends_per_hour,
            untrusted_sends_per_hour: a.untrusted_sends_per_hour,
            untrusted_lockout_after: a.untrusted_lockout_after.max(1),
            concurrent_hashes: a.concurrent_hashes.max(1),
            allow_internal_webhooks: self.demo,
            ..AccessSettings::default()
        }
    }

    /// The email and SMS senders the configuration asks for. `announce` prints each message
    /// the file transports write (the demo).
    pub fn senders(&self, announce: bool) -> Result<Senders, Failure> {
        let email = &self.config.email;
        let email: Arc<dyn EmailSender> = match email.transport.as_str() {
            "file" => Arc::new(FileEmail {
                dir: self.paths.outbox_dir.clone(),
                announce,
            }),
            "smtp" => {
                let host = email.smtp_host.clone().ok_or_else(|| {
                    Failure("email.transport = \"smtp\" needs email.smtp_host".to_owned())
                })?;
                let extra_roots_pem = match &email.smtp_ca_file {
                    Some(path) => Some(std::fs::read(path).map_err(|e| {
                        Failure(format!("email.smtp_ca_file {}: {e}", path.display()))
                    })?),
                    None => None,
                };
                Arc::new(
                    SmtpEmail::new(&SmtpSettings {
                        host,
                        port: email.smtp_port,
                        security: SmtpSecurity::parse(&email.smtp_security)
                            .map_err(|e| Failure(e.to_string()))?,
                        username: email.smtp_username.clone(),
                        password: email.smtp_password.clone(),
                        from: email.from.clone(),
                        extra_roots_pem,
                        timeout: Duration::from_secs(30),
                    })
                    .map_err(|e| Failure(e.to_string()))?,
                )
            }
            other => {
                return Err(Failure(format!(
                    "email.transport `{other}` must be file or smtp"
                )));
            }
        };
        let sms = &self.config.sms;
        let sms: Arc<dyn SmsSender> = match sms.transport.as_str() {
            "file" => Arc::new(FileSms {
                dir: self.paths.outbox_dir.clone(),
                announce,
            }),
            "http" => Arc::new(
                HttpSms::new(HttpSmsSettings {
                    base_url: sms.http_base_url.clone().ok_or_else(|| {
                        Failure("sms.transport = \"http\" needs sms.http_base_url".to_owned())
                    })?,
                    account_sid: sms.account_sid.clone().unwrap_or_default(),
                    auth_token: sms.auth_token.clone().unwrap_or_default(),
                    from: sms.from.clone().unwrap_or_default(),
                    timeout: Duration::from_secs(20),
                })
                .map_err(|e| Failure(e.to_string()))?,
            ),
            other => {
                return Err(Failure(format!(
                    "sms.transport `{other}` must be file or http"
                )));
            }
        };
        Ok((email, sms))
    }

    /// The person vault: in the main database, or in `vault.url`. `create` (init) may make
    /// a new SQLite vault file; `migrate` applies pending migrations, otherwise they must be
    /// applied already.
    pub async fn vault(
        &self,
        store: &SeaStore,
        create: bool,
        migrate: bool,
    ) -> Result<SeaVault, Failure> {
        let vault = match &self.config.vault.url {
            Some(url) => {
                let target = Target::parse(url.expose()).map_err(|e| {
                    Failure(format!(
                        "vault.url: {}",
                        e.chain().replace("database.url: ", "")
                    ))
                })?;
                SeaVault::connect(&target, &self.connect_options(create))
                    .await
                    .map_err(|e| {
                        Failure(format!(
                            "cannot use the vault database {}: {}",
                            target.describe(),
                            e.chain()
                        ))
                    })?
            }
            None => SeaVault::on(store),
        };
        if migrate {
            vault.migrate().await?;
        } else if let Some(first) = vault.schema_status().await?.pending.first() {
            return Err(Failure(format!(
                "the vault schema is older than this binary (migration {first} is pending); run \
                 `cista migrate`"
            )));
        }
        Ok(vault)
    }

    pub async fn deps(
        &self,
        store: SeaStore,
        keys: Arc<dyn KeyProvider>,
        create: bool,
        migrate: bool,
    ) -> Result<Deps, Failure> {
        let vault = self.vault(&store, create, migrate).await?;
        Ok(Deps {
            store: Arc::new(store),
            vault: Arc::new(vault),
            keys,
            clock: Arc::new(SystemClock),
            rng: Arc::new(OsRng),
            settings: self.access_settings(),
        })
    }

    /// Opens the initialized instance: the store, the key file, and the signing key.
    pub async fn open(&self, migrate: bool) -> Result<Cista, Failure> {
        Ok(self.open_parts(migrate).await?.0)
    }

    /// Opens the instance and finds the organization `slug` as the operator sees it: what every
    /// command about one organization starts with.
    pub async fn open_org(
        &self,
        slug: &str,
    ) -> Result<(Cista, cista_core::ports::Organization), Failure> {
        let cista = self.open(false).await?;
        let org = cista
            .organization_for(&self.operator(), slug)
            .await
            .map_err(|_| Failure(format!("there is no organization `{slug}`")))?;
        Ok((cista, org))
    }

    /// Opens the instance and also returns the SQLite writers' queue (for the backup
    /// shipper, which must take its turn with them).
    pub async fn open_parts(
        &self,
        migrate: bool,
    ) -> Result<(Cista, Option<Arc<tokio::sync::Mutex<()>>>), Failure> {
        let keys = self.key_provider()?;
        let store = self.store(false, migrate).await?;
        store.require_current_schema().await?;
        let write_turn = store.write_turn();
        match Cista::open(self.deps(store, keys, false, migrate).await?).await {
            Ok(cista) => Ok((cista, write_turn)),
            Err(cista_core::Error::NotInitialized) => Err(Failure(format!(
                "the database is not initialized; run `cista init --data-dir {}`",
                self.paths.data_dir.display()
            ))),
            Err(e) => Err(e.into()),
        }
    }
}
