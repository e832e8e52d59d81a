//! Breaches on the staff pages (issue 14, item 2): an owner reaches them from the
//! organization's home, records a breach (a window that ends before it starts is refused beside
//! its field), sees the 72-hour deadline and who the window could have touched by subject code,
//! cannot send while the notice has `[FILL IN: …]` left, saves words (an unknown name refused
//! with its line), sends each person one email, and records that the supervisory authority was
//! told. A member is refused; a form without the CSRF token changes nothing.

use crate::people::{active, last_notice, org};
use crate::web::{follow, page, post, sign_in};
use crate::{Options, TestServer, csrf_in};
use cista_core::Actor;
use cista_core::platform::breach::{BreachScope, NewBreach};
use cista_core::platform::notices::Notice;
use cista_types::Role;
use reqwest::StatusCode;

const FILLED: &str = "Hello {{ first_name }},\n\n{{ what_happened }}\n\nIt could have touched: \
                      {{ kinds_of_data }}.\n\nWrite to privacy@palm.example.\n";

#[tokio::test]
async fn an_owner_records_a_breach_fills_the_notice_and_tells_each_person_once() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org_id = org(cista, "seaside-hoa").await;
    active(cista, org_id, "olivia@palm.example", Role::Owner).await;
    active(cista, org_id, "max@palm.example", Role::Member).await;
    let owner = sign_in(&server, "olivia@palm.example").await;
    let list = "/admin/seaside-hoa/breaches";
    let (_, home) = page(&owner, &server, "/admin/seaside-hoa").await;
    assert!(home.contains(list), "the home page links to the breaches");
    let (status, html) = page(&owner, &server, list).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("No breach has been recorded"), "{html}");

    let zone = cista
        .store()
        .organization(org_id)
        .await
        .unwrap()
        .unwrap()
        .time_zone;
    let now = cista.clock().now();
    let local = |minutes: i64| zone.to_local_input(now.plus(time::Duration::minutes(minutes)));
    let (earlier, later) = (local(-60), local(0));
    let record = async |(from, to): (&str, &str), scope: &str, description: &str| {
        let fields = [
            ("from", from),
            ("to", to),
            ("scope", scope),
            ("description", description),
        ];
        post(&owner, &server, list, &csrf_in(&html), &fields).await
    };
    let r = record((&later, &earlier), "activity", "A laptop was stolen.").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("must end after it starts"));
    let r = record((&earlier, &later), "members", "a\u{0}b").await;
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "a NUL is refused, never a 500"
    );
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Remove the control characters")
    );
    let no_csrf = server
        .browser()
        .post(server.url(list))
        .header("origin", server.url(""))
        .form(&[("from", earlier.as_str()), ("to", later.as_str())])
        .send()
        .await
        .unwrap();
    assert!(no_csrf.status().is_client_error(), "{}", no_csrf.status());
    let operator = Actor::operator("test");
    assert!(cista.breaches(&operator, org_id).await.unwrap().is_empty());

    let r = record(
        (&earlier, &later),
        "members",
        "A laptop with a copy of the roster was stolen.",
    )
    .await;
    let (at, status, shown) = follow(&owner, &server, r).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert!(at.starts_with("/admin/seaside-hoa/breaches/br-"), "{at}");
    assert!(
        shown.contains("Tell the supervisory authority by"),
        "{shown}"
    );
    assert!(shown.contains("71 h 59 min left") || shown.contains("72 h 0 min left"));
    assert!(shown.contains("not told yet"), "{shown}");
    assert!(
        !shown.contains("olivia@palm.example"),
        "codes, never addresses"
    );
    assert!(shown.contains("Not yet: the notice still has text to fill in"));
    assert!(!shown.contains("Send the notices"));

    tell_and_report(&server, &owner, &at, &shown).await;
    let member = sign_in(&server, "max@palm.example").await;
    let (status, _) = page(&member, &server, list).await;
    assert!(status.is_client_error(), "a member: {status}");
}

/// Saves the notice (an unknown name refused first), sends it, records the authority told.
async fn tell_and_report(server: &TestServer, owner: &reqwest::Client, at: &str, shown: &str) {
    let cista = &server.state.cista;
    let notice = format!("{at}/notice");
    let r = post(
        owner,
        server,
        &notice,
        &csrf_in(shown),
        &[
            ("subject", "A security incident"),
            ("body", "Dear {{ last_name }}"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let refused = r.text().await.unwrap();
    assert!(
        refused.contains("The body uses `last_name`, which a notice does not know"),
        "{refused}"
    );
    assert!(
        refused.contains("Dear {{ last_name }}"),
        "the words typed stay in the form"
    );
    let r = post(
        owner,
        server,
        &notice,
        &csrf_in(shown),
        &[
            ("subject", "{{ organization }}: a security incident"),
            ("body", FILLED),
        ],
    )
    .await;
    let (_, _, saved) = follow(owner, server, r).await;
    assert!(saved.contains("The notice is saved."), "{saved}");
    assert!(saved.contains("Hello Alex,"), "the preview: {saved}");
    assert!(saved.contains("Send the notices"), "{saved}");

    let r = post(
        owner,
        server,
        &format!("{at}/notify"),
        &csrf_in(&saved),
        &[],
    )
    .await;
    let (_, _, sent) = follow(owner, server, r).await;
    assert!(sent.contains("notices queued for sending"), "{sent}");
    assert!(sent.contains("Nobody is left to tell by email."), "{sent}");
    let Some(Notice::BreachNotice { words, values }) = last_notice(cista, "max@palm.example").await
    else {
        panic!("max was told");
    };
    assert_eq!(words.body, FILLED);
    assert_eq!(
        values.what_happened,
        "A laptop with a copy of the roster was stolen."
    );

    // A time in the future is refused beside the field that had it, the time kept.
    let r = post(
        owner,
        server,
        &format!("{at}/reported"),
        &csrf_in(&sent),
        &[("reported_at", "2999-01-01T10:00")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let refused = r.text().await.unwrap();
    let panel = refused.split("<h2 id=\"people\">").next().unwrap();
    assert!(
        panel.contains("is in the future"),
        "shown in the deadline panel: {refused}"
    );
    assert!(
        panel.contains("value=\"2999-01-01T10:00\""),
        "the time typed stays"
    );
    let r = post(
        owner,
        server,
        &format!("{at}/reported"),
        &csrf_in(&sent),
        &[],
    )
    .await;
    let (_, _, reported) = follow(owner, server, r).await;
    assert!(
        reported.contains("The supervisory authority was told"),
        "{reported}"
    );
    assert!(!reported.contains("min left"), "{reported}");
}

/// An owner of one organization reaches no breach of another: not by its own list, not by a
/// breach id put under their own organization's path, not with a malformed id.
#[tokio::test]
async fn an_owner_never_reaches_another_organizations_breach() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let mine = org(cista, "seaside-hoa").await;
    let theirs = org(cista, "harbor-hoa").await;
    active(cista, mine, "olivia@seaside.example", Role::Owner).await;
    active(cista, theirs, "hank@harbor.example", Role::Owner).await;
    let now = cista.clock().now();
    let breach = cista
        .record_breach(
            &Actor::operator("test"),
            theirs,
            NewBreach {
                from: now.plus(time::Duration::hours(-1)),
                to: now,
                scope: BreachScope::Members,
                description: "Harbor's incident.".to_owned(),
            },
        )
        .await
        .unwrap();
    let owner = sign_in(&server, "olivia@seaside.example").await;
    let (status, _) = page(&owner, &server, "/admin/harbor-hoa/breaches").await;
    assert!(
        status.is_client_error(),
        "another organization's list: {status}"
    );
    let (status, _) = page(
        &owner,
        &server,
        &format!("/admin/harbor-hoa/breaches/{}", breach.id),
    )
    .await;
    assert!(
        status.is_client_error(),
        "another organization's breach: {status}"
    );
    let (status, body) = page(
        &owner,
        &server,
        &format!("/admin/seaside-hoa/breaches/{}", breach.id),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "under my own path: {body}");
    assert!(!body.contains("Harbor's incident"));
    for bad in ["br-1", "not-an-id", "br-zzzzzzzzzzzzzzzz", "%00"] {
        let (status, _) = page(
            &owner,
            &server,
            &format!("/admin/seaside-hoa/breaches/{bad}"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }
    let (_, list) = page(&owner, &server, "/admin/seaside-hoa/breaches").await;
    let r = post(
        &owner,
        &server,
        &format!("/admin/seaside-hoa/breaches/{}/notify", breach.id),
        &csrf_in(&list),
        &[],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "no notice of another's breach"
    );
    let r = post(
        &owner,
        &server,
        &format!("/admin/seaside-hoa/breaches/{}/reported", breach.id),
        &csrf_in(&list),
        &[("reported_at", "")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let untouched = cista
        .breach(&Actor::operator("test"), theirs, breach.id)
        .await
        .unwrap();
    assert_eq!(untouched.reported_at, None);
}
