//! Keys in an HSM through PKCS#11, against SoftHSM2 (issue 14, item 5): `init` makes the
//! key-encryption key on the token (no key file), the server serves and names the token on the
//! trust page, `keys rotate` adds a second key on the token while it runs, a backup restores
//! and opens with the token's keys; a wrong PIN and a missing token are one clear line each.
//! On SQLite and, with `CISTA_TEST_POSTGRES_URL`, on PostgreSQL. Needs `softhsm2-util`
//! (Debian `softhsm2`); `CISTA_TEST_REQUIRE_SOFTHSM=1` (CI) fails instead of skipping.

use crate::{Running, cista, client, fails, free_port, kek_path, ok};
use std::path::{Path, PathBuf};
use std::process::Command;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A SoftHSM2 token store of its own, with one initialised token labelled `cista`.
struct SoftHsm {
    conf: PathBuf,
    pin_file: PathBuf,
    wrong_pin_file: PathBuf,
}

impl SoftHsm {
    fn new(dir: &Path) -> Option<Self> {
        let available = Path::new(MODULE).exists()
            && Command::new("softhsm2-util")
                .arg("--version")
                .output()
                .is_ok();
        if !available {
            assert!(
                std::env::var_os("CISTA_TEST_REQUIRE_SOFTHSM").is_none(),
                "CISTA_TEST_REQUIRE_SOFTHSM is set but SoftHSM2 is not installed \
                 (apt-get install softhsm2)"
            );
            eprintln!("SKIPPED the PKCS#11 tests: SoftHSM2 is not installed");
            return None;
        }
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let made = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args([
                "--init-token",
                "--free",
                "--label",
                "cista",
                "--pin",
                "246810",
                "--so-pin",
                "13579111",
            ])
            .output()
            .unwrap();
        assert!(made.status.success(), "{made:?}");
        let private = |name: &str, pin: &str| {
            use std::os::unix::fs::PermissionsExt as _;
            let path = dir.join(name);
            std::fs::write(&path, pin).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            path
        };
        Some(Self {
            conf,
            pin_file: private("pin", "246810\n"),
            wrong_pin_file: private("wrong-pin", "000000\n"),
        })
    }

    /// `cista` on `data` with its keys on this token (and the database at `url`, if given).
    fn cista(&self, data: &Path, url: Option<&str>) -> Command {
        let mut command = cista(data);
        command
            .env("SOFTHSM2_CONF", &self.conf)
            .env("CISTA_KEYS_PROVIDER", "pkcs11")
            .env("CISTA_KEYS_MODULE", MODULE)
            .env("CISTA_KEYS_TOKEN_LABEL", "cista")
            .env("CISTA_KEYS_PIN_FILE", &self.pin_file);
        if let Some(url) = url {
            command.env("CISTA_DATABASE_URL", url);
        }
        command
    }
}

fn keys_status(hsm: &SoftHsm, data: &Path, url: Option<&str>) -> String {
    let mut status = hsm.cista(data, url);
    status.args(["keys", "status"]);
    ok(status).stdout
}

/// The trust report of the server on `port`, once it answers: it has then opened the token.
/// A command that uses the token waits for this, so two processes do not open the same
/// SoftHSM2 token at the same moment (its file store then fails a login now and then with
/// `CKR_GENERAL_ERROR`).
fn trust_report_once_serving(data: &Path, port: u16) -> serde_json::Value {
    let http = client(data, port);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        for _ in 0..100 {
            if let Ok(r) = http
                .get(format!("https://localhost:{port}/api/v1/trust"))
                .send()
                .await
            {
                return r.json().await.unwrap();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the server did not answer");
    })
}

/// Init, serve (the trust page names the token), rotate while serving, audit verify.
fn init_serve_rotate(hsm: &SoftHsm, data: &Path, url: Option<&str>) {
    let mut init = hsm.cista(data, url);
    init.arg("init");
    let ran = ok(init);
    assert!(
        ran.stdout
            .contains("created keys            PKCS#11 token \"cista\""),
        "{}",
        ran.stdout
    );
    assert!(
        !kek_path(data).exists(),
        "no key file: the keys are on the token"
    );
    // A second init reuses the token's key and never makes another.
    let mut again = hsm.cista(data, url);
    again.arg("init");
    assert!(ok(again).stdout.contains("reused  keys"));
    let before = keys_status(hsm, data, url);
    assert!(before.contains("PKCS#11 token \"cista\""), "{before}");

    let port = free_port();
    let mut serve = hsm.cista(data, url);
    serve.args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
    let server = Running::spawn(serve);
    let report = trust_report_once_serving(data, port);
    let kind = report["report"]["keys"]["provider"]["kind"].clone();
    assert_eq!(kind, "PKCS#11 token \"cista\"");

    // Rotation while the server runs: a new key on the token; everything still opens.
    let mut rotate = hsm.cista(data, url);
    rotate.args(["keys", "rotate"]);
    ok(rotate);
    let after = keys_status(hsm, data, url);
    assert_ne!(before, after);
    assert!(after.contains("retired"), "{after}");
    assert_eq!(server.terminate(), 0);
    let mut verify = hsm.cista(data, url);
    verify.args(["audit", "verify"]);
    assert!(ok(verify).stdout.starts_with("audit log OK"));
}

#[test]
fn keys_on_a_softhsm2_token_init_serve_rotate_and_restore_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(hsm) = SoftHsm::new(tmp.path()) else {
        return;
    };
    let data = tmp.path().join("data");
    let mut backup = data.as_os_str().to_owned();
    backup.push("-backup");
    std::fs::create_dir_all(PathBuf::from(backup)).unwrap();
    init_serve_rotate(&hsm, &data, None);

    // The backup is sealed under a key the token wraps: it restores with the token.
    let slug = {
        let port = free_port();
        let mut orgs = hsm.cista(&data, None);
        orgs.args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
        let server = Running::spawn(orgs);
        trust_report_once_serving(&data, port);
        let slug = create_org_with(&hsm, &data, "Bayside Towers HOA");
        std::thread::sleep(std::time::Duration::from_millis(1500));
        assert_eq!(server.terminate(), 0);
        slug
    };
    assert_eq!(slug, "bayside-towers-hoa");
    let restored = tmp.path().join("restored");
    let mut restore = hsm.cista(&data, None);
    restore.args(["restore", "--to", "latest", "--into"]);
    restore.arg(&restored);
    let ran = ok(restore);
    assert!(ran.stdout.contains("integrity_check ok"), "{}", ran.stdout);
    let mut verify = hsm.cista(&restored, None);
    verify.args(["audit", "verify"]);
    assert!(ok(verify).stdout.starts_with("audit log OK"));

    // A wrong PIN and a token that is not there: one clear line each, nothing served.
    let mut wrong = hsm.cista(&data, None);
    wrong.env("CISTA_KEYS_PIN_FILE", &hsm.wrong_pin_file);
    wrong.args(["keys", "status"]);
    let line = fails(wrong);
    assert!(line.contains("refused the PIN"), "{line}");
    assert!(line.contains("keys.pin_file"), "{line}");
    let mut configtest = hsm.cista(&data, None);
    configtest.env("CISTA_KEYS_PIN_FILE", &hsm.wrong_pin_file);
    configtest.arg("configtest");
    let ran = crate::run(configtest);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    assert!(ran.stdout.contains("FAIL  keys: "), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("skip  instance: not opened"),
        "never a silently missing line: {}",
        ran.stdout
    );
    // A PIN file others can read is refused, naming the fix.
    let open_pin = hsm.pin_file.with_file_name("open-pin");
    std::fs::copy(&hsm.pin_file, &open_pin).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&open_pin, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mut open = hsm.cista(&data, None);
    open.env("CISTA_KEYS_PIN_FILE", &open_pin);
    open.args(["keys", "status"]);
    let line = fails(open);
    assert!(line.contains("chmod 600"), "{line}");
    let mut missing = hsm.cista(&data, None);
    missing.env("CISTA_KEYS_TOKEN_LABEL", "elsewhere");
    missing.args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())]);
    let line = fails(missing);
    assert!(
        line.contains("the PKCS#11 token \"elsewhere\" does not exist"),
        "{line}"
    );
    assert!(line.contains("softhsm2-util --init-token"), "{line}");
}

/// Creates an organization through the CLI with the token's keys; returns its slug.
fn create_org_with(hsm: &SoftHsm, data: &Path, name: &str) -> String {
    let mut create = hsm.cista(data, None);
    create.args([
        "org",
        "create",
        "--name",
        name,
        "--owner-first-name",
        "Olivia",
        "--owner-last-name",
        "Reyes",
        "--owner-email",
        "olivia@bayside.example",
    ]);
    let ran = ok(create);
    assert!(
        ran.stdout.contains("created organization"),
        "{}",
        ran.stdout
    );
    name.to_lowercase().replace(' ', "-")
}

#[test]
fn keys_on_a_softhsm2_token_init_serve_and_rotate_on_postgresql() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(schema) = runtime.block_on(cista_testkit::postgres::PrivateSchema::create()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let Some(hsm) = SoftHsm::new(tmp.path()) else {
        return;
    };
    init_serve_rotate(&hsm, &tmp.path().join("data"), Some(&schema.url()));
    runtime.block_on(schema.drop_now());
}
