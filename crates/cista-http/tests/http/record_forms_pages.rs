//! Building a record form in the admin pages: an owner starts from the Stream survey, checks it
//! (the preview names each field's kind in words), is told exactly where a broken form is at
//! fault (not JSON: line and column; a number whose range is upside down: the field), publishes
//! version 1, edits it into version 2, and the same form again changes nothing. A reviewer
//! cannot build forms.

use crate::people::{active, org};
use crate::web::{follow, page, post, sign_in};
use crate::{Options, TestServer, csrf_in};
use cista_core::Actor;
use cista_types::Role;
use reqwest::StatusCode;

#[tokio::test]
async fn an_owner_checks_publishes_and_versions_a_record_form() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = org(cista, "river-watch").await;
    active(cista, org, "olivia@river.example", Role::Owner).await;
    active(cista, org, "rex@river.example", Role::Reviewer).await;
    let owner = sign_in(&server, "olivia@river.example").await;
    let (_, home) = page(&owner, &server, "/admin/river-watch").await;
    assert!(home.contains("/admin/river-watch/record-forms"));
    let (status, list) = page(&owner, &server, "/admin/river-watch/record-forms").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list.contains("No record form yet"));
    let (_, editor) = page(&owner, &server, "/admin/river-watch/record-forms/new").await;
    assert!(editor.contains("Stream survey"), "starts from the example");
    let token = csrf_in(&editor);
    let example = cista_core::products::collection::definition::STREAM_SURVEY;
    let new = "/admin/river-watch/record-forms/new";

    let r = post(
        &owner,
        &server,
        new,
        &token,
        &[
            ("key", "stream"),
            ("definition", example),
            ("action", "check"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let preview = r.text().await.unwrap();
    assert!(preview.contains("The checks passed"), "{preview}");
    assert!(preview.contains("One of 3 choices"), "{preview}");
    assert!(
        preview
            .contains("Photos: at most 3, each at most 10 MiB, downscaled on the phone to 1600 px"),
        "{preview}"
    );

    let broken = example.replacen("\"fields\"", "fields", 1);
    let r = post(
        &owner,
        &server,
        new,
        &token,
        &[
            ("key", "stream"),
            ("definition", &broken),
            ("action", "publish"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("is not JSON"));
    let upside_down = example.replace("\"min\": -2, \"max\": 40", "\"min\": 40, \"max\": -2");
    let r = post(
        &owner,
        &server,
        new,
        &token,
        &[
            ("key", "stream"),
            ("definition", &upside_down),
            ("action", "publish"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = r.text().await.unwrap();
    assert!(refused.contains("fields[2]"), "names the field: {refused}");
    assert!(
        cista
            .record_forms(&Actor::operator("t"), org)
            .await
            .unwrap()
            .is_empty(),
        "nothing published"
    );

    let r = post(
        &owner,
        &server,
        new,
        &token,
        &[
            ("key", "stream"),
            ("definition", example),
            ("action", "publish"),
        ],
    )
    .await;
    let (to, _, listed) = follow(&owner, &server, r).await;
    assert_eq!(to, "/admin/river-watch/record-forms");
    assert!(
        listed.contains("Version 1 of Stream survey is published"),
        "{listed}"
    );
    versions_and_refusals(&server, &owner, org, token).await;
}

/// The name taken, version 2 by editing, the same form again, and a reviewer refused.
async fn versions_and_refusals(
    server: &TestServer,
    owner: &reqwest::Client,
    org: cista_types::OrgId,
    token: String,
) {
    let cista = &server.state.cista;
    let example = cista_core::products::collection::definition::STREAM_SURVEY;
    let new = "/admin/river-watch/record-forms/new";
    // The same body again is a repeat (its first outcome, not a second run); another body
    // naming the same key finds the name taken.
    let respaced = format!("{example}\n");
    let r = post(
        owner,
        server,
        new,
        &token,
        &[
            ("key", "stream"),
            ("definition", &respaced),
            ("action", "publish"),
        ],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "the name is taken"
    );
    let edit = "/admin/river-watch/record-forms/stream/edit";
    let (_, current) = page(owner, server, edit).await;
    let token = csrf_in(&current);
    assert!(
        current.contains("&#34;downscale_to&#34;: 1600"),
        "{current}"
    );
    let changed = example.replace("Water clarity", "Clarity of the water");
    let r = post(
        owner,
        server,
        edit,
        &token,
        &[("definition", &changed), ("action", "publish")],
    )
    .await;
    let (_, _, listed) = follow(owner, server, r).await;
    assert!(listed.contains("Version 2 of Stream survey"), "{listed}");
    let respaced = format!("{changed}\n");
    let r = post(
        owner,
        server,
        edit,
        &token,
        &[("definition", &respaced), ("action", "publish")],
    )
    .await;
    let (_, _, listed) = follow(owner, server, r).await;
    assert!(
        listed.contains("Version 2 of Stream survey"),
        "the same form again: {listed}"
    );
    let forms = cista
        .record_forms(&Actor::operator("t"), org)
        .await
        .unwrap();
    assert_eq!(forms.len(), 1);
    assert_eq!(forms[0].form.version, 2);
    assert_eq!(forms[0].definition.fields[1].label, "Clarity of the water");

    let reviewer = sign_in(server, "rex@river.example").await;
    for path in ["/admin/river-watch/record-forms", edit, new] {
        assert_eq!(
            page(&reviewer, server, path).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
}
