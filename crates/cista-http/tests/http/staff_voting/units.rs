//! The units pages: the CSV import with its preview and refusals, consent from paper forms,
//! the CSRF token every staff form needs, and members kept out.

use super::{BALLOTS, UNITS, hidden, location, palm_court, staff, unit_id, upload};
use crate::people;
use crate::voting::{ROSTER, import_roster, open_ballot, operator};
use crate::web::{page, post};
use crate::{Options, TestServer, csrf_in};
use cista_core::products::voting::definition::Secrecy;
use cista_types::{OrgId, Role};
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_are_imported_from_csv_after_a_preview_and_a_stale_preview_is_refused() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    let admin = staff(&server, "admin@palm.example", Role::Admin).await;

    let token = the_empty_units_page_explains_the_columns(&admin, &server).await;
    the_example_file_downloads_and_is_clean(&admin, &server, &token).await;
    a_bad_or_missing_file_imports_nothing(&admin, &server, &token, org).await;
    let (roster, preview) =
        a_good_file_is_previewed_then_applied(&admin, &server, &token, org).await;
    let roster = a_stale_or_unknown_preview_is_refused(&admin, &server, roster, &preview).await;
    a_paper_consent_form_is_entered_for_this_organization_only(&admin, &server, org, &roster).await;
    server.stop().await;
}

/// The units page before any import: no units, a file field for CSV, every column explained.
/// Returns the page's CSRF token.
async fn the_empty_units_page_explains_the_columns(admin: &Client, server: &TestServer) -> String {
    let (status, html) = page(admin, server, UNITS).await;
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
    csrf_in(&html)
}

/// The example file downloads, and is itself a clean file.
async fn the_example_file_downloads_and_is_clean(admin: &Client, server: &TestServer, token: &str) {
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
    let r = upload(admin, server, Some(token), &example).await;
    assert_eq!(r.status(), 200);
}

/// A bad file shows every problem by line and column; no file at all asks for one; neither
/// imports anything.
async fn a_bad_or_missing_file_imports_nothing(
    admin: &Client,
    server: &TestServer,
    token: &str,
    org: OrgId,
) {
    let cista = &server.state.cista;
    let bad = ROSTER
        .replace("1B,1,Ana", "1B,abc,Ana")
        .replace("fay@palm.example", "not-an-email");
    let r = upload(admin, server, Some(token), bad.as_bytes()).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("line 3, column weight"), "{html}");
    assert!(html.contains("line 6, column email"), "{html}");
    assert!(html.contains("Nothing was imported"), "{html}");
    assert!(cista.roster(&operator(), org).await.unwrap().is_empty());

    // No file chosen.
    let r = upload(admin, server, Some(token), b"").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("Choose the CSV file"));
}

/// What an import preview carries to its apply step.
struct Preview {
    fingerprint: String,
    file: String,
}

impl Preview {
    fn fields(&self) -> [(&str, &str); 2] {
        [
            ("fingerprint", self.fingerprint.as_str()),
            ("file_base64", self.file.as_str()),
        ]
    }
}

/// A good file: the preview lists what would change and changes nothing; applying it fills
/// the roster. Returns the roster page after the import, and the preview.
async fn a_good_file_is_previewed_then_applied(
    admin: &Client,
    server: &TestServer,
    token: &str,
    org: OrgId,
) -> (String, Preview) {
    let cista = &server.state.cista;
    let r = upload(admin, server, Some(token), ROSTER.as_bytes()).await;
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
    let carried = Preview {
        fingerprint: hidden(&preview, "fingerprint"),
        file: hidden(&preview, "file_base64"),
    };

    let r = post(
        admin,
        server,
        &format!("{UNITS}/import/apply"),
        &csrf_in(&preview),
        &carried.fields(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("{UNITS}?done=imported"));
    let (_, roster) = page(admin, server, &location(&r)).await;
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
    (roster, carried)
}

/// Applying the same preview again is refused (the roster changed since), as is a fingerprint
/// that never was; re-importing the same file has nothing to apply. Returns the roster page.
async fn a_stale_or_unknown_preview_is_refused(
    admin: &Client,
    server: &TestServer,
    roster: String,
    preview: &Preview,
) -> String {
    let r = post(
        admin,
        server,
        &format!("{UNITS}/import/apply"),
        &csrf_in(&roster),
        &preview.fields(),
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
        admin,
        server,
        &format!("{UNITS}/import/apply"),
        &csrf_in(&roster),
        &[
            ("fingerprint", "00"),
            ("file_base64", preview.file.as_str()),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // Re-importing the same file: nothing to apply.
    let r = upload(admin, server, Some(&csrf_in(&roster)), ROSTER.as_bytes()).await;
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("there is nothing to apply")
    );
    roster
}

/// A paper consent form for 3A is entered and shown; another organization's unit cannot be
/// reached through this one's URL.
async fn a_paper_consent_form_is_entered_for_this_organization_only(
    admin: &Client,
    server: &TestServer,
    org: OrgId,
    roster: &str,
) {
    let cista = &server.state.cista;
    let unit = unit_id(cista, org, "3A").await;
    let r = post(
        admin,
        server,
        &format!("{UNITS}/{unit}/consent"),
        &csrf_in(roster),
        &[("consent", "yes")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, roster) = page(admin, server, &location(&r)).await;
    assert!(roster.contains("paper form, entered by"), "{roster}");
    assert_eq!(
        roster.matches("consented to online voting").count(),
        4,
        "1A, 1B, 2A and now 3A"
    );
    // Another organization's unit cannot be reached through this one's URL.
    let other = people::org(cista, "elsewhere").await;
    // Its own people: an owner of both would be invited to join it first.
    let own = ROSTER.replace("@palm.example", "@elsewhere.example");
    let plan = cista
        .plan_import(&operator(), other, own.as_bytes())
        .await
        .unwrap();
    cista
        .apply_import(
            &operator(),
            other,
            own.as_bytes(),
            &plan.fingerprint,
            &|_, _| {},
        )
        .await
        .unwrap();
    let foreign = unit_id(cista, other, "3A").await;
    let r = post(
        admin,
        server,
        &format!("{UNITS}/{foreign}/consent"),
        &csrf_in(&roster),
        &[("consent", "no")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
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
