//! The external services this running instance sends data to (issue 14, item 3), derived
//! from the live configuration: a service that is not configured is not listed, and one that
//! is configured cannot be missing (the test below walks every configuration key and makes
//! each one either an outbound setting with its entry here, or a local one, by name). Webhook
//! receivers are not configuration but data: the trust page adds them from the database.

use crate::config::{Config, Resolved};
use cista_http::ThirdParty;

/// Every entry for `config` (with `paths` resolved from it), in a stable order.
pub fn listed(config: &Config, paths: &Resolved) -> Vec<ThirdParty> {
    let mut out = Vec::new();
    if config.email.transport == "smtp" {
        let host = config.email.smtp_host.as_deref().unwrap_or("(no host)");
        let endpoint = format!("{host}:{}", config.email.smtp_port);
        out.push(ThirdParty {
            service: "Email relay (SMTP)".to_owned(),
            public_endpoint: endpoint.clone(),
            endpoint,
            receives: "each message's recipient address and text: invitations, sign-in and \
                       reset links, notices, receipts, reports to advisors"
                .to_owned(),
            settings: keys(&["email.transport", "email.smtp_host", "email.smtp_port"]),
        });
    }
    if config.sms.transport == "http" {
        let endpoint = host_of(config.sms.http_base_url.as_deref().unwrap_or(""));
        out.push(ThirdParty {
            service: "SMS provider".to_owned(),
            public_endpoint: endpoint.clone(),
            endpoint,
            receives: "each text message's phone number and text (sign-in codes)".to_owned(),
            settings: keys(&["sms.transport", "sms.http_base_url"]),
        });
    }
    let database = paths.database_url.expose();
    if is_postgres(database) {
        out.push(database_entry(
            "PostgreSQL database",
            database,
            "everything Cista stores: personal data only as the vault's ciphertext, under keys \
             wrapped by the key provider",
            "database.url",
        ));
    }
    if let Some(vault) = config.vault.url.as_ref().map(|u| u.expose())
        && is_postgres(vault)
    {
        out.push(database_entry(
            "PostgreSQL database of the person vault",
            vault,
            "the person vault: names, email addresses and phone numbers, encrypted per person \
             before they are written",
            "vault.url",
        ));
    }
    let s3_endpoint = || {
        config.backup.s3_endpoint.as_deref().map_or_else(
            || format!("s3.{}.amazonaws.com", config.backup.s3_region),
            host_of,
        )
    };
    if paths
        .backup_target
        .as_deref()
        .is_some_and(|t| t.starts_with("s3://"))
    {
        let endpoint = s3_endpoint();
        out.push(ThirdParty {
            service: "Object storage (S3) for backups".to_owned(),
            public_endpoint: endpoint.clone(),
            endpoint,
            receives: "the database's continuous backup, encrypted on this server before it \
                       is uploaded (the backup key never leaves it)"
                .to_owned(),
            settings: keys(&["backup.target", "backup.s3_endpoint"]),
        });
    }
    if paths.blobs_target.starts_with("s3://") {
        let endpoint = s3_endpoint();
        out.push(ThirdParty {
            service: "Object storage (S3) for files".to_owned(),
            public_endpoint: endpoint.clone(),
            endpoint,
            receives: "attachments and photos, encrypted on this server before they are \
                       uploaded; browsers fetch photos from it through short-lived signed links"
                .to_owned(),
            settings: keys(&["blobs.target", "backup.s3_endpoint"]),
        });
    }
    if let Some(stanza) = &config.backup.pgbackrest_stanza {
        out.push(ThirdParty {
            service: "pgBackRest repository".to_owned(),
            public_endpoint: "where pgBackRest's own configuration puts it".to_owned(),
            endpoint: format!("stanza {stanza}, as pgBackRest's configuration places it"),
            receives: "the PostgreSQL database's backups, encrypted as the pgBackRest \
                       repository is configured"
                .to_owned(),
            settings: keys(&["backup.pgbackrest_stanza"]),
        });
    }
    if let Some(dsn) = config.errors.sentry_dsn.as_ref().filter(|d| !d.is_empty()) {
        let endpoint = host_of(dsn.expose());
        out.push(ThirdParty {
            service: "Error reporting (Sentry protocol)".to_owned(),
            public_endpoint: endpoint.clone(),
            endpoint,
            receives: "panics and errors as codes and places in the code, with the time: never \
                       a request, a cookie, a token, a name, an email address or a phone number \
                       (a scrubber keeps only codes before anything is sent)"
                .to_owned(),
            settings: keys(&["errors.sentry_dsn"]),
        });
    }
    if let Some(url) = config
        .map
        .tile_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
        && let Ok(tiles) = cista_http::MapTiles::parse(url, "")
    {
        out.push(tiles.third_party());
    }
    out
}

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `host:port` of a URL, never its user name, password, path or query.
fn host_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            _ => "(no host)".to_owned(),
        },
        Err(_) => "(not an address)".to_owned(),
    }
}

fn database_entry(service: &str, url: &str, receives: &str, key: &str) -> ThirdParty {
    // A socket directory (`host=/run/postgresql`) or no host at all: this machine.
    let endpoint = match url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
    {
        Some(_) => host_of(url),
        None => "a local socket".to_owned(),
    };
    ThirdParty {
        service: service.to_owned(),
        public_endpoint: "a PostgreSQL server (its address is shown to staff)".to_owned(),
        endpoint,
        receives: receives.to_owned(),
        settings: keys(&[key]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cista_types::Secret;
    use std::path::Path;

    /// A configuration key and how to turn it on.
    type Outbound = (&'static str, fn(&mut Config));

    fn smtp(c: &mut Config) {
        c.email.transport = "smtp".to_owned();
        c.email.smtp_host = Some("smtp.example.org".to_owned());
    }

    fn sms_api(c: &mut Config) {
        c.sms.transport = "http".to_owned();
        c.sms.http_base_url = Some("https://api.twilio.com".to_owned());
    }

    /// Settings that make this instance send data somewhere, each with a configuration that
    /// turns it on. Adding a key to the configuration fails the test below until it is put
    /// here (with its entry in `listed`) or in `LOCAL`.
    fn outbound() -> Vec<Outbound> {
        vec![
            ("email.transport", smtp),
            ("email.smtp_host", smtp),
            ("email.smtp_port", |c| {
                smtp(c);
                c.email.smtp_port = 465;
            }),
            ("sms.transport", sms_api),
            ("sms.http_base_url", sms_api),
            ("database.url", |c| {
                c.database.url = Some(Secret::new(
                    "postgres://cista:pw@db.example.org:5432/cista".to_owned(),
                ));
            }),
            ("vault.url", |c| {
                c.vault.url = Some(Secret::new(
                    "postgres://vault:pw@vault.example.org/vault".to_owned(),
                ));
            }),
            ("backup.target", |c| {
                c.backup.target = Some("s3://backups/cista".to_owned());
            }),
            ("backup.s3_endpoint", |c| {
                c.backup.target = Some("s3://backups/cista".to_owned());
                c.backup.s3_endpoint = Some("https://minio.example.org:9000".to_owned());
            }),
            ("blobs.target", |c| {
                c.blobs.target = Some("s3://files/cista".to_owned());
            }),
            ("backup.pgbackrest_stanza", |c| {
                c.backup.pgbackrest_stanza = Some("cista".to_owned());
            }),
            ("errors.sentry_dsn", |c| {
                c.errors.sentry_dsn = Some(Secret::new(
                    "https://public@o1.ingest.sentry.io/42".to_owned(),
                ));
            }),
            ("map.tile_url", |c| {
                c.map.tile_url = Some("https://tile.openstreetmap.org/{z}/{x}/{y}.png".to_owned());
            }),
        ]
    }

    /// Settings that send nothing anywhere: listeners, paths on this machine, limits, timings,
    /// names, credentials for a service listed under its address key, and what is shown.
    const LOCAL: &[&str] = &[
        "server.listen",
        "server.public_url",
        "server.http_redirect_listen",
        "server.body_limit_bytes",
        "server.request_timeout_secs",
        "server.shutdown_grace_secs",
        "server.max_in_flight",
        "tls.cert_file",
        "tls.key_file",
        "database.url_file",
        "database.max_connections",
        "database.connect_timeout_secs",
        "database.migrate_on_start",
        "database.allow_unverified_postgres_tls",
        "keys.provider",
        "keys.file",
        // The HSM is the key provider, named on the trust page as such; its module talks to
        // the token, and only wrapped keys cross.
        "keys.module",
        "keys.token_label",
        "keys.pin",
        "keys.pin_file",
        "vault.url_file",
        "access.*",
        "limits.*",
        "email.from",
        "email.outbox_dir",
        "email.smtp_security",
        "email.smtp_username",
        "email.smtp_password",
        "email.smtp_password_file",
        "email.smtp_ca_file",
        "sms.account_sid",
        "sms.auth_token",
        "sms.auth_token_file",
        "sms.from",
        "audit.*",
        "voting.*",
        "backup.s3_region",
        "backup.s3_path_style",
        "backup.s3_access_key_id",
        "backup.s3_secret_access_key",
        "backup.s3_secret_access_key_file",
        "backup.ship_interval_ms",
        "backup.snapshot_interval_hours",
        "backup.retention_days",
        "backup.stale_after_secs",
        "backup.checkpoint_frames",
        "backup.pgbackrest_config",
        "map.tile_attribution",
        "disclosure.*",
        "errors.environment",
        "metrics.*",
        "log.*",
    ];

    fn every_key() -> Vec<String> {
        let example = toml::Table::try_from(Config::example()).unwrap();
        let pkcs11 = toml::Table::try_from(crate::config::KeysConfig::pkcs11_example()).unwrap();
        let mut out: Vec<String> = pkcs11.keys().map(|k| format!("keys.{k}")).collect();
        for (section, fields) in &example {
            for field in fields.as_table().unwrap().keys() {
                out.push(format!("{section}.{field}"));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn entries(config: &Config) -> Vec<ThirdParty> {
        listed(config, &Resolved::new(config, Path::new("/srv/cista")))
    }

    #[test]
    fn every_configuration_key_is_either_outbound_or_local() {
        let outbound: Vec<&str> = outbound().iter().map(|(k, _)| *k).collect();
        let unclassified: Vec<String> = every_key()
            .into_iter()
            .filter(|key| {
                let section_wildcard = format!("{}.*", key.split('.').next().unwrap_or(""));
                !outbound.contains(&key.as_str())
                    && !LOCAL.contains(&key.as_str())
                    && !LOCAL.contains(&section_wildcard.as_str())
            })
            .collect();
        assert!(
            unclassified.is_empty(),
            "classify these keys: outbound (with an entry in `listed`) or LOCAL: {unclassified:?}"
        );
    }

    #[test]
    fn each_outbound_setting_lists_its_service_and_nothing_else_is_listed() {
        assert_eq!(
            entries(&Config::default()),
            vec![],
            "the defaults send nothing anywhere"
        );
        for (key, turn_on) in outbound() {
            let mut config = Config::default();
            turn_on(&mut config);
            let listed = entries(&config);
            assert!(
                listed.iter().any(|t| t.settings.iter().any(|s| s == key)),
                "{key} is set but no third party names it: {listed:?}"
            );
            for entry in &listed {
                for text in [&entry.endpoint, &entry.public_endpoint, &entry.receives] {
                    assert!(!text.contains("pw"), "no password shown: {entry:?}");
                }
            }
        }
    }

    #[test]
    fn the_database_host_is_for_staff_and_s3_uses_the_configured_endpoint() {
        let mut config = Config::default();
        config.database.url = Some(Secret::new(
            "postgres://cista:secret@db.internal:6432/cista".to_owned(),
        ));
        config.blobs.target = Some("s3://files/cista".to_owned());
        config.backup.s3_endpoint = Some("https://minio.example.org:9000/".to_owned());
        let listed = entries(&config);
        let db = listed
            .iter()
            .find(|t| t.service == "PostgreSQL database")
            .unwrap();
        assert_eq!(db.endpoint, "db.internal:6432");
        assert!(!db.public_endpoint.contains("db.internal"));
        let files = listed
            .iter()
            .find(|t| t.service == "Object storage (S3) for files")
            .unwrap();
        assert_eq!(files.endpoint, "minio.example.org:9000");
        // A local SQLite database is not a third party.
        assert!(
            entries(&Config::default())
                .iter()
                .all(|t| !t.service.contains("database"))
        );
    }
}
