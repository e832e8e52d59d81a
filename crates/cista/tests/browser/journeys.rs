//! Journeys that must not strand people, in Chromium against the demo: a ballot link opened
//! while signed out comes back to the ballot after signing in; the publication email's link
//! for an owner who never chose a password leads through choosing one straight to the ballot;
//! a refusal an owner meets (a closed ballot) is a page with the next step; "Sign out" signs
//! out this device.

use crate::{Browser, MEMBER, PASSWORD};
use thirtyfour::prelude::*;

/// An owner of the demo who never chose a password (the demo prints links for three people).
const PRIYA: &str = "priya@palm-court.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_lead_on_through_sign_in_and_a_first_password() {
    let Some(b) = Browser::start().await else {
        return;
    };
    b.first_sign_in(MEMBER, false).await;
    b.go("/vote").await;
    b.follow("2027 Board of Directors election").await;
    let ballot_path = b.path().await;
    b.sign_out().await;

    // A ballot link opened signed out: sign in, then the ballot, not the account page.
    b.go(&ballot_path).await;
    assert!(
        b.path().await.starts_with("/sign-in?next="),
        "{}",
        b.path().await
    );
    assert!(b.main_text().await.contains("Sign in to continue"));
    b.fill("email", MEMBER).await;
    b.fill("password", PASSWORD).await;
    b.submit().await;
    assert_eq!(b.path().await, ballot_path);
    b.shot("journey-back-to-the-ballot.png").await;
    b.sign_out().await;

    // The publication email to an owner without a password: its button chooses a password
    // and goes on to the ballot, signed in.
    let (link, body) = b.outbox(PRIYA, "vote on").await;
    let link = link.expect("the email has a button");
    assert!(link.contains("/i/"), "{link}: {body}");
    assert!(body.contains("have not chosen a Cista password"), "{body}");
    b.driver.goto(&link).await.unwrap();
    b.fill("password", PASSWORD).await;
    b.fill("confirm", PASSWORD).await;
    b.submit().await;
    let landed = b.path().await;
    assert!(landed.starts_with("/vote/"), "{landed}");
    let page = b.main_text().await;
    assert!(page.contains("Unit"), "{page}");
    b.shot("journey-first-password-to-the-ballot.png").await;

    // An owner on a staff page: a page with the next step, the technical details folded away.
    b.go("/admin/palm-court/units").await;
    let refused = b.main_text().await;
    assert!(refused.contains("Details for support"), "{refused}");
    assert!(
        b.driver.find(By::Css("ul.next-steps a")).await.is_ok(),
        "a next step: {refused}"
    );
    b.sign_out().await;
    let problems = b.problems().await;
    assert!(problems.is_empty(), "{problems:?}");
}
