//! The demo's stand-in for an advisory firm's own web site (issue 12, "Demo"): a page on an
//! origin of its own that embeds the firm's assessment with the two-line snippet. The demo
//! serves it twice: on a site the form lists (the widget appears and works) and on one it
//! does not (the browser refuses the frame, and the page's button shows Cista refusing a
//! direct call). Nothing here is Cista's: no cookie, no data, a page and its script.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// One of the demo firm's sites.
#[derive(Debug, Clone)]
pub struct FirmSite {
    /// Cista's origin, where the loader and the widget come from.
    pub cista_origin: String,
    /// `ORG/FORM`, as the snippet names it.
    pub form: String,
    /// Whether the form lists this site (the page says what to expect).
    pub listed: bool,
}

#[derive(Debug, Template)]
#[template(path = "demo_site/page.html")]
struct Page<'a> {
    site: &'a FirmSite,
}

/// The page's one script: a button that calls Cista's embed API straight from this page.
const TRY_SCRIPT: &str = r#"(function () {
  "use strict";
  var button = document.getElementById("try");
  var out = document.getElementById("answer");
  if (!button || !out) return;
  button.addEventListener("click", function () {
    var url = button.getAttribute("data-url");
    out.textContent = "Calling " + url + " …";
    fetch(url, { mode: "cors" }).then(function (r) {
      return r.text().then(function (t) { out.textContent = r.status + " " + t; });
    }, function () {
      out.textContent = "Refused: Cista answered without allowing this site (no CORS header), " +
        "so the browser kept the answer from this page.";
    });
  });
})();
"#;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1b2a36;background:#f4f1ea}\
header{background:#0f3d3e;color:#fff;padding:1rem 1.25rem}header p{margin:.25rem 0 0;opacity:.85}\
main{max-width:46rem;margin:0 auto;padding:1rem 1.25rem 3rem}\
.widget{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.15);margin:1rem 0}\
aside{border-left:6px solid #b3261e;background:#fff;padding:.5rem 1rem;margin:1rem 0}\
pre{white-space:pre-wrap;overflow-wrap:anywhere}button{font:inherit;padding:.4rem .8rem}";

async fn page(State(site): State<Arc<FirmSite>>) -> Response {
    let html = Page { site: &site }.render().unwrap_or_default();
    let mut response = Html(html).into_response();
    let csp = format!(
        "default-src 'none'; script-src 'self' {cista}; style-src 'self'; frame-src {cista}; \
         connect-src {cista}; img-src 'self'; base-uri 'none'; form-action 'none'",
        cista = site.cista_origin
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Serves `site` on `listener` with `tls` until `shutdown`.
pub async fn serve(
    listener: std::net::TcpListener,
    tls: &crate::TlsSettings,
    site: FirmSite,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/", get(page))
        .route(
            "/site.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route(
            "/try.js",
            get(|| async { asset("text/javascript; charset=utf-8", TRY_SCRIPT) }),
        )
        .with_state(Arc::new(site));
    listener.set_nonblocking(true)?;
    let handle = axum_server::Handle::new();
    // As the main server's (`tls::DetailedTlsAcceptor`): each write is sent at once.
    let server = axum_server::from_tcp_rustls(listener, tls.rustls_config())?
        .map(|tls| tls.acceptor(axum_server::accept::NoDelayAcceptor::new()))
        .handle(handle.clone());
    tokio::spawn(async move {
        shutdown.await;
        handle.graceful_shutdown(Some(Duration::from_secs(2)));
    });
    server.serve(app.into_make_service()).await
}
