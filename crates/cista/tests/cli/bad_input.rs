//! The foundation's bad input: a wrong config key, a missing or unreadable certificate or key
//! file, a key file readable by others, a bad database URL, a database from a newer version,
//! a taken port. Each gets one clear line naming the problem and the fix, exit 1, no panic,
//! and nothing written.

use crate::{cista, fails, free_port, init, kek_path};
use std::path::Path;

fn serve(data: &Path) -> std::process::Command {
    let mut command = cista(data);
    command.args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())]);
    command
}

#[test]
fn serve_without_a_certificate_refuses_to_start_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("never-initialized");
    let line = fails(serve(&data));
    assert!(line.contains("certificate"), "{line}");
    assert!(line.contains("does not exist"), "{line}");
    assert!(line.contains("cista init"), "{line}");
    assert!(!data.exists(), "a refused start must write nothing");
    assert!(!kek_path(&data).exists());
}

#[test]
fn an_unreadable_or_corrupt_certificate_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    std::fs::write(data.join("tls/server.pem"), "not a certificate").unwrap();
    let line = fails(serve(&data));
    assert!(line.contains("server.pem"), "{line}");
}

#[test]
fn a_key_file_readable_by_others_stops_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(kek_path(&data), std::fs::Permissions::from_mode(0o644)).unwrap();
        let line = fails(serve(&data));
        assert!(line.contains("can be read by group or others"), "{line}");
        assert!(line.contains("chmod 600"), "{line}");
    }
}

#[test]
fn a_missing_key_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    std::fs::remove_file(kek_path(&data)).unwrap();
    let line = fails(serve(&data));
    assert!(line.contains("key file"), "{line}");
    assert!(line.contains("does not exist"), "{line}");

    // init must not paper over the loss with a new key file that cannot decrypt anything.
    let mut again = cista(&data);
    again.arg("init");
    let line = fails(again);
    assert!(line.contains("restore that key file"), "{line}");
    assert!(
        !kek_path(&data).exists(),
        "no replacement key file was written"
    );
}

#[test]
fn the_wrong_key_file_fails_loudly() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    init(&a);
    init(&b);
    let mut command = serve(&a);
    command.env("CISTA_KEYS_FILE", kek_path(&b));
    let line = fails(command);
    assert!(line.contains("does not hold key-encryption key"), "{line}");
}

#[test]
fn an_unknown_config_key_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("cista.toml");
    std::fs::write(&config, "[server]\nlisen = \"127.0.0.1:1\"\n").unwrap();
    let mut command = cista(&tmp.path().join("data"));
    command.arg("--config").arg(&config).arg("configtest");
    let line = fails(command);
    assert!(line.contains("lisen"), "{line}");
    assert!(line.contains("cista.toml"), "{line}");

    let mut command = cista(&tmp.path().join("data"));
    command.env("CISTA_SERVER_LISTN", "x").arg("init");
    let line = fails(command);
    assert!(line.contains("CISTA_SERVER_LISTN"), "{line}");
    assert!(!tmp.path().join("data").exists(), "nothing written");
}

#[test]
fn a_bad_database_url_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let mut command = serve(&data);
    command.env("CISTA_DATABASE_URL", "mysql://root@localhost/cista");
    let line = fails(command);
    assert!(line.contains("database.url"), "{line}");

    let mut command = serve(&data);
    command
        .env(
            "CISTA_DATABASE_URL",
            format!("postgres://nobody@127.0.0.1:{}/x", free_port()),
        )
        .env("CISTA_DATABASE_CONNECT_TIMEOUT_SECS", "3");
    let line = fails(command);
    assert!(
        line.contains("cannot use the database postgres://nobody@127.0.0.1"),
        "{line}"
    );

    // A refused init writes nothing: no data directory, no key file.
    let fresh = tmp.path().join("fresh");
    for url in [
        "mysql://root@localhost/cista".to_owned(),
        format!("postgres://nobody@127.0.0.1:{}/x", free_port()),
    ] {
        let mut command = cista(&fresh);
        command
            .env("CISTA_DATABASE_URL", &url)
            .env("CISTA_DATABASE_CONNECT_TIMEOUT_SECS", "3")
            .arg("init");
        fails(command);
        assert!(!fresh.exists(), "{url}: the data directory was written");
        assert!(
            !kek_path(&fresh).exists(),
            "{url}: the key file was written"
        );
    }
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    crate::tamper_sqlite(
        &data,
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m29990101_000001_future', 0)",
    );
    for args in [vec!["serve"], vec!["migrate"], vec!["audit", "verify"]] {
        let mut command = cista(&data);
        command.args(&args);
        let line = fails(command);
        assert!(line.contains("m29990101_000001_future"), "{args:?}: {line}");
        assert!(line.contains("newer"), "{args:?}: {line}");
    }
}

#[test]
fn a_taken_port_is_reported_with_a_way_out() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut command = cista(&data);
    command.args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
    let line = fails(command);
    assert!(
        line.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{line}"
    );
    assert!(line.contains("--listen"), "{line}");
}

/// `configtest` on `[disclosure]` (RFC 9116 security.txt): a public instance must name a
/// contact; an Expires that is past or more than a year ahead is refused on any instance, with
/// the key and the fix; a good one is reported with its contact.
#[test]
fn configtest_refuses_a_missing_contact_on_a_public_instance_and_a_stale_expires() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    // Runs configtest with `vars`; checks its exit code and that it prints `text`.
    let says = |vars: &[(&str, String)], code: i32, text: &str| {
        let mut command = cista(&data);
        command.arg("configtest");
        for (key, value) in vars {
            command.env(key, value);
        }
        let ran = crate::run(command);
        assert_eq!(ran.code, code, "{}", ran.stdout);
        assert!(ran.stdout.contains(text), "`{text}` in {}", ran.stdout);
    };
    says(&[], 0, "ok    disclosure (security.txt): not set");
    let public = (
        "CISTA_SERVER_PUBLIC_URL",
        "https://vote.palmcourt.example".to_owned(),
    );
    says(
        std::slice::from_ref(&public),
        1,
        "FAIL  disclosure (security.txt): disclosure.contact is missing",
    );
    let contact = (
        "CISTA_DISCLOSURE_CONTACT",
        "mailto:security@palmcourt.example, https://palmcourt.example/report".to_owned(),
    );
    let date = |days: i64| {
        (
            "CISTA_DISCLOSURE_EXPIRES",
            cista_types::Clock::now(&cista_types::SystemClock)
                .plus(time::Duration::days(days))
                .to_rfc3339(),
        )
    };
    says(&[public.clone(), contact.clone(), date(-2)], 1, "is past");
    says(
        &[public.clone(), contact.clone(), date(400)],
        1,
        "more than a year ahead",
    );
    says(
        &[public.clone(), contact, date(200)],
        0,
        "ok    disclosure (security.txt): mailto:security@palmcourt.example, \
         https://palmcourt.example/report, expires",
    );
    let malformed = (
        "CISTA_DISCLOSURE_CONTACT",
        "security@palmcourt.example".to_owned(),
    );
    says(
        &[public, malformed, date(200)],
        1,
        "must be a URI starting with mailto:",
    );
}
