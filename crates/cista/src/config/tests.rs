//! Loading the configuration: layers, unknown keys, secrets, the key provider section.

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

#[test]
fn the_keys_section_is_tagged_by_provider_and_local_is_the_default() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        Config::load(None, env(&[])).unwrap().keys,
        KeysConfig::Local { file: None }
    );
    // A section without `provider` (as every config before the tag) still means a key file.
    let file = write(dir.path(), "a.toml", "[keys]\nfile = \"/srv/cista.kek\"\n");
    assert_eq!(
        Config::load(Some(&file), env(&[])).unwrap().keys,
        KeysConfig::Local {
            file: Some(PathBuf::from("/srv/cista.kek"))
        }
    );
    let file = write(
        dir.path(),
        "b.toml",
        "[keys]\nprovider = \"local\"\nfile = \"/srv/b.kek\"\n",
    );
    let config = Config::load(Some(&file), env(&[])).unwrap();
    assert_eq!(
        Resolved::new(&config, Path::new("/srv/data")).kek_file,
        PathBuf::from("/srv/b.kek")
    );
    assert!(config.to_redacted_toml().contains("provider = \"local\""));
    // The environment sets the same keys.
    let config = Config::load(
        None,
        env(&[
            ("CISTA_KEYS_PROVIDER", "local"),
            ("CISTA_KEYS_FILE", "/srv/c.kek"),
        ]),
    )
    .unwrap();
    assert_eq!(
        config.keys,
        KeysConfig::Local {
            file: Some(PathBuf::from("/srv/c.kek"))
        }
    );
    // A provider this build does not have, and a field the provider does not take, are named.
    let file = write(dir.path(), "c.toml", "[keys]\nprovider = \"kms\"\n");
    let e = Config::load(Some(&file), env(&[])).unwrap_err().to_string();
    assert!(
        e.contains("kms") && e.contains("local") && e.contains("pkcs11"),
        "{e}"
    );
    // PKCS#11: the token's label is required; the PIN is a secret that never prints.
    let file = write(dir.path(), "e.toml", "[keys]\nprovider = \"pkcs11\"\n");
    let e = Config::load(Some(&file), env(&[])).unwrap_err().to_string();
    assert!(e.contains("token_label"), "{e}");
    let pin = write(dir.path(), "pin", "246810\n");
    let config = Config::load(
        None,
        env(&[
            ("CISTA_KEYS_PROVIDER", "pkcs11"),
            ("CISTA_KEYS_TOKEN_LABEL", "cista"),
            ("CISTA_KEYS_PIN_FILE", pin.to_str().unwrap()),
        ]),
    )
    .unwrap();
    let KeysConfig::Pkcs11 {
        token_label,
        pin: Some(read),
        ..
    } = &config.keys
    else {
        panic!("{:?}", config.keys);
    };
    assert_eq!(token_label, "cista");
    assert_eq!(read.expose(), "246810");
    assert!(!config.to_redacted_toml().contains("246810"));
    let file = write(
        dir.path(),
        "d.toml",
        "[keys]\nprovider = \"local\"\nslot = 3\n",
    );
    let e = Config::load(Some(&file), env(&[])).unwrap_err().to_string();
    assert!(e.contains("slot"), "{e}");
}
