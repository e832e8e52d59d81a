//! The ballot builder: a draft built, previewed and published through the pages, cancel and
//! reissue, and characters no font can print refused where they are typed.

use super::{BALLOTS, ballot_in, location, new_ballot, palm_court, staff, titles};
use crate::people::last_notice;
use crate::voting::{import_roster, open_ballot, operator};
use crate::web::{page, post};
use crate::{Options, TestServer, csrf_in};
use cista_core::platform::notices::Notice;
use cista_core::products::voting::VotingNotice;
use cista_core::products::voting::definition::Secrecy;
use cista_types::{BallotId, Clock as _, OrgId, OrgSlug, Role, SystemClock};
use reqwest::{Client, StatusCode};
use time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ballot_is_built_previewed_and_published_through_the_pages() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    let admin = staff(&server, "admin@palm.example", Role::Admin).await;

    the_time_zone_is_set_first(&admin, &server).await;
    let draft = the_new_ballot_form_refuses_bad_times_then_saves_a_draft(&admin, &server).await;
    a_resolution_and_an_election_are_added(&admin, &server, org, &draft).await;
    contests_are_moved_and_edited(&admin, &server, org, &draft).await;
    the_preview_shows_the_ballot_as_owners_see_it(&admin, &server, &draft.path).await;
    publishing_waits_for_units_then_notifies_and_freezes_the_ballot(&admin, &server, org, &draft)
        .await;
    server.stop().await;
}

/// A draft ballot made through the new-ballot form.
struct Draft {
    /// The draft's page.
    path: String,
    id: BallotId,
    /// The CSRF token of the draft's page.
    token: String,
}

/// The organization's time zone first: ballot windows are entered in it.
async fn the_time_zone_is_set_first(admin: &Client, server: &TestServer) {
    let (status, home) = page(admin, server, "/admin/palm-court").await;
    assert_eq!(status, 200);
    assert!(home.contains(r#"href="/admin/palm-court/units""#), "{home}");
    assert!(home.contains(r#"href="/admin/palm-court/ballots""#));
    let r = post(
        admin,
        server,
        "/admin/palm-court/settings",
        &csrf_in(&home),
        &[("time_zone", "Mars/Olympus")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("There is a problem"));
    let r = post(
        admin,
        server,
        "/admin/palm-court/settings",
        &csrf_in(&home),
        &[("time_zone", "America/New_York")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, home) = page(admin, server, &location(&r)).await;
    assert!(
        home.contains("The time zone is now America/New_York"),
        "{home}"
    );
}

/// The new-ballot form names the zone, refuses a window that closes before it opens or a time
/// that is not one, and saves a draft.
async fn the_new_ballot_form_refuses_bad_times_then_saves_a_draft(
    admin: &Client,
    server: &TestServer,
) -> Draft {
    let (_, list) = page(admin, server, BALLOTS).await;
    assert!(
        list.contains("No ballots yet") && list.contains("New ballot"),
        "{list}"
    );
    let (status, form) = page(admin, server, &format!("{BALLOTS}/new")).await;
    assert_eq!(status, 200);
    assert!(
        form.contains("America/New_York"),
        "the zone is named next to the times"
    );
    assert!(form.contains(r#"type="datetime-local""#));
    assert!(
        form.contains(r#"value="50""#),
        "a majority quorum by default"
    );
    let token = csrf_in(&form);

    let zone = cista_types::TimeZoneName::parse("America/New_York").unwrap();
    let now = SystemClock.now();
    let opens = zone.to_local_input(now.plus(Duration::days(1)));
    let closes = zone.to_local_input(now.plus(Duration::days(15)));
    // Closing before it opens: the problem is shown at the field.
    let r = new_ballot(admin, server, &token, &closes, &opens).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains(r##"href="#closes""##), "{html}");
    assert!(html.contains("must be after the opening time"), "{html}");
    let r = new_ballot(admin, server, &token, "someday", &closes).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains(r##"href="#opens""##));
    // A year with no four-digit text (the input takes signed six-digit years), or one nobody
    // means: refused at the field, nothing stored, the ballot list still shown.
    for opens in ["-000001-06-01T09:00", "0226-06-01T09:00"] {
        let r = new_ballot(admin, server, &token, opens, &closes).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{opens}");
        let html = r.text().await.unwrap();
        assert!(html.contains("must be in the years 2000 to 9999"), "{html}");
    }
    assert_eq!(page(admin, server, BALLOTS).await.0, 200);

    let r = new_ballot(admin, server, &token, &opens, &closes).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let at = location(&r);
    assert!(at.ends_with("?done=created"), "{at}");
    let id = ballot_in(&at);
    let path = format!("{BALLOTS}/{id}");
    let (status, draft) = page(admin, server, &at).await;
    assert_eq!(status, 200);
    assert!(
        draft.contains("Draft") && draft.contains("The draft is saved"),
        "{draft}"
    );
    assert!(draft.contains(&opens), "the window shown as entered");
    let token = csrf_in(&draft);
    Draft {
        path,
        id: BallotId::from_i64(id.parse().unwrap()),
        token,
    }
}

/// A resolution and an election; more seats than candidates is refused, keeping what was typed.
async fn a_resolution_and_an_election_are_added(
    admin: &Client,
    server: &TestServer,
    org: OrgId,
    draft: &Draft,
) {
    let (path, token, ballot_id) = (&draft.path, draft.token.as_str(), draft.id);
    let cista = &server.state.cista;
    let r = post(
        admin,
        server,
        &format!("{path}/contests"),
        token,
        &[
            ("kind", "resolution"),
            ("title", "Amend article 7"),
            ("description", "Allow electronic notices."),
            ("threshold", "two-thirds"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = post(
        admin,
        server,
        &format!("{path}/contests"),
        token,
        &[
            ("kind", "election"),
            ("title", "Board of directors"),
            ("seats", "5"),
            ("candidates", "Alma Diaz\nBen Ortiz\nCarla Sosa"),
        ],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "more seats than candidates"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains(r##"href="#e-seats""##), "{html}");
    assert!(html.contains("Carla Sosa"), "what was typed is kept");
    let r = post(
        admin,
        server,
        &format!("{path}/contests"),
        token,
        &[
            ("kind", "election"),
            ("title", "Board of directors"),
            ("seats", "2"),
            ("candidates", "Alma Diaz\nBen Ortiz\nCarla Sosa"),
            ("shuffle", "on"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        titles(cista, org, ballot_id).await,
        ["Amend article 7", "Board of directors"]
    );
}

/// Move the election up, edit the resolution (a bad percentage is refused), then put things
/// back.
async fn contests_are_moved_and_edited(
    admin: &Client,
    server: &TestServer,
    org: OrgId,
    draft: &Draft,
) {
    let (path, token, ballot_id) = (&draft.path, draft.token.as_str(), draft.id);
    let cista = &server.state.cista;
    let r = post(
        admin,
        server,
        &format!("{path}/contests/2"),
        token,
        &[("action", "up")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        titles(cista, org, ballot_id).await,
        ["Board of directors", "Amend article 7"]
    );
    let r = post(
        admin,
        server,
        &format!("{path}/contests/2"),
        token,
        &[("action", "down")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = post(
        admin,
        server,
        &format!("{path}/contests/1"),
        token,
        &[
            ("action", "update"),
            ("kind", "resolution"),
            ("title", "Amend article 7 (notices)"),
            ("threshold", "share"),
            ("percent", "abc"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains(r##"href="#k1-percent""##));
    let r = post(
        admin,
        server,
        &format!("{path}/contests/1"),
        token,
        &[
            ("action", "update"),
            ("kind", "resolution"),
            ("title", "Amend article 7 (notices)"),
            ("description", "Allow electronic notices."),
            ("threshold", "share"),
            ("percent", "66.67"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        titles(cista, org, ballot_id).await,
        ["Amend article 7 (notices)", "Board of directors"]
    );
    let (_, draft) = page(admin, server, path).await;
    assert!(draft.contains("66.67% of all voting interests"), "{draft}");
}

/// The preview: the ballot as owners see it, inputs disabled.
async fn the_preview_shows_the_ballot_as_owners_see_it(
    admin: &Client,
    server: &TestServer,
    path: &str,
) {
    let (status, preview) = page(admin, server, &format!("{path}/preview")).await;
    assert_eq!(status, 200);
    assert!(preview.contains("PREVIEW"));
    assert!(preview.contains("Ben Ortiz") && preview.contains("Abstain"));
    assert!(
        preview.contains(r#"name="c2" value="1" disabled"#),
        "{preview}"
    );
    assert!(
        !preview.contains("method=\"post\" action=\"/admin"),
        "no staff form in the preview"
    );
}

/// Publishing without units is refused with the reason; with them, owners are told, and the
/// ballot cannot change any more.
async fn publishing_waits_for_units_then_notifies_and_freezes_the_ballot(
    admin: &Client,
    server: &TestServer,
    org: OrgId,
    draft: &Draft,
) {
    let (path, token) = (&draft.path, draft.token.as_str());
    let cista = &server.state.cista;
    let r = post(admin, server, &format!("{path}/publish"), token, &[]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("cannot be published yet"), "{html}");
    assert!(html.contains("none are on file"), "{html}");

    import_roster(cista, org).await;
    last_notice(cista, "nobody").await;
    let r = post(admin, server, &format!("{path}/publish"), token, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, published) = page(admin, server, &location(&r)).await;
    assert!(published.contains("The ballot is published"), "{published}");
    assert!(published.contains("Not yet open"), "{published}");
    assert!(published.contains("0 of 5 units"), "{published}");
    assert!(
        !published.contains("/publish\""),
        "no publish button any more"
    );
    match last_notice(cista, "ana@palm.example").await {
        Some(Notice::Voting(VotingNotice::BallotPublished {
            title,
            online_units,
            ..
        })) => {
            assert_eq!(title, "Annual meeting 2026");
            assert_eq!(online_units, ["1A", "1B"]);
        }
        other => panic!("no publication notice for Ana: {other:?}"),
    }
    // It cannot change any more.
    let r = post(
        admin,
        server,
        &format!("{path}/contests/1"),
        token,
        &[("action", "remove")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("cancel it and reissue"));
    let (_, list) = page(admin, server, BALLOTS).await;
    assert!(
        list.contains("Annual meeting 2026") && list.contains("0 of 5 units"),
        "{list}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_ballot_is_cancelled_with_a_reason_and_reissued_as_a_new_draft() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    import_roster(cista, org).await;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(2)).await;
    let admin = staff(&server, "admin@palm.example", Role::Admin).await;
    let path = format!("{BALLOTS}/{ballot}");
    let (_, live) = page(&admin, &server, &path).await;
    assert!(
        live.contains("a correction is a cancel") || live.contains("cancel it and reissue"),
        "{live}"
    );
    let token = csrf_in(&live);
    let r = post(
        &admin,
        &server,
        &format!("{path}/cancel"),
        &token,
        &[("reason", "  ")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains(r##"href="#reason""##));
    let r = post(
        &admin,
        &server,
        &format!("{path}/cancel"),
        &token,
        &[("reason", "Wrong candidate list")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, cancelled) = page(&admin, &server, &location(&r)).await;
    assert!(cancelled.contains("Cancelled on"), "{cancelled}");
    assert!(cancelled.contains("Reissue a corrected copy"));
    let r = post(&admin, &server, &format!("{path}/reissue"), &token, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let at = location(&r);
    assert_ne!(ballot_in(&at), ballot.to_string());
    let (_, draft) = page(&admin, &server, &at).await;
    assert!(draft.contains("Annual meeting (corrected)"), "{draft}");
    assert!(draft.contains("A corrected copy of"), "{draft}");
    assert!(draft.contains("Draft") && draft.contains("Board of directors"));
    // The cancelled ballot takes no paper ballot.
    let (status, paper) = page(&admin, &server, &format!("{path}/paper")).await;
    assert_eq!(status, 200);
    assert!(
        paper.contains("was cancelled: it takes no more votes"),
        "{paper}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_character_no_font_can_print_is_refused_where_it_is_typed_and_named() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let admin = staff(&server, "admin@palm.example", Role::Admin).await;
    let (_, form) = page(&admin, &server, &format!("{BALLOTS}/new")).await;
    let token = csrf_in(&form);
    let zone = cista_types::TimeZoneName::utc();
    let now = SystemClock.now();
    let opens = zone.to_local_input(now.plus(Duration::days(1)));
    let closes = zone.to_local_input(now.plus(Duration::days(8)));
    let ballot = |title: &'static str| {
        [
            ("title", title),
            ("opens", opens.as_str()),
            ("closes", closes.as_str()),
            ("secrecy", "secret"),
            ("weighting", "per-unit"),
            ("quorum", "30"),
        ]
    };

    // A private-use character in the title.
    let r = post(
        &admin,
        &server,
        &format!("{BALLOTS}/new"),
        &token,
        &ballot("Annual meeting \u{E000}"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains(r##"href="#title""##), "{html}");
    assert!(
        html.contains("(U+E000)") && html.contains("private use"),
        "{html}"
    );

    let r = post(
        &admin,
        &server,
        &format!("{BALLOTS}/new"),
        &token,
        &ballot("Annual meeting"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let path = format!("{BALLOTS}/{}", ballot_in(&location(&r)));
    // A candidate with a private-use character: the name and the character are both named.
    let r = post(
        &admin,
        &server,
        &format!("{path}/contests"),
        &token,
        &[
            ("kind", "election"),
            ("title", "Board"),
            ("seats", "1"),
            ("candidates", "陈测试\n🏠 Team\nBo \u{F8FF} Diaz"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains(r##"href="#e-candidates""##), "{html}");
    // Refused by the invisible-character check, which runs before the font check and says
    // which character, where, and why.
    assert!(html.contains("candidate name"), "{html}");
    assert!(
        html.contains("U+F8FF") && html.contains("private use"),
        "{html}"
    );
    // An unassigned code point in a contest title.
    let r = post(
        &admin,
        &server,
        &format!("{path}/contests"),
        &token,
        &[
            ("kind", "resolution"),
            ("title", "Budget \u{0378}"),
            ("threshold", "majority"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("U+0378") && html.contains("unassigned"),
        "{html}"
    );
    // Nothing was added.
    let ballot = BallotId::from_i64(ballot_in(&path).parse().unwrap());
    let org = palm_court(cista).await;
    assert!(titles(cista, org, ballot).await.is_empty());

    // An organization's name heads every certificate: checked when it is created.
    let err = cista
        .create_organization(
            &operator(),
            cista_types::OrgName::from_stored("Palm \u{E000} Court").unwrap(),
            OrgSlug::parse("palm-pua").unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("U+E000"), "{err}");
    server.stop().await;
}
