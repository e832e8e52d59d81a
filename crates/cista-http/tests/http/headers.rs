//! Security headers on every response; no inline script or style in any page.

use crate::{Options, TestServer};

const PATHS: [&str; 7] = [
    "/",
    "/security",
    "/api/v1/trust",
    "/healthz",
    "/readyz",
    "/does-not-exist",
    "/static/app.css",
];

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let server = TestServer::start(Options::default()).await;
    let client = server.client();
    for path in PATHS {
        let response = client.get(server.url(path)).send().await.unwrap();
        let h = response.headers();
        let get = |name: &str| {
            h.get(name)
                .unwrap_or_else(|| panic!("{path}: no {name}"))
                .to_str()
                .unwrap()
                .to_owned()
        };
        let hsts = get("strict-transport-security");
        let max_age: u64 = hsts
            .split(';')
            .find_map(|p| p.trim().strip_prefix("max-age="))
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            max_age >= 31_536_000,
            "{path}: HSTS max-age {max_age} is under a year"
        );
        let csp = get("content-security-policy");
        assert!(csp.contains("script-src 'nonce-"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{path}: {csp}"
        );
        assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(get("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(get("x-frame-options"), "DENY", "{path}");
        // "0", as OWASP recommends: the old browsers' XSS auditor is itself exploitable.
        assert_eq!(get("x-xss-protection"), "0", "{path}");
        let cache = get("cache-control");
        if path.starts_with("/static/") {
            assert!(cache.starts_with("public"), "{path}: {cache}");
        } else {
            assert_eq!(cache, "no-store", "{path}");
        }
        assert_eq!(get("x-request-id").len(), 24, "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn refusals_carry_the_security_headers_too() {
    // Answers made before any handler runs (the CSRF check, an unknown method) are pages a
    // browser renders like any other, so they need the same headers.
    let server = TestServer::start(Options::default()).await;
    let client = server.client();
    let forged = client
        .post(server.url("/sign-in"))
        .header("origin", "https://attacker.example")
        .form(&[("email", "a@example.org"), ("password", "x")])
        .send()
        .await
        .unwrap();
    let wrong_method = client.get(server.url("/sign-out")).send().await.unwrap();
    for (what, response, status) in [
        ("forged POST", forged, 403),
        ("GET of a POST-only route", wrong_method, 405),
    ] {
        assert_eq!(response.status(), status, "{what}");
        let h = response.headers();
        for (name, value) in [
            ("x-xss-protection", "0"),
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
        ] {
            assert_eq!(
                h.get(name).unwrap().to_str().unwrap(),
                value,
                "{what}: {name}"
            );
        }
        assert!(h.contains_key("content-security-policy"), "{what}");
        assert!(h.contains_key("strict-transport-security"), "{what}");
    }
    server.stop().await;
}

#[tokio::test]
async fn csp_nonces_and_request_ids_are_fresh_for_every_response() {
    let server = TestServer::start(Options::default()).await;
    let client = server.client();
    let mut nonces = std::collections::HashSet::new();
    let mut ids = std::collections::HashSet::new();
    for _ in 0..10 {
        let response = client
            .get(server.url("/"))
            .header("x-request-id", "client-chosen-id")
            .send()
            .await
            .unwrap();
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap();
        assert!(nonce.len() >= 22, "a nonce carries at least 128 bits");
        nonces.insert(nonce.to_owned());
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_ne!(
            id, "client-chosen-id",
            "the request id is ours, never the client's"
        );
        ids.insert(id);
    }
    assert_eq!(nonces.len(), 10);
    assert_eq!(ids.len(), 10);
    server.stop().await;
}

#[tokio::test]
async fn pages_hold_no_inline_script_style_or_event_handlers() {
    let server = TestServer::start(Options::default()).await;
    let client = server.client();
    for path in ["/", "/security", "/does-not-exist"] {
        let body = client
            .get(server.url(path))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .to_ascii_lowercase();
        assert!(body.starts_with("<!doctype html>"), "{path}");
        // The one script is external, with the response's nonce: never inline code.
        for (at, _) in body.match_indices("<script") {
            let element = &body[at..body[at..].find("</script>").map_or(body.len(), |e| at + e)];
            let open_tag = element.split('>').next().unwrap_or("");
            assert!(
                open_tag.contains(" src=\"/static/") && open_tag.contains(" nonce="),
                "{path}: inline or foreign script: {open_tag}"
            );
            assert!(
                element.ends_with('>'),
                "{path}: inline script code: {element}"
            );
        }
        assert!(!body.contains("<style"), "{path}: inline style element");
        assert!(!body.contains(" style="), "{path}: style attribute");
        for handler in [" onclick=", " onload=", " onerror=", "javascript:"] {
            assert!(!body.contains(handler), "{path}: {handler}");
        }
        assert!(body.contains("<html lang=\"en\">"), "{path}");
    }
    server.stop().await;
}
