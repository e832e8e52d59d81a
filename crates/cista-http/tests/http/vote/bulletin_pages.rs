//! A closed ballot larger than a page of the bulletin: the list is shown 500 ballots a page
//! with links between pages, a lookup opens the page that holds the tracker, a malformed page
//! number is a 400, and the streamed bundle holds every ballot and verifies.

use super::{assert_clean, ok_page, palm_court};
use crate::voting::{self, open_ballot};
use crate::web::page;
use cista_core::Actor;
use cista_core::products::voting::bundle::{BUNDLE_FORMAT, Bundle, verify_bundle};
use cista_core::products::voting::definition::Secrecy;
use cista_types::{Clock as _, SystemClock};
use reqwest::StatusCode;
use time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_bulletin_pages_its_list_and_the_bundle_streams_every_ballot() {
    let (server, org) = palm_court().await;
    let cista = &server.state.cista;
    cista
        .add_units_in_bulk(&voting::operator(), org, "P", 1_200, &|_| {})
        .await
        .unwrap();
    let ballot = open_ballot(cista, org, Secrecy::Secret, Duration::seconds(4)).await;
    let closes = SystemClock.now().plus(Duration::seconds(4));
    let total = cista
        .fill_ballot_box(&voting::operator(), org, ballot, &|_| {})
        .await
        .unwrap();
    assert!(total > 1_000 && total < 1_500, "{total}");
    server
        .clock
        .advance_to(closes.plus(Duration::milliseconds(300)));
    assert_eq!(
        cista.run_voting_work(&Actor::System).await.unwrap().closed,
        1
    );
    let public = server.browser();

    // The bundle: streamed, the second format, every ballot, verifies.
    let r = public
        .get(server.url(&format!("/e/{ballot}/bundle.json")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    let bytes = r.bytes().await.unwrap();
    let bundle: Bundle = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(bundle.format, BUNDLE_FORMAT);
    assert_eq!(bundle.ballots.len() as u64, total);
    assert!(!String::from_utf8_lossy(&bytes).contains("\"proofs\""));
    let verification = verify_bundle(&bundle, None);
    assert!(verification.ok(), "{verification:?}");

    // Downloads take turns a page at a time: while every reader's place is taken, a
    // download waits (a slow client holds no place), and once one is free it gets the
    // same bytes; every place is given back.
    let readers = server.state.bundle_readers().clone();
    let limit = cista_http::Limits::default().bundle_readers;
    assert_eq!(
        readers.available_permits(),
        limit,
        "no place kept by the download"
    );
    let held = readers
        .clone()
        .try_acquire_many_owned(limit as u32)
        .unwrap();
    let waiting = tokio::spawn({
        let (public, url) = (
            public.clone(),
            server.url(&format!("/e/{ballot}/bundle.json")),
        );
        async move { public.get(url).send().await.unwrap().bytes().await.unwrap() }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "a page was read with no place free");
    drop(held);
    assert_eq!(waiting.await.unwrap(), bytes);
    assert_eq!(readers.available_permits(), limit);

    // Page 1 of 3, then the last page, and a page past the end shows the last.
    let path = |query: &str| format!("/e/{ballot}/bulletin{query}");
    let rows = |html: &str| html.matches("<tr id=\"t-").count() as u64;
    let first = ok_page(&public, &server, &path("")).await;
    assert_eq!(rows(&first), 500);
    assert!(
        first.contains(&format!(
            "{total} ballots, in tracker order; this is page 1 of 3, ballots 1 to 500."
        )),
        "{first}"
    );
    assert!(first.contains(&format!(r#"href="/e/{ballot}/bulletin?page=2#ballots""#)));
    assert!(first.contains(&bundle.ballots[0].tracker.to_string()));
    let last = ok_page(&public, &server, &path("?page=3")).await;
    assert_eq!(rows(&last), total - 1_000);
    assert!(last.contains(&format!("ballots 1001 to {total}")), "{last}");
    assert!(last.contains(&bundle.ballots[total as usize - 1].tracker.to_string()));
    assert!(!last.contains(&bundle.ballots[0].tracker.to_string()));
    let past = ok_page(&public, &server, &path("?page=99")).await;
    assert_eq!(rows(&past), total - 1_000);

    // A lookup opens the page that holds the tracker, with it marked.
    let wanted = bundle.ballots[700].tracker.to_string();
    let found = ok_page(&public, &server, &path(&format!("?tracker={wanted}"))).await;
    assert!(
        found.contains(&format!(
            "Found: position 701 of {total}; its inclusion proof verifies"
        )),
        "{found}"
    );
    assert!(found.contains(&format!(r#"<tr id="t-{wanted}" class="found">"#)));
    assert!(found.contains("this is page 2 of 3"));

    // A page number that is not one is refused, not echoed.
    for bad in ["?page=0", "?page=two", "?page=-1", "?page=%3Cb%3E"] {
        let (status, html) = page(&public, &server, &path(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_clean(&html);
        assert!(!html.contains("<b>"), "{bad}");
    }
    server.stop().await;
}
