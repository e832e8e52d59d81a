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

/// A running demo and a Chromium driving it.
struct Browser {
    driver: WebDriver,
    origin: String,
    /// The demo's printed sign-in links, by email address (what a person copies from the
    /// terminal).
    sign_in_links: Vec<(String, String)>,
    shots: PathBuf,
    _server: KillOnDrop,
    _chromedriver: KillOnDrop,
    _tmp: tempfile::TempDir,
}

impl Browser {
    /// `None` (after saying so) unless `CISTA_TEST_BROWSER=1`.
    async fn start() -> Option<Self> {
        if std::env::var("CISTA_TEST_BROWSER").as_deref() != Ok("1") {
            eprintln!(
                "SKIPPED: set CISTA_TEST_BROWSER=1 (with chromium and chromium-driver installed)"
            );
            return None;
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
            // Fast answers for the test; the production floor is 400 ms.
            .env("CISTA_LIMITS_AUTH_RESPONSE_FLOOR_MS", "20")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = server.stdout.take().unwrap();
        let server = KillOnDrop(server);
        let mut lines = BufReader::new(stdout).lines();
        let mut sign_in_links = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line.contains("Press Ctrl-C") {
                break;
            }
            // "  Name, role (email): https://…/i/…"
            if let Some((who, link)) = line.split_once("): ")
                && let Some((_, email)) = who.rsplit_once('(')
                && link.contains("/i/")
            {
                sign_in_links.push((email.to_owned(), link.trim().to_owned()));
            }
        }
        // Keep reading the server's output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});

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
        Some(Self {
            driver: driver.expect("chromedriver did not start"),
            origin: format!("https://localhost:{port}"),
            sign_in_links,
            shots: screenshot_dir(),
            _server: server,
            _chromedriver: chromedriver,
            _tmp: tmp,
        })
    }

    /// The sign-in link the demo printed for `email`.
    fn printed_link(&self, email: &str) -> String {
        self.sign_in_links
            .iter()
            .find(|(e, _)| e == email)
            .map(|(_, link)| link.clone())
            .unwrap_or_else(|| panic!("the demo printed no sign-in link for {email}"))
    }

    async fn go(&self, path: &str) {
        self.driver
            .goto(format!("{}{path}", self.origin))
            .await
            .unwrap();
    }

    async fn shot(&self, name: &str) {
        self.driver
            .screenshot(&self.shots.join(name))
            .await
            .unwrap();
    }

    async fn main_text(&self) -> String {
        self.driver
            .find(By::Tag("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn fill(&self, id: &str, value: &str) {
        let field = self.driver.find(By::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Clicks and waits until the next page has replaced this one and finished loading.
    async fn click_and_wait(&self, element: WebElement) {
        let old = self.driver.find(By::Tag("html")).await.unwrap();
        element.click().await.unwrap();
        for _ in 0..200 {
            if !old.is_present().await.unwrap_or(false) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        for _ in 0..200 {
            let state = self
                .driver
                .execute("return document.readyState", vec![])
                .await
                .map(|r| r.json().clone());
            if state.is_ok_and(|s| s == "complete") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn submit(&self) {
        let button = self
            .driver
            .find(By::Css("main form.stack button[type=submit]"))
            .await
            .unwrap();
        self.click_and_wait(button).await;
    }

    async fn path(&self) -> String {
        let url = self.driver.current_url().await.unwrap().to_string();
        url.trim_start_matches(&self.origin).to_owned()
    }

    /// The newest demo-outbox message to `to` whose subject contains `subject`: its link and
    /// body.
    async fn outbox(&self, to: &str, subject: &str) -> (Option<String>, String) {
        self.outbox_body(to, subject, "").await
    }

    /// The newest demo-outbox message to `to` whose subject contains `subject` and whose body
    /// contains `text` (an SMS has no subject of its own): its link and body.
    async fn outbox_body(&self, to: &str, subject: &str, text: &str) -> (Option<String>, String) {
        for _ in 0..50 {
            self.go(&format!("/demo/outbox?to={}", to.replace('+', "%2B")))
                .await;
            for article in self
                .driver
                .find_all(By::Css("article.message"))
                .await
                .unwrap()
            {
                let meta = article
                    .find(By::Css("p.meta"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                let heading = article
                    .find(By::Tag("h2"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                if !(meta.contains(to) && heading.contains(subject)) {
                    continue;
                }
                let body = article
                    .find(By::Css("pre"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                if body.contains(text) {
                    let link = match article.find(By::Css("a.button")).await {
                        Ok(a) => a.attr("href").await.unwrap(),
                        Err(_) => None,
                    };
                    return (link, body);
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("no message to {to} about {subject} reached the outbox");
    }

    async fn sign_in(&self, email: &str, password: &str) {
        self.go("/sign-in").await;
        self.fill("email", email).await;
        self.fill("password", password).await;
        self.submit().await;
    }

    async fn sign_out(&self) {
        let button = self
            .driver
            .find(By::Css("header form button"))
            .await
            .unwrap();
        self.click_and_wait(button).await;
        assert!(self.path().await.starts_with("/sign-in?signed_out"));
    }

    /// Console errors and CSP reports since the last call, ignoring the expected 4xx answers
    /// to forms filled in wrongly on purpose.
    async fn problems(&self) -> Vec<String> {
        console_problems(&self.driver)
            .await
            .into_iter()
            .filter(|m| !m.contains("status of 4"))
            .collect()
    }
}

const MEMBER: &str = "manuel@palm-court.example";
const OWNER: &str = "owner@palm-court.example";
const PASSWORD: &str = "orbit-mango-cellar-91";

#[tokio::test]
async fn people_and_access_flows_work_in_chromium() {
    let Some(b) = Browser::start().await else {
        return;
    };

    // 1. Invitation -> set password -> sign in -> sign out (the member).
    // The link the demo printed, as a person following the README would use it.
    b.driver.goto(b.printed_link(MEMBER)).await.unwrap();
    assert!(b.main_text().await.contains("Hello Manuel"));
    b.fill("password", "password1").await;
    b.fill("confirm", "password1").await;
    b.submit().await;
    let text = b.main_text().await;
    assert!(
        text.contains("too easy to guess"),
        "the weak password is explained: {text}"
    );
    b.shot("set-password-weak.png").await;
    b.fill("password", PASSWORD).await;
    b.fill("confirm", PASSWORD).await;
    b.submit().await;
    assert!(b.main_text().await.contains("Your password is saved"));
    b.shot("sign-in.png").await;
    b.fill("email", MEMBER).await;
    b.fill("password", PASSWORD).await;
    b.submit().await;
    assert_eq!(b.path().await, "/me");
    assert!(b.main_text().await.contains("Hello Manuel"));
    b.shot("me-member.png").await;
    b.sign_out().await;
    assert!(b.main_text().await.contains("signed out"));

    // 2. Forgotten password -> reset link -> new password -> sign in.
    b.go("/reset").await;
    b.fill("email", MEMBER).await;
    b.submit().await;
    assert!(b.main_text().await.contains("Check your email"));
    let (link, _) = b.outbox(MEMBER, "Choose a new Cista password").await;
    b.driver.goto(link.unwrap()).await.unwrap();
    b.fill("password", "lantern-quarry-velvet-7").await;
    b.fill("confirm", "lantern-quarry-velvet-7").await;
    b.submit().await;
    b.sign_in(MEMBER, PASSWORD).await;
    assert!(
        b.main_text().await.contains("not right"),
        "the old password no longer works"
    );
    b.sign_in(MEMBER, "lantern-quarry-velvet-7").await;
    assert_eq!(b.path().await, "/me");
    b.sign_out().await;

    // 3. SMS sign-in: a voting-only session.
    b.go("/sms").await;
    b.fill("identifier", "+1 305 555 0142").await;
    b.submit().await;
    assert!(b.main_text().await.contains("Enter your code"));
    b.shot("sms-code.png").await;
    let (_, body) = b.outbox_body("+13055550142", "SMS", "sign-in code").await;
    let code: String = body.chars().filter(char::is_ascii_digit).take(6).collect();
    b.go("/sms/verify").await;
    b.fill("code", "000000").await;
    b.submit().await;
    assert!(
        b.main_text().await.contains("not right"),
        "a wrong code is explained"
    );
    b.fill("code", &code).await;
    b.submit().await;
    assert_eq!(b.path().await, "/me");
    assert!(
        b.main_text()
            .await
            .contains("signed in with a code sent by SMS")
    );
    b.shot("me-sms.png").await;
    b.sign_out().await;

    // 4. The owner: set password, enrol an authenticator, manage people, sign in again.
    b.driver.goto(b.printed_link(OWNER)).await.unwrap();
    b.fill("password", PASSWORD).await;
    b.fill("confirm", PASSWORD).await;
    b.submit().await;
    b.sign_in(OWNER, PASSWORD).await;
    assert_eq!(
        b.path().await,
        "/mfa/enrol",
        "owners must enrol a second factor"
    );
    let qr = b.driver.find(By::Css("figure.qr img")).await.unwrap();
    assert!(
        qr.attr("src")
            .await
            .unwrap()
            .unwrap()
            .starts_with("data:image/svg+xml;base64,")
    );
    b.shot("mfa-enrol.png").await;
    let secret = b
        .driver
        .find(By::Css("code.secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let secret = cista_crypto::totp::TotpSecret::from_base32(&secret).unwrap();
    let now = cista_types::Clock::now(&cista_types::SystemClock)
        .as_offset()
        .unix_timestamp() as u64;
    b.fill("code", &secret.code_at(now).unwrap()).await;
    b.submit().await;
    assert!(b.main_text().await.contains("Your authenticator is on"));
    let codes: Vec<String> = {
        let mut codes = Vec::new();
        for li in b.driver.find_all(By::Css("ol.recovery li")).await.unwrap() {
            codes.push(li.text().await.unwrap());
        }
        codes
    };
    assert_eq!(codes.len(), 10);
    b.shot("recovery-codes.png").await;
    b.go("/me").await;
    assert!(b.main_text().await.contains("Authenticator app: on"));
    b.go("/admin/palm-court/people").await;
    let people = b.main_text().await;
    assert!(
        people.contains("Olivia Ortiz") && people.contains("Manuel Moreno"),
        "{people}"
    );
    b.shot("people.png").await;
    b.go("/admin/palm-court/invite").await;
    b.fill("first_name", "Ines").await;
    b.fill("last_name", "Inspector").await;
    b.fill("email", "ines@palm-court.example").await;
    b.driver
        .find(By::Css("#role option[value=inspector]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.shot("invite.png").await;
    b.submit().await;
    assert!(
        b.path()
            .await
            .starts_with("/admin/palm-court/people?done=invited")
    );
    assert!(b.main_text().await.contains("Ines Inspector"));
    b.outbox("ines@palm-court.example", "You are invited").await;
    b.sign_out().await;
    b.sign_in(OWNER, PASSWORD).await;
    assert_eq!(b.path().await, "/mfa");
    b.shot("mfa-challenge.png").await;
    b.fill("code", &codes[0]).await;
    b.submit().await;
    assert_eq!(b.path().await, "/me", "a recovery code works once");

    // Phone-sized screens: the forms fit.
    b.driver.set_window_rect(0, 0, 390, 900).await.unwrap();
    for (path, name) in [
        ("/me", "me-phone.png"),
        ("/admin/palm-court/people", "people-phone.png"),
    ] {
        b.go(path).await;
        b.shot(name).await;
    }
    b.sign_out().await;
    b.go("/sign-in").await;
    let overflow = b
        .driver
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            vec![],
        )
        .await
        .unwrap()
        .json()
        .as_i64()
        .unwrap();
    assert!(
        overflow <= 0,
        "the sign-in page overflows a phone by {overflow}px"
    );
    b.shot("sign-in-phone.png").await;

    let problems = b.problems().await;
    assert!(
        problems.is_empty(),
        "the browser reported problems: {problems:#?}"
    );
    b.driver.clone().quit().await.unwrap();
}

#[tokio::test]
async fn the_landing_and_trust_pages_render_cleanly_in_chromium() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let driver = &b.driver;
    let shots = &b.shots;
    let origin = b.origin.clone();

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

    let problems = console_problems(driver).await;
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
    let problems: Vec<String> = console_problems(driver)
        .await
        .into_iter()
        .filter(|m| !m.contains("404"))
        .collect();
    assert!(
        problems.is_empty(),
        "the browser reported problems: {problems:#?}"
    );

    eprintln!("screenshots in {}", shots.display());
    b.driver.clone().quit().await.unwrap();
}
