//! Exports of records on both stores: the area filter keeps only the records whose point lies
//! in the box (across the antimeridian too; a record without a point never), for the list and
//! every export alike; the CSV carries each delivered photo as a signed link; the ZIP holds
//! that CSV and the delivered copies (stored, none of the phone's metadata), is exactly as
//! long as planned, reports its progress by record, and is audited with its counts.

use crate::Harness;
use cista_backup::blobs::ObjectBlobStore;
use cista_backup::target::TargetSpec;
use cista_core::platform::blobs::BlobRules;
use cista_core::products::collection::area::Area;
use cista_core::products::collection::export::ExportFormat;
use cista_core::products::collection::media::sample_photo;
use cista_core::products::collection::records::RecordFilter;
use cista_core::{Actor, Cista, Error, Store as _};
use cista_testkit::fixtures::unzip;
use cista_types::{OrgId, SubmissionId};
use serde_json::{Value, json};

async fn last_audit(h: &Harness) -> (String, Value) {
    let head = h.store.audit_head().await.unwrap().size;
    let entry = h.store.audit_entries(head - 1, 1).await.unwrap().remove(0);
    (entry.kind, serde_json::from_str(&entry.details).unwrap())
}

async fn ids(cista: &Cista, org: OrgId, filter: &RecordFilter) -> Vec<SubmissionId> {
    let rows = cista
        .records(&Actor::operator("test"), org, filter)
        .await
        .unwrap();
    rows.iter().map(|r| r.submission).collect()
}

pub async fn exports_hold_the_area_asked_and_the_zip_its_delivered_photos(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "river-watch").await;
    let operator = Actor::operator("test");
    let form = crate::records::publish_wells(&cista, org.id).await;
    let mut records = Vec::new();
    for (key, answers) in [
        (
            "in",
            json!({ "site": "Mill", "photos": ["p1", "p2"],
                    "where": { "latitude": 45.5, "longitude": -122.6, "accuracy_m": 5 } }),
        ),
        (
            "date-line",
            json!({ "site": "Reef",
                    "where": { "latitude": -15.0, "longitude": 179.5, "accuracy_m": 3 } }),
        ),
        ("nowhere", json!({ "site": "Office" })),
    ] {
        let receipt = cista
            .submit(&operator, org.id, form.id, key, &answers)
            .await
            .unwrap();
        records.push(receipt.submission);
    }
    let blobs = ObjectBlobStore::open(&TargetSpec::Local(h.db.dir.path().join("blobs"))).unwrap();
    let rules = BlobRules {
        max_bytes: 1 << 22,
        allowed_types: vec!["image/jpeg".to_owned()],
    };
    let photo = sample_photo(64, 48, 1, 3).unwrap();
    cista
        .attach(
            &blobs,
            &operator,
            org.id,
            records[0],
            "p1",
            "image/jpeg",
            &rules,
            &mut crate::intake::Bytes(Some(photo)),
        )
        .await
        .unwrap();
    cista
        .process_photos(&Actor::System, &blobs, 10)
        .await
        .unwrap();

    let area = |s, w, n, e| RecordFilter {
        area: Some(Area::new(s, w, n, e).unwrap()),
        ..RecordFilter::default()
    };
    let river = area(45.0, -123.0, 46.0, -122.0);
    assert_eq!(ids(&cista, org.id, &river).await, [records[0]]);
    assert_eq!(
        ids(&cista, org.id, &area(-20.0, 170.0, -10.0, -170.0)).await,
        [records[1]],
        "a box across the antimeridian"
    );
    assert!(
        ids(&cista, org.id, &area(0.0, 0.0, 1.0, 1.0))
            .await
            .is_empty()
    );
    assert_eq!(
        ids(&cista, org.id, &RecordFilter::default()).await.len(),
        3,
        "without an area, a record without a point is listed"
    );

    let csv = cista
        .export_records(&operator, org.id, &river, ExportFormat::Csv)
        .await
        .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].ends_with(",photos.links"), "{}", lines[0]);
    let link = format!(
        "https://localhost:8443/media/{}/{}/p1/photo?expires=",
        org.id.as_i64(),
        records[0].as_i64()
    );
    assert!(lines[1].contains(&link), "{}", lines[1]);
    assert!(lines[1].contains("&signature="), "signed: {}", lines[1]);
    assert!(!lines[1].contains("/p2/"), "p2 never arrived: no link");
    let (kind, details) = last_audit(h).await;
    assert_eq!(kind, "records.exported");
    assert_eq!(
        details,
        json!({ "format": "csv", "records": 1, "photo_links": 1 })
    );

    the_zip_holds_the_csv_and_the_delivered_photos(h, &cista, &blobs, org.id, &records).await;
}

async fn the_zip_holds_the_csv_and_the_delivered_photos(
    h: &Harness,
    cista: &Cista,
    blobs: &ObjectBlobStore,
    org: OrgId,
    records: &[SubmissionId],
) {
    let operator = Actor::operator("test");
    let all = RecordFilter::default();
    let stranger = Actor::Person(cista_core::PersonActor {
        subject: cista_types::SubjectCode::from_i64(7),
        access: cista_core::Access::Full,
        roles: [(OrgId::from_i64(org.as_i64() + 1), cista_types::Role::Owner)].into(),
    });
    let head = h.store.audit_head().await.unwrap().size;
    let e = cista
        .plan_records_zip(&stranger, org, &all)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden { .. }), "{e:?}");
    assert_eq!(h.store.audit_head().await.unwrap().size, head);

    let plan = cista.plan_records_zip(&operator, org, &all).await.unwrap();
    assert_eq!((plan.records(), plan.photos()), (3, 1));
    let (kind, details) = last_audit(h).await;
    assert_eq!(kind, "records.exported");
    assert_eq!(
        details,
        json!({ "format": "zip", "records": 3, "photos": 1 })
    );
    let length = plan.length().expect("a small archive announces its length");
    let mut seen = Vec::new();
    let zip = cista
        .write_records_zip(blobs, plan, Vec::new(), &mut |done, total| {
            seen.push((done, total));
        })
        .await
        .unwrap();
    assert_eq!(zip.len() as u64, length, "exactly as long as planned");
    assert_eq!(seen, [(0, 3), (1, 3), (2, 3), (3, 3)]);

    let files = unzip(zip).await;
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    let photo = format!("photos/{}/p1.jpg", records[0].as_i64());
    assert_eq!(names, ["records.csv", photo.as_str()]);
    assert!(files.iter().all(|f| f.stored), "stored, not deflated");
    let csv = cista
        .export_records(&operator, org, &all, ExportFormat::Csv)
        .await
        .unwrap();
    assert_eq!(files[0].bytes, csv, "the CSV export, the same content");
    let media = h.store.collection().media_of(records[0]).await.unwrap();
    let (delivered, _, _) = media[0].delivered.clone().unwrap();
    let copy = cista
        .open_blob(blobs, org, &delivered)
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    assert_eq!(
        files[1].bytes, copy,
        "the delivered copy, never the original"
    );
    for canary in [&b"SN12345"[..], b"CanaryCreek", b"Exif\0\0"] {
        assert!(
            !files[1].bytes.windows(canary.len()).any(|w| w == canary),
            "{canary:?} left in the ZIP"
        );
    }
}

/// More records than a list shows (`MAX_LISTED`), all but the first in the same second: the list
/// shows the newest 1,000, a filter finds the oldest past them, and the CSV export holds every
/// record once (read a page at a time, ties on the time of receipt broken by id).
pub async fn an_export_holds_every_record_and_a_filter_finds_the_oldest(h: &Harness) {
    use cista_core::products::collection::records::MAX_LISTED;
    let cista = h.cista().await;
    let org = h.org(&cista, "river-watch").await;
    let operator = Actor::operator("test");
    let form = crate::records::publish_wells(&cista, org.id).await;
    let total = MAX_LISTED + 101;
    let mut sent = Vec::new();
    for i in 0..total {
        let answers = if i == 0 {
            json!({ "site": "Oldest",
                    "where": { "latitude": 45.5, "longitude": -122.6, "accuracy_m": 5 } })
        } else {
            json!({ "site": format!("Site {i}") })
        };
        let receipt = cista
            .submit(&operator, org.id, form.id, &format!("r{i}"), &answers)
            .await
            .unwrap();
        sent.push(receipt.submission);
        if i == 0 {
            // The rest a second later, all in that one second (ids are random, not in order).
            h.advance(time::Duration::seconds(1));
        }
    }
    let listed = ids(&cista, org.id, &RecordFilter::default()).await;
    assert_eq!(listed.len(), MAX_LISTED);
    assert!(!listed.contains(&sent[0]));
    let around_the_oldest = RecordFilter {
        area: Some(Area::new(45.0, -123.0, 46.0, -122.0).unwrap()),
        ..RecordFilter::default()
    };
    assert_eq!(ids(&cista, org.id, &around_the_oldest).await, [sent[0]]);

    let csv = cista
        .export_records(
            &operator,
            org.id,
            &RecordFilter::default(),
            ExportFormat::Csv,
        )
        .await
        .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let mut exported: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap().to_owned())
        .collect();
    assert_eq!(exported.len(), total, "{}", &csv[..400]);
    exported.sort();
    exported.dedup();
    assert_eq!(exported.len(), total, "each record once");
    assert!(csv.contains("Oldest"));
}
