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

/// A body announced over the limit is refused before it is sent: a client that asks
/// `Expect: 100-continue` (curl does above 1 MiB) gets the `413` as its first answer, not a
/// `100 Continue` followed by a connection closed under its upload, which can lose the `413`.
/// A body within the limit still gets its `100 Continue`.
#[tokio::test]
async fn a_body_announced_too_large_is_refused_before_it_is_sent() {
    let server = TestServer::start(Options::default()).await;
    for (path, content_type) in [
        ("/sign-in", "application/x-www-form-urlencoded"),
        ("/api/v1/devices/pair", "application/json"),
    ] {
        let over = first_answer(&server, path, content_type, 64 * 1024 * 1024).await;
        assert!(over.starts_with("HTTP/1.1 413"), "{path}: {over}");
        assert!(over.contains("payload_too_large"), "{path}: {over}");
        let within = first_answer(&server, path, content_type, 1024).await;
        assert!(within.starts_with("HTTP/1.1 100"), "{path}: {within}");
    }
    server.stop().await;
}

/// What the server answers first to a POST over HTTP/1.1 that announces `length` bytes with
/// `Expect: 100-continue` and sends none of them (read for at most 10 seconds).
async fn first_answer(server: &TestServer, path: &str, content_type: &str, length: u64) -> String {
    use rustls::pki_types::pem::PemObject as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(server.ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nOrigin: {}\r\nAccept: application/json\r\n\
         Content-Type: {content_type}\r\nContent-Length: {length}\r\nExpect: 100-continue\r\n\r\n",
        server.origin
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    // The first bytes within 10 s, then whatever follows them within half a second (a body
    // may come in a TLS record of its own; after a `100`, the server waits for ours).
    let mut answer = Vec::new();
    let mut wait = std::time::Duration::from_secs(10);
    loop {
        let mut chunk = vec![0u8; 4096];
        match tokio::time::timeout(wait, tls.read(&mut chunk)).await {
            Ok(Ok(read)) if read > 0 => {
                answer.extend_from_slice(chunk.get(..read).unwrap_or_default())
            }
            _ => break,
        }
        wait = std::time::Duration::from_millis(500);
    }
    String::from_utf8_lossy(&answer).into_owned()
}
