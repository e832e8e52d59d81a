//! The landing, trust and error pages in Chromium: they render with their stylesheet under
//! the strict CSP, the browser logs no problem, the first Tab lands on the skip link, and
//! nothing overflows a phone.

use crate::{Browser, console_problems};
use thirtyfour::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_landing_and_trust_pages_render_cleanly_in_chromium() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let shots = &b.shots;

    the_landing_page_shows_the_facts_in_its_stylesheet(&b).await;
    the_trust_page_shows_every_fact(&b).await;
    nothing_overflows_a_phone(&b).await;
    the_error_page_renders_with_the_stylesheet(&b).await;

    eprintln!("screenshots in {}", shots.display());
    b.driver.clone().quit().await.unwrap();
}

/// Landing page, desktop, with its stylesheet; the first Tab lands on the skip link.
async fn the_landing_page_shows_the_facts_in_its_stylesheet(b: &Browser) {
    let driver = &b.driver;
    let shots = &b.shots;
    let origin = &b.origin;

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
}

/// Trust page, full height.
async fn the_trust_page_shows_every_fact(b: &Browser) {
    let driver = &b.driver;
    let shots = &b.shots;
    let origin = &b.origin;

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
}

/// A phone: nothing wider than the screen, and no problem logged so far.
async fn nothing_overflows_a_phone(b: &Browser) {
    let driver = &b.driver;
    let shots = &b.shots;
    let origin = &b.origin;

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
}

/// The error page renders with the same stylesheet, its code folded away.
async fn the_error_page_renders_with_the_stylesheet(b: &Browser) {
    let driver = &b.driver;
    let shots = &b.shots;
    let origin = &b.origin;

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
}
