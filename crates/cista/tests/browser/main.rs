//! Browser checks in headless Chromium against a real `cista demo`: the landing and trust
//! pages render with their stylesheet under the strict CSP, the browser logs no CSP violation
//! or other error, keyboard focus starts at the skip link, nothing overflows on a phone, and
//! screenshots are saved for people to look at.
//!
//! Runs when `CISTA_TEST_BROWSER=1` (as `.ci/run` sets after installing Debian's `chromium`
//! and `chromium-driver`); screenshots go to `CISTA_SCREENSHOT_DIR` or the target directory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use sha2::Digest as _;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use thirtyfour::common::command::FormatRequestData;
use thirtyfour::prelude::*;
use thirtyfour::{RequestData, SessionId};

const BIN: &str = env!("CARGO_BIN_EXE_cista");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// Chromium's console log since the last call (chromedriver's `se/log` endpoint).
#[derive(Debug)]
struct BrowserLog;

impl FormatRequestData for BrowserLog {
    fn format_request(&self, session_id: &SessionId) -> RequestData {
        RequestData::new(http::Method::POST, format!("/session/{session_id}/se/log"))
            .add_body(serde_json::json!({ "type": "browser" }))
    }
}

async fn console_problems(driver: &WebDriver) -> Vec<String> {
    let response = driver.handle().cmd(BrowserLog).await.unwrap();
    let entries: Vec<serde_json::Value> = response.value().unwrap();
    entries
        .into_iter()
        .filter(|e| {
            let level = e["level"].as_str().unwrap_or("");
            let message = e["message"].as_str().unwrap_or("");
            level == "SEVERE" || level == "WARNING" || message.contains("Content Security Policy")
        })
        .map(|e| e["message"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// base64(SHA-256(SubjectPublicKeyInfo)) of the server key: Chromium trusts exactly this key,
/// nothing else (the test's stand-in for importing the local CA).
fn spki_pin(data: &Path) -> String {
    let pem = std::fs::read_to_string(data.join("tls/server-key.pem")).unwrap();
    let key = rcgen::KeyPair::from_pem(&pem).unwrap();
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(
        rcgen::PublicKeyData::subject_public_key_info(&key),
    ))
}

fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("CISTA_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn the_landing_and_trust_pages_render_cleanly_in_chromium() {
    if std::env::var("CISTA_TEST_BROWSER").as_deref() != Ok("1") {
        eprintln!(
            "SKIPPED: set CISTA_TEST_BROWSER=1 (with chromium and chromium-driver installed)"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let port = free_port();
    let mut command = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("CISTA_") {
            command.env_remove(key);
        }
    }
    let mut server = command
        .args(["demo", "--data-dir"])
        .arg(&data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = server.stdout.take().unwrap();
    let server = KillOnDrop(server);
    for line in BufReader::new(stdout).lines() {
        if line.unwrap().contains("Press Ctrl-C") {
            break;
        }
    }

    let driver_port = free_port();
    let chromedriver = KillOnDrop(
        Command::new("chromedriver")
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver must be installed (Debian package chromium-driver)"),
    );
    let profile = tmp.path().join("chromium-profile");
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary("/usr/bin/chromium").unwrap();
    for arg in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--window-size=1280,1000",
        &format!("--user-data-dir={}", profile.display()),
        &format!("--ignore-certificate-errors-spki-list={}", spki_pin(&data)),
    ] {
        caps.add_arg(arg).unwrap();
    }
    caps.set("goog:loggingPrefs", serde_json::json!({ "browser": "ALL" }))
        .unwrap();
    let mut driver = None;
    for _ in 0..50 {
        match WebDriver::new(format!("http://127.0.0.1:{driver_port}"), caps.clone()).await {
            Ok(d) => {
                driver = Some(d);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let driver = driver.expect("chromedriver did not start");
    let shots = screenshot_dir();
    let origin = format!("https://localhost:{port}");

    // Landing page, desktop.
    driver.goto(format!("{origin}/")).await.unwrap();
    assert_eq!(
        driver.title().await.unwrap(),
        "Cista — collect sensitive input from known people"
    );
    let h1 = driver
        .find(By::Tag("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(h1.contains("prove it is safe"), "{h1}");
    let body = driver
        .find(By::Tag("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for fact in [
        "Transport",
        "TLS 1.3",
        "Database",
        "SQLite",
        "Keys",
        "Audit log",
        "signature valid",
        "Palm Court Condominium Association",
    ] {
        assert!(body.contains(fact), "landing page lacks {fact}:\n{body}");
    }
    // The stylesheet applied under the CSP: the header has the brand colour.
    let header_bg = driver
        .execute(
            "return getComputedStyle(document.querySelector('header.site')).backgroundColor",
            vec![],
        )
        .await
        .unwrap()
        .json()
        .clone();
    assert_eq!(header_bg, "rgb(29, 59, 83)");
    driver.screenshot(&shots.join("landing.png")).await.unwrap();

    // Keyboard: the first Tab lands on the skip link.
    driver
        .action_chain()
        .send_keys(Key::Tab)
        .perform()
        .await
        .unwrap();
    let focused = driver
        .execute("return document.activeElement.className", vec![])
        .await
        .unwrap()
        .json()
        .clone();
    assert_eq!(focused, "skip");

    // Trust page, full height.
    driver.goto(format!("{origin}/security")).await.unwrap();
    let text = driver
        .find(By::Tag("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for fact in [
        "TLS 1.3",
        "TLS13_AES_256_GCM_SHA384",
        "journal_mode",
        "FULL",
        "local key file",
        "RFC 6962",
        "Latest signed checkpoint",
        "valid",
    ] {
        assert!(text.contains(fact), "trust page lacks {fact}");
    }
    let height = driver
        .execute("return document.documentElement.scrollHeight", vec![])
        .await
        .unwrap()
        .json()
        .as_u64()
        .unwrap();
    driver
        .set_window_rect(0, 0, 1280, u32::try_from(height + 120).unwrap())
        .await
        .unwrap();
    driver
        .screenshot(&shots.join("security.png"))
        .await
        .unwrap();

    // A phone: nothing wider than the screen.
    driver.set_window_rect(0, 0, 390, 1800).await.unwrap();
    for (path, name) in [
        ("/", "landing-phone.png"),
        ("/security", "security-phone.png"),
    ] {
        driver.goto(format!("{origin}{path}")).await.unwrap();
        let overflow = driver
            .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth", vec![])
            .await
            .unwrap()
            .json()
            .as_i64()
            .unwrap();
        assert!(
            overflow <= 0,
            "{path} overflows a phone screen by {overflow}px"
        );
        driver.screenshot(&shots.join(name)).await.unwrap();
    }

    let problems = console_problems(&driver).await;
    assert!(
        problems.is_empty(),
        "the browser reported problems: {problems:#?}"
    );

    // The error page renders with the same stylesheet.
    driver.set_window_rect(0, 0, 1280, 700).await.unwrap();
    driver.goto(format!("{origin}/no-such-page")).await.unwrap();
    let error = driver
        .find(By::Tag("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(error.contains("not_found"), "{error}");
    driver
        .screenshot(&shots.join("not-found.png"))
        .await
        .unwrap();
    let problems: Vec<String> = console_problems(&driver)
        .await
        .into_iter()
        .filter(|m| !m.contains("404"))
        .collect();
    assert!(
        problems.is_empty(),
        "the browser reported problems: {problems:#?}"
    );

    driver.quit().await.unwrap();
    drop(chromedriver);
    drop(server);
    eprintln!("screenshots in {}", shots.display());
}
