//! Typed configuration, layered: built-in defaults, then the TOML file (`--config`), then
//! `CISTA_<SECTION>_<FIELD>` environment variables. Secrets (`database.url`, `vault.url`,
//! `email.smtp_password`, `sms.auth_token`, `metrics.token`, `backup.s3_secret_access_key`) are
//! [`Secret`]s, which never print (`Debug`, `configtest --print`), and may instead be read from
//! a file named by `…_file` / `CISTA_…_FILE`. Unknown keys, in the file or the environment,
//! are refused with their name, so a typo never silently falls back to a default.

use cista_types::Secret;
use cista_types::secret::REDACTED;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Environment variables that belong to the CLI or the test suite, not to the config tree.
const NON_CONFIG_ENV: &[&str] = &[
    "CISTA_CONFIG",
    "CISTA_DATA_DIR",
    "CISTA_LISTEN",
    "CISTA_TEST_POSTGRES_URL",
    "CISTA_TEST_REQUIRE_POSTGRES",
];

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub tls: TlsConfig,
    pub database: DatabaseConfig,
    pub keys: KeysConfig,
    pub vault: VaultConfig,
    pub access: AccessConfig,
    pub limits: LimitsConfig,
    pub email: EmailConfig,
    pub sms: SmsConfig,
    pub audit: AuditConfig,
    pub voting: VotingConfig,
    pub backup: BackupConfig,
    pub blobs: BlobsConfig,
    pub metrics: MetricsConfig,
    pub log: LogConfig,
}

/// Where attachments' bytes go (sealed; see `cista_core::platform::blobs`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BlobsConfig {
    /// A directory path (or `file:///path`) or `s3://bucket/prefix`; an S3 bucket is reached
    /// with the `[backup]` section's `s3_endpoint`, `s3_region`, `s3_path_style` and
    /// credentials. Default `<data dir>/blobs` (created 0700).
    pub target: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port of the HTTPS listener. Default `127.0.0.1:8443`.
    pub listen: String,
    /// The origin browsers use, for links, redirects and the CSRF origin check.
    /// Default `https://localhost:<listen port>`.
    pub public_url: Option<String>,
    /// Optional plain-HTTP listener that only redirects page requests to HTTPS. Default off.
    pub http_redirect_listen: Option<String>,
    /// Largest request body accepted, in bytes. Default 1 MiB.
    pub body_limit_bytes: usize,
    /// A request running longer than this is stopped with `request_timeout`. Default 30.
    pub request_timeout_secs: u64,
    /// On SIGTERM/SIGINT, how long requests in flight may finish. Default 20.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8443".to_owned(),
            public_url: None,
            http_redirect_listen: None,
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 20,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain. Default `<data dir>/tls/server.pem` (made by `cista init`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key. Default `<data dir>/tls/server-key.pem`.
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://…` for PostgreSQL, `sqlite://PATH` for SQLite. Default: SQLite at
    /// `<data dir>/cista.db`. A secret (it may hold a password): prefer `url_file`.
    pub url: Option<Secret>,
    /// A file holding the database URL.
    pub url_file: Option<PathBuf>,
    /// Connection pool size. Default 8.
    pub max_connections: u32,
    /// Seconds to wait for a connection. Default 10.
    pub connect_timeout_secs: u64,
    /// Apply pending migrations when `serve` starts. Default true; turn off where the
    /// server's database role has no DDL rights and run `cista migrate` instead.
    pub migrate_on_start: bool,
    /// Allow PostgreSQL on another host without verified TLS. Default false.
    pub allow_unverified_postgres_tls: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            url_file: None,
            max_connections: 8,
            connect_timeout_secs: 10,
            migrate_on_start: true,
            allow_unverified_postgres_tls: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// The key provider. Only `local` (a key file) for now.
    pub provider: String,
    /// The local key file, kept outside the data directory. Default `<data dir>.kek`.
    pub file: Option<PathBuf>,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            provider: "local".to_owned(),
            file: None,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VaultConfig {
    /// A separate database for the person vault (`postgres://…` or `sqlite://PATH`). Default:
    /// the main database. A secret (it may hold a password): prefer `url_file`.
    pub url: Option<Secret>,
    /// A file holding the vault database URL.
    pub url_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// How long an invitation link works. Default 72.
    pub invite_ttl_hours: u64,
    /// How long a password-reset link works. Default 60.
    pub reset_ttl_minutes: u64,
    /// How long an SMS sign-in code works. Default 10.
    pub sms_code_ttl_minutes: u64,
    /// A session ends after this long without a request. Default 30.
    pub session_idle_minutes: u64,
    /// A session ends after this long whatever happens. Default 12.
    pub session_absolute_hours: u64,
    /// Wrong passwords from one requester (a device, or a network address) before that
    /// requester is locked out; the person's own signed-in devices are not. Default 5.
    pub lockout_after: u32,
    /// The first lock; each further failure doubles it. Default 60.
    pub lockout_base_seconds: u64,
    /// The longest lock. Default 3600.
    pub lockout_max_seconds: u64,
    /// SMS codes, resets or invitation resends one requester can trigger for one person per
    /// hour. Default 3.
    pub sends_per_hour: u64,
    /// Sends all requesters other than the person's own signed-in devices can trigger together
    /// for one person per hour. Default 10.
    pub untrusted_sends_per_hour: u64,
    /// Wrong passwords from all requesters other than the person's own signed-in devices
    /// together before those requesters are locked out too. Default 20.
    pub untrusted_lockout_after: u64,
    /// Password hashes computed at once (each takes 19 MiB and a core). Default 2.
    pub concurrent_hashes: usize,
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self {
            invite_ttl_hours: 72,
            reset_ttl_minutes: 60,
            sms_code_ttl_minutes: 10,
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            lockout_after: 5,
            lockout_base_seconds: 60,
            lockout_max_seconds: 3600,
            sends_per_hour: 3,
            untrusted_sends_per_hour: 10,
            untrusted_lockout_after: 20,
            concurrent_hashes: 2,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Sign-in, reset, SMS and invitation forms one address may submit per minute. Default 30.
    pub auth_per_minute: u32,
    /// Those forms answer after at least this long, known address or not. Default 400.
    pub auth_response_floor_ms: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            auth_per_minute: 30,
            auth_response_floor_ms: 400,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// `file` (messages are written to `outbox_dir`, nothing is sent; the default) or `smtp`.
    pub transport: String,
    /// The sender of every message.
    pub from: String,
    /// The folder of the `file` transport. Default `<data dir>/outbox`.
    pub outbox_dir: Option<PathBuf>,
    pub smtp_host: Option<String>,
    /// Default 587.
    pub smtp_port: u16,
    /// `starttls` (default), `tls`, or `none` (only for a server on this machine).
    pub smtp_security: String,
    pub smtp_username: Option<String>,
    /// A secret: prefer `smtp_password_file`.
    pub smtp_password: Option<Secret>,
    pub smtp_password_file: Option<PathBuf>,
    /// Extra trusted roots (PEM) for a mail server with a private CA.
    pub smtp_ca_file: Option<PathBuf>,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            transport: "file".to_owned(),
            from: "Cista <no-reply@localhost>".to_owned(),
            outbox_dir: None,
            smtp_host: None,
            smtp_port: 587,
            smtp_security: "starttls".to_owned(),
            smtp_username: None,
            smtp_password: None,
            smtp_password_file: None,
            smtp_ca_file: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// `file` (written to the email outbox folder; the default), `http` or `none`.
    pub transport: String,
    /// A Twilio-style API, e.g. `https://api.twilio.com`.
    pub http_base_url: Option<String>,
    pub account_sid: Option<String>,
    /// A secret: prefer `auth_token_file`.
    pub auth_token: Option<Secret>,
    pub auth_token_file: Option<PathBuf>,
    /// The sending number or service.
    pub from: Option<String>,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            transport: "file".to_owned(),
            http_base_url: None,
            account_sid: None,
            auth_token: None,
            auth_token_file: None,
            from: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// How often a checkpoint is signed while the log grows, in seconds. Default 60.
    pub checkpoint_interval_secs: u64,
    /// The checkpoint origin line, fixed when the instance is created.
    /// Default `cista/<instance id>`.
    pub origin: Option<String>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_interval_secs: 60,
            origin: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VotingConfig {
    /// How often the voting worker closes ballots whose time has come, shuffles open ballot
    /// boxes and sends scheduled reminders, in seconds. Default 5.
    pub worker_interval_secs: u64,
}

impl Default for VotingConfig {
    fn default() -> Self {
        Self {
            worker_interval_secs: 5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Where SQLite backups go: a directory path (or `file:///path`) or `s3://bucket/prefix`.
    /// Default: none for `serve` (no backup; the trust page says so), `<data dir>-backup`
    /// for `demo`.
    pub target: Option<String>,
    /// S3-compatible endpoint, e.g. `https://s3.eu-central-1.amazonaws.com` or a MinIO URL.
    /// Plain `http://` is accepted only on loopback (test servers).
    pub s3_endpoint: Option<String>,
    /// Default `us-east-1`.
    pub s3_region: String,
    /// Path-style requests (`endpoint/bucket/key`), as most self-hosted servers need.
    /// Default true.
    pub s3_path_style: bool,
    pub s3_access_key_id: Option<String>,
    /// A secret: prefer `s3_secret_access_key_file`.
    pub s3_secret_access_key: Option<Secret>,
    pub s3_secret_access_key_file: Option<PathBuf>,
    /// How often the WAL is read and new transactions shipped, in milliseconds. Default 100.
    pub ship_interval_ms: u64,
    /// Hours between snapshots. Default 24.
    pub snapshot_interval_hours: u64,
    /// Days of history kept. Default 35.
    pub retention_days: u64,
    /// A lag or failure longer than this turns the trust page's backup line red and logs an
    /// error, in seconds. Default 60.
    pub stale_after_secs: u64,
    /// Checkpoint the WAL after this many shipped frames. Default 1000 (about 4 MB).
    pub checkpoint_frames: u64,
    /// PostgreSQL: the pgBackRest stanza `cista backup status` reports on.
    pub pgbackrest_stanza: Option<String>,
    /// PostgreSQL: a pgBackRest configuration file other than the default.
    pub pgbackrest_config: Option<PathBuf>,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            target: None,
            s3_endpoint: None,
            s3_region: "us-east-1".to_owned(),
            s3_path_style: true,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_secret_access_key_file: None,
            ship_interval_ms: 100,
            snapshot_interval_hours: 24,
            retention_days: 35,
            stale_after_secs: 60,
            checkpoint_frames: 1000,
            pgbackrest_stanza: None,
            pgbackrest_config: None,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Bearer token that unlocks `/metrics`; without one `/metrics` is not served.
    /// A secret: prefer `token_file`.
    pub token: Option<Secret>,
    /// A file holding the token. Default for the demo: `<data dir>/secrets/metrics-token`.
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `auto` (default: readable lines when standard error is a terminal, JSON otherwise),
    /// `json` or `text`.
    pub format: String,
    /// A tracing filter such as `info` or `cista=debug,info`. Default `info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "auto".to_owned(),
            level: "info".to_owned(),
        }
    }
}

/// A configuration problem, phrased for the operator: it names the key and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

impl Config {
    /// Every field set, so the key list and value types are known for the environment layer.
    fn example() -> Self {
        Self {
            server: ServerConfig {
                public_url: Some(String::new()),
                http_redirect_listen: Some(String::new()),
                ..ServerConfig::default()
            },
            tls: TlsConfig {
                cert_file: Some(PathBuf::new()),
                key_file: Some(PathBuf::new()),
            },
            database: DatabaseConfig {
                url: Some(Secret::from(REDACTED)),
                url_file: Some(PathBuf::new()),
                ..DatabaseConfig::default()
            },
            keys: KeysConfig {
                file: Some(PathBuf::new()),
                ..KeysConfig::default()
            },
            vault: VaultConfig {
                url: Some(Secret::from(REDACTED)),
                url_file: Some(PathBuf::new()),
            },
            access: AccessConfig::default(),
            limits: LimitsConfig::default(),
            email: EmailConfig {
                outbox_dir: Some(PathBuf::new()),
                smtp_host: Some(String::new()),
                smtp_username: Some(String::new()),
                smtp_password: Some(Secret::from(REDACTED)),
                smtp_password_file: Some(PathBuf::new()),
                smtp_ca_file: Some(PathBuf::new()),
                ..EmailConfig::default()
            },
            sms: SmsConfig {
                http_base_url: Some(String::new()),
                account_sid: Some(String::new()),
                auth_token: Some(Secret::from(REDACTED)),
                auth_token_file: Some(PathBuf::new()),
                from: Some(String::new()),
                ..SmsConfig::default()
            },
            audit: AuditConfig {
                origin: Some(String::new()),
                ..AuditConfig::default()
            },
            voting: VotingConfig::default(),
            backup: BackupConfig {
                target: Some(String::new()),
                s3_endpoint: Some(String::new()),
                s3_access_key_id: Some(String::new()),
                s3_secret_access_key: Some(Secret::from(REDACTED)),
                s3_secret_access_key_file: Some(PathBuf::new()),
                pgbackrest_stanza: Some(String::new()),
                pgbackrest_config: Some(PathBuf::new()),
                ..BackupConfig::default()
            },
            blobs: BlobsConfig {
                target: Some(String::new()),
            },
            metrics: MetricsConfig {
                token: Some(Secret::from(REDACTED)),
                token_file: Some(PathBuf::new()),
            },
            log: LogConfig::default(),
        }
    }

    /// Loads defaults, then `file` (if any), then the environment.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    err(format!(
                        "cannot read the config file {}: {e}",
                        path.display()
                    ))
                })?;
                // Deserialize the file alone first: errors then carry its line and column.
                toml::from_str::<Config>(&text).map_err(|e| file_error(path, &text, &e))?;
                toml::from_str::<toml::Table>(&text).map_err(|e| file_error(path, &text, &e))?
            }
            None => toml::Table::new(),
        };
        apply_env(&mut table, env)?;
        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| err(format!("configuration: {}", e.message())))?;
        config.resolve_secret_files()?;
        Ok(config)
    }

    fn resolve_secret_files(&mut self) -> Result<(), ConfigError> {
        self.database.url = read_secret(
            "database.url",
            self.database.url.take(),
            self.database.url_file.as_deref(),
        )?;
        self.vault.url = read_secret(
            "vault.url",
            self.vault.url.take(),
            self.vault.url_file.as_deref(),
        )?;
        self.email.smtp_password = read_secret(
            "email.smtp_password",
            self.email.smtp_password.take(),
            self.email.smtp_password_file.as_deref(),
        )?;
        self.sms.auth_token = read_secret(
            "sms.auth_token",
            self.sms.auth_token.take(),
            self.sms.auth_token_file.as_deref(),
        )?;
        self.metrics.token = read_secret(
            "metrics.token",
            self.metrics.token.take(),
            self.metrics.token_file.as_deref(),
        )?;
        self.backup.s3_secret_access_key = read_secret(
            "backup.s3_secret_access_key",
            self.backup.s3_secret_access_key.take(),
            self.backup.s3_secret_access_key_file.as_deref(),
        )?;
        Ok(())
    }

    /// The configuration as TOML with secrets masked, for `configtest`: every secret is a
    /// [`Secret`], which serialises as `<redacted>`.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

/// One line: `config file PATH, line L, column C: MESSAGE`.
fn file_error(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let position = e.span().map(|span| {
        let before = text.get(..span.start).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!(", line {line}, column {column}")
    });
    err(format!(
        "config file {}{}: {}",
        path.display(),
        position.unwrap_or_default(),
        e.message().replace('\n', " ")
    ))
}

fn read_secret(
    key: &str,
    inline: Option<Secret>,
    file: Option<&Path>,
) -> Result<Option<Secret>, ConfigError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(err(format!("set {key} or {key}_file, not both"))),
        (Some(value), None) => Ok(Some(value)),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| err(format!("{key}_file {}: {e}", path.display())))?;
            let value = text.trim_end_matches(['\n', '\r']).to_owned();
            if value.is_empty() {
                return Err(err(format!("{key}_file {} is empty", path.display())));
            }
            Ok(Some(Secret::new(value)))
        }
        (None, None) => Ok(None),
    }
}

/// Applies `CISTA_<SECTION>_<FIELD>` variables to the table, typed by the example config.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let example =
        toml::Table::try_from(Config::example()).map_err(|e| err(format!("internal: {e}")))?;
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("CISTA_") && !NON_CONFIG_ENV.contains(&k.as_str()))
        .collect();
    vars.sort();
    for (name, raw) in vars {
        let rest = name.trim_start_matches("CISTA_").to_ascii_lowercase();
        let Some((section, field)) = rest.split_once('_') else {
            return Err(unknown_env(&name));
        };
        let Some(sample) = example
            .get(section)
            .and_then(toml::Value::as_table)
            .and_then(|t| t.get(field))
        else {
            return Err(unknown_env(&name));
        };
        let value = match sample {
            toml::Value::Integer(_) => raw
                .trim()
                .parse::<i64>()
                .map(toml::Value::Integer)
                .map_err(|_| err(format!("{name} must be a whole number, not `{raw}`")))?,
            toml::Value::Boolean(_) => match raw.trim() {
                "true" | "1" | "yes" => toml::Value::Boolean(true),
                "false" | "0" | "no" => toml::Value::Boolean(false),
                _ => return Err(err(format!("{name} must be true or false, not `{raw}`"))),
            },
            _ => toml::Value::String(raw),
        };
        let entry = table
            .entry(section.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(section_table) = entry.as_table_mut() else {
            return Err(err(format!("config: [{section}] must be a table")));
        };
        section_table.insert(field.to_owned(), value);
    }
    Ok(())
}

fn unknown_env(name: &str) -> ConfigError {
    err(format!(
        "unknown environment variable {name}: it names no configuration key \
         (see `cista configtest --print` for the keys; CISTA_<SECTION>_<FIELD>, e.g. \
         CISTA_DATABASE_URL)"
    ))
}

/// Paths and values derived from the config and the data directory.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub data_dir: PathBuf,
    /// A secret: a PostgreSQL URL may hold a password.
    pub database_url: Secret,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub kek_file: PathBuf,
    pub ca_file: PathBuf,
    pub metrics_token_file: PathBuf,
    pub outbox_dir: PathBuf,
    /// `backup.target`, or else `<data dir>-backup` if that directory exists (the demo makes
    /// it); `None`: no backup.
    pub backup_target: Option<String>,
    /// The shipper's status, for `cista backup status` in another process.
    pub backup_status_file: PathBuf,
    /// Its existence asks the running shipper for a snapshot.
    pub backup_snapshot_request: PathBuf,
    /// Held (locked) by the process that ships this database's backup.
    pub backup_lock_file: PathBuf,
    /// `blobs.target`, or else `<data dir>/blobs`.
    pub blobs_target: String,
    /// Whether the TLS files are the generated local ones (so `init` may create them).
    pub generated_tls: bool,
}

impl Resolved {
    pub fn new(config: &Config, data_dir: &Path) -> Self {
        let tls_dir = data_dir.join("tls");
        let generated_tls = config.tls.cert_file.is_none() && config.tls.key_file.is_none();
        let mut kek = data_dir.as_os_str().to_owned();
        kek.push(".kek");
        Self {
            data_dir: data_dir.to_owned(),
            database_url: config.database.url.clone().unwrap_or_else(|| {
                Secret::new(format!("sqlite://{}", data_dir.join("cista.db").display()))
            }),
            cert_file: config
                .tls
                .cert_file
                .clone()
                .unwrap_or_else(|| tls_dir.join("server.pem")),
            key_file: config
                .tls
                .key_file
                .clone()
                .unwrap_or_else(|| tls_dir.join("server-key.pem")),
            kek_file: config
                .keys
                .file
                .clone()
                .unwrap_or_else(|| PathBuf::from(kek)),
            ca_file: tls_dir.join("ca.pem"),
            metrics_token_file: data_dir.join("secrets").join("metrics-token"),
            outbox_dir: config
                .email
                .outbox_dir
                .clone()
                .unwrap_or_else(|| data_dir.join("outbox")),
            generated_tls,
            backup_target: config.backup.target.clone().or_else(|| {
                let default = Self::default_backup_dir(data_dir);
                default.is_dir().then(|| default.display().to_string())
            }),
            backup_status_file: data_dir.join("backup-status.json"),
            backup_snapshot_request: data_dir.join("backup-snapshot.request"),
            backup_lock_file: data_dir.join("backup.lock"),
            blobs_target: config
                .blobs
                .target
                .clone()
                .unwrap_or_else(|| data_dir.join("blobs").display().to_string()),
        }
    }

    /// Where backups go when `backup.target` is not set: beside the data directory, not in
    /// it, so losing the data directory does not lose them.
    pub fn default_backup_dir(data_dir: &Path) -> PathBuf {
        let mut dir = data_dir.as_os_str().to_owned();
        dir.push("-backup");
        PathBuf::from(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "cista.toml",
            "[server]\nlisten = \"0.0.0.0:9443\"\nrequest_timeout_secs = 5\n[log]\nformat = \"text\"\n",
        );
        let config = Config::load(
            Some(&file),
            env(&[
                ("CISTA_SERVER_LISTEN", "127.0.0.1:7443"),
                ("CISTA_DATABASE_MAX_CONNECTIONS", "3"),
                ("CISTA_DATABASE_MIGRATE_ON_START", "false"),
                ("CISTA_DATA_DIR", "/ignored/here"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:7443");
        assert_eq!(config.server.request_timeout_secs, 5);
        assert_eq!(config.log.format, "text");
        assert_eq!(config.database.max_connections, 3);
        assert!(!config.database.migrate_on_start);
        assert_eq!(config.server.shutdown_grace_secs, 20);
    }

    #[test]
    fn an_unknown_key_in_the_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "cista.toml", "[server]\nlisen = \"x\"\n");
        let e = Config::load(Some(&file), env(&[])).unwrap_err().to_string();
        assert!(e.contains("lisen"), "{e}");
        assert!(e.contains("cista.toml, line 2, column 1"), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
        let file = write(dir.path(), "b.toml", "[sever]\nlisten = \"x\"\n");
        let e = Config::load(Some(&file), env(&[])).unwrap_err().to_string();
        assert!(e.contains("sever"), "{e}");
    }

    #[test]
    fn an_unknown_environment_variable_is_refused_by_name() {
        let e = Config::load(None, env(&[("CISTA_DATABSE_URL", "x")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("CISTA_DATABSE_URL"), "{e}");
        let e = Config::load(None, env(&[("CISTA_SERVER_PORT", "1")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("CISTA_SERVER_PORT"), "{e}");
        let e = Config::load(None, env(&[("CISTA_DATABASE_MAX_CONNECTIONS", "many")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("whole number"), "{e}");
    }

    #[test]
    fn secrets_come_from_files_and_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let secret = write(dir.path(), "db-url", "postgres://cista:pw@db/cista\n");
        let config = Config::load(
            None,
            env(&[("CISTA_DATABASE_URL_FILE", secret.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(
            config.database.url.as_ref().map(Secret::expose),
            Some("postgres://cista:pw@db/cista")
        );
        assert!(!config.to_redacted_toml().contains("pw@"));
        let debug = format!(
            "{config:?} {:?}",
            Resolved::new(&config, Path::new("/srv/d"))
        );
        assert!(!debug.contains("pw@"), "{debug}");
        // Every secret the configuration holds, inline or from a file, never prints.
        let dir2 = tempfile::tempdir().unwrap();
        let smtp = write(dir2.path(), "smtp", "smtp-pass-1\n");
        let full = Config::load(
            None,
            env(&[
                ("CISTA_DATABASE_URL", "postgres://cista:db-pass-1@db/cista"),
                ("CISTA_VAULT_URL", "postgres://vault:vault-pass-1@db/vault"),
                ("CISTA_EMAIL_SMTP_PASSWORD_FILE", smtp.to_str().unwrap()),
                ("CISTA_SMS_AUTH_TOKEN", "sms-token-1"),
                ("CISTA_METRICS_TOKEN", "metrics-token-1"),
                ("CISTA_BACKUP_S3_SECRET_ACCESS_KEY", "s3-key-1"),
            ]),
        )
        .unwrap();
        let printed = format!(
            "{}\n{full:?}\n{:?}",
            full.to_redacted_toml(),
            Resolved::new(&full, Path::new("/srv/d"))
        );
        for secret in [
            "db-pass-1",
            "vault-pass-1",
            "smtp-pass-1",
            "sms-token-1",
            "metrics-token-1",
            "s3-key-1",
        ] {
            assert!(!printed.contains(secret), "{secret} printed: {printed}");
        }
        assert_eq!(
            full.sms.auth_token.as_ref().map(Secret::expose),
            Some("sms-token-1")
        );
        let both = Config::load(
            None,
            env(&[
                ("CISTA_DATABASE_URL_FILE", secret.to_str().unwrap()),
                ("CISTA_DATABASE_URL", "postgres://x"),
            ]),
        );
        assert!(both.unwrap_err().to_string().contains("not both"));
    }

    #[test]
    fn every_documented_key_round_trips() {
        let text = toml::to_string(&Config::example()).unwrap();
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back, Config::example());
    }

    #[test]
    fn paths_default_beside_and_inside_the_data_directory() {
        let r = Resolved::new(&Config::default(), Path::new("/srv/cista-data"));
        assert_eq!(r.kek_file, Path::new("/srv/cista-data.kek"));
        assert_eq!(r.cert_file, Path::new("/srv/cista-data/tls/server.pem"));
        assert_eq!(r.database_url.expose(), "sqlite:///srv/cista-data/cista.db");
        assert!(r.generated_tls);
    }
}
