//! Every kind of page, on a phone: each of the app's routes a visitor, an owner, a manager, an
//! advisor and a field project's coordinator reach in the demo is opened at 320 and 390 px and must fit without sideways scrolling,
//! pass axe-core with no serious or critical violation, show no help paragraph twice and no
//! `unit(s)`-style plural. axe-core (vendored, see `vendor/README.md`) is injected through
//! WebDriver's execute-script, so the pages keep their strict CSP.

use crate::{Browser, MEMBER, OWNER, PASSWORD};
use serde_json::{Value, json};
use thirtyfour::common::command::FormatRequestData;
use thirtyfour::prelude::*;
use thirtyfour::{RequestData, SessionId};

const AXE: &str = include_str!("vendor/axe.min.js");
const WIDTHS: [u32; 2] = [320, 390];

/// A Chrome DevTools command through chromedriver (`goog/cdp/execute`).
#[derive(Debug)]
pub(crate) struct Cdp(pub(crate) &'static str, pub(crate) Value);

impl FormatRequestData for Cdp {
    fn format_request(&self, session_id: &SessionId) -> RequestData {
        RequestData::new(
            http::Method::POST,
            format!("/session/{session_id}/goog/cdp/execute"),
        )
        .add_body(json!({ "cmd": self.0, "params": self.1 }))
    }
}

/// Makes the page a phone `width` CSS pixels wide (as a real phone: the viewport meta applies).
pub(crate) async fn phone(b: &Browser, width: u32) {
    b.driver
        .handle()
        .cmd(Cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": 800, "deviceScaleFactor": 1, "mobile": true }),
        ))
        .await
        .unwrap();
}

async fn desktop(b: &Browser) {
    b.driver
        .handle()
        .cmd(Cdp("Emulation.clearDeviceMetricsOverride", json!({})))
        .await
        .unwrap();
}

/// The serious and critical axe-core violations on the current page, one line each.
pub(crate) async fn axe_violations(b: &Browser) -> Vec<String> {
    b.driver.execute(AXE, vec![]).await.unwrap();
    let script = r#"
        const done = arguments[arguments.length - 1];
        axe.run(document, { resultTypes: ["violations"] })
          .then(r => done(r.violations
            .filter(v => v.impact === "serious" || v.impact === "critical")
            .map(v => v.impact + " " + v.id + ": " + v.help + " at "
              + v.nodes.slice(0, 4).map(n => n.target.join(" ")).join(" | "))))
          .catch(e => done(["axe failed: " + e]));
    "#;
    let answer = b.driver.execute_async(script, vec![]).await.unwrap();
    serde_json::from_value(answer.json().clone()).unwrap()
}

/// What is wrong with the page now showing, at this width: overflow, axe, doubled hints,
/// "(s)" plurals.
pub(crate) async fn problems_here(b: &Browser, width: u32) -> Vec<String> {
    let mut out = Vec::new();
    let measures = b
        .driver
        .execute(
            r##"
            const wide = [...document.querySelectorAll("body *")]
              .filter(e => e.getBoundingClientRect().right > arguments[0] + 1)
              .slice(0, 3)
              .map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
                + (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : ""));
            const hints = [...document.querySelectorAll("main p.hint")]
              .map(h => h.textContent.trim()).filter(t => t.length > 0);
            const doubled = hints.filter((t, i) => hints.indexOf(t) !== i);
            const text = document.body.innerText;
            const plurals = text.match(/[A-Za-z]\(s\)/g) || [];
            return {
              scroll: document.documentElement.scrollWidth,
              inner: window.innerWidth,
              wide, doubled, plurals,
            };
            "##,
            vec![json!(width)],
        )
        .await
        .unwrap()
        .json()
        .clone();
    let scroll = measures["scroll"].as_i64().unwrap();
    let inner = measures["inner"].as_i64().unwrap();
    // A mobile viewport widens itself to fit content that is too wide (innerWidth grows), so
    // both are measured against the phone's width.
    let phone_width = i64::from(width);
    if scroll > phone_width || inner > phone_width {
        out.push(format!(
            "does not fit {width} px (scrollWidth {scroll}, innerWidth {inner}); wider than the \
             screen: {}",
            measures["wide"]
        ));
    }
    if measures["doubled"]
        .as_array()
        .is_some_and(|d| !d.is_empty())
    {
        out.push(format!("the same hint twice: {}", measures["doubled"]));
    }
    if measures["plurals"]
        .as_array()
        .is_some_and(|p| !p.is_empty())
    {
        out.push(format!("plurals written with (s): {}", measures["plurals"]));
    }
    out.extend(axe_violations(b).await);
    out
}

/// A file name for a path: `/admin/palm-court/units?q=101` → `admin-palm-court-units-q-101`.
fn shot_name(path: &str) -> String {
    let name: String = path
        .trim_start_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if name.is_empty() {
        "home".to_owned()
    } else {
        name
    }
}

/// Opens `path` at each phone width and records what is wrong, by page and width.
async fn check(b: &Browser, path: &str, failures: &mut Vec<String>) {
    for width in WIDTHS {
        phone(b, width).await;
        b.go(path).await;
        for problem in problems_here(b, width).await {
            failures.push(format!("{path} at {width} px: {problem}"));
        }
        b.shot(&format!("w{width}-{}.png", shot_name(path))).await;
    }
    desktop(b).await;
}

/// The current page, checked at each width without navigating (a page reached by a form).
async fn check_here(b: &Browser, name: &str, failures: &mut Vec<String>) {
    for width in WIDTHS {
        phone(b, width).await;
        for problem in problems_here(b, width).await {
            failures.push(format!("{name} at {width} px: {problem}"));
        }
        b.shot(&format!("w{width}-{name}.png")).await;
    }
    desktop(b).await;
}

/// The distinct `href`s of the links matching `css` on `path`, in page order.
async fn links(b: &Browser, path: &str, css: &str) -> Vec<String> {
    b.go(path).await;
    let mut out = Vec::new();
    for a in b.driver.find_all(By::Css(css)).await.unwrap() {
        if let Some(href) = a.attr("href").await.unwrap()
            && !out.contains(&href)
        {
            out.push(href);
        }
    }
    out
}

/// The demo firm's widget page (opened on its own, as its iframe shows it), and its refusal.
async fn widget_pages(b: &Browser, failures: &mut Vec<String>) {
    let site = b.firm_site.replace(':', "%3A").replace('/', "%2F");
    for origin in [site.as_str(), "https%3A%2F%2Fevil.example"] {
        let path = format!("/w/harbor-advisory/risk-profile?origin={origin}");
        check(b, &path, failures).await;
    }
}

/// The manager's breaches: the list with its form, then a breach recorded through that form
/// (a wide window over the stored data, so its table lists every member) and its page.
async fn breach_pages(b: &Browser, failures: &mut Vec<String>) {
    check(b, "/admin/palm-court/breaches", failures).await;
    b.go("/admin/palm-court/breaches").await;
    // A datetime-local field takes typed keys in the browser's locale order: set its value
    // (the window's end is the form's own default, now).
    b.driver
        .execute(
            r#"document.getElementById("from").value = "2020-01-01T08:00";
               document.querySelector("input[name=scope][value=members]").checked = true;"#,
            vec![],
        )
        .await
        .unwrap();
    b.fill("description", "A copy of the roster was left readable.")
        .await;
    b.submit().await;
    let page = b.path().await;
    assert!(
        page.starts_with("/admin/palm-court/breaches/br-"),
        "{page}: {}",
        b.main_text().await
    );
    let text = b.main_text().await;
    assert!(text.contains("Tell the supervisory authority by"), "{text}");
    assert!(
        text.contains("Not yet: the notice still has text to fill in"),
        "{text}"
    );
    check_here(b, "breach", failures).await;
}

/// The header at 320 px: every item, "Sign out" included, is on the screen.
async fn header_fits_a_phone(b: &Browser) {
    phone(b, 320).await;
    b.go("/admin/palm-court").await;
    let off_screen = b
        .driver
        .execute(
            r#"return [...document.querySelectorAll("header.site a, header.site button")]
                 .filter(e => { const r = e.getBoundingClientRect();
                                return r.left < 0 || r.right > window.innerWidth; })
                 .map(e => e.textContent.trim());"#,
            vec![],
        )
        .await
        .unwrap()
        .json()
        .clone();
    assert_eq!(
        off_screen,
        json!([]),
        "header items off the screen at 320 px"
    );
    let sign_out = b.driver.find(By::Css("header.site button")).await.unwrap();
    assert_eq!(sign_out.text().await.unwrap(), "Sign out");
    assert!(sign_out.is_displayed().await.unwrap());
    desktop(b).await;
}

/// The firm's advisor: the firm's home, its assessment's results (filtered too) and settings.
async fn advisor_pages(b: &Browser, failures: &mut Vec<String>) {
    b.sign_out().await;
    b.first_sign_in("advisor@harbor-advisory.example", true)
        .await;
    for path in [
        "/admin/harbor-advisory",
        "/admin/harbor-advisory/assessments/risk-profile",
        "/admin/harbor-advisory/assessments/risk-profile?band=Growth&from=2026-01-01",
        "/admin/harbor-advisory/assessments/risk-profile/settings",
        "/admin/harbor-advisory/assessments",
        "/admin/harbor-advisory/assessments/new",
        "/admin/harbor-advisory/assessments/risk-profile/edit",
    ] {
        check(b, path, failures).await;
    }
}

/// River Watch's coordinator: the records, one record, the map, the record forms and their
/// editor, the webhooks and their log, and a collector's phones.
async fn coordinator_pages(b: &Browser, failures: &mut Vec<String>) {
    b.sign_out().await;
    b.first_sign_in("coordinator@river-watch.example", true)
        .await;
    for path in [
        "/admin/river-watch",
        "/admin/river-watch/records",
        "/admin/river-watch/records?state=approved",
        "/admin/river-watch/records/map",
        "/admin/river-watch/record-forms",
        "/admin/river-watch/record-forms/new",
        "/admin/river-watch/record-forms/stream-survey/edit",
        "/admin/river-watch/webhooks",
        "/admin/river-watch/people",
    ] {
        check(b, path, failures).await;
    }
    let records = links(
        b,
        "/admin/river-watch/records",
        "main a[href^='/admin/river-watch/records/']",
    )
    .await;
    let record = records
        .iter()
        .find(|l| {
            l.rsplit('/')
                .next()
                .is_some_and(|id| id.parse::<i64>().is_ok())
        })
        .expect("the demo's records are listed");
    check(b, record, failures).await;
    let phones = links(b, "/admin/river-watch/people", "main a[href$='/devices']").await;
    let phones = phones.first().expect("a collector's phones are linked");
    check(b, phones, failures).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_phone_and_passes_axe() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let mut failures = Vec::new();

    // Public pages, signed out.
    for path in [
        "/",
        "/security",
        "/sign-in",
        "/reset",
        "/invitation",
        "/sms",
        "/vote/test-device",
        "/vote/test-device?done=yes",
        "/demo/outbox",
        "/demo/webhooks",
        "/i/not-a-real-link",
        "/no-such-page",
    ] {
        check(&b, path, &mut failures).await;
    }
    widget_pages(&b, &mut failures).await;

    // An owner of units.
    b.first_sign_in(MEMBER, false).await;
    let ballots = links(&b, "/vote", "main a[href^='/vote/']").await;
    let ballots: Vec<String> = ballots
        .into_iter()
        .filter(|l| !l.contains("test-device") && l.split('/').count() == 3)
        .collect();
    assert!(!ballots.is_empty(), "the demo owner has ballots");
    for path in ["/me", "/me/password", "/vote"] {
        check(&b, path, &mut failures).await;
    }
    for ballot in &ballots {
        check(&b, ballot, &mut failures).await;
        for unit in links(&b, ballot, "main a[href*='/unit/']").await {
            check(&b, &unit, &mut failures).await;
        }
        let id = ballot.trim_start_matches("/vote/");
        check(&b, &format!("/e/{id}/bulletin"), &mut failures).await;
    }
    b.sign_out().await;

    // The manager: enrolling an authenticator, then every staff page.
    b.driver.goto(b.printed_link(OWNER)).await.unwrap();
    b.fill("password", PASSWORD).await;
    b.fill("confirm", PASSWORD).await;
    b.submit().await;
    assert_eq!(b.path().await, "/mfa/enrol");
    check_here(&b, "mfa-enrol", &mut failures).await;
    b.confirm_authenticator().await;
    check_here(&b, "mfa-recovery-codes", &mut failures).await;
    b.go("/admin").await;
    assert_eq!(b.path().await, "/admin/palm-court", "one organization");
    for path in [
        "/admin/palm-court",
        "/admin/palm-court/units",
        "/admin/palm-court/units?q=204",
        "/admin/palm-court/people",
        "/admin/palm-court/people?q=alvarez",
        "/admin/palm-court/invite",
        "/admin/palm-court/ballots",
        "/admin/palm-court/ballots/new",
        "/me",
    ] {
        check(&b, path, &mut failures).await;
    }
    let staff_ballots = links(
        &b,
        "/admin/palm-court/ballots",
        "main a[href^='/admin/palm-court/ballots/']",
    )
    .await;
    for ballot in staff_ballots.iter().filter(|l| !l.ends_with("/new")) {
        check(&b, ballot, &mut failures).await;
        for more in links(&b, ballot, "main a[href^='/admin/palm-court/ballots/']").await {
            if more.ends_with("/remind") || more.ends_with("/paper") || more.ends_with("/preview") {
                check(&b, &more, &mut failures).await;
            }
        }
    }

    breach_pages(&b, &mut failures).await;
    header_fits_a_phone(&b).await;
    advisor_pages(&b, &mut failures).await;
    coordinator_pages(&b, &mut failures).await;

    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let problems = b.problems().await;
    assert!(problems.is_empty(), "{problems:#?}");
    b.driver.clone().quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_focus_ring_contrasts_at_least_3_to_1() {
    let Some(b) = Browser::start().await else {
        return;
    };
    b.go("/").await;
    // Focus the first header link by keyboard (Tab past the skip link).
    b.driver
        .action_chain()
        .send_keys(Key::Tab)
        .send_keys(Key::Tab)
        .perform()
        .await
        .unwrap();
    let colours = b
        .driver
        .execute(
            r#"const e = document.activeElement;
               const s = getComputedStyle(e);
               return [e.closest("header") !== null, s.outlineColor, s.outlineStyle,
                       getComputedStyle(document.querySelector("header.site")).backgroundColor];"#,
            vec![],
        )
        .await
        .unwrap()
        .json()
        .clone();
    assert_eq!(colours[0], json!(true), "focus is in the header: {colours}");
    assert_eq!(colours[2], json!("solid"), "{colours}");
    let ring = rgb(colours[1].as_str().unwrap());
    let header = rgb(colours[3].as_str().unwrap());
    let ratio = contrast(ring, header);
    assert!(
        ratio >= 3.0,
        "the header focus ring {colours} contrasts {ratio:.2}:1"
    );
    b.driver.clone().quit().await.unwrap();
}

/// `rgb(29, 59, 83)` as three channels.
fn rgb(css: &str) -> [f64; 3] {
    let inner = css
        .trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')');
    let v: Vec<f64> = inner
        .split(',')
        .take(3)
        .map(|c| c.trim().parse().unwrap())
        .collect();
    [v[0], v[1], v[2]]
}

/// The WCAG contrast ratio of two colours.
fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
    let lum = |c: [f64; 3]| {
        let lin = |v: f64| {
            let s = v / 255.0;
            if s <= 0.04045 {
                s / 12.92
            } else {
                ((s + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
    };
    let (x, y) = (lum(a), lum(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

#[test]
fn the_contrast_formula_matches_wcag_examples() {
    assert!((contrast([0.0, 0.0, 0.0], [255.0, 255.0, 255.0]) - 21.0).abs() < 0.01);
    // The old ring (#b35c00) on the header (#1d3b53) was under 3:1.
    assert!(contrast([179.0, 92.0, 0.0], [29.0, 59.0, 83.0]) < 3.0);
}
