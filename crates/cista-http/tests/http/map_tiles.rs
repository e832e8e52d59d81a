//! Map tiles under the records map: off by default (the grid only, images from this site only,
//! no provider on the trust page); with a tile server configured, the map page carries the
//! vendored Leaflet, the tile template and the points, its Content Security Policy allows images
//! from that one origin (and no other page's does), and the trust page lists the provider.

use crate::people::{active, org};
use crate::web::{page, sign_in};
use crate::{Options, TestServer};
use cista_core::Actor;
use cista_core::platform::intake::FormProduct;
use cista_http::MapTiles;
use cista_types::Role;
use reqwest::StatusCode;

async fn a_server_with_a_record(options: Options) -> (TestServer, reqwest::Client) {
    let server = TestServer::start(options).await;
    let cista = server.state.cista.clone();
    let org = org(&cista, "river-watch").await;
    active(&cista, org, "rex@river.example", Role::Reviewer).await;
    let operator = Actor::operator("test");
    let form = cista
        .publish_form(
            &operator,
            org,
            FormProduct::Collection,
            "wells",
            &cista_testkit::fixtures::record_form("Wells"),
        )
        .await
        .unwrap();
    let answers = serde_json::json!({
        "where": { "latitude": 45.5152, "longitude": -122.671, "accuracy_m": 6 }
    });
    cista
        .submit(&operator, org, form.id, "m-1", &answers)
        .await
        .unwrap();
    let reviewer = sign_in(&server, "rex@river.example").await;
    (server, reviewer)
}

async fn csp_of(browser: &reqwest::Client, server: &TestServer, path: &str) -> String {
    let r = browser.get(server.url(path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn without_a_tile_server_the_map_is_a_grid_and_no_provider_is_listed() {
    let (server, reviewer) = a_server_with_a_record(Options::default()).await;
    let (_, map) = page(&reviewer, &server, "/admin/river-watch/records/map").await;
    assert!(map.contains("No map tiles are configured"), "{map}");
    assert!(!map.contains("leaflet"), "{map}");
    let csp = csp_of(&reviewer, &server, "/admin/river-watch/records/map").await;
    assert!(csp.contains("img-src 'self' data:;"), "{csp}");
    let (_, trust) = page(&reviewer, &server, "/security").await;
    assert!(!trust.contains("Map tiles"), "{trust}");
}

#[tokio::test]
async fn a_configured_tile_server_is_drawn_allowed_and_listed() {
    let tiles = MapTiles::parse(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "© OpenStreetMap contributors",
    )
    .unwrap();
    let options = Options {
        map_tiles: Some(tiles),
        ..Options::default()
    };
    let (server, reviewer) = a_server_with_a_record(options).await;
    let (_, map) = page(&reviewer, &server, "/admin/river-watch/records/map").await;
    assert!(map.contains(r#"id="tile-map""#), "{map}");
    assert!(map.contains("/static/vendor/leaflet/leaflet.js"), "{map}");
    assert!(
        map.contains("https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
        "{map}"
    );
    assert!(
        map.contains("45.5152"),
        "the point goes to the page's script: {map}"
    );
    assert!(map.contains("<circle"), "the grid stays below: {map}");
    let csp = csp_of(&reviewer, &server, "/admin/river-watch/records/map").await;
    assert!(
        csp.contains("img-src 'self' data: https://tile.openstreetmap.org;"),
        "{csp}"
    );
    assert!(
        csp.contains("script-src 'nonce-"),
        "still no inline script: {csp}"
    );
    let other = csp_of(&reviewer, &server, "/admin/river-watch/records").await;
    assert!(
        !other.contains("openstreetmap"),
        "only the map page: {other}"
    );
    for asset in [
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/leaflet/leaflet.css",
        "/static/records_map.js",
    ] {
        let r = reviewer.get(server.url(asset)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
    }
    let (_, trust) = page(&reviewer, &server, "/security").await;
    assert!(trust.contains("Map tiles"), "{trust}");
    assert!(trust.contains("https://tile.openstreetmap.org"), "{trust}");
}
