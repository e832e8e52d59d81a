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

mod collect;
mod every_page;
mod import;
mod journeys;
mod landing;
mod people;
mod voting;
mod widget;

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

use cista_testkit::fixtures::free_port;

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

/// What the demo prints before "Press Ctrl-C": the links a person copies from the terminal.
#[derive(Default)]
struct Banner {
    sign_in_links: Vec<(String, String)>,
    phone_links: Vec<(String, String)>,
    firm_site: String,
    other_site: String,
}

impl Banner {
    fn read(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> Self {
        let mut banner = Self::default();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line.contains("Press Ctrl-C") {
                break;
            }
            // "  The firm's web site     https://localhost:PORT/   (…)"
            let url = || {
                line.split_whitespace()
                    .find(|w| w.starts_with("https://"))
                    .unwrap_or("")
                    .trim_end_matches('/')
                    .to_owned()
            };
            if line.contains("The firm's web site") {
                banner.firm_site = url();
            } else if line.contains("A site not on its list") {
                banner.other_site = url();
            }
            // "  Sam Rivera's phone (collector): https://…/collect/#pair=…"
            if let Some((who, link)) = line.split_once("'s phone (collector): ") {
                banner
                    .phone_links
                    .push((who.trim().to_owned(), link.trim().to_owned()));
            }
            // "  Name, role (email): https://…/i/…"
            if let Some((who, link)) = line.split_once("): ")
                && let Some((_, email)) = who.rsplit_once('(')
                && link.contains("/i/")
            {
                banner
                    .sign_in_links
                    .push((email.to_owned(), link.trim().to_owned()));
            }
        }
        banner
    }
}

/// A running demo and a Chromium driving it. Tests that use one run on the multi-threaded
/// runtime (`start` refuses the current-thread one): thirtyfour ends the session in `Drop` by
/// blocking on a thread of its own, and on a current-thread runtime that blocks the very
/// runtime its HTTP client's connection needs, a stall of two minutes per test until the
/// client's timeout.
struct Browser {
    driver: WebDriver,
    origin: String,
    /// The demo's printed sign-in links, by email address (what a person copies from the
    /// terminal).
    sign_in_links: Vec<(String, String)>,
    /// River Watch's printed phone sign-in links (Cista Collect), by collector ("Sam Rivera").
    phone_links: Vec<(String, String)>,
    /// The demo firm's own web site (its form lists it) and a site its form does not list.
    firm_site: String,
    other_site: String,
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
        assert_eq!(
            tokio::runtime::Handle::current().runtime_flavor(),
            tokio::runtime::RuntimeFlavor::MultiThread,
            "a browser test runs on #[tokio::test(flavor = \"multi_thread\")] (see `Browser`)"
        );
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
            // The voting test waits for the quick poll to close: time enough for its vote
            // first (done a few seconds in), a minute less to wait than the demo's default.
            .args(["--quick-poll-seconds", "60"])
            // Fast answers for the test; the production floor is 400 ms.
            .env("CISTA_LIMITS_AUTH_RESPONSE_FLOOR_MS", "20")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = server.stdout.take().unwrap();
        let server = KillOnDrop(server);
        let mut lines = BufReader::new(stdout).lines();
        let banner = Banner::read(&mut lines);
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
            sign_in_links: banner.sign_in_links,
            phone_links: banner.phone_links,
            firm_site: banner.firm_site,
            other_site: banner.other_site,
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
use cista_testkit::fixtures::PASSWORD;
