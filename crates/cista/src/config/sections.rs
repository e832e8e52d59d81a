//! The sections of the configuration, one struct each with its defaults (`[server]`, `[tls]`,
//! `[database]`, `[keys]`, …). `Config` in the parent module holds one of each.

use cista_types::Secret;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where attachments' bytes go (sealed; see `cista_core::platform::blobs`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BlobsConfig {
    /// A directory path (or `file:///path`) or `s3://bucket/prefix`; an S3 bucket is reached
    /// with the `[backup]` section's `s3_endpoint`, `s3_region`, `s3_path_style` and
    /// credentials. Default `<data dir>/blobs` (created 0700).
    pub target: Option<String>,
}

/// Responsible disclosure: what `/.well-known/security.txt` (RFC 9116) and the
/// `/security/disclosure` page say. Without `contact` the file is not served; `configtest`
/// refuses that on a public instance, and refuses an `expires` that is past or more than a
/// year ahead on any.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DisclosureConfig {
    /// Where vulnerabilities are reported, most preferred first: `mailto:`, `https:` or `tel:`
    /// URIs, such as `["mailto:security@example.org"]`.
    pub contact: Vec<String>,
    /// When the file stops being valid, RFC 3339 (`2027-06-30T00:00:00Z`), at most a year ahead:
    /// confirm the contacts and move it forward before then.
    pub expires: Option<String>,
    /// Languages reports may be written in (RFC 5646 tags). Default `["en"]`.
    pub preferred_languages: Vec<String>,
    /// The disclosure policy. Default `<public url>/security/disclosure`, the built-in page.
    pub policy: Option<String>,
    /// A key to encrypt reports with (`https:` URL of an OpenPGP key, or `openpgp4fpr:`).
    pub encryption: Option<String>,
    /// Where reporters are thanked (`https:`).
    pub acknowledgments: Option<String>,
}

/// Error reporting to a Sentry-protocol service (Sentry, GlitchTip, …). Off by default. When on,
/// panics and error log events are sent after the scrubber kept only codes and places (see
/// `error_reporting`), and the trust page lists the service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ErrorsConfig {
    /// `https://public-key@sentry.example.org/42`. A secret: it lets anyone post reports.
    pub sentry_dsn: Option<Secret>,
    /// The environment reports are filed under. Default `production`.
    pub environment: String,
}

impl Default for ErrorsConfig {
    fn default() -> Self {
        Self {
            sentry_dsn: None,
            environment: "production".to_owned(),
        }
    }
}

/// Map tiles under the records map (field data collection). Off by default: the map draws the
/// records' points on a plain latitude/longitude grid and nothing goes to a map provider.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MapConfig {
    /// An XYZ tile URL template, `https://tile.example.org/{z}/{x}/{y}.png` (`{s}` for
    /// subdomains is not taken: name one host). When set, staff's browsers load tiles from that
    /// host, which learns the area they look at and their IP address; the trust page lists it.
    pub tile_url: Option<String>,
    /// What the provider's terms ask the map to show, such as `© OpenStreetMap contributors`.
    pub tile_attribution: Option<String>,
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
    /// Requests handled at once; more are refused at once with 503 and `Retry-After: 1`
    /// (load shedding; `/healthz`, `/readyz` and `/metrics` are always answered). Default 512.
    pub max_in_flight: usize,
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
            max_in_flight: cista_http::DEFAULT_MAX_IN_FLIGHT,
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

/// The key provider that holds the key-encryption keys, tagged by `provider`. Only `local` (a
/// key file) is built today; an HSM (PKCS#11) or a cloud KMS is one more variant with its own
/// fields. In TOML the section stays flat (`[keys] provider = "local"`, `file = "…"`), and a
/// section without `provider` means `local`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "provider", rename_all = "kebab-case")]
pub enum KeysConfig {
    /// A key file (mode 0600) that `cista init` creates.
    Local {
        /// The key file, kept outside the data directory. Default `<data dir>.kek`.
        file: Option<PathBuf>,
    },
    /// Keys on an HSM token through PKCS#11 (SoftHSM2, a network HSM, a smart card): the
    /// key-encryption keys never leave the token; wrapping happens inside it.
    Pkcs11 {
        /// The vendor's PKCS#11 library. Default `/usr/lib/softhsm/libsofthsm2.so`.
        module: Option<PathBuf>,
        /// The token's label.
        token_label: String,
        /// The user PIN. A secret: prefer `pin_file`.
        pin: Option<Secret>,
        /// A file holding the user PIN (mode 0600).
        pin_file: Option<PathBuf>,
    },
}

impl KeysConfig {
    /// Every PKCS#11 field set, so environment variables can name them.
    pub fn pkcs11_example() -> Self {
        Self::Pkcs11 {
            module: Some(PathBuf::new()),
            token_label: String::new(),
            pin: Some(Secret::from(cista_types::secret::REDACTED)),
            pin_file: Some(PathBuf::new()),
        }
    }
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self::Local { file: None }
    }
}

impl<'de> Deserialize<'de> for KeysConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// The same variants with unknown fields refused: what the TOML may say.
        #[derive(Deserialize)]
        #[serde(tag = "provider", rename_all = "kebab-case", deny_unknown_fields)]
        enum Tagged {
            Local {
                #[serde(default)]
                file: Option<PathBuf>,
            },
            Pkcs11 {
                #[serde(default)]
                module: Option<PathBuf>,
                token_label: String,
                #[serde(default)]
                pin: Option<Secret>,
                #[serde(default)]
                pin_file: Option<PathBuf>,
            },
        }
        let mut table = toml::Table::deserialize(deserializer)?;
        table
            .entry("provider")
            .or_insert_with(|| toml::Value::String("local".to_owned()));
        let tagged = Tagged::deserialize(toml::Value::Table(table))
            .map_err(|e| serde::de::Error::custom(format!("[keys]: {}", e.message())))?;
        Ok(match tagged {
            Tagged::Local { file } => Self::Local { file },
            Tagged::Pkcs11 {
                module,
                token_label,
                pin,
                pin_file,
            } => Self::Pkcs11 {
                module,
                token_label,
                pin,
                pin_file,
            },
        })
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
