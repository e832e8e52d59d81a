//! The staff pages for units and ballots over real HTTPS: the CSV import with its preview and
//! its refusals, consent from paper forms, the ballot builder through to publication, the
//! live page (turnout, never a count before the close), paper entry and its refusals,
//! reminders, cancel and reissue, results and the official record after the close, and what
//! inspectors and members may do.

use crate::people::{self, last_notice};
use crate::voting::{ROSTER, import_roster, open_ballot, operator};
use crate::web::{between, follow, page, post, sign_in};
use crate::{Options, TestServer, csrf_in};
use cista_core::platform::notices::Notice;
use cista_core::ports::VoteOrigin;
use cista_core::products::voting::VotingAction;
use cista_core::products::voting::VotingNotice;
use cista_core::products::voting::ballots::BallotSettings;
use cista_core::products::voting::cast::CastRequest;
use cista_core::products::voting::definition::{Secrecy, Weighting};
use cista_core::{Cista, role_may};
use cista_store::{ConnectOptions, SeaStore, Target};
use cista_types::{
    BallotId, Clock as _, OrgId, OrgSlug, OsRng, Percent, Rng as _, Role, SystemClock, UnitId,
};
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use time::Duration;

const UNITS: &str = "/admin/palm-court/units";
const BALLOTS: &str = "/admin/palm-court/ballots";

async fn palm_court(cista: &Cista) -> OrgId {
    cista
        .store()
        .organization_by_slug(&OrgSlug::parse("palm-court").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Someone with `role` in Palm Court, signed in.
async fn staff(server: &TestServer, email: &str, role: Role) -> Client {
    let cista = &server.state.cista;
    people::active(cista, palm_court(cista).await, email, role).await;
    sign_in(server, email).await
}

/// Uploads `bytes` as the import file, with `token` as the form's CSRF field (if any).
async fn upload(
    browser: &Client,
    server: &TestServer,
    token: Option<&str>,
    bytes: &[u8],
) -> reqwest::Response {
    let mut form = Form::new();
    if let Some(t) = token {
        form = form.text("csrf", t.to_owned());
    }
    let file = Part::bytes(bytes.to_vec())
        .file_name("units.csv")
        .mime_str("text/csv")
        .unwrap();
    browser
        .post(server.url(&format!("{UNITS}/import")))
        .header("origin", server.origin.as_str())
        .multipart(form.part("file", file))
        .send()
        .await
        .unwrap()
}

/// The value of the hidden field `name` in a page.
fn hidden(html: &str, name: &str) -> String {
    between(html, &format!(r#"name="{name}" value=""#), "\"").to_owned()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// The ballot id in a redirect to a ballot's page.
fn ballot_in(location: &str) -> String {
    location
        .trim_start_matches(&format!("{BALLOTS}/"))
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

async fn unit_id(cista: &Cista, org: OrgId, label: &str) -> UnitId {
    cista
        .roster(&operator(), org)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.unit.label.as_str() == label)
        .unwrap()
        .unit
        .id
}

/// Posts the new-ballot form with these times.
async fn new_ballot(
    admin: &Client,
    server: &TestServer,
    token: &str,
    opens: &str,
    closes: &str,
) -> reqwest::Response {
    post(
        admin,
        server,
        &format!("{BALLOTS}/new"),
        token,
        &[
            ("title", "Annual meeting 2026"),
            ("description", "Directors and an amendment."),
            ("opens", opens),
            ("closes", closes),
            ("secrecy", "secret"),
            ("weighting", "weighted"),
            ("quorum", "50"),
            ("min_turnout", "20"),
            ("paper", "on"),
            ("reminders", "72, 24"),
        ],
    )
    .await
}

/// The titles of a ballot's contests, in order.
async fn titles(cista: &Cista, org: OrgId, ballot: BallotId) -> Vec<String> {
    cista
        .ballot(&operator(), org, ballot)
        .await
        .unwrap()
        .definition
        .contests
        .iter()
        .map(|c| c.title.clone())
        .collect()
}

/// The outer envelopes of a secret ballot's paper ballots, checked in through the core.
async fn check_in(cista: &Cista, org: OrgId, ballot: BallotId, labels: &[&str]) {
    for label in labels {
        cista
            .check_in_envelope(
                &operator(),
                ballot,
                unit_id(cista, org, label).await,
                VoteOrigin::default(),
            )
            .await
            .unwrap();
    }
}

/// Opens every waiting envelope as one batch and enters its inner ballots: yes, and the
/// candidates given, one list per ballot.
async fn inner_ballots(cista: &Cista, org: OrgId, ballot: BallotId, ballots: &[&[&str]]) {
    let hash = cista
        .ballot(&operator(), org, ballot)
        .await
        .unwrap()
        .stored
        .definition_hash
        .to_hex();
    let batch = cista
        .open_paper_batch(&operator(), ballot, cista_types::Weight::ONE)
        .await
        .unwrap();
    for candidates in ballots {
        let mut fields = vec![("c1".to_owned(), "yes".to_owned())];
        fields.extend(
            candidates
                .iter()
                .map(|c| ("c2".to_owned(), (*c).to_owned())),
        );
        cista
            .enter_inner_ballot(&operator(), ballot, batch.number, &hash, &fields)
            .await
            .unwrap();
    }
}

/// A paper ballot entered through the core: yes, and the candidates given.
async fn paper_vote(cista: &Cista, org: OrgId, ballot: BallotId, label: &str, candidates: &[&str]) {
    let hash = cista
        .ballot(&operator(), org, ballot)
        .await
        .unwrap()
        .stored
        .definition_hash
        .to_hex();
    let mut fields = vec![("c1".to_owned(), "yes".to_owned())];
    fields.extend(
        candidates
            .iter()
            .map(|c| ("c2".to_owned(), (*c).to_owned())),
    );
    cista
        .enter_paper_ballot(
            &operator(),
            CastRequest {
                ballot,
                unit: unit_id(cista, org, label).await,
                definition_hash: hash,
                fields,
                origin: VoteOrigin::default(),
                submission: None,
            },
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_are_imported_from_csv_after_a_preview_and_a_stale_preview_is_refused() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    let admin = staff(&server, "admin@palm.example", Role::Admin).await;

    let (status, html) = page(&admin, &server, UNITS).await;
    assert_eq!(status, 200);
    assert!(html.contains("No units yet"), "{html}");
    assert!(
        html.contains(r#"enctype="multipart/form-data""#)
            && html.contains(
                r#"accept=".csv,.txt,.tsv,text/csv,text/plain,text/tab-separated-values""#
            ),
        "{html}"
    );
    for column in ["designated_voter", "consent", "first_name", "weight"] {
        assert!(html.contains(column), "the columns are explained: {column}");
    }
    let token = csrf_in(&html);

    // The example file downloads, and is itself a clean file.
    let r = admin
        .get(server.url(&format!("{UNITS}/example.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let example = r.bytes().await.unwrap();
    let r = upload(&admin, &server, Some(&token), &example).await;
    assert_eq!(r.status(), 200);

    // A bad file: every problem by line and column, and nothing imported.
    let bad = ROSTER
        .replace("1B,1,Ana", "1B,abc,Ana")
        .replace("fay@palm.example", "not-an-email");
    let r = upload(&admin, &server, Some(&token), bad.as_bytes()).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("line 3, column weight"), "{html}");
    assert!(html.contains("line 6, column email"), "{html}");
    assert!(html.contains("Nothing was imported"), "{html}");
    assert!(cista.roster(&operator(), org).await.unwrap().is_empty());

    // No file chosen.
    let r = upload(&admin, &server, Some(&token), b"").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("Choose the CSV file"));

    // A good file: the preview lists what would change, and changes nothing.
    let r = upload(&admin, &server, Some(&token), ROSTER.as_bytes()).await;
    assert_eq!(r.status(), 200);
    let preview = r.text().await.unwrap();
    assert!(preview.contains("Preview of the import"), "{preview}");
    assert!(preview.contains("Nothing has changed yet"));
    for label in ["1A", "1B", "2A", "3A", "3B"] {
        assert!(
            preview.contains(&format!(r#"<span class="tag">{label}</span>"#)),
            "{label}: {preview}"
        );
    }
    assert!(preview.contains("Cy Li, unit 2A"), "{preview}");
    assert!(cista.roster(&operator(), org).await.unwrap().is_empty());
    let fingerprint = hidden(&preview, "fingerprint");
    let file = hidden(&preview, "file_base64");

    let apply = [
        ("fingerprint", fingerprint.as_str()),
        ("file_base64", file.as_str()),
    ];
    let r = post(
        &admin,
        &server,
        &format!("{UNITS}/import/apply"),
        &csrf_in(&preview),
        &apply,
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("{UNITS}?done=imported"));
    let (_, roster) = page(&admin, &server, &location(&r)).await;
    assert!(roster.contains("The import is applied"), "{roster}");
    for label in ["1A", "1B", "2A", "3A", "3B"] {
        assert!(
            roster.contains(&format!(r#"<th scope="row">{label}"#)),
            "{label}: {roster}"
        );
    }
    assert!(roster.contains("consented to online voting"));
    assert!(roster.contains("opted out (paper only)"));
    assert!(roster.contains("no consent on record (paper)"));
    assert!(roster.contains("5 units on file"));
    assert!(
        roster.contains("Ana Ruiz"),
        "a manager sees who owns each unit (an audited read)"
    );
    assert_eq!(cista.roster(&operator(), org).await.unwrap().len(), 5);

    // Applying the same preview again: the roster changed since, so it is refused.
    let r = post(
        &admin,
        &server,
        &format!("{UNITS}/import/apply"),
        &csrf_in(&roster),
        &apply,
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("changed since the preview")
    );
    // A fingerprint that never was.
    let r = post(
        &admin,
        &server,
        &format!("{UNITS}/import/apply"),
        &csrf_in(&roster),
        &[("fingerprint", "00"), ("file_base64", file.as_str())],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // Re-importing the same file: nothing to apply.
    let r = upload(&admin, &server, Some(&csrf_in(&roster)), ROSTER.as_bytes()).await;
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("there is nothing to apply")
    );

    // A paper consent form for 3A.
    let unit = unit_id(cista, org, "3A").await;
    let r = post(
        &admin,
        &server,
        &format!("{UNITS}/{unit}/consent"),
        &csrf_in(&roster),
        &[("consent", "yes")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, roster) = page(&admin, &server, &location(&r)).await;
    assert!(roster.contains("paper form, entered by"), "{roster}");
    assert_eq!(
        roster.matches("consented to online voting").count(),
        4,
        "1A, 1B, 2A and now 3A"
    );
    // Another organization's unit cannot be reached through this one's URL.
    let other = people::org(cista, "elsewhere").await;
    let plan = cista
        .plan_import(&operator(), other, ROSTER.as_bytes())
        .await
        .unwrap();
    cista
        .apply_import(
            &operator(),
            other,
            ROSTER.as_bytes(),
            &plan.fingerprint,
            &|_, _| {},
        )
        .await
        .unwrap();
    let foreign = unit_id(cista, other, "3A").await;
    let r = post(
        &admin,
        &server,
        &format!("{UNITS}/{foreign}/consent"),
        &csrf_in(&roster),
        &[("consent", "no")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_upload_without_its_csrf_token_is_refused() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    let admin = staff(&server, "admin@palm.example", Role::Admin).await;
    let (_, html) = page(&admin, &server, UNITS).await;
    for token in [None, Some(""), Some("forged-token")] {
        let r = upload(&admin, &server, token, ROSTER.as_bytes()).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "token {token:?}");
        assert!(r.text().await.unwrap().contains("csrf_rejected"));
    }
    // Two tokens, one right: ambiguous, refused.
    let form = Form::new()
        .text("csrf", csrf_in(&html))
        .text("csrf", "forged-token")
        .part(
            "file",
            Part::bytes(ROSTER.as_bytes().to_vec()).file_name("u.csv"),
        );
    let r = admin
        .post(server.url(&format!("{UNITS}/import")))
        .header("origin", server.origin.as_str())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The right token, but from another site.
    let form = Form::new().text("csrf", csrf_in(&html)).part(
        "file",
        Part::bytes(ROSTER.as_bytes().to_vec()).file_name("u.csv"),
    );
    let r = admin
        .post(server.url(&format!("{UNITS}/import")))
        .header("origin", "https://evil.example")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The right token from our own page: accepted.
    let r = upload(&admin, &server, Some(&csrf_in(&html)), ROSTER.as_bytes()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(cista.roster(&operator(), org).await.unwrap().is_empty());
    // Every other staff form of these pages needs the token too.
    import_roster(cista, org).await;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    for path in [
        format!("{UNITS}/import/apply"),
        format!("{UNITS}/1/consent"),
        "/admin/palm-court/settings".to_owned(),
        format!("{BALLOTS}/new"),
        format!("{BALLOTS}/{ballot}/settings"),
        format!("{BALLOTS}/{ballot}/contests"),
        format!("{BALLOTS}/{ballot}/contests/1"),
        format!("{BALLOTS}/{ballot}/publish"),
        format!("{BALLOTS}/{ballot}/cancel"),
        format!("{BALLOTS}/{ballot}/reissue"),
        format!("{BALLOTS}/{ballot}/remind"),
        format!("{BALLOTS}/{ballot}/close"),
        format!("{BALLOTS}/{ballot}/paper"),
    ] {
        for token in ["", "forged-token"] {
            let r = post(&admin, &server, &path, token, &[("reason", "x")]).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} with {token:?}");
        }
    }
    let b = cista.ballot(&operator(), org, ballot).await.unwrap();
    assert_eq!(
        b.status(),
        cista_core::ports::BallotStatus::Published,
        "still open"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ballot_is_built_previewed_and_published_through_the_pages() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    let admin = staff(&server, "admin@palm.example", Role::Admin).await;

    // The organization's time zone first: ballot windows are entered in it.
    let (status, home) = page(&admin, &server, "/admin/palm-court").await;
    assert_eq!(status, 200);
    assert!(home.contains(r#"href="/admin/palm-court/units""#), "{home}");
    assert!(home.contains(r#"href="/admin/palm-court/ballots""#));
    let r = post(
        &admin,
        &server,
        "/admin/palm-court/settings",
        &csrf_in(&home),
        &[("time_zone", "Mars/Olympus")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("There is a problem"));
    let r = post(
        &admin,
        &server,
        "/admin/palm-court/settings",
        &csrf_in(&home),
        &[("time_zone", "America/New_York")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, home) = page(&admin, &server, &location(&r)).await;
    assert!(
        home.contains("The time zone is now America/New_York"),
        "{home}"
    );

    let (_, list) = page(&admin, &server, BALLOTS).await;
    assert!(
        list.contains("No ballots yet") && list.contains("New ballot"),
        "{list}"
    );
    let (status, form) = page(&admin, &server, &format!("{BALLOTS}/new")).await;
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
    let r = new_ballot(&admin, &server, &token, &closes, &opens).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains(r##"href="#closes""##), "{html}");
    assert!(html.contains("must be after the opening time"), "{html}");
    let r = new_ballot(&admin, &server, &token, "someday", &closes).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains(r##"href="#opens""##));

    let r = new_ballot(&admin, &server, &token, &opens, &closes).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let at = location(&r);
    assert!(at.ends_with("?done=created"), "{at}");
    let id = ballot_in(&at);
    let path = format!("{BALLOTS}/{id}");
    let (status, draft) = page(&admin, &server, &at).await;
    assert_eq!(status, 200);
    assert!(
        draft.contains("Draft") && draft.contains("The draft is saved"),
        "{draft}"
    );
    assert!(draft.contains(&opens), "the window shown as entered");
    let token = csrf_in(&draft);

    // A resolution and an election.
    let r = post(
        &admin,
        &server,
        &format!("{path}/contests"),
        &token,
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
        &admin,
        &server,
        &format!("{path}/contests"),
        &token,
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
        &admin,
        &server,
        &format!("{path}/contests"),
        &token,
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
    let ballot_id = BallotId::from_i64(id.parse().unwrap());
    assert_eq!(
        titles(cista, org, ballot_id).await,
        ["Amend article 7", "Board of directors"]
    );
    // Move the election up, edit the resolution, then put things back.
    let r = post(
        &admin,
        &server,
        &format!("{path}/contests/2"),
        &token,
        &[("action", "up")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        titles(cista, org, ballot_id).await,
        ["Board of directors", "Amend article 7"]
    );
    let r = post(
        &admin,
        &server,
        &format!("{path}/contests/2"),
        &token,
        &[("action", "down")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = post(
        &admin,
        &server,
        &format!("{path}/contests/1"),
        &token,
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
        &admin,
        &server,
        &format!("{path}/contests/1"),
        &token,
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
    let (_, draft) = page(&admin, &server, &path).await;
    assert!(draft.contains("66.67% of all voting interests"), "{draft}");

    // The preview: the ballot as owners see it, inputs disabled.
    let (status, preview) = page(&admin, &server, &format!("{path}/preview")).await;
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

    // Publishing without units is refused with the reason.
    let r = post(&admin, &server, &format!("{path}/publish"), &token, &[]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("cannot be published yet"), "{html}");
    assert!(html.contains("none are on file"), "{html}");

    import_roster(cista, org).await;
    last_notice(cista, "nobody").await;
    let r = post(&admin, &server, &format!("{path}/publish"), &token, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, published) = page(&admin, &server, &location(&r)).await;
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
        &admin,
        &server,
        &format!("{path}/contests/1"),
        &token,
        &[("action", "remove")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("cancel it and reissue"));
    let (_, list) = page(&admin, &server, BALLOTS).await;
    assert!(
        list.contains("Annual meeting 2026") && list.contains("0 of 5 units"),
        "{list}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_shows_turnout_never_counts_and_paper_ballots_are_entered_once() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    import_roster(cista, org).await;
    // A recorded ballot: its paper ballots are entered with their unit on one screen (a
    // secret ballot's come in two envelopes; see the two-envelope test).
    let ballot = open_ballot(cista, org, Secrecy::Recorded, Duration::hours(2)).await;
    paper_vote(cista, org, ballot, "1A", &["1", "2"]).await;
    paper_vote(cista, org, ballot, "2A", &["1"]).await;
    let admin = staff(&server, "admin@palm.example", Role::Admin).await;
    let path = format!("{BALLOTS}/{ballot}");

    let (status, live) = page(&admin, &server, &path).await;
    assert_eq!(status, 200);
    assert!(live.contains("Open"));
    assert!(live.contains("2 of 5 units"), "{live}");
    assert!(live.contains("paper 2"), "{live}");
    assert!(live.contains("Results are sealed"));
    assert!(
        !live.contains(r#"class="results""#),
        "no results table before the close"
    );
    assert!(!live.contains("Elected") && !live.contains("Ballots</th>"));
    assert!(
        !live.contains("Close and count now"),
        "no close button inside the window"
    );
    assert!(live.contains("Enter a paper ballot") && live.contains("Send a reminder now"));
    let token = csrf_in(&live);

    // Paper entry: the units still to vote, and the contests in order.
    let (status, form) = page(&admin, &server, &format!("{path}/paper")).await;
    assert_eq!(status, 200);
    assert!(
        form.contains(">3B</option>") && !form.contains(">1A</option>"),
        "{form}"
    );
    let definition = hidden(&form, "definition");
    let unit = unit_id(cista, org, "3B").await.to_string();
    let fields = [
        ("unit", unit.as_str()),
        ("definition", definition.as_str()),
        ("c1", "no"),
        ("c2", "3"),
    ];
    let r = post(
        &admin,
        &server,
        &format!("{path}/paper"),
        &csrf_in(&form),
        &fields,
    )
    .await;
    // Post/Redirect/Get: back to the entry page, with a notice.
    let (to, status, html) = follow(&admin, &server, r).await;
    assert_eq!(to, format!("{path}/paper"));
    assert_eq!(status, 200);
    assert!(
        html.contains("Paper ballot for unit 3B entered at"),
        "{html}"
    );
    assert!(!html.contains(">3B</option>"), "3B is no longer offered");
    assert!(
        !html.to_lowercase().contains("tracker"),
        "no tracker on the entry screen"
    );
    // The same unit again, from a fresh page: refused with the core's sentence, and
    // recorded. (The very same form sent again would be a repeat: its first outcome.)
    let r = post(
        &admin,
        &server,
        &format!("{path}/paper"),
        &csrf_in(&html),
        &fields,
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(html.contains("3B already voted on"), "{html}");
    assert!(html.contains("on paper (entered by staff)"), "{html}");
    // An incomplete ballot is sent back.
    let unit_3a = unit_id(cista, org, "3A").await.to_string();
    let r = post(
        &admin,
        &server,
        &format!("{path}/paper"),
        &csrf_in(&form),
        &[
            ("unit", unit_3a.as_str()),
            ("definition", definition.as_str()),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("needs an answer"));

    let (_, live) = page(&admin, &server, &path).await;
    assert!(live.contains("3 of 5 units"), "{live}");
    let refused = between(&live, r#"id="refused""#, "</table>");
    assert!(
        refused.contains("3B") && refused.contains("the unit had already voted"),
        "{refused}"
    );
    let voted = between(&live, r#"id="participation""#, "</table>");
    for label in ["1A", "2A", "3B"] {
        assert!(voted.contains(label), "{label}: {voted}");
    }

    // The participation list can be downloaded while open; the ballot list cannot.
    let r = admin
        .get(server.url(&format!("{path}/record/participation.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("3B"));
    let r = admin
        .get(server.url(&format!("{path}/record/ballots.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("results_sealed"));

    // A reminder now, and not twice in the hour.
    last_notice(cista, "nobody").await;
    let r = post(&admin, &server, &format!("{path}/remind"), &token, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&r).contains("done=reminded&n="),
        "{}",
        location(&r)
    );
    let (_, live) = page(&admin, &server, &location(&r)).await;
    assert!(
        live.contains("reminders are on their way") || live.contains("1 reminder is on its way"),
        "{live}"
    );
    assert!(matches!(
        last_notice(cista, "fay@palm.example").await,
        Some(Notice::Voting(VotingNotice::BallotReminder { .. }))
    ));
    // The same form sent again (a reload, a double-click): its first outcome, nothing sent.
    let r = post(&admin, &server, &format!("{path}/remind"), &token, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["cista-repeat"], "first-outcome");
    assert!(last_notice(cista, "fay@palm.example").await.is_none());
    // A fresh page's button within the hour: refused, saying why.
    let (_, live) = page(&admin, &server, &path).await;
    let r = post(
        &admin,
        &server,
        &format!("{path}/remind"),
        &csrf_in(&live),
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("already went out this hour")
    );
    // Closing early is refused: results are never early (FL-09).
    let r = post(&admin, &server, &format!("{path}/close"), &token, &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("not before"));
    server.stop().await;
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
    assert!(paper.contains("not open for votes"), "{paper}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_ballot_shows_results_and_the_record_and_inspectors_read_everything_but_change_nothing()
 {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    import_roster(cista, org).await;
    let secret = open_ballot(cista, org, Secrecy::Secret, Duration::seconds(5)).await;
    let recorded = open_ballot(cista, org, Secrecy::Recorded, Duration::seconds(5)).await;
    // Both close at most this late.
    let closes = SystemClock.now().plus(Duration::seconds(5));
    // The secret ballot's paper comes in two envelopes: checked in while open, opened after.
    check_in(cista, org, secret, &["1A", "2A", "3B"]).await;
    paper_vote(cista, org, recorded, "1A", &["1", "2"]).await;
    paper_vote(cista, org, recorded, "2A", &["1"]).await;
    paper_vote(cista, org, recorded, "3B", &[]).await;
    let admin = staff(&server, "admin@palm.example", Role::Admin).await;
    let inspector = staff(&server, "inspector@palm.example", Role::Inspector).await;
    // Both windows are over: the server's clock moves past the close (no sleeping).
    server
        .clock
        .advance_to(closes.plus(Duration::milliseconds(200)));
    // After the closing time the three envelopes (fewer than a batch while open) are opened.
    inner_ballots(cista, org, secret, &[&["1", "2"], &["1"], &[]]).await;

    for ballot in [secret, recorded] {
        let path = format!("{BALLOTS}/{ballot}");
        let (_, live) = page(&admin, &server, &path).await;
        assert!(
            live.contains("Closing") && live.contains("Close and count now"),
            "{live}"
        );
        let (_, seen) = page(&inspector, &server, &path).await;
        assert!(
            !seen.contains("Close and count now"),
            "inspectors see no buttons"
        );
        let r = post(
            &admin,
            &server,
            &format!("{path}/close"),
            &csrf_in(&live),
            &[],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, closed) = page(&admin, &server, &location(&r)).await;
        assert!(
            closed.contains("The ballot is closed and counted"),
            "{closed}"
        );
        assert!(closed.contains(r#"class="results""#));
        assert!(
            closed.contains("Alma Diaz") && closed.contains("Elected"),
            "{closed}"
        );
        assert!(closed.contains("3 of 5 units"));
        assert!(closed.contains("Ballot list SHA-256") && closed.contains("Merkle root"));
        assert!(closed.contains(&format!("{path}/results.pdf")));
        assert!(closed.contains(&format!("/e/{ballot}/bulletin")));
        assert!(closed.contains(&format!("/e/{ballot}/bundle.json")));
        // Resolution: three yes of three votes cast.
        assert!(
            closed.contains("Passed. Yes reached two thirds of the votes cast"),
            "{closed}"
        );
        assert!(
            closed.contains("Blank ballots (no candidate chosen): 1."),
            "{closed}"
        );
    }

    // The record files, for the admin and the inspector alike.
    for who in [&admin, &inspector] {
        let server = &server;
        let get = |p: String| async move { who.get(server.url(&p)).send().await.unwrap() };
        let r = get(format!("{BALLOTS}/{secret}/record/participation.csv")).await;
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let disposition = r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            disposition,
            format!("attachment; filename=\"ballot-{secret}-participation.csv\"")
        );
        let text = r.text().await.unwrap();
        for label in ["1A", "2A", "3B"] {
            assert!(text.contains(label), "{label}: {text}");
        }
        let r = get(format!("{BALLOTS}/{secret}/record/ballots.csv")).await;
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        let trackers = text
            .lines()
            .skip(1)
            .filter(|l| {
                let t = l.split(',').next().unwrap();
                t.len() == 14 && t.matches('-').count() == 2
            })
            .count();
        assert_eq!(trackers, 3, "{text}");
        assert!(
            !text.lines().any(|l| l.starts_with("1A,")),
            "no unit on a secret ballot list"
        );
        let r = get(format!("{BALLOTS}/{secret}/record/votes.csv")).await;
        assert!(
            r.status().is_client_error(),
            "a secret ballot has no votes.csv: {}",
            r.status()
        );
        let r = get(format!("{BALLOTS}/{recorded}/record/votes.csv")).await;
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("1A"));
        let r = get(format!("{BALLOTS}/{recorded}/record/refused-attempts.csv")).await;
        assert_eq!(r.status(), 200);
        let r = get(format!("{BALLOTS}/{recorded}/record/other.csv")).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        // The certified results: a PDF laid out from the sealed results.
        let r = get(format!("{BALLOTS}/{secret}/results.pdf")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/pdf");
        assert_eq!(
            r.headers()["content-disposition"].to_str().unwrap(),
            format!("attachment; filename=\"cista-ballot-{secret}-certified-results.pdf\"")
        );
        let pdf = r.bytes().await.unwrap();
        assert!(
            pdf.starts_with(b"%PDF-") && pdf.len() > 10_000,
            "{}",
            pdf.len()
        );
    }
    // Every certificate handed out is on the audit log, like the CSV exports.
    let exports = cista
        .store()
        .audit_entries(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "record.exported" && e.details.contains("results.pdf"))
        .count();
    assert_eq!(exports, 2);
    let (_, closed) = page(&admin, &server, &format!("{BALLOTS}/{secret}")).await;
    assert!(
        !closed.contains("/record/votes.csv"),
        "no votes.csv link on a secret ballot"
    );

    // The inspector reads every page and has no form on any of them.
    let draft = cista
        .create_ballot(
            &operator(),
            org,
            cista_core::products::voting::ballots::BallotSettings {
                title: "Next year".to_owned(),
                description: String::new(),
                opens_at: SystemClock.now().plus(Duration::days(1)),
                closes_at: SystemClock.now().plus(Duration::days(9)),
                secrecy: Secrecy::Secret,
                weighting: cista_core::products::voting::definition::Weighting::PerUnit,
                quorum: cista_types::Percent::parse("30").unwrap(),
                min_turnout: None,
                paper: true,
                notify_sms: false,
                reminder_hours: Vec::new(),
            },
        )
        .await
        .unwrap();
    let open = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    for path in [
        "/admin/palm-court".to_owned(),
        UNITS.to_owned(),
        BALLOTS.to_owned(),
        format!("{BALLOTS}/{draft}"),
        format!("{BALLOTS}/{draft}/preview"),
        format!("{BALLOTS}/{open}"),
        format!("{BALLOTS}/{secret}"),
        format!("{BALLOTS}/{recorded}"),
    ] {
        let (status, html) = page(&inspector, &server, &path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            !html.contains(r#"method="post" action="/admin"#),
            "{path} shows the inspector a form: {html}"
        );
    }
    // No certificate before the close: the results are sealed.
    let (status, html) = page(
        &inspector,
        &server,
        &format!("{BALLOTS}/{open}/results.pdf"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("results_sealed"), "{html}");
    let (_, live) = page(&inspector, &server, &format!("{BALLOTS}/{open}")).await;
    assert!(live.contains("0 of 5 units") && live.contains("Units that voted"));
    let (status, _) = page(&inspector, &server, &format!("{BALLOTS}/{open}/paper")).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "inspectors enter no paper ballots"
    );
    let (status, _) = page(&inspector, &server, &format!("{BALLOTS}/new")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Every form post is refused to the inspector.
    let (_, html) = page(&inspector, &server, UNITS).await;
    let token = csrf_in(&html);
    let unit = unit_id(cista, org, "3A").await;
    for path in [
        format!("{UNITS}/import/apply"),
        format!("{UNITS}/{unit}/consent"),
        "/admin/palm-court/settings".to_owned(),
        format!("{BALLOTS}/new"),
        format!("{BALLOTS}/{draft}/settings"),
        format!("{BALLOTS}/{draft}/contests"),
        format!("{BALLOTS}/{draft}/contests/1"),
        format!("{BALLOTS}/{draft}/publish"),
        format!("{BALLOTS}/{draft}/cancel"),
        format!("{BALLOTS}/{open}/cancel"),
        format!("{BALLOTS}/{open}/remind"),
        format!("{BALLOTS}/{open}/paper"),
        format!("{BALLOTS}/{secret}/reissue"),
        format!("{BALLOTS}/{secret}/close"),
    ] {
        let r = post(
            &inspector,
            &server,
            &path,
            &token,
            &[
                ("reason", "x"),
                ("consent", "yes"),
                ("time_zone", "UTC"),
                ("action", "remove"),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let r = upload(&inspector, &server, Some(&token), ROSTER.as_bytes()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        cista.ballot(&operator(), org, open).await.unwrap().status(),
        cista_core::ports::BallotStatus::Published
    );
    assert!(role_may(Role::Inspector, VotingAction::ViewRecords));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_reach_no_staff_page_for_units_or_ballots() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    import_roster(cista, org).await;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(1)).await;
    let member = staff(&server, "member@palm.example", Role::Member).await;
    let (status, home) = page(&member, &server, "/admin/palm-court").await;
    assert_eq!(status, 200);
    assert!(
        !home.contains("/units\"") && !home.contains("/ballots\""),
        "{home}"
    );
    assert!(!home.contains("time_zone"), "no settings form for members");
    for path in [
        UNITS.to_owned(),
        format!("{UNITS}/example.csv"),
        BALLOTS.to_owned(),
        format!("{BALLOTS}/new"),
        format!("{BALLOTS}/{ballot}"),
        format!("{BALLOTS}/{ballot}/preview"),
        format!("{BALLOTS}/{ballot}/paper"),
        format!("{BALLOTS}/{ballot}/record/participation.csv"),
    ] {
        let (status, _) = page(&member, &server, &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let r = upload(&member, &server, Some(&csrf_in(&home)), ROSTER.as_bytes()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_ballots_paper_comes_in_two_envelopes_and_no_screen_ties_a_ballot_to_a_unit() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    import_roster(cista, org).await;
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::hours(2)).await;
    let admin = staff(&server, "admin@palm.example", Role::Admin).await;
    let paper = format!("{BALLOTS}/{ballot}/paper");
    let labels = ["1A", "1B", "2A", "3A", "3B"];

    // The page offers the two envelopes only: the check-in has a unit and no choices.
    let (status, html) = page(&admin, &server, &paper).await;
    assert_eq!(status, 200);
    assert!(html.contains("two envelopes"), "{html}");
    assert!(html.contains(&format!("{paper}/check-in")), "{html}");
    assert!(
        !html.contains(r#"name="c1""#),
        "no choices next to a unit: {html}"
    );
    // The one-screen entry (unit and choices together) is refused for a secret ballot.
    let definition = cista
        .ballot(&operator(), org, ballot)
        .await
        .unwrap()
        .stored
        .definition_hash
        .to_hex();
    let u1a = unit_id(cista, org, "1A").await.to_string();
    let r = post(
        &admin,
        &server,
        &paper,
        &csrf_in(&html),
        &[("unit", &u1a), ("definition", &definition), ("c1", "yes")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("two envelopes"));
    assert_eq!(
        cista
            .store()
            .voting()
            .participation(ballot)
            .await
            .unwrap()
            .len(),
        0
    );

    // Step one: each outer envelope, by unit.
    for label in labels {
        let (_, html) = page(&admin, &server, &paper).await;
        let unit = unit_id(cista, org, label).await.to_string();
        let r = post(
            &admin,
            &server,
            &format!("{paper}/check-in"),
            &csrf_in(&html),
            &[("unit", &unit)],
        )
        .await;
        let (to, _, html) = follow(&admin, &server, r).await;
        assert_eq!(to, paper);
        assert!(
            html.contains(&format!("Outer envelope of unit {label} checked in at")),
            "{html}"
        );
    }
    assert_eq!(cista.store().voting().box_count(ballot).await.unwrap(), 0);
    // A second envelope for a unit is refused, said why, and recorded.
    let (_, html) = page(&admin, &server, &paper).await;
    assert!(html.contains("5 envelopes waiting"), "{html}");
    let r = post(
        &admin,
        &server,
        &format!("{paper}/check-in"),
        &csrf_in(&html),
        &[("unit", &u1a)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("1A already voted on"));
    assert_eq!(
        cista.store().voting().refusals(ballot).await.unwrap().len(),
        1
    );

    // Step two: open the waiting envelopes as a batch.
    let r = post(
        &admin,
        &server,
        &format!("{paper}/batches"),
        &csrf_in(&html),
        &[("weight", "1000000")],
    )
    .await;
    let (to, status, mut inner) = follow(&admin, &server, r).await;
    assert_eq!(to, format!("{paper}/batches/1"));
    assert_eq!(status, 200);
    assert!(inner.contains("Batch 1 opened: 5 envelopes"), "{inner}");

    // Step three: the inner ballots, with no unit anywhere on the screen.
    for n in 1..=5 {
        assert!(inner.contains(&format!("Inner ballot {n} of 5")), "{inner}");
        for label in labels {
            assert!(
                !inner.contains(&format!(">{label}<")) && !inner.contains(&format!("unit {label}")),
                "{label} on the inner ballot screen: {inner}"
            );
        }
        assert!(!inner.to_lowercase().contains("tracker"), "{inner}");
        let definition = between(&inner, r#"name="definition" value=""#, "\"").to_owned();
        let r = post(
            &admin,
            &server,
            &format!("{paper}/batches/1"),
            &csrf_in(&inner),
            &[("definition", &definition), ("c1", "yes"), ("c2", "2")],
        )
        .await;
        let (to, _, next) = follow(&admin, &server, r).await;
        if n < 5 {
            assert_eq!(to, format!("{paper}/batches/1"));
            assert!(
                next.contains(&format!("Inner ballot {n} of 5 entered.")),
                "{next}"
            );
        } else {
            assert_eq!(to, paper);
            assert!(next.contains("Batch 1 is complete"), "{next}");
        }
        inner = next;
    }
    assert_eq!(cista.store().voting().box_count(ballot).await.unwrap(), 5);
    assert!(
        cista
            .store()
            .voting()
            .box_entries(ballot)
            .await
            .unwrap()
            .iter()
            .all(|e| e.unit.is_none() && e.cast_at.is_none())
    );
    // No sixth ballot from five envelopes.
    let r = post(
        &admin,
        &server,
        &format!("{paper}/batches/1"),
        &csrf_in(&inner),
        &[("definition", &definition), ("c1", "no")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(cista.store().voting().box_count(ballot).await.unwrap(), 5);

    // The trust page's secrecy sentence is what staff see: no page of the open ballot shows a
    // tracker or a choice beside a unit.
    let trust: serde_json::Value = server
        .client()
        .get(server.url("/api/v1/trust"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secrecy = trust.to_string();
    assert!(secrecy.contains("two envelopes"), "{secrecy}");
    let trackers: Vec<String> = cista
        .store()
        .voting()
        .box_entries(ballot)
        .await
        .unwrap()
        .iter()
        .map(|e| e.tracker.to_string())
        .collect();
    for path in [
        format!("{BALLOTS}/{ballot}"),
        paper.clone(),
        format!("{BALLOTS}/{ballot}/record/participation.csv"),
    ] {
        let (_, html) = page(&admin, &server, &path).await;
        for t in &trackers {
            assert!(!html.contains(t.as_str()), "{path} shows a tracker");
        }
        if path.ends_with(".csv") {
            assert!(
                !html.contains("Ben Ortiz") && !html.contains("yes"),
                "{path}: {html}"
            );
        }
    }
    server.stop().await;
}

// --- Names in any script (issue 10, item 10) -------------------------------------------------

/// A private schema on the PostgreSQL of `CISTA_TEST_POSTGRES_URL`, for an HTTP test server;
/// `None` (after saying so) when no URL is set and `CISTA_TEST_REQUIRE_POSTGRES` is not `1`.
struct PgSchema {
    url: String,
    schema: String,
}

impl PgSchema {
    async fn create() -> Option<Self> {
        use sea_orm::ConnectionTrait as _;
        let required = std::env::var("CISTA_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let Ok(url) = std::env::var("CISTA_TEST_POSTGRES_URL") else {
            assert!(
                !required,
                "CISTA_TEST_REQUIRE_POSTGRES=1 but CISTA_TEST_POSTGRES_URL is not set"
            );
            eprintln!("SKIPPED: set CISTA_TEST_POSTGRES_URL to run this test on PostgreSQL");
            return None;
        };
        let admin = SeaStore::connect(&Target::parse(&url).unwrap(), &ConnectOptions::default())
            .await
            .unwrap();
        let schema = format!("cista_h_{:x}", OsRng.id63());
        admin
            .connection()
            .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        Some(Self { url, schema })
    }

    fn target(&self) -> Target {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        Target::parse(&format!(
            "{}{sep}options=-c%20search_path%3D{}",
            self.url, self.schema
        ))
        .unwrap()
    }

    async fn server(&self) -> TestServer {
        TestServer::start_on(Options::default(), Some(self.target())).await
    }

    async fn drop_schema(self) {
        use sea_orm::ConnectionTrait as _;
        let admin = SeaStore::connect(
            &Target::parse(&self.url).unwrap(),
            &ConnectOptions::default(),
        )
        .await
        .unwrap();
        admin
            .connection()
            .execute_unprepared(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .await
            .unwrap();
    }
}

/// Text without spaces and invisible characters: pdftotext may drop the space after an emoji
/// (drawn from a bitmap font) and adds bidi marks around right-to-left runs.
fn squashed(text: &str) -> String {
    text.chars()
        .filter(|&c| !c.is_whitespace() && !cista_types::glyphs::is_default_ignorable(c))
        .collect()
}

/// A PDF's text in content order, as `pdftotext -raw` reads it, squashed.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("results.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg("-raw")
        .arg(&file)
        .arg("-")
        .output()
        .unwrap_or_else(|e| {
            panic!("pdftotext could not be run ({e}): apt-get install -y poppler-utils")
        });
    assert!(out.status.success(), "pdftotext failed");
    squashed(&String::from_utf8(out.stdout).unwrap())
}

const SCRIPT_TITLE: &str = "2027 選挙 🗳 Ψηφοφορία";
const SCRIPT_MOTION: &str = "बजट स्वीकृत करें 🏠";
const SCRIPT_BOARD: &str = "理事会 선거";
const SCRIPT_NAMES: [&str; 4] = ["陈测试", "🏠 Team", "محمد علي", "Nguyễn Văn Anh"];

/// The ballot builder's pages take names in any script; after the close the results page,
/// the certified PDF and the record's CSV show them.
async fn names_in_any_script_reach_the_certified_pdf(server: TestServer) {
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    import_roster(cista, org).await;
    let admin = staff(&server, "admin@palm.example", Role::Admin).await;

    let (_, form) = page(&admin, &server, &format!("{BALLOTS}/new")).await;
    let token = csrf_in(&form);
    let zone = cista_types::TimeZoneName::utc();
    let now = SystemClock.now();
    let r = post(
        &admin,
        &server,
        &format!("{BALLOTS}/new"),
        &token,
        &[
            ("title", SCRIPT_TITLE),
            ("description", "名前はそのまま印刷されます。"),
            ("opens", &zone.to_local_input(now.plus(Duration::days(1)))),
            ("closes", &zone.to_local_input(now.plus(Duration::days(8)))),
            ("secrecy", "recorded"),
            ("weighting", "per-unit"),
            ("quorum", "30"),
            ("paper", "on"),
        ],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let id = ballot_in(&location(&r));
    let path = format!("{BALLOTS}/{id}");
    let ballot = BallotId::from_i64(id.parse().unwrap());
    let r = post(
        &admin,
        &server,
        &format!("{path}/contests"),
        &token,
        &[
            ("kind", "resolution"),
            ("title", SCRIPT_MOTION),
            ("threshold", "majority"),
        ],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let r = post(
        &admin,
        &server,
        &format!("{path}/contests"),
        &token,
        &[
            ("kind", "election"),
            ("title", SCRIPT_BOARD),
            ("seats", "2"),
            ("candidates", &SCRIPT_NAMES.join("\n")),
        ],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let (_, draft) = page(&admin, &server, &path).await;
    for text in SCRIPT_NAMES.iter().chain([&SCRIPT_TITLE, &SCRIPT_BOARD]) {
        assert!(draft.contains(text), "{text} not on the draft page");
    }

    // The window to the second (the form takes minutes): open since a minute, closing in 5 s.
    let now = server.clock.now();
    cista
        .update_ballot_settings(
            &operator(),
            org,
            ballot,
            BallotSettings {
                title: SCRIPT_TITLE.to_owned(),
                description: String::new(),
                opens_at: now.plus(Duration::minutes(-1)),
                closes_at: now.plus(Duration::seconds(5)),
                secrecy: Secrecy::Recorded,
                weighting: Weighting::PerUnit,
                quorum: Percent::parse("30").unwrap(),
                min_turnout: None,
                paper: true,
                notify_sms: false,
                reminder_hours: Vec::new(),
            },
        )
        .await
        .unwrap();
    let r = post(&admin, &server, &format!("{path}/publish"), &token, &[]).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    paper_vote(cista, org, ballot, "1A", &["1", "2"]).await;
    paper_vote(cista, org, ballot, "2A", &["1"]).await;
    server
        .clock
        .advance_to(now.plus(Duration::milliseconds(5200)));
    let (_, live) = page(&admin, &server, &path).await;
    let r = post(
        &admin,
        &server,
        &format!("{path}/close"),
        &csrf_in(&live),
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, closed) = page(&admin, &server, &path).await;
    for text in SCRIPT_NAMES.iter().chain([&SCRIPT_MOTION, &SCRIPT_BOARD]) {
        assert!(closed.contains(text), "{text} not on the results page");
    }

    // The certified results: a PDF that draws every name (the failing input answered 500).
    let r = admin
        .get(server.url(&format!("{path}/results.pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let text = pdf_text(&r.bytes().await.unwrap());
    for expected in [SCRIPT_TITLE, SCRIPT_MOTION, SCRIPT_BOARD, "Palm Court"] {
        assert!(
            text.contains(&squashed(expected)),
            "{expected} missing in:\n{text}"
        );
    }
    // In ranking order: 陈测试 (2 votes), 🏠 Team (1), then the others (the Arabic name's
    // words come in visual order, right to left).
    let at = |name: &str| {
        text.find(&squashed(name))
            .unwrap_or_else(|| panic!("{name} missing in:\n{text}"))
    };
    assert!(at("陈测试") < at("🏠 Team"), "{text}");
    let others = at("Nguyễn Văn Anh").min(at("علي محمد"));
    assert!(at("🏠 Team") < others, "{text}");

    // The record, for a spreadsheet: UTF-8 with a byte order mark, names intact.
    let r = admin
        .get(server.url(&format!("{path}/record/votes.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "no byte order mark");
    let csv = std::str::from_utf8(&bytes[3..]).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.contains(SCRIPT_MOTION) && header.contains(SCRIPT_BOARD),
        "{header}"
    );
    assert!(csv.contains("陈测试; 🏠 Team"), "{csv}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_in_any_script_reach_the_certified_pdf_on_sqlite() {
    names_in_any_script_reach_the_certified_pdf(TestServer::start(Options::default()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_in_any_script_reach_the_certified_pdf_on_postgresql() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    names_in_any_script_reach_the_certified_pdf(schema.server().await).await;
    schema.drop_schema().await;
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
            cista_types::OrgName::parse("Palm \u{E000} Court").unwrap(),
            OrgSlug::parse("palm-pua").unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("U+E000"), "{err}");
    server.stop().await;
}
