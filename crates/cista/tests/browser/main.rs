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

mod every_page;
mod import;
mod journeys;

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

    /// Clicks the link with exactly this text and waits for the next page.
    async fn follow(&self, text: &str) {
        let link = self
            .driver
            .find(By::LinkText(text))
            .await
            .unwrap_or_else(|_| panic!("no link {text:?} on {}", self.origin));
        self.click_and_wait(link).await;
    }

    /// Clicks the label with exactly this text (a radio button or checkbox).
    async fn choose(&self, label: &str) {
        self.driver
            .find(By::XPath(format!(
                "//main//label[normalize-space(text())='{label}']"
            )))
            .await
            .unwrap_or_else(|_| panic!("no choice {label:?}"))
            .click()
            .await
            .unwrap();
    }

    /// Sets a password from a printed link, which signs the browser in; staff enrol an
    /// authenticator straight away.
    async fn first_sign_in(&self, email: &str, authenticator: bool) {
        self.driver.goto(self.printed_link(email)).await.unwrap();
        self.fill("password", PASSWORD).await;
        self.fill("confirm", PASSWORD).await;
        self.submit().await;
        if authenticator {
            assert_eq!(self.path().await, "/mfa/enrol");
            self.confirm_authenticator().await;
        } else {
            assert_eq!(self.path().await, "/me", "{}", self.main_text().await);
        }
    }

    /// On the enrolment page: reads the key shown under the QR code and answers with the code
    /// an authenticator app would show now.
    async fn confirm_authenticator(&self) {
        let secret = self
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
        self.fill("code", &secret.code_at(now).unwrap()).await;
        self.submit().await;
        assert!(self.main_text().await.contains("Your authenticator is on"));
    }

    /// Fetches `path` with this browser's session (as a download would) and returns the bytes.
    async fn download(&self, path: &str) -> Vec<u8> {
        let script = r#"
            const done = arguments[arguments.length - 1];
            fetch(arguments[0], { credentials: "same-origin" })
              .then(r => r.ok ? r.arrayBuffer() : Promise.reject(r.status))
              .then(b => {
                let s = "";
                for (const x of new Uint8Array(b)) s += String.fromCharCode(x);
                done(btoa(s));
              })
              .catch(e => done("error " + e));
        "#;
        let answer = self
            .driver
            .execute_async(script, vec![serde_json::json!(path)])
            .await
            .unwrap();
        let text = answer.json().as_str().unwrap().to_owned();
        assert!(!text.starts_with("error"), "{path}: {text}");
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap()
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
        let Ok(field) = self.driver.find(By::Id(id)).await else {
            panic!(
                "no field {id} on {}: {}",
                self.path().await,
                self.main_text().await
            );
        };
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
    // Choosing the password signs the browser in (the link proved the address).
    assert_eq!(b.path().await, "/me");
    assert!(b.main_text().await.contains("Hello Manuel"));
    b.sign_out().await;
    assert!(b.main_text().await.contains("signed out"));
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
    assert_eq!(b.path().await, "/me", "a new password signs the browser in");
    b.sign_out().await;
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
    b.confirm_authenticator().await;
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
    assert!(error.contains("This page was not found"), "{error}");
    // The stable code is there for support, folded away.
    let details = driver
        .find(By::Css("main details"))
        .await
        .unwrap()
        .prop("textContent")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(details.contains("not_found"), "{details}");
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

const SOFIA: &str = "sofia@palm-court.example";

/// The voting story in the demo, as its people would go through it: an owner votes for each of
/// his units and keeps the receipt, is refused a second vote for a unit, a co-owner's unit is
/// voted by its designated voter, the manager watches turnout (never counts) and enters a
/// paper ballot, and once the quick poll closes the results, the certified PDF and the public
/// bulletin (where the owner finds his tracker) are there. Screenshots of each are saved.
#[tokio::test]
async fn association_voting_works_in_chromium() {
    let Some(b) = Browser::start().await else {
        return;
    };

    // Manuel: the printed link, a password, his ballots (the quick poll first: it closes two
    // minutes after the demo started).
    b.first_sign_in(MEMBER, false).await;
    b.go("/vote").await;
    let ballots = b.main_text().await;
    for text in [
        "2027 Board of Directors election",
        "Amendment to Article 12 (pets) and 2027 budget",
        "Quick poll: pool hours",
        "Unit 101",
        "Unit 305",
    ] {
        assert!(ballots.contains(text), "{text}: {ballots}");
    }
    b.shot("vote-ballots.png").await;
    b.follow("Quick poll: pool hours").await;
    b.follow("Vote for unit 101").await;
    b.choose("Yes").await;
    b.click_and_wait(b.driver.find(By::Css("button.cast")).await.unwrap())
        .await;
    let receipt = b.main_text().await;
    assert!(
        receipt.contains("Your vote for unit 101 is cast"),
        "{receipt}"
    );
    let poll_tracker = b
        .driver
        .find(By::Css("p.tracker code"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(poll_tracker.len(), 14, "{poll_tracker}");

    // The board election: three of five candidates, listed in a random order.
    b.go("/vote").await;
    b.follow("2027 Board of Directors election").await;
    let election_path = b.path().await;
    let unit_101 = unit_id_in(&b, "101").await;
    b.follow("Vote for unit 101").await;
    let form = b.main_text().await;
    assert!(form.contains("Vote for unit 101"), "{form}");
    for name in ["Alma Diaz", "Carla Sosa", "Erin Walsh"] {
        b.choose(name).await;
    }
    b.shot("vote-ballot.png").await;
    b.click_and_wait(b.driver.find(By::Css("button.cast")).await.unwrap())
        .await;
    let receipt = b.main_text().await;
    for text in [
        "Ballot receipt",
        "Your tracker",
        "2027 Board of Directors election",
        "Alma Diaz",
        "Carla Sosa",
        "Erin Walsh",
        "Signed part",
        "Public bulletin",
    ] {
        assert!(receipt.contains(text), "{text}: {receipt}");
    }
    assert!(!receipt.contains("Ben Okoro"), "{receipt}");
    b.shot("vote-receipt.png").await;
    let download = b
        .driver
        .find(By::LinkText("Download receipt"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(download.starts_with("data:"), "{download}");

    let tracker_on_page = async || {
        b.driver
            .find(By::Css("p.tracker code"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let tracker = tracker_on_page().await;
    let receipt_path = b.path().await;
    assert_eq!(
        receipt_path,
        format!("{election_path}/unit/{unit_101}/receipt")
    );
    assert!(
        b.driver
            .find(By::Css("button[data-print]"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap(),
        "the Print button shows with the page script"
    );

    // Reload: the same receipt (Post/Redirect/Get: the browser does not send the vote again).
    b.driver.refresh().await.unwrap();
    assert_eq!(tracker_on_page().await, tracker);
    // Back: the form's address now shows the receipt, not a refusal.
    b.driver.back().await.unwrap();
    assert_eq!(b.path().await, format!("{election_path}/unit/{unit_101}"));
    assert_eq!(tracker_on_page().await, tracker);
    b.driver.forward().await.unwrap();
    assert_eq!(tracker_on_page().await, tracker);
    b.shot("vote-receipt-after-reload.png").await;

    // The printed receipt: no menus or buttons, the bulletin's address in full.
    let printed = b
        .driver
        .print_page(thirtyfour::common::print::PrintParameters::default())
        .await;
    {
        let pdf = printed.unwrap();
        let pdf_path = b.shots.join("vote-receipt-printed.pdf");
        std::fs::write(&pdf_path, pdf).unwrap();
        let text = Command::new("pdftotext")
            .arg(&pdf_path)
            .arg("-")
            .output()
            .expect("pdftotext (poppler-utils) must be installed");
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(text.contains(&tracker), "{text}");
        assert!(text.contains("/e/") && text.contains("/bulletin"), "{text}");
        assert!(
            !text.contains("Download receipt") && !text.contains("Sign out"),
            "{text}"
        );
    }
    b.sign_out().await;

    // Sofia, designated voter of 204, votes for it.
    b.first_sign_in(SOFIA, false).await;
    b.go("/vote").await;
    b.follow("2027 Board of Directors election").await;
    b.follow("Vote for unit 204").await;
    b.choose("Ben Okoro").await;
    b.click_and_wait(b.driver.find(By::Css("button.cast")).await.unwrap())
        .await;
    assert!(
        b.main_text()
            .await
            .contains("Your vote for unit 204 is cast")
    );
    b.sign_out().await;

    // The manager: turnout and quorum live, no count per choice, and a paper ballot.
    b.first_sign_in(OWNER, true).await;
    b.go("/admin/palm-court/ballots").await;
    b.shot("admin-ballots.png").await;
    b.follow("2027 Board of Directors election").await;
    let live = b.main_text().await;
    assert!(live.contains("Units that voted"), "{live}");
    assert!(
        !live.contains("Elected"),
        "no outcome before the close: {live}"
    );
    b.shot("admin-ballot-live.png").await;
    // Paper ballots of the secret election, in two envelopes: five outer envelopes checked in
    // by unit, opened together as a batch, and their inner ballots entered with no unit.
    b.follow("Enter a paper ballot").await;
    assert!(b.main_text().await.contains("two envelopes"));
    assert!(
        b.driver
            .find(By::XPath(
                "//select[@id='unit']/option[normalize-space(text())='101']"
            ))
            .await
            .is_err(),
        "a unit that voted online is not offered for paper"
    );
    for label in ["508", "102", "103", "104", "105"] {
        b.driver
            .find(By::XPath(format!(
                "//select[@id='unit']/option[normalize-space(text())='{label}']"
            )))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        b.submit().await;
        let checked = b.main_text().await;
        assert!(
            checked.contains(&format!("Outer envelope of unit {label} checked in")),
            "{checked}"
        );
    }
    b.shot("admin-paper-envelopes.png").await;
    b.click_and_wait(
        b.driver
            .find(By::XPath(
                "//button[normalize-space(text())='Open them as a batch']",
            ))
            .await
            .unwrap(),
    )
    .await;
    for n in 1..=5 {
        let inner = b.main_text().await;
        assert!(inner.contains(&format!("Inner ballot {n} of 5")), "{inner}");
        for label in ["508", "102", "103", "104", "105"] {
            assert!(!inner.contains(&format!("unit {label}")), "{inner}");
        }
        if n == 1 {
            b.shot("admin-paper-inner-ballot.png").await;
        }
        for name in ["Alma Diaz", "David Feld"] {
            b.choose(name).await;
        }
        b.submit().await;
    }
    let done = b.main_text().await;
    assert!(done.contains("Batch 1 is complete"), "{done}");

    // The quick poll closes on its own (the worker runs every few seconds).
    b.go("/admin/palm-court/ballots").await;
    b.follow("Quick poll: pool hours").await;
    let poll_path = b.path().await;
    let mut closed = String::new();
    for _ in 0..100 {
        b.go(&poll_path).await;
        closed = b.main_text().await;
        if closed.contains("Closed and counted") {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert!(closed.contains("Closed and counted"), "{closed}");
    assert!(closed.contains("Passed"), "{closed}");
    b.shot("admin-poll-results.png").await;

    // The certified results PDF, rendered to an image to be looked at.
    let pdf = b.download(&format!("{poll_path}/results.pdf")).await;
    assert!(pdf.starts_with(b"%PDF-"));
    let pdf_path = b.shots.join("poll-certified-results.pdf");
    std::fs::write(&pdf_path, &pdf).unwrap();
    let status = Command::new("pdftoppm")
        .args(["-png", "-r", "70", "-singlefile"])
        .arg(&pdf_path)
        .arg(b.shots.join("poll-certified-results"))
        .status()
        .expect("pdftoppm (poppler-utils) must be installed");
    assert!(status.success());
    let text = Command::new("pdftotext")
        .args(["-layout"])
        .arg(&pdf_path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed");
    let text = String::from_utf8_lossy(&text.stdout);
    for expected in [
        "Palm Court Condominium Association",
        "Quick poll: pool hours",
        "Keep the pool open until 10 pm",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    b.sign_out().await;

    // Manuel finds his tracker on the public bulletin, with its proof checked.
    let poll_id = poll_path.rsplit('/').next().unwrap().to_owned();
    b.go(&format!("/e/{poll_id}/bulletin")).await;
    b.fill("tracker", &poll_tracker).await;
    b.submit().await;
    let bulletin = b.main_text().await;
    assert!(bulletin.contains("Found: position"), "{bulletin}");
    b.shot("bulletin.png").await;

    // A phone-sized ballot page fits.
    b.driver.set_window_rect(0, 0, 390, 900).await.unwrap();
    b.go(&format!("/e/{poll_id}/bulletin")).await;
    b.shot("bulletin-phone.png").await;
    let problems = b.problems().await;
    assert!(problems.is_empty(), "{problems:?}");
}

/// A unit's id from the vote links on the current page.
async fn unit_id_in(b: &Browser, label: &str) -> String {
    let href = b
        .driver
        .find(By::LinkText(format!("Vote for unit {label}")))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    href.rsplit('/').next().unwrap().to_owned()
}
