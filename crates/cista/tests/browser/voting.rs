//! The voting story in the demo in Chromium: owners vote and keep receipts, the manager
//! watches turnout and enters paper ballots, and the closed quick poll's results, certified
//! PDF and public bulletin are there.

use crate::{Browser, MEMBER, OWNER};
use std::process::Command;
use std::time::Duration;
use thirtyfour::prelude::*;

const SOFIA: &str = "sofia@palm-court.example";
/// The voting story in the demo, as its people would go through it: an owner votes for each of
/// his units and keeps the receipt, is refused a second vote for a unit, a co-owner's unit is
/// voted by its designated voter, the manager watches turnout (never counts) and enters a
/// paper ballot, and once the quick poll closes the results, the certified PDF and the public
/// bulletin (where the owner finds his tracker) are there. Screenshots of each are saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn association_voting_works_in_chromium() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let poll_tracker = manuel_votes_in_the_quick_poll(&b).await;
    let (election_path, unit_101, tracker) = manuel_votes_in_the_board_election(&b).await;
    the_receipt_survives_reload_back_and_print(&b, &election_path, &unit_101, &tracker).await;
    sofia_votes_for_her_designated_unit(&b).await;
    the_manager_watches_turnout_and_enters_paper_ballots(&b).await;
    let poll_path = the_quick_poll_closes_with_certified_results(&b).await;
    manuel_finds_his_tracker_on_the_bulletin(&b, &poll_path, &poll_tracker).await;
}

/// Manuel's first sign-in and his ballots; his vote in the quick poll, whose tracker he keeps.
async fn manuel_votes_in_the_quick_poll(b: &Browser) -> String {
    // Manuel: the printed link, a password, his ballots (the quick poll first: it closes a
    // minute after this test's demo started).
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
    poll_tracker
}

/// Manuel's vote for unit 101 in the board election, its receipt and where the receipt lives;
/// returns the election's path, the unit's id and the tracker.
async fn manuel_votes_in_the_board_election(b: &Browser) -> (String, String, String) {
    // The board election: three of five candidates, listed in a random order.
    b.go("/vote").await;
    b.follow("2027 Board of Directors election").await;
    let election_path = b.path().await;
    let unit_101 = unit_id_in(b, "101").await;
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

    let tracker = tracker_on_page(b).await;
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
    (election_path, unit_101, tracker)
}

/// The receipt after a reload, Back and Forward, and printed; then Manuel signs out.
async fn the_receipt_survives_reload_back_and_print(
    b: &Browser,
    election_path: &str,
    unit_101: &str,
    tracker: &str,
) {
    // Reload: the same receipt (Post/Redirect/Get: the browser does not send the vote again).
    b.driver.refresh().await.unwrap();
    assert_eq!(tracker_on_page(b).await, tracker);
    // Back: the form's address now shows the receipt, not a refusal.
    b.driver.back().await.unwrap();
    assert_eq!(b.path().await, format!("{election_path}/unit/{unit_101}"));
    assert_eq!(tracker_on_page(b).await, tracker);
    b.driver.forward().await.unwrap();
    assert_eq!(tracker_on_page(b).await, tracker);
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
        assert!(text.contains(tracker), "{text}");
        assert!(text.contains("/e/") && text.contains("/bulletin"), "{text}");
        assert!(
            !text.contains("Download receipt") && !text.contains("Sign out"),
            "{text}"
        );
    }
    b.sign_out().await;
}

/// Sofia, designated voter of 204, votes for it.
async fn sofia_votes_for_her_designated_unit(b: &Browser) {
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
}

/// The manager: live turnout without counts, and paper ballots in two envelopes.
async fn the_manager_watches_turnout_and_enters_paper_ballots(b: &Browser) {
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
    // Back on the ballot's page, a search of the roll says whether a unit voted: 508 has, on
    // paper, just now.
    b.follow("2027 Board of Directors election").await;
    b.fill("unit-q", "508").await;
    b.click_and_wait(
        b.driver
            .find(By::Css("main form.search button"))
            .await
            .unwrap(),
    )
    .await;
    let found = b.main_text().await;
    assert!(
        found.contains("Units on the roll matching “508”"),
        "{found}"
    );
    let row = b
        .driver
        .find(By::Css("table.found tbody tr"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        row.contains("508") && row.contains("Yes") && row.contains("paper"),
        "{row}"
    );
    b.shot("admin-ballot-search.png").await;
}

/// The quick poll closes on its own, with results and a certified PDF; returns its path.
async fn the_quick_poll_closes_with_certified_results(b: &Browser) -> String {
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
    poll_path
}

/// Manuel finds his tracker on the public bulletin; the bulletin fits a phone; no problems logged.
async fn manuel_finds_his_tracker_on_the_bulletin(
    b: &Browser,
    poll_path: &str,
    poll_tracker: &str,
) {
    // Manuel finds his tracker on the public bulletin, with its proof checked.
    let poll_id = poll_path.rsplit('/').next().unwrap().to_owned();
    b.go(&format!("/e/{poll_id}/bulletin")).await;
    b.fill("tracker", poll_tracker).await;
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

/// The tracker shown on the receipt page.
async fn tracker_on_page(b: &Browser) -> String {
    b.driver
        .find(By::Css("p.tracker code"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
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
