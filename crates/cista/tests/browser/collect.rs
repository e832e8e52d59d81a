//! Cista Collect in Chromium at phone size, as a collector of the demo's River Watch meets it:
//! the printed phone link pairs the phone; a record is filled with the emulated location and a
//! photo and sent at once; with the network off two more wait on the phone (the queue screen
//! says so) and go out by themselves when it returns: three records, each sent once. Each
//! screen fits 320 px and passes axe-core; screenshots of the pairing, the form, the queue and
//! the sent list.

use crate::Browser;
use crate::every_page::{Cdp, phone, problems_here};
use serde_json::json;
use std::time::Duration;
use thirtyfour::prelude::*;

/// A small PNG (a colour gradient) for the photo field.
fn photo(dir: &std::path::Path) -> std::path::PathBuf {
    let (w, h) = (64u32, 48u32);
    let mut raw = Vec::new();
    for y in 0..h {
        for x in 0..w {
            raw.extend([(x * 4) as u8, (y * 5) as u8, 120]);
        }
    }
    let mut png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png, w, h);
        encoder.set_color(png::ColorType::Rgb);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&raw).unwrap();
    }
    let path = dir.join("river.png");
    std::fs::write(&path, png).unwrap();
    path
}

async fn cdp(b: &Browser, command: &'static str, params: serde_json::Value) {
    b.driver
        .handle()
        .cmd(Cdp(command, params))
        .await
        .unwrap_or_else(|e| panic!("{command}: {e}"));
}

/// Waits until the main text satisfies `done` (up to 20 s); returns it.
async fn main_text_until(b: &Browser, done: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    for _ in 0..200 {
        text = b.main_text().await;
        if done(&text) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    text
}

async fn click(b: &Browser, css: &str) {
    b.driver
        .find(By::Css(css))
        .await
        .unwrap_or_else(|_| panic!("nothing matches {css}"))
        .click()
        .await
        .unwrap();
}

/// Opens the Stream survey from the home screen, fills it (site, clarity, location, and a
/// photo when given) and saves it.
async fn fill_record(b: &Browser, site: &str, photo: Option<&std::path::Path>) {
    b.go("/collect/#/").await;
    main_text_until(b, |t| t.contains("Fill a record")).await;
    click(b, "ul.choices a").await;
    main_text_until(b, |t| t.contains("Site name")).await;
    b.fill("f-site", site).await;
    click(b, "label[for='f-clarity-0']").await;
    b.fill("f-temperature_c", "11.5").await;
    click(b, "#f-where").await;
    let value = b.driver.find(By::Id("f-where-value")).await.unwrap();
    for _ in 0..100 {
        if value.text().await.unwrap().contains("within") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        value
            .text()
            .await
            .unwrap()
            .contains("45.51520, -122.67100 (within 7 m)"),
        "the emulated location fills the point: {}",
        value.text().await.unwrap()
    );
    if let Some(path) = photo {
        let input = b.driver.find(By::Id("f-photos")).await.unwrap();
        input.send_keys(path.display().to_string()).await.unwrap();
        for _ in 0..100 {
            if b.driver.find(By::Css("ul.photos img")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    click(b, "main form button[type=submit]").await;
    main_text_until(b, |t| t.contains("Sent records")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_pairs_fills_records_offline_and_each_arrives_once() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let (who, link) = b
        .phone_links
        .first()
        .cloned()
        .expect("the demo prints phone links");
    assert_eq!(who, "Sam Rivera");
    let tmp = tempfile::tempdir().unwrap();
    let picture = photo(tmp.path());
    phone(&b, 320).await;
    cdp(
        &b,
        "Browser.grantPermissions",
        json!({ "origin": b.origin, "permissions": ["geolocation"] }),
    )
    .await;
    cdp(
        &b,
        "Emulation.setGeolocationOverride",
        json!({ "latitude": 45.5152, "longitude": -122.671, "accuracy": 7 }),
    )
    .await;
    let mut failures = Vec::new();

    b.driver.goto(&link).await.unwrap();
    main_text_until(&b, |t| t.contains("Name this phone")).await;
    b.shot("collect-pair.png").await;
    failures.extend(
        problems_here(&b, 320)
            .await
            .into_iter()
            .map(|p| format!("pairing: {p}")),
    );
    b.fill("device-name", "Sam's phone").await;
    click(&b, "main form button[type=submit]").await;
    let home = main_text_until(&b, |t| t.contains("River Watch")).await;
    assert!(home.contains("Signed in as Sam's phone"), "{home}");
    let registered = b
        .driver
        .execute_async(
            "const done = arguments[0]; navigator.serviceWorker.ready.then(r => done(!!r.active));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        registered.json(),
        &json!(true),
        "the service worker is active"
    );

    fill_record(&b, "Hawthorne Bridge east bank", Some(&picture)).await;
    let sent = main_text_until(&b, |t| t.contains("Hawthorne Bridge east bank · sent")).await;
    assert!(sent.contains("Nothing is waiting"), "{sent}");

    records_wait_offline_and_go_out_once_online(&b, &picture, &mut failures).await;
    click(&b, "ul.choices a").await;
    main_text_until(&b, |t| t.contains("Site name")).await;
    b.shot("collect-form.png").await;
    failures.extend(
        problems_here(&b, 320)
            .await
            .into_iter()
            .map(|p| format!("form: {p}")),
    );
    assert!(failures.is_empty(), "{failures:#?}");
    // The app's own calls fail while the network is off: that is the point. Nothing else may
    // (a CSP refusal, a script error, a 5xx).
    let problems: Vec<String> = b
        .problems()
        .await
        .into_iter()
        .filter(|m| !m.contains("net::ERR_INTERNET_DISCONNECTED"))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

/// With no network two more records wait on the phone and the queue screen says why; when it
/// returns both go out by themselves; the server then holds three records, each once.
async fn records_wait_offline_and_go_out_once_online(
    b: &Browser,
    picture: &std::path::Path,
    failures: &mut Vec<String>,
) {
    cdp(b, "Network.enable", json!({})).await;
    let offline =
        json!({ "offline": true, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1 });
    cdp(b, "Network.emulateNetworkConditions", offline).await;
    fill_record(b, "Ross Island north tip", Some(picture)).await;
    b.go("/collect/#/").await;
    fill_record(b, "Oaks Bottom outfall", None).await;
    b.go("/collect/#/queue").await;
    let queue = main_text_until(b, |t| t.contains("Oaks Bottom")).await;
    assert_eq!(
        queue.matches("Waiting for a network.").count(),
        2,
        "{queue}"
    );
    b.shot("collect-queue-offline.png").await;
    failures.extend(
        problems_here(b, 320)
            .await
            .into_iter()
            .map(|p| format!("queue: {p}")),
    );

    // The network returns: both go out by themselves.
    let online =
        json!({ "offline": false, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1 });
    cdp(b, "Network.emulateNetworkConditions", online).await;
    b.go("/collect/#/").await;
    let after = main_text_until(b, |t| t.matches(" · sent ").count() == 3).await;
    assert_eq!(after.matches(" · sent ").count(), 3, "{after}");
    assert!(after.contains("Nothing is waiting"), "{after}");
    b.shot("collect-sent.png").await;
    failures.extend(
        problems_here(b, 320)
            .await
            .into_iter()
            .map(|p| format!("home: {p}")),
    );

    // Three records on the server, each once: three distinct submissions, each with its state.
    let submissions = b
        .driver
        .execute_async(
            r#"const done = arguments[0];
               CistaSync.db.all("sent").then(rs => Promise.all(rs.map(r =>
                 CistaSync.api("/submissions/" + r.submission + "/status")
                   .then(a => a.json()).then(s => [r.submission, s.state, s.photos.length]))))
               .then(done, e => done(String(e)));"#,
            vec![],
        )
        .await
        .unwrap()
        .json()
        .clone();
    let rows = submissions
        .as_array()
        .unwrap_or_else(|| panic!("{submissions}"));
    let ids: std::collections::BTreeSet<_> = rows.iter().map(|r| r[0].to_string()).collect();
    assert_eq!(ids.len(), 3, "{submissions}");
    assert!(rows.iter().all(|r| r[1] == "received"), "{submissions}");
    assert_eq!(
        rows.iter().filter(|r| r[2] == 1).count(),
        2,
        "two records carry a photo: {submissions}"
    );
}
