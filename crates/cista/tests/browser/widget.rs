//! The embedded assessment in Chromium, as a visitor of the demo firm's web site meets it: on
//! the firm's own site the widget appears (in Cista's iframe, sized to its content), the
//! visitor answers, sends, and sees the part of the result the firm shows; on a site the form
//! does not list, the browser refuses the frame and Cista refuses a direct call. Screenshots
//! of the widget, the result and the refusal.

use crate::Browser;
use std::time::Duration;
use thirtyfour::prelude::*;

/// The widget's iframe on the current page, once the loader has put it there.
async fn widget_frame(b: &Browser) -> WebElement {
    for _ in 0..100 {
        if let Ok(frame) = b.driver.find(By::Css("[data-cista-form] iframe")).await {
            return frame;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the loader put no iframe on {}",
        b.driver.current_url().await.unwrap()
    );
}

/// Clicks the label of the option `id` (`QUESTION-OPTION`), as a visitor clicks its words.
async fn choose(b: &Browser, id: &str) {
    b.driver
        .find(By::Css(format!("label[for='q-{id}']")))
        .await
        .unwrap_or_else(|_| panic!("no choice {id:?}"))
        .click()
        .await
        .unwrap();
}

/// The frame's height once `done` says so (or after five seconds).
async fn frame_height_until(frame: &WebElement, done: impl Fn(i64) -> bool) -> i64 {
    let mut height = 0;
    for _ in 0..50 {
        height = frame.rect().await.unwrap().height as i64;
        if done(height) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    height
}

async fn type_in(b: &Browser, id: &str, value: &str) {
    let field = b.driver.find(By::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_answers_on_the_firms_site_and_another_site_gets_nothing() {
    let Some(b) = Browser::start().await else {
        return;
    };
    assert!(
        b.firm_site.starts_with("https://localhost:"),
        "{}",
        b.firm_site
    );
    a_visitor_answers_on_the_firms_site(&b).await;
    the_advisor_sees_the_result_and_who_sent_it(&b).await;
    another_site_gets_nothing(&b).await;
    b.driver.clone().quit().await.unwrap();
}

/// The firm's site: the widget appears sized to its questions, the visitor answers and sends,
/// and sees the result the firm shows, in a frame that shrinks to it.
async fn a_visitor_answers_on_the_firms_site(b: &Browser) {
    b.driver.goto(&b.firm_site).await.unwrap();
    let frame = widget_frame(b).await;
    let height = frame_height_until(&frame, |h| h > 1000).await;
    assert!(
        height > 1000,
        "the page sized the frame to its content: {height}px"
    );
    b.shot("widget-on-the-firms-site.png").await;
    frame.clone().enter_frame().await.unwrap();
    let questions = b.main_text().await;
    assert!(questions.contains("Investment risk profile"), "{questions}");
    assert!(
        !questions.contains("Portfolios for you"),
        "no band text before sending"
    );

    for option in [
        "horizon-over_7",
        "income-steady",
        "reserve-over_3",
        "drop-hold",
        "experience-some",
        "goals-growth",
        "goals-income",
    ] {
        choose(b, option).await;
    }
    type_in(b, "q-age", "45").await;
    type_in(b, "q-comfort", "7").await;
    type_in(b, "first_name", "Zebediah").await;
    type_in(b, "last_name", "Quillfeather").await;
    type_in(b, "email", "zeb@client.example").await;
    b.driver
        .find(By::Id("consent"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let send = b
        .driver
        .find(By::Css("form.widget-form button[type=submit]"))
        .await
        .unwrap();
    b.click_and_wait(send).await;
    let result = b.main_text().await;
    assert!(result.contains("Your result: Growth"), "{result}");
    b.driver.enter_parent_frame().await.unwrap();
    // The frame shrinks to the result and is scrolled into view.
    let height = frame_height_until(&frame, |h| h < 800).await;
    assert!(height < 800, "the frame fits the result: {height}px");
    b.shot("widget-result.png").await;
    let problems = b.problems().await;
    assert!(problems.is_empty(), "{problems:?}");
}

/// Ada, the firm's advisor, signs in from her printed link, finds the email that told her of
/// the visitor's result (naming no client) in the demo's outbox, follows its link to the
/// result, de-identified, and shows who sent it by giving a reason; the list has it too.
async fn the_advisor_sees_the_result_and_who_sent_it(b: &Browser) {
    b.first_sign_in("advisor@harbor-advisory.example", true)
        .await;
    let (_, email) = b
        .outbox(
            "advisor@harbor-advisory.example",
            "a new result for Investment risk profile",
        )
        .await;
    assert!(email.contains("Result: Growth"), "{email}");
    assert!(!email.contains("Quillfeather"), "{email}");
    let link = email
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("https://") && l.contains("/results/"))
        .unwrap_or_else(|| panic!("no link to the result in {email}"))
        .to_owned();
    b.driver.goto(&link).await.unwrap();
    let result = b.main_text().await;
    assert!(result.contains("Growth"), "{result}");
    assert!(result.contains("In more than 7 years"), "{result}");
    assert!(!result.contains("Quillfeather"), "de-identified: {result}");
    b.shot("advisor-result.png").await;
    let purpose = b.driver.find(By::Css("input[name=purpose]")).await.unwrap();
    purpose.send_keys("to call back").await.unwrap();
    let show = b
        .driver
        .find(By::XPath("//button[normalize-space(text())='Show who']"))
        .await
        .unwrap();
    b.click_and_wait(show).await;
    let shown = b.main_text().await;
    assert!(
        shown.contains("Zebediah Quillfeather, zeb@client.example"),
        "{shown}"
    );
    b.shot("advisor-show-who.png").await;

    b.go("/admin/harbor-advisory/assessments/risk-profile")
        .await;
    let results = b.main_text().await;
    assert!(
        results.contains("Results of Investment risk profile"),
        "{results}"
    );
    assert!(results.contains("Growth"), "{results}");
    assert!(
        !results.contains("Quillfeather"),
        "de-identified: {results}"
    );
    assert!(results.contains("emailed to 1 person"), "{results}");
    b.shot("advisor-results.png").await;
    let problems = b.problems().await;
    assert!(problems.is_empty(), "{problems:?}");
}

/// A site not on the list: the frame shows only the browser's refusal (as the console
/// says), and a call straight from the page is refused.
async fn another_site_gets_nothing(b: &Browser) {
    b.driver.goto(&b.other_site).await.unwrap();
    widget_frame(b).await;
    b.driver
        .find(By::Id("try"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut answer = String::new();
    for _ in 0..50 {
        answer = b
            .driver
            .find(By::Id("answer"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if answer.starts_with("Refused") || answer.starts_with("2") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answer.starts_with("Refused"), "{answer}");
    b.shot("widget-refused-on-another-site.png").await;
    let console = crate::console_problems(&b.driver).await.join("\n");
    assert!(
        console.contains("frame-ancestors"),
        "the browser refused the frame: {console}"
    );
}
