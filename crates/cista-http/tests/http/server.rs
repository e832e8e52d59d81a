//! Serving: HTTP/2 over TLS, the plain-HTTP listener that only redirects, graceful shutdown.

use crate::{Options, TestServer};

#[tokio::test]
async fn https_negotiates_http2() {
    let server = TestServer::start(Options::default()).await;
    let response = server
        .client()
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    server.stop().await;
}

#[tokio::test]
async fn plain_http_only_redirects_page_requests_and_serves_nothing_else() {
    let server = TestServer::start(Options {
        with_redirect: true,
        ..Options::default()
    })
    .await;
    let plain = server.redirect_addr.unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("http://{plain}");

    let page = client
        .get(format!("{base}/security?x=1"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 301);
    assert_eq!(
        page.headers()["location"].to_str().unwrap(),
        format!("{}/security?x=1", server.origin),
        "the redirect goes to the configured origin, never the Host header"
    );
    assert!(page.text().await.unwrap().is_empty());

    for (method, path) in [
        ("GET", "/api/v1/trust"),
        ("POST", "/"),
        ("GET", "/metrics"),
        ("PUT", "/x"),
    ] {
        let response = client
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{method} {path}");
        let body = response.text().await.unwrap();
        assert!(body.contains("https_required"), "{body}");
        assert!(!body.contains("report"), "no content over plain HTTP");
    }
    server.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_stops_accepting_connections() {
    let server = TestServer::start(Options::default()).await;
    let addr = server.addr;
    assert_eq!(
        server
            .client()
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    server.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
