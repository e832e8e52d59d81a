//! The review portal's area filter and ZIP export: the list, the map and the exports keep only
//! the records inside the box asked for; a bad box is a coded refusal (a form error on the
//! pages, a `400` for an export, which then exports and audits nothing); the ZIP comes as a
//! stream of the length it announces, holds the CSV (photos as signed links that open) and the
//! delivered photo with none of the phone's EXIF location or serial, and is audited once.

use crate::records_pages::a_record_with_a_photo;
use crate::web::{page, sign_in};
use crate::{Options, TestServer};
use cista_core::products::collection::media::sample_photo;
use cista_testkit::fixtures::unzip;
use reqwest::StatusCode;

const RIVER: &str = "south=45.4&west=-122.8&north=45.6&east=-122.5";
const ELSEWHERE: &str = "south=0&west=0&north=1&east=1";

#[tokio::test]
async fn the_area_filters_every_view_and_the_zip_streams_photos_without_metadata() {
    let server = TestServer::start(Options::default()).await;
    // Large enough to take several pieces of the stream.
    let photo = sample_photo(1600, 1200, 1, 3).unwrap();
    let (_, record, _) = a_record_with_a_photo(&server, photo).await;
    let reviewer = sign_in(&server, "rex@river.example").await;

    let (status, list) = page(&reviewer, &server, "/admin/river-watch/records").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list.contains("name=\"south\"") && list.contains("name=\"east\""));
    assert!(
        list.contains("/admin/river-watch/records.zip\" download=")
            && list.contains("data-progress=\"zip-progress\""),
        "a plain link the page's script enhances: {list}"
    );
    let (_, inside) = page(
        &reviewer,
        &server,
        &format!("/admin/river-watch/records?{RIVER}"),
    )
    .await;
    assert!(inside.contains("1 record."), "{inside}");
    assert!(
        inside.contains("records.zip?south=45.4&#38;west=-122.8"),
        "{inside}"
    );
    let (_, outside) = page(
        &reviewer,
        &server,
        &format!("/admin/river-watch/records?{ELSEWHERE}"),
    )
    .await;
    assert!(outside.contains("0 records."), "{outside}");
    let (status, map) = page(
        &reviewer,
        &server,
        &format!("/admin/river-watch/records/map?{ELSEWHERE}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        map.contains("No record here has a point.") && map.contains("name=\"north\""),
        "{map}"
    );

    bad_filters_are_refused_with_a_code(&server, &reviewer).await;

    the_zip_streams_the_records_and_their_clean_photos(&server, &reviewer, record).await;

    let ana = sign_in(&server, "ana@river.example").await;
    let r = ana
        .get(server.url("/admin/river-watch/records.zip"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a collector exports nothing"
    );
    server.stop().await;
}

/// Areas out of range, upside down, not a number, or not all four edges; a state that is none
/// of the list's (not read as "any state"); days that are not a number: the list and the map
/// say what is wrong (`422`), an export is a coded `400` and leaves no audit entry.
async fn bad_filters_are_refused_with_a_code(server: &TestServer, reviewer: &reqwest::Client) {
    let head = server.state.cista.store().audit_head().await.unwrap().size;
    for (bad, said) in [
        ("south=91&west=0&north=92&east=1", "edge"),
        ("south=1&west=0&north=0&east=1", "edge"),
        ("south=x&west=0&north=1&east=1", "edge"),
        ("south=1&west=0&north=2&east=181", "edge"),
        ("south=1", "edge"),
        ("state=bogus", "Choose a state"),
        ("state=APPROVED", "Choose a state"),
        ("days=-3", "number of days"),
    ] {
        for export in ["records.zip", "records.csv", "records.geojson"] {
            let (status, body) = page(
                reviewer,
                server,
                &format!("/admin/river-watch/{export}?{bad}"),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{export}?{bad}: {body}");
            assert!(body.contains("invalid_input"), "{export}?{bad}: {body}");
        }
        for view in ["records", "records/map"] {
            let (status, body) = page(
                reviewer,
                server,
                &format!("/admin/river-watch/{view}?{bad}"),
            )
            .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{view}?{bad}");
            assert!(body.contains(said), "{view}?{bad}: {body}");
        }
    }
    assert_eq!(
        server.state.cista.store().audit_head().await.unwrap().size,
        head,
        "nothing exported"
    );
}

/// The ZIP of the river's records: the announced length, in pieces, the CSV with a signed link
/// that opens the photo, the photo without the phone's metadata, one audit entry.
async fn the_zip_streams_the_records_and_their_clean_photos(
    server: &TestServer,
    reviewer: &reqwest::Client,
    record: cista_types::SubmissionId,
) {
    let head = server.state.cista.store().audit_head().await.unwrap().size;
    let mut r = reviewer
        .get(server.url(&format!("/admin/river-watch/records.zip?{RIVER}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/zip");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let announced: u64 = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let (mut zip, mut pieces) = (Vec::new(), 0);
    while let Some(piece) = r.chunk().await.unwrap() {
        zip.extend_from_slice(&piece);
        pieces += 1;
    }
    assert_eq!(zip.len() as u64, announced, "as long as announced");
    assert!(pieces > 1, "streamed in pieces, not sent whole");

    let files = unzip(zip).await;
    let photo_path = format!("photos/{}/p1.jpg", record.as_i64());
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["records.csv", photo_path.as_str()]);
    let photo = &files[1].bytes;
    assert!(photo.starts_with(&[0xFF, 0xD8]), "a JPEG");
    for canary in [&b"Exif\0\0"[..], b"SN12345", b"CanaryCreek", b"GPSLatitude"] {
        assert!(
            !photo.windows(canary.len()).any(|w| w == canary),
            "{canary:?} left in the ZIP's photo"
        );
    }
    let csv = String::from_utf8(files[0].bytes.clone()).unwrap();
    assert!(
        csv.lines().next().unwrap().ends_with(",photos.links"),
        "{csv}"
    );
    let link = csv
        .split([',', '\n', ' '])
        .find(|cell| cell.contains("/media/"))
        .unwrap();
    assert!(
        link.starts_with("https://") && link.contains("&signature="),
        "{link}"
    );
    let path = &link[link.find("/media/").unwrap()..];
    let opened = server.client().get(server.url(path)).send().await.unwrap();
    assert_eq!(
        opened.status(),
        StatusCode::OK,
        "the CSV's link opens the photo"
    );
    assert_eq!(opened.bytes().await.unwrap().as_ref(), photo.as_slice());

    let entries = server
        .state
        .cista
        .store()
        .audit_entries(head, 10)
        .await
        .unwrap();
    let exports: Vec<&str> = entries
        .iter()
        .filter(|e| e.kind == "records.exported")
        .map(|e| e.details.as_str())
        .collect();
    assert_eq!(exports.len(), 1, "{exports:?}");
    assert!(
        exports[0].contains("\"format\":\"zip\"") && exports[0].contains("\"photos\":1"),
        "{exports:?}"
    );
}
