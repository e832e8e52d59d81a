//! Building an assessment in the admin pages: the editor starts from the documented example;
//! "Check and preview" refuses what publishing would refuse (malformed JSON with its line, a
//! rule that could divide by zero, named) and previews what passes (questions with points,
//! score ranges, bands, sites); "Publish" stores version 1, then an edit version 2, and the
//! results page gives the two-line snippet; a name already taken and a reviewer are refused.

use crate::csrf_in;
use crate::people::active;
use crate::web::{page, post, sign_in};
use crate::{Options, TestServer};
use cista_core::Actor;
use cista_core::products::assessment::RISK_PROFILE;
use cista_types::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

const NEW: &str = "/admin/palm-court/assessments/new";

fn definition(site: &str) -> Value {
    let mut d: Value = serde_json::from_str(RISK_PROFILE).unwrap();
    d["embed"] = json!({ "allowed_origins": [site] });
    d
}

#[tokio::test]
async fn staff_check_preview_publish_and_edit_an_assessment_in_the_admin_pages() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = cista_testkit::fixtures::palm_court_id(cista).await;
    active(cista, org, "ada@palm.example", Role::Advisor).await;
    let ada = sign_in(&server, "ada@palm.example").await;

    let (status, editor) = page(&ada, &server, NEW).await;
    assert_eq!(status, StatusCode::OK, "{editor}");
    assert!(
        editor.contains("Investment risk profile"),
        "the example to start from"
    );
    let csrf = csrf_in(&editor);

    refused_at_the_check_naming_the_fault(&server, &ada, &csrf).await;

    // A valid definition: previewed, then published as version 1.
    let text = definition("https://www.palm.example").to_string();
    let r = post(
        &ada,
        &server,
        NEW,
        &csrf,
        &[("key", "risk"), ("definition", &text), ("action", "check")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let preview = r.text().await.unwrap();
    for expected in [
        "The checks passed",
        "In more than 7 years",
        "(4 points)",
        "from 2 to 100",
        "https://www.palm.example",
    ] {
        assert!(preview.contains(expected), "{expected:?} not in {preview}");
    }
    let r = post(
        &ada,
        &server,
        NEW,
        &csrf,
        &[
            ("key", "risk"),
            ("definition", &text),
            ("action", "publish"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        "/admin/palm-court/assessments/risk"
    );
    let (_, results) = page(&ada, &server, "/admin/palm-court/assessments/risk").await;
    assert!(
        results.contains("data-cista-form=&#34;palm-court/risk&#34;")
            || results.contains("data-cista-form=&quot;palm-court/risk&quot;"),
        "{results}"
    );
    assert!(results.contains("/widget.js"), "{results}");
    // The same form sent again gets its first outcome (a repeat is never a second publish);
    // another new assessment under the same name is refused.
    let again = format!("{text}\n");
    let r = post(
        &ada,
        &server,
        NEW,
        &csrf,
        &[
            ("key", "risk"),
            ("definition", &again),
            ("action", "publish"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("exists already"));
    let r = post(
        &ada,
        &server,
        NEW,
        &csrf,
        &[
            ("key", "Risk Profile"),
            ("definition", &text),
            ("action", "publish"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("lower-case letters"));

    let text = an_edit_is_the_next_version(&server, &ada, &csrf).await;
    let edit = "/admin/palm-court/assessments/risk/edit";

    // A reviewer can neither open the editor nor publish.
    active(cista, org, "rex@palm.example", Role::Reviewer).await;
    let rex = sign_in(&server, "rex@palm.example").await;
    let (status, _) = page(&rex, &server, NEW).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, any) = page(&rex, &server, "/me").await;
    let r = post(
        &rex,
        &server,
        edit,
        &csrf_in(&any),
        &[("definition", &text), ("action", "publish")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}

/// What publishing would refuse, refused at the check, naming the fault; nothing published.
async fn refused_at_the_check_naming_the_fault(
    server: &TestServer,
    ada: &reqwest::Client,
    csrf: &str,
) {
    let cista = &server.state.cista;
    let org = cista_testkit::fixtures::palm_court_id(cista).await;
    let r = post(
        ada,
        server,
        NEW,
        csrf,
        &[
            ("key", "risk"),
            ("definition", "{\n  \"title\": }"),
            ("action", "check"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Where, once (serde_json's message carries the line and column).
    let shown = r.text().await.unwrap();
    assert!(shown.contains("is not JSON"), "{shown}");
    assert_eq!(shown.matches("line 2 column 12").count(), 1, "{shown}");
    assert!(!shown.contains("(line"), "{shown}");
    let mut broken = definition("https://www.palm.example");
    broken["scores"][2]["logic"] = json!({ "/": [100, { "var": "points.drop" }] });
    let text = broken.to_string();
    let r = post(
        ada,
        server,
        NEW,
        csrf,
        &[
            ("key", "risk"),
            ("definition", &text),
            ("action", "publish"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = r.text().await.unwrap();
    assert!(
        refused.contains("score risk: division by zero"),
        "{refused}"
    );
    assert!(
        cista
            .latest_assessment(&Actor::operator("t"), org, "risk")
            .await
            .is_err(),
        "nothing published"
    );
}

/// The editor opens with the file as it was; a change is published as version 2. Returns
/// the changed definition.
async fn an_edit_is_the_next_version(
    server: &TestServer,
    ada: &reqwest::Client,
    csrf: &str,
) -> String {
    let cista = &server.state.cista;
    let org = cista_testkit::fixtures::palm_court_id(cista).await;
    let edit = "/admin/palm-court/assessments/risk/edit";
    let (status, editor) = page(ada, server, edit).await;
    assert_eq!(status, StatusCode::OK);
    assert!(editor.contains("www.palm.example"), "{editor}");
    let mut changed = definition("https://www.palm.example");
    changed["title"] = json!("Risk profile, 2027");
    let text = changed.to_string();
    let r = post(
        ada,
        server,
        edit,
        csrf,
        &[("definition", &text), ("action", "publish")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let newest = cista
        .latest_assessment(&Actor::operator("t"), org, "risk")
        .await
        .unwrap();
    assert_eq!(newest.form.version, 2);
    let (_, list) = page(ada, server, "/admin/palm-court/assessments").await;
    assert!(
        list.contains("Risk profile, 2027") && list.contains("version 2"),
        "{list}"
    );

    text
}

/// A body no browser sends, such as a form with both of its submit buttons' values (what a
/// scanner sent): a coded 4xx that names no internals, nothing published, the same answer each
/// time but for its request id. The same for a field sent twice on another form.
#[tokio::test]
async fn a_field_sent_twice_is_refused_plainly_and_changes_nothing() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = cista_testkit::fixtures::palm_court_id(cista).await;
    active(cista, org, "ada@palm.example", Role::Advisor).await;
    let ada = sign_in(&server, "ada@palm.example").await;
    let (_, editor) = page(&ada, &server, NEW).await;
    let definition = definition("https://www.example.com").to_string();
    for _ in 0..2 {
        let r = post(
            &ada,
            &server,
            NEW,
            &csrf_in(&editor),
            &[
                ("key", "twice"),
                ("definition", &definition),
                ("action", "check"),
                ("action", "publish"),
            ],
        )
        .await;
        assert!(r.status().is_client_error(), "{}", r.status());
        let body = r.text().await.unwrap();
        assert!(
            !body.contains("duplicate field"),
            "no internal text: {body}"
        );
    }
    assert!(
        cista
            .latest_assessment(&Actor::operator("test"), org, "twice")
            .await
            .is_err(),
        "nothing published"
    );
    let (_, me) = page(&ada, &server, "/me/password").await;
    let r = post(
        &ada,
        &server,
        "/me/password",
        &csrf_in(&me),
        &[
            ("current", crate::people::PASSWORD),
            ("current", "another"),
            ("password", "a-new-long-passphrase-42"),
            ("confirm", "a-new-long-passphrase-42"),
        ],
    )
    .await;
    assert!(r.status().is_client_error(), "{}", r.status());
    assert!(!r.text().await.unwrap().contains("duplicate field"));
    server.stop().await;
}
