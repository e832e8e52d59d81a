//! Words and times people read: no `unit(s)`-style plural anywhere in what the code or its
//! templates write (each count picks its singular or plural), and the device test page and
//! emails state times in the organization's zone with its abbreviation, never a bare UTC.

use crate::people;
use crate::web::page;
use crate::{Options, TestServer};
use cista_core::Actor;
use cista_core::platform::notices::Notice;
use cista_types::{OrgName, OrgSlug, Role, TimeZoneName};
use std::path::{Path, PathBuf};

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "rs" || e == "html" || e == "txt")
        {
            out.push(path);
        }
    }
}

/// `word(s)` inside a string literal or template text: a letter, then `(s)`, on a line
/// where it sits between quotes (Rust) or anywhere (templates).
fn paren_plurals(path: &Path, text: &str) -> Vec<String> {
    let template = path.extension().is_some_and(|e| e != "rs");
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut from = 0;
        while let Some(at) = line[from..].find("(s)") {
            let at = from + at;
            let before = line[..at].chars().last();
            let in_string = template || line[..at].matches('"').count() % 2 == 1;
            if before.is_some_and(char::is_alphabetic) && in_string {
                found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
            from = at + 3;
        }
    }
    found
}

#[test]
fn no_plural_is_written_with_parentheses() {
    // The checkout being tested, read when the test runs (cargo sets it): a test binary reused
    // from a target directory shared with another checkout carries that checkout's path.
    let crates = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .join("..");
    let mut files = Vec::new();
    for krate in std::fs::read_dir(&crates).unwrap().flatten() {
        for part in ["src", "templates"] {
            files_under(&krate.path().join(part), &mut files);
        }
    }
    assert!(files.len() > 50, "the scan found the sources");
    let found: Vec<String> = files
        .iter()
        .flat_map(|f| paren_plurals(f, &std::fs::read_to_string(f).unwrap()))
        .collect();
    assert!(
        found.is_empty(),
        "plurals written with (s):\n{}",
        found.join("\n")
    );
    // The scan itself finds one.
    assert_eq!(
        paren_plurals(Path::new("x.rs"), r#"format!("{n} unit(s) on file")"#).len(),
        1
    );
    assert!(paren_plurals(Path::new("x.rs"), "Some(s) => s,").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_test_page_shows_the_associations_time_zone() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let palm = cista
        .store()
        .organization_by_slug(&OrgSlug::parse("palm-court").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    cista
        .set_time_zone(
            &Actor::operator("test"),
            palm,
            TimeZoneName::parse("America/New_York").unwrap(),
        )
        .await
        .unwrap();
    let visitor = server.browser();
    let (_, html) = page(&visitor, &server, "/vote/test-device").await;
    assert!(!html.contains("UTC (UTC)"), "{html}");
    assert!(
        html.contains("America/New_York, the association&#39;s time zone"),
        "{html}"
    );
    assert!(html.contains(" EST") || html.contains(" EDT"), "{html}");

    // With organizations in several zones, a visitor sees UTC said in words; a member sees
    // their own organization's.
    cista
        .create_organization_in_zone(
            &Actor::operator("test"),
            OrgName::parse("Bayview").unwrap(),
            OrgSlug::parse("bayview").unwrap(),
            TimeZoneName::parse("Europe/Madrid").unwrap(),
        )
        .await
        .unwrap();
    let (_, html) = page(&visitor, &server, "/vote/test-device").await;
    assert!(html.contains("UTC (Coordinated Universal Time)"), "{html}");
    people::active(cista, palm, "ana@palm.example", Role::Member).await;
    let ana = crate::web::sign_in(&server, "ana@palm.example").await;
    let (_, html) = page(&ana, &server, "/vote/test-device").await;
    assert!(
        html.contains("America/New_York, the association&#39;s time zone"),
        "{html}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_expiries_in_emails_are_in_the_organizations_zone() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = cista
        .create_organization_in_zone(
            &Actor::operator("test"),
            OrgName::parse("Bayview").unwrap(),
            OrgSlug::parse("bayview").unwrap(),
            TimeZoneName::parse("America/Los_Angeles").unwrap(),
        )
        .await
        .unwrap()
        .id;
    people::invited(cista, org, "lee@bay.example", None, Role::Member).await;
    let due = cista.due_deliveries(&Actor::System, 100).await.unwrap();
    let invitation = due
        .iter()
        .find(|d| d.address == "lee@bay.example")
        .expect("the invitation is due");
    assert!(matches!(invitation.notice, Notice::Invitation { .. }));
    assert_eq!(invitation.time_zone.as_str(), "America/Los_Angeles");
    let rendered = cista_notify::render::render(invitation).unwrap();
    assert!(
        rendered.text.contains(" PST") || rendered.text.contains(" PDT"),
        "{}",
        rendered.text
    );
    assert!(!rendered.text.contains("UTC"), "{}", rendered.text);
    server.stop().await;
}
