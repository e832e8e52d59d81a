//! The review portal: a reviewer lists the records (filtered by state and collector), opens
//! one (answers in the words of its form, the photo as a thumbnail through a signed URL that
//! carries none of the phone's metadata and stops working when changed or expired), and
//! reviews it; the collector's phone then reads the new state and comment. A collector and a
//! stranger get nothing.

use crate::people::{active, org};
use crate::web::{between, follow, page, post, sign_in};
use crate::{Options, TestServer, csrf_in};
use cista_core::platform::blobs::BlobRules;
use cista_core::platform::intake::FormProduct;
use cista_core::products::collection::media::sample_photo;
use cista_core::{Access, Actor, PersonActor};
use cista_types::Role;
use reqwest::StatusCode;
use serde_json::json;

/// An upload in one piece.
struct Once(Option<Vec<u8>>);

#[async_trait::async_trait]
impl cista_core::platform::blobs::BlobSource for Once {
    async fn next_chunk(&mut self) -> cista_core::Result<Option<Vec<u8>>> {
        Ok(self.0.take())
    }
}

/// River Watch with a collector (ana) and a reviewer (rex), and one record of ana's at the
/// river whose photo `photo` (as a phone sends it) has been processed.
pub(crate) async fn a_record_with_a_photo(
    server: &TestServer,
    photo: Vec<u8>,
) -> (cista_types::OrgId, cista_types::SubmissionId, Actor) {
    let cista = server.state.cista.clone();
    let org = org(&cista, "river-watch").await;
    let ana = active(&cista, org, "ana@river.example", Role::Collector).await;
    active(&cista, org, "rex@river.example", Role::Reviewer).await;
    let operator = Actor::operator("test");
    let form = cista
        .publish_form(
            &operator,
            org,
            FormProduct::Collection,
            "wells",
            &cista_testkit::fixtures::record_form("Well survey"),
        )
        .await
        .unwrap();
    let collector = Actor::Person(PersonActor {
        subject: ana,
        access: Access::Full,
        roles: [(org, Role::Collector)].into(),
    });
    let answers = json!({
        "site": "=HYPERLINK(\"http://evil.example\") Mill bridge",
        "depth_m": 4,
        "where": { "latitude": 45.5152, "longitude": -122.671, "accuracy_m": 6 },
        "photos": ["p1"]
    });
    let record = cista
        .submit(&collector, org, form.id, "r-1", &answers)
        .await
        .unwrap()
        .submission;
    let rules = BlobRules {
        max_bytes: 1 << 22,
        allowed_types: vec!["image/jpeg".to_owned()],
    };
    cista
        .attach(
            server.state.blobs.as_ref(),
            &collector,
            org,
            record,
            "p1",
            "image/jpeg",
            &rules,
            &mut Once(Some(photo)),
        )
        .await
        .unwrap();
    cista
        .process_photos(&Actor::System, server.state.blobs.as_ref(), 10)
        .await
        .unwrap();
    (org, record, collector)
}

#[tokio::test]
async fn a_reviewer_sees_a_record_with_its_photo_and_reviews_it() {
    let server = TestServer::start(Options::default()).await;
    let cista = server.state.cista.clone();
    let photo = sample_photo(60, 40, 1, 3).unwrap();
    let (org, record, collector) = a_record_with_a_photo(&server, photo).await;
    the_reviewer_pages_work(&server, &cista, (org, record), &collector).await;
    server.stop().await;
}

/// The list and its filters, the record with its photo through signed URLs, a review, the map
/// and the exports; a collector gets none of it.
async fn the_reviewer_pages_work(
    server: &TestServer,
    cista: &cista_core::Cista,
    (org, record): (cista_types::OrgId, cista_types::SubmissionId),
    collector: &Actor,
) {
    let reviewer = sign_in(server, "rex@river.example").await;
    let (_, home) = page(&reviewer, server, "/admin/river-watch").await;
    assert!(home.contains("/admin/river-watch/records"), "{home}");
    let (status, list) = page(
        &reviewer,
        server,
        "/admin/river-watch/records?state=received",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(
        list.contains("Mill bridge") && list.contains("1 record."),
        "{list}"
    );
    let (_, none) = page(
        &reviewer,
        server,
        "/admin/river-watch/records?state=approved",
    )
    .await;
    assert!(none.contains("0 records."), "{none}");

    let path = format!("/admin/river-watch/records/{}", record.as_i64());
    let (status, shown) = page(&reviewer, server, &path).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert!(
        shown.contains("45.51520, -122.67100 (within 6 m)"),
        "{shown}"
    );
    let thumb = between(&shown, "<img src=\"", "\"")
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(thumb.starts_with("/media/"), "{thumb}");
    let r = server
        .client()
        .get(server.url(&thumb))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{thumb}");
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    let bytes = r.bytes().await.unwrap();
    assert!(
        !bytes.windows(7).any(|w| w == b"SN12345"),
        "no camera serial"
    );
    let forged = thumb.replace("thumbnail", "photo");
    let r = server
        .client()
        .get(server.url(&forged))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "the signature covers the variant"
    );
    let photo_link = between(&shown, "<a href=\"/media/", "\"")
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let r = server
        .client()
        .get(server.url(&format!("/media/{photo_link}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let r = post(
        &reviewer,
        server,
        &format!("{path}/review"),
        &csrf_in(&shown),
        &[
            ("state", "needs_changes"),
            // Two lines, as a browser sends a textarea's.
            ("comment", "Retake from the bank\r\nat noon"),
        ],
    )
    .await;
    let (_, _, after) = follow(&reviewer, server, r).await;
    assert!(after.contains("The record is now needs changes"), "{after}");
    assert!(after.contains("Retake from the bank"), "{after}");
    let status = cista.record_status(collector, org, record).await.unwrap();
    assert_eq!(status.reviews.len(), 1);
    assert_eq!(
        status.reviews[0].comment, "Retake from the bank\nat noon",
        "the phone reads the lines as written"
    );

    maps_and_exports_show_what_the_filters_show(server, &reviewer).await;
    let ana_web = sign_in(server, "ana@river.example").await;
    assert_eq!(page(&ana_web, server, &path).await.0, StatusCode::FORBIDDEN);
    let kinds: Vec<String> = cista
        .store()
        .audit_entries(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        kinds.iter().any(|k| k == "record.photos_shown"),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "record.reviewed"), "{kinds:?}");
}

/// The map draws the record's point as a link to it; CSV and GeoJSON hold what the list shows,
/// the CSV formula-safe but its coordinates still numbers, the GeoJSON in RFC 7946's
/// `[longitude, latitude]` order.
async fn maps_and_exports_show_what_the_filters_show(
    server: &TestServer,
    reviewer: &reqwest::Client,
) {
    let (status, map) = page(reviewer, server, "/admin/river-watch/records/map").await;
    assert_eq!(status, StatusCode::OK, "{map}");
    assert!(
        map.contains("<circle") && map.contains("/admin/river-watch/records/"),
        "{map}"
    );
    assert!(map.contains("1 record by their point"), "{map}");
    let r = reviewer
        .get(server.url("/admin/river-watch/records.csv?state=needs_changes"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = r.text().await.unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with(
        "record,form,version,received_at,collector,state,latitude,longitude,accuracy_m"
    ));
    let row = lines.next().unwrap();
    assert!(row.contains(",needs_changes,45.5152,-122.671,6,"), "{row}");
    assert!(row.contains("'=HYPERLINK"), "formula-safe: {row}");
    let (_, none) = page(
        reviewer,
        server,
        "/admin/river-watch/records.csv?state=approved",
    )
    .await;
    assert_eq!(none.lines().count(), 1, "only the header: {none}");
    let r = reviewer
        .get(server.url("/admin/river-watch/records.geojson"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/geo+json");
    let geo: serde_json::Value = r.json().await.unwrap();
    assert_eq!(geo["type"], "FeatureCollection");
    assert_eq!(
        geo["features"][0]["geometry"]["coordinates"],
        json!([-122.671, 45.5152])
    );
    assert_eq!(geo["features"][0]["properties"]["state"], "needs_changes");
}

/// Staff who may read people see who collected a record by name (one audited read for the
/// page); a reviewer, who may not, sees the subject code.
#[tokio::test]
async fn collectors_are_named_to_staff_who_may_read_people_only() {
    let server = TestServer::start(Options::default()).await;
    let cista = server.state.cista.clone();
    let org = org(&cista, "river-watch").await;
    let ana = active(&cista, org, "ana@river.example", Role::Collector).await;
    active(&cista, org, "olivia@river.example", Role::Owner).await;
    active(&cista, org, "rex@river.example", Role::Reviewer).await;
    let form = cista
        .publish_form(
            &Actor::operator("test"),
            org,
            FormProduct::Collection,
            "wells",
            &cista_testkit::fixtures::record_form("Well survey"),
        )
        .await
        .unwrap();
    let collector = Actor::Person(PersonActor {
        subject: ana,
        access: Access::Full,
        roles: [(org, Role::Collector)].into(),
    });
    cista
        .submit(&collector, org, form.id, "n-1", &json!({ "depth_m": 2 }))
        .await
        .unwrap();
    let owner = sign_in(&server, "olivia@river.example").await;
    let before = cista.store().audit_head().await.unwrap().size;
    let (_, list) = page(&owner, &server, "/admin/river-watch/records").await;
    // Everyone invited through the test helper is named "Test Person".
    assert!(list.contains("Test Person"), "a name: {list}");
    assert!(
        !list.contains(&format!(">{ana}<")),
        "not the code (it stays in the filter's value only): {list}"
    );
    assert_eq!(
        cista.store().audit_head().await.unwrap().size,
        before + 1,
        "one audited read of the names"
    );
    let reviewer = sign_in(&server, "rex@river.example").await;
    let (_, list) = page(&reviewer, &server, "/admin/river-watch/records").await;
    assert!(list.contains(&format!(">{ana}<")), "the code: {list}");
    assert!(!list.contains("Test Person"), "no name: {list}");
}
