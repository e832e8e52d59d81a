//! The intake pipeline on both stores: forms published in immutable versions, submissions
//! sealed and idempotent (also when the same one arrives many times at once), attachments
//! recorded once by name, each change audited in its own transaction.

use crate::Harness;
use async_trait::async_trait;
use cista_backup::blobs::ObjectBlobStore;
use cista_backup::target::TargetSpec;
use cista_core::platform::blobs::{BlobRules, BlobSource, blob_key};
use cista_core::platform::intake::FormProduct;
use cista_core::ports::BlobStore as _;
use cista_core::{Access, Actor, Cista, Error, PersonActor, Result, Store as _};
use cista_crypto::Digest32;
use cista_testkit::fixtures::record_form;
use cista_types::{FormId, OrgId, Role, SubjectCode, SubmissionId};
use serde_json::json;
use std::collections::BTreeMap;

fn operator() -> Actor {
    Actor::operator("test")
}

async fn audit_size(h: &Harness) -> u64 {
    h.store.audit_head().await.unwrap().size
}

pub async fn a_form_is_published_in_immutable_versions(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let definition = record_form("Risk profile");
    let v1 = cista
        .publish_form(
            &operator(),
            org.id,
            FormProduct::Collection,
            "risk-profile",
            &definition,
        )
        .await
        .unwrap();
    assert_eq!(v1.version, 1);
    let head = audit_size(h).await;
    let same = cista
        .publish_form(
            &operator(),
            org.id,
            FormProduct::Collection,
            "risk-profile",
            &serde_json::from_str(&record_form("Risk profile").to_string()).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        same, v1,
        "the same definition (keys in another order) is the same version"
    );
    assert_eq!(audit_size(h).await, head, "and writes nothing");
    let v2 = cista
        .publish_form(
            &operator(),
            org.id,
            FormProduct::Collection,
            "risk-profile",
            &record_form("Risk profile, 2027"),
        )
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_ne!(v2.id, v1.id);
    let versions = h
        .store
        .intake()
        .form_versions(org.id, "risk-profile")
        .await
        .unwrap();
    assert_eq!(versions, [v1.clone(), v2.clone()], "v1 is unchanged");
    let newest = |key: &'static str| h.store.intake().newest_form_version(org.id, key);
    assert_eq!(newest("risk-profile").await.unwrap(), Some(v2.clone()));
    assert_eq!(newest("never-published").await.unwrap(), None);
    assert_eq!(cista.published_form(org.id, v1.id).await.unwrap(), v1);

    assert!(matches!(
        cista
            .publish_form(
                &operator(),
                org.id,
                FormProduct::Assessment,
                "risk-profile",
                &serde_json::from_str(cista_core::products::assessment::RISK_PROFILE).unwrap()
            )
            .await,
        Err(Error::Conflict(_))
    ));
    for (key, definition) in [
        ("Risk Profile", record_form("x")),
        ("ok", json!([1, 2])),
        ("ok", json!({"title": "x", "fields": []})),
    ] {
        let bad = cista
            .publish_form(
                &operator(),
                org.id,
                FormProduct::Collection,
                key,
                &definition,
            )
            .await
            .unwrap_err();
        assert!(matches!(bad, Error::InvalidInput { .. }), "{key}: {bad:?}");
    }
    let member = Actor::Person(PersonActor {
        subject: SubjectCode::from_i64(7),
        access: Access::Full,
        roles: BTreeMap::from([(org.id, Role::Member)]),
    });
    assert!(matches!(
        cista
            .publish_form(&member, org.id, FormProduct::Collection, "x", &json!({}))
            .await,
        Err(Error::Forbidden { .. })
    ));
    let other = h.org(&cista, "bay-view").await;
    assert!(matches!(
        cista.published_form(other.id, v1.id).await,
        Err(Error::NotFound { .. })
    ));
}

pub async fn a_submission_is_sealed_and_a_retry_gets_the_first_receipt(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let form = cista
        .publish_form(
            &operator(),
            org.id,
            FormProduct::Collection,
            "well-survey",
            &record_form("Well survey"),
        )
        .await
        .unwrap();
    let canary = "Canary Zebra-Okapi 7781";
    let payload = json!({
        "depth_m": 12.5, "notes": canary,
        "where": {"longitude": 2, "latitude": 1, "accuracy_m": 5}
    });
    let key = "3f2a9c0d-41b7-4e65-9a1b-0c3d5e7f9a1b";
    let first = cista
        .submit(&operator(), org.id, form.id, key, &payload)
        .await
        .unwrap();
    assert!(!first.replayed);
    assert_eq!(first.form_version, 1);
    let raw = h.raw_database_bytes().await;
    assert!(
        !raw.windows(canary.len()).any(|w| w == canary.as_bytes()),
        "the payload is sealed at rest"
    );
    let (stored, opened) = cista
        .submission(&operator(), org.id, first.submission)
        .await
        .unwrap();
    assert_eq!(opened, payload);
    assert_eq!(stored.idempotency_key, key);

    let other_form = cista
        .publish_form(
            &operator(),
            org.id,
            FormProduct::Collection,
            "pump-check",
            &record_form("Well survey"),
        )
        .await
        .unwrap();
    let head = audit_size(h).await;
    let retry = cista
        .submit(
            &operator(),
            org.id,
            form.id,
            key,
            &json!({
                "where": {"accuracy_m": 5, "latitude": 1, "longitude": 2},
                "notes": canary, "depth_m": 12.5
            }),
        )
        .await
        .unwrap();
    assert!(retry.replayed);
    assert_eq!(
        (retry.submission, retry.content_sha256, retry.received_at),
        (first.submission, first.content_sha256, first.received_at)
    );
    let clash = cista
        .submit(&operator(), org.id, form.id, key, &json!({"depth_m": 13}))
        .await
        .unwrap_err();
    assert!(matches!(clash, Error::Conflict(_)), "{clash:?}");
    assert_eq!(clash.code(), "conflict");
    // The same key and content for another form is another submission, not a retry.
    let elsewhere = cista
        .submit(&operator(), org.id, other_form.id, key, &payload)
        .await
        .unwrap_err();
    assert!(matches!(elsewhere, Error::Conflict(_)), "{elsewhere:?}");
    assert_eq!(
        audit_size(h).await,
        head,
        "retries and clashes write nothing"
    );

    one_burst_stores_one_row(h, &cista, org.id, form.id, canary).await;

    let other = h.org(&cista, "bay-view").await;
    assert!(matches!(
        cista
            .submission(&operator(), other.id, first.submission)
            .await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        cista
            .submit(&operator(), other.id, form.id, "k-1", &json!({}))
            .await,
        Err(Error::NotFound { .. })
    ));
    for bad_key in ["", "has space", &"x".repeat(65)] {
        assert!(matches!(
            cista
                .submit(&operator(), org.id, form.id, bad_key, &json!({}))
                .await,
            Err(Error::InvalidInput { .. })
        ));
    }
}

/// The same submission sent many times at once: one row, one receipt, no payload in the audit log.
async fn one_burst_stores_one_row(
    h: &Harness,
    cista: &Cista,
    org: OrgId,
    form: FormId,
    canary: &str,
) {
    // The same submission sent many times at once: one row, one receipt.
    let burst = "burst-0001";
    let (op, body) = (operator(), json!({"depth_m": 3}));
    let sends = (0..8).map(|_| cista.submit(&op, org, form, burst, &body));
    let receipts = futures::future::join_all(sends).await;
    let ids: std::collections::BTreeSet<_> = receipts
        .iter()
        .map(|r| r.as_ref().unwrap().submission)
        .collect();
    assert_eq!(ids.len(), 1, "{receipts:?}");
    assert_eq!(
        receipts
            .iter()
            .filter(|r| !r.as_ref().unwrap().replayed)
            .count(),
        1
    );
    let entries = h.store.audit_entries(0, 1000).await.unwrap();
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.kind == "submission.received")
            .count(),
        2
    );
    for e in &entries {
        assert!(!e.details.contains(canary), "no payload in the audit log");
    }
}

/// An upload arriving in one piece.
pub struct Bytes(pub Option<Vec<u8>>);

#[async_trait]
impl BlobSource for Bytes {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(self.0.take())
    }
}

/// A PNG signature and 5000 bytes that differ by `seed`.
pub fn png(seed: u8) -> Vec<u8> {
    let mut data = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    data.extend((0..5000u32).map(|i| (i as u8).wrapping_add(seed)));
    data
}

/// A submission of a freshly published form of `org`, for files to be attached to.
pub async fn a_submission(cista: &Cista, org: OrgId) -> SubmissionId {
    let form = cista
        .publish_form(
            &operator(),
            org,
            FormProduct::Collection,
            "well-survey",
            &record_form("Well survey"),
        )
        .await
        .unwrap();
    cista
        .submit(
            &operator(),
            org,
            form.id,
            "k-1",
            &json!({"depth_m": 1, "photos": ["photo_1", "photo_2"]}),
        )
        .await
        .unwrap()
        .submission
}

pub async fn an_attachment_is_recorded_once_by_name(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let blobs = ObjectBlobStore::open(&TargetSpec::Local(h.db.dir.path().join("blobs"))).unwrap();
    let rules = BlobRules {
        max_bytes: 1024 * 1024,
        allowed_types: vec!["image/png".to_owned()],
    };
    let sub = a_submission(&cista, org.id).await;
    let photo = png(1);
    let first = cista
        .attach(
            &blobs,
            &operator(),
            org.id,
            sub,
            "photo_1",
            "image/png",
            &rules,
            &mut Bytes(Some(photo.clone())),
        )
        .await
        .unwrap();
    assert!(!first.replayed);
    assert_eq!(first.attachment.size, photo.len() as u64);
    let head = audit_size(h).await;
    let again = cista
        .attach(
            &blobs,
            &operator(),
            org.id,
            sub,
            "photo_1",
            "image/png",
            &rules,
            &mut Bytes(Some(photo.clone())),
        )
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.attachment, first.attachment);
    let clash = cista
        .attach(
            &blobs,
            &operator(),
            org.id,
            sub,
            "photo_1",
            "image/png",
            &rules,
            &mut Bytes(Some(png(2))),
        )
        .await
        .unwrap_err();
    assert!(matches!(clash, Error::Conflict(_)), "{clash:?}");
    // The clashing bytes were never published, and no staging object is left of them.
    let clashing = Digest32::sha256(&[&png(2)]);
    assert!(!blobs.exists(&blob_key(org.id, &clashing)).await.unwrap());
    assert!(blobs.list("staging/").await.unwrap().is_empty());
    // The clashing bytes were never published, and no staging object is left of them.
    let clashing = Digest32::sha256(&[&png(2)]);
    assert!(!blobs.exists(&blob_key(org.id, &clashing)).await.unwrap());
    assert!(blobs.list("staging/").await.unwrap().is_empty());
    let wrong = cista
        .attach(
            &blobs,
            &operator(),
            org.id,
            sub,
            "photo_2",
            "image/png",
            &rules,
            &mut Bytes(Some(b"GIF89a....".to_vec())),
        )
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), "unsupported_media_type");
    assert_eq!(
        audit_size(h).await,
        head,
        "retries and refusals write nothing"
    );
    let listed = h.store.intake().attachments(sub).await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&first.attachment));
    let back = cista
        .open_blob(&blobs, org.id, &first.attachment.sha256)
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    assert!(back == photo);
}

/// An organization's submissions are read newest first a page at a time, each page starting
/// after the last one's end, ties in time broken by id; other forms and other organizations
/// stay out, and retention reads the oldest first up to a moment.
pub async fn submissions_are_read_newest_first_a_page_at_a_time(h: &Harness) {
    let cista = h.cista().await;
    let publish = |org: OrgId, key: &'static str| {
        let cista = cista.clone();
        async move {
            cista
                .publish_form(
                    &operator(),
                    org,
                    FormProduct::Collection,
                    key,
                    &record_form(key),
                )
                .await
                .unwrap()
                .id
        }
    };
    let submit = |org: OrgId, form: FormId, key: String| {
        let cista = cista.clone();
        async move {
            cista
                .submit(&operator(), org, form, &key, &json!({"depth_m": 1}))
                .await
                .unwrap();
        }
    };
    let (org, other) = (
        h.org(&cista, "pages-here").await.id,
        h.org(&cista, "pages-elsewhere").await.id,
    );
    let (wells, springs, theirs) = (
        publish(org, "wells").await,
        publish(org, "springs").await,
        publish(other, "wells").await,
    );
    // Seven at one instant (the harness clock stands still), then more a second later.
    for i in 0..7 {
        submit(org, wells, format!("w-{i}")).await;
    }
    h.advance(time::Duration::seconds(1));
    for i in 0..3 {
        submit(org, springs, format!("s-{i}")).await;
        submit(other, theirs, format!("t-{i}")).await;
    }
    submit(org, wells, "w-late".to_owned()).await;

    let intake = h.store.intake();
    for (forms, whole) in [(vec![wells, springs], 11), (vec![wells], 8)] {
        let all = intake
            .submissions_of(org, &forms, None, u64::MAX)
            .await
            .unwrap();
        assert_eq!(all.len(), whole);
        let order: Vec<_> = all.iter().map(|s| (s.received_at, s.id)).collect();
        let mut newest_first = order.clone();
        newest_first.sort_by(|a, b| b.cmp(a));
        assert_eq!(order, newest_first);
        assert!(all.iter().all(|s| s.org == org && forms.contains(&s.form)));
        for page_size in [1, 2, 3, 7] {
            let mut paged = Vec::new();
            let mut older_than = None;
            loop {
                let page = intake
                    .submissions_of(org, &forms, older_than, page_size)
                    .await
                    .unwrap();
                let Some(last) = page.last() else { break };
                older_than = Some((last.received_at, last.id));
                paged.extend(page.iter().map(|s| (s.received_at, s.id)));
            }
            assert_eq!(paged, order, "pages of {page_size}");
        }
        let before = intake
            .submissions_before(org, &forms, all[0].received_at, u64::MAX)
            .await
            .unwrap();
        assert_eq!(before.len(), 7, "the seven of the first instant");
    }
}

/// An idempotency key is its sender's: two collectors whose apps sent the same key each get a
/// submission of their own (neither a replay of the other's nor a conflict with it), and each
/// one's retry replays only their own.
pub async fn each_sender_has_their_own_idempotency_keys(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "river-watch").await;
    let form = cista
        .publish_form(
            &operator(),
            org.id,
            FormProduct::Collection,
            "well-survey",
            &record_form("Well survey"),
        )
        .await
        .unwrap();
    let collector = |n: i64| {
        Actor::Person(PersonActor {
            subject: SubjectCode::from_i64(n),
            access: Access::Full,
            roles: [(org.id, Role::Collector)].into(),
        })
    };
    let (sam, lee) = (collector(7_001), collector(7_002));
    let at = json!({"longitude": 2, "latitude": 1, "accuracy_m": 5});
    let sams = json!({ "depth_m": 12.5, "where": at });
    let lees = json!({ "depth_m": 3, "where": at });
    let key = "0f6b1c2e-6a3d-4c1e-9b7a-2d5e8f0a1b2c";
    let submit = |who: &Actor, payload: &serde_json::Value| {
        let (cista, who, payload) = (cista.clone(), who.clone(), payload.clone());
        async move { cista.submit(&who, org.id, form.id, key, &payload).await }
    };
    let first = submit(&sam, &sams).await.unwrap();
    // Lee's app drew the same key: his submission is his own, not a conflict with Sam's.
    let lees_first = submit(&lee, &lees).await.unwrap();
    assert!(!lees_first.replayed);
    assert_ne!(lees_first.submission, first.submission);
    let (stored, opened) = cista
        .submission(&operator(), org.id, lees_first.submission)
        .await
        .unwrap();
    assert_eq!(stored.submitted_by, lee.audit_name());
    assert_eq!(opened, lees);
    // Nor is Sam's content under Lee's key a replay of Sam's: it conflicts with Lee's own.
    let clash = submit(&lee, &sams).await.unwrap_err();
    assert_eq!(clash.code(), "conflict");
    for (who, payload, was) in [(&lee, &lees, &lees_first), (&sam, &sams, &first)] {
        let again = submit(who, payload).await.unwrap();
        assert!(again.replayed);
        assert_eq!(again.submission, was.submission);
    }
}
