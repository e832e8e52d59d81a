//! Typed configuration, layered: built-in defaults, then the TOML file (`--config`), then
//! `CISTA_<SECTION>_<FIELD>` environment variables. Secrets (`database.url`, `vault.url`,
//! `email.smtp_password`, `sms.auth_token`, `metrics.token`, `backup.s3_secret_access_key`) are
//! [`Secret`]s, which never print (`Debug`, `configtest --print`), and may instead be read from
//! a file named by `…_file` / `CISTA_…_FILE`. Unknown keys, in the file or the environment,
//! are refused with their name, so a typo never silently falls back to a default.

mod resolved;
mod sections;
#[cfg(test)]
mod tests;

pub use resolved::Resolved;
pub use sections::*;

use cista_types::Secret;
use cista_types::secret::REDACTED;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Set by the binary on itself when it starts again with transparent huge pages off
/// (`main.rs`, `disable_transparent_huge_pages`): it then never starts a third time.
pub(crate) const STARTED_WITHOUT_THP: &str = "CISTA_STARTED_WITHOUT_THP";

/// Environment variables that belong to the CLI or the test suite, not to the config tree.
const NON_CONFIG_ENV: &[&str] = &[
    STARTED_WITHOUT_THP,
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
    pub map: MapConfig,
    pub disclosure: DisclosureConfig,
    pub errors: ErrorsConfig,
    pub metrics: MetricsConfig,
    pub log: LogConfig,
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
    pub(crate) fn example() -> Self {
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
            keys: KeysConfig::Local {
                file: Some(PathBuf::new()),
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
            map: MapConfig {
                tile_url: Some(String::new()),
                tile_attribution: Some(String::new()),
            },
            disclosure: DisclosureConfig {
                contact: vec![String::new()],
                expires: Some(String::new()),
                preferred_languages: vec![String::new()],
                policy: Some(String::new()),
                encryption: Some(String::new()),
                acknowledgments: Some(String::new()),
            },
            errors: ErrorsConfig {
                sentry_dsn: Some(Secret::from(REDACTED)),
                ..ErrorsConfig::default()
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
        if let KeysConfig::Pkcs11 { pin, pin_file, .. } = &mut self.keys {
            *pin = read_secret("keys.pin", pin.take(), pin_file.as_deref())?;
        }
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
    let mut example =
        toml::Table::try_from(Config::example()).map_err(|e| err(format!("internal: {e}")))?;
    // `[keys]` is one of several providers: every provider's fields may be set.
    let pkcs11 = toml::Table::try_from(KeysConfig::pkcs11_example())
        .map_err(|e| err(format!("internal: {e}")))?;
    if let Some(keys) = example.get_mut("keys").and_then(toml::Value::as_table_mut) {
        for (field, sample) in pkcs11 {
            keys.entry(field).or_insert(sample);
        }
    }
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
            // A list (`disclosure.contact`): comma-separated, as in `mailto:a@x, https://x/r`.
            toml::Value::Array(_) => toml::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|v| toml::Value::String(v.to_owned()))
                    .collect(),
            ),
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
