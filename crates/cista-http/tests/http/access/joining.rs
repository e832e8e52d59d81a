//! The pages of an invitation to join, for what a person meets off the usual path: a form
//! that no longer fits the account, a spent link, and a link opened by someone signed in as
//! another person.

use super::{ann_of_palm_and_the_owner_of_bay, invite_to_bay, join_path};
use crate::people::{self, PASSWORD};
use crate::web::{follow, page, post, sign_in};
use crate::{Options, TestServer, csrf_in};
use cista_types::Role;

/// How many `token.rejected` entries the audit log holds.
async fn rejections(server: &TestServer) -> usize {
    let entries = server
        .state
        .cista
        .store()
        .audit_entries(0, 100_000)
        .await
        .unwrap();
    entries
        .iter()
        .filter(|e| e.kind == "token.rejected")
        .count()
}

/// Someone still to choose a password is sent on to choose one by an accept made by hand (the
/// link still works); a password posted to a spent link is refused once, and recorded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_link_answers_with_the_form_its_person_needs() {
    let server = TestServer::start(Options::default()).await;
    let boss = ann_of_palm_and_the_owner_of_bay(&server).await;
    // Bo was invited to Palm and never chose a password.
    let slug = cista_types::OrgSlug::parse("palm").unwrap();
    let palm = server.state.cista.store().organization_by_slug(&slug).await;
    let palm = palm.unwrap().unwrap().id;
    people::invited(
        &server.state.cista,
        palm,
        "bo@example.org",
        None,
        Role::Member,
    )
    .await;
    invite_to_bay(&boss, &server, "bo@example.org").await;
    let path = join_path(&server, "bo@example.org").await;

    let bo = server.browser();
    let (status, html) = page(&bo, &server, &path).await;
    assert_eq!(status, 200);
    assert!(html.contains("new-password"), "{html}");
    let r = post(
        &bo,
        &server,
        &format!("{path}/accept"),
        &csrf_in(&html),
        &[],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        path.as_str(),
        "its page, to choose"
    );
    let (status, html) = page(&bo, &server, &path).await;
    assert_eq!(status, 200, "the link still works");
    let chosen = [("password", PASSWORD), ("confirm", PASSWORD)];
    let r = post(&bo, &server, &path, &csrf_in(&html), &chosen).await;
    let (to, status, _) = follow(&bo, &server, r).await;
    assert_eq!((to.as_str(), status.as_u16()), ("/me", 200));
    assert_eq!(rejections(&server).await, 0, "nothing was refused");

    // The spent link, posted from another browser: refused, recorded once.
    let other = server.browser();
    let (_, html) = page(&other, &server, "/sign-in").await;
    let r = post(&other, &server, &path, &csrf_in(&html), &chosen).await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("This link does not work"), "{html}");
    assert_eq!(rejections(&server).await, 1);
    server.stop().await;
}

/// A browser signed in as someone else is told whose link it opened, before using it; the
/// person's own browser is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_opened_while_signed_in_as_someone_else_says_whose_it_is() {
    let server = TestServer::start(Options::default()).await;
    let boss = ann_of_palm_and_the_owner_of_bay(&server).await;
    invite_to_bay(&boss, &server, "ann@example.org").await;
    let path = join_path(&server, "ann@example.org").await;
    // The tests' people are all "Test Person".
    let warning = "This link is for Test.";

    let (status, html) = page(&boss, &server, &path).await;
    assert_eq!(status, 200);
    assert!(html.contains(warning), "{html}");
    let ann = sign_in(&server, "ann@example.org").await;
    let (status, html) = page(&ann, &server, &path).await;
    assert_eq!(status, 200);
    assert!(!html.contains(warning), "{html}");
    let (_, html) = page(&server.browser(), &server, &path).await;
    assert!(!html.contains(warning), "not signed in: {html}");
    server.stop().await;
}
