//! Field data collection's records on both stores: a record is checked against its form
//! before anything is written (a wrong answer names its field and leaves no row, no audit
//! entry), an assessment is never answered through the generic intake, and a record's photo is
//! taken only under a name its answers announce, as an image no larger than its field allows.

use crate::Harness;
use crate::intake::{Bytes, png};
use cista_backup::blobs::ObjectBlobStore;
use cista_backup::target::TargetSpec;
use cista_core::platform::blobs::BlobRules;
use cista_core::platform::intake::FormProduct;
use cista_core::{Actor, Cista, Error, Store as _};
use cista_types::{FormId, OrgId};
use serde_json::json;

fn operator() -> Actor {
    Actor::operator("test")
}

pub async fn a_record_is_checked_against_its_form_before_anything_is_stored(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let survey = json!({
        "title": "Stream survey",
        "fields": [
            { "id": "site", "label": "Site", "kind": "text", "required": true },
            { "id": "temperature", "label": "Temperature", "kind": "number", "min": -5, "max": 45 },
            { "id": "where", "label": "Where", "kind": "geopoint", "required": true },
            { "id": "photos", "label": "Photos", "kind": "photos", "max": 2, "max_bytes": 4096 }
        ]
    });
    let form = cista
        .publish_form(
            &operator(),
            org.id,
            FormProduct::Collection,
            "stream",
            &survey,
        )
        .await
        .unwrap();
    let point = json!({ "latitude": 45.5, "longitude": -122.6, "accuracy_m": 6 });
    let head = h.store.audit_head().await.unwrap().size;
    let wrong = [
        (json!({ "where": point }), "answers.site"),
        (
            json!({ "site": "Mill", "where": point, "temperature": 99 }),
            "answers.temperature",
        ),
        (
            json!({ "site": "Mill", "where": { "latitude": 91, "longitude": 0, "accuracy_m": 1 } }),
            "answers.where",
        ),
        (
            json!({ "site": "Mill", "where": { "latitude": 1, "longitude": 0, "accuracy_m": -2 } }),
            "answers.where",
        ),
        (
            json!({ "site": "Mill", "where": point, "photos": ["a", "b", "c"] }),
            "answers.photos",
        ),
        (
            json!({ "site": "Mill", "where": point, "colour": "brown" }),
            "answers.colour",
        ),
    ];
    for (i, (answers, field)) in wrong.iter().enumerate() {
        let e = cista
            .submit(&operator(), org.id, form.id, &format!("bad-{i}"), answers)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput { field: f, .. } if f == field),
            "{answers}: {e:?}"
        );
        assert_eq!(e.code(), "invalid_input");
    }
    assert_eq!(
        h.store.audit_head().await.unwrap().size,
        head,
        "a refused record writes nothing"
    );
    for i in 0..wrong.len() {
        assert!(
            h.store
                .intake()
                .submission_by_key(org.id, &operator().audit_name(), &format!("bad-{i}"))
                .await
                .unwrap()
                .is_none()
        );
    }

    // An assessment scores its answers in its own path: the generic intake will not take one.
    let assessment =
        cista_testkit::fixtures::publish_risk_profile(&cista, org.id, "risk", "https://a.example")
            .await;
    let e = cista
        .submit(&operator(), org.id, assessment, "as-1", &json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_found", "{e:?}");

    photos_are_taken_only_as_announced(h, &cista, org.id, form.id, &point).await;
}

/// A record's photo: only under a name its answers announce, only an image, only as large as
/// its field allows.
async fn photos_are_taken_only_as_announced(
    h: &Harness,
    cista: &Cista,
    org: OrgId,
    form: FormId,
    point: &serde_json::Value,
) {
    let record = cista
        .submit(
            &operator(),
            org,
            form,
            "good-1",
            &json!({ "site": "Mill", "where": point, "photos": ["front", "back"] }),
        )
        .await
        .unwrap();
    let blobs = ObjectBlobStore::open(&TargetSpec::Local(h.db.dir.path().join("blobs"))).unwrap();
    let route = BlobRules {
        max_bytes: 1024 * 1024,
        allowed_types: vec!["image/png".to_owned(), "application/pdf".to_owned()],
    };
    let attach = |name: &'static str, declared: &'static str, bytes: Vec<u8>| {
        let (cista, blobs, route) = (cista, &blobs, &route);
        async move {
            cista
                .attach(
                    blobs,
                    &operator(),
                    org,
                    record.submission,
                    name,
                    declared,
                    route,
                    &mut Bytes(Some(bytes)),
                )
                .await
        }
    };
    let mut small = png(1);
    small.truncate(3000);
    attach("front", "image/png", small).await.unwrap();
    let unnamed = attach("side", "image/png", png(2)).await.unwrap_err();
    assert_eq!(unnamed.code(), "not_found", "{unnamed:?}");
    let large = attach("back", "image/png", png(3)).await.unwrap_err();
    assert!(
        matches!(large, Error::PayloadTooLarge { limit_bytes: 4096 }),
        "the field's limit, not the route's: {large:?}"
    );
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.resize(2000, b' ');
    let not_a_photo = attach("back", "application/pdf", pdf).await.unwrap_err();
    assert_eq!(not_a_photo.code(), "unsupported_media_type");
    let names: Vec<String> = h
        .store
        .intake()
        .attachments(record.submission)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["front"], "only the good photo is recorded");
}

/// The "Wells" record form of the test fixtures, published by the operator in `org`.
pub async fn publish_wells(
    cista: &cista_core::Cista,
    org: cista_types::OrgId,
) -> cista_core::ports::StoredForm {
    cista
        .publish_form(
            &cista_core::Actor::operator("test"),
            org,
            cista_core::platform::intake::FormProduct::Collection,
            "wells",
            &cista_testkit::fixtures::record_form("Wells"),
        )
        .await
        .unwrap()
}
