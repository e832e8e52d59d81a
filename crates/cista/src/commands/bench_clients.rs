//! The benchmarks' browsers: owners signed in through the sign-in form over HTTPS, each with
//! their own cookies and CSRF token, sending their requests through a few shared clients (as
//! a few connections serve many browsers behind a proxy), so the load generator's own memory
//! and handshakes stay small next to the server's.

use super::bench::PASSWORD;
use super::bench_cpu::{CpuMeter, CpuUse};
use crate::runtime::Failure;
use std::sync::Arc;
use tokio::sync::Semaphore;

fn csrf_in(html: &str) -> Option<String> {
    let marker = r#"name="csrf" value=""#;
    let start = html.find(marker)? + marker.len();
    html.get(start..)?.split('"').next().map(str::to_owned)
}

/// A signed-in owner: their index, the client their requests go through (shared with other
/// owners, as a few connections serve many browsers), their cookies and their session's CSRF
/// token.
#[derive(Clone)]
pub(crate) struct Browser {
    pub index: usize,
    client: reqwest::Client,
    cookies: CookieJar,
    pub csrf: String,
}

impl Browser {
    /// A POST with this browser's cookies.
    pub(crate) fn post(&self, url: String) -> reqwest::RequestBuilder {
        self.client
            .post(url)
            .header(reqwest::header::COOKIE, self.cookies.header())
    }
}

/// One browser's cookies, kept by hand: the clients are shared, so none keeps a jar.
#[derive(Clone, Default)]
struct CookieJar(Vec<(String, String)>);

impl CookieJar {
    /// Takes the `Set-Cookie` headers of `response` (a cookie set to nothing is removed).
    fn take(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let Some((name, value)) = set
                .to_str()
                .ok()
                .and_then(|s| s.split(';').next())
                .and_then(|pair| pair.split_once('='))
            else {
                continue;
            };
            self.0.retain(|(n, _)| n != name.trim());
            if !value.is_empty() {
                self.0.push((name.trim().to_owned(), value.to_owned()));
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// `count` HTTPS clients trusting `ca` and reaching `localhost` at `addr`, without redirects
/// or cookie jars.
fn clients(
    addr: std::net::SocketAddr,
    ca: &reqwest::Certificate,
    count: usize,
) -> Result<Vec<reqwest::Client>, Failure> {
    (0..count.max(1))
        .map(|_| {
            reqwest::Client::builder()
                .tls_certs_only([ca.clone()])
                .resolve("localhost", addr)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| Failure(e.to_string()))
        })
        .collect()
}

/// Signs every owner in through the sign-in form, `concurrency` at a time, over as many
/// clients.
pub(crate) async fn sign_in_all(
    origin: &str,
    addr: std::net::SocketAddr,
    ca: &reqwest::Certificate,
    voters: usize,
    concurrency: usize,
) -> Result<Vec<Browser>, Failure> {
    let clients = clients(addr, ca, concurrency)?;
    let mut sessions = tokio::task::JoinSet::new();
    let gate = Arc::new(Semaphore::new(concurrency));
    for i in 0..voters {
        let client = clients
            .get(i % clients.len())
            .cloned()
            .ok_or_else(|| Failure("no client".to_owned()))?;
        let (origin, gate) = (origin.to_owned(), gate.clone());
        sessions.spawn(async move {
            let _permit = gate.acquire().await;
            sign_in(client, &origin, i).await
        });
    }
    let mut browsers = Vec::with_capacity(voters);
    while let Some(done) = sessions.join_next().await {
        browsers.push(done.map_err(|e| Failure(e.to_string()))?.map_err(Failure)?);
    }
    browsers.sort_by_key(|b| b.index);

    Ok(browsers)
}

/// Signs owner `i` in: the sign-in page, the form, then `/me` for the session's CSRF token.
async fn sign_in(client: reqwest::Client, origin: &str, i: usize) -> Result<Browser, String> {
    let mut cookies = CookieJar::default();
    let page = client
        .get(format!("{origin}/sign-in"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    cookies.take(&page);
    let page = page.text().await.map_err(|e| e.to_string())?;
    let email = format!("voter{i}@bench.example");
    let csrf = csrf_in(&page).ok_or("no CSRF token on the sign-in page")?;
    let signed = client
        .post(format!("{origin}/sign-in"))
        .header("origin", origin)
        .header(reqwest::header::COOKIE, cookies.header())
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", &email),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if signed.status() != 303 {
        return Err(format!("sign-in of {email}: {}", signed.status()));
    }
    cookies.take(&signed);
    let me = client
        .get(format!("{origin}/me"))
        .header(reqwest::header::COOKIE, cookies.header())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    cookies.take(&me);
    let me = me.text().await.map_err(|e| e.to_string())?;
    let csrf = csrf_in(&me).ok_or("no CSRF token on /me")?;
    Ok(Browser {
        index: i,
        client,
        cookies,
        csrf,
    })
}

/// What the HTTPS stack alone allows on this machine, measured through the browsers' shared
/// clients right after their casts: requests per second of `GET /healthz` (reads nothing) and
/// of `GET /readyz` (one database round trip, the store's ping), `concurrency` at a time.
/// A cast can go no faster than the first; the gap between the two is what one round trip
/// costs at this concurrency. With the processor time each endpoint's requests took.
pub(crate) struct HttpsFloor {
    pub healthz: f64,
    pub readyz: f64,
    pub healthz_cpu: Option<CpuUse>,
    pub readyz_cpu: Option<CpuUse>,
    /// Requests sent to each endpoint.
    pub count: usize,
}

impl HttpsFloor {
    /// Sends `count` requests to each endpoint in turn. Errors: any answer but 200.
    pub(crate) async fn measure(
        origin: &str,
        browsers: &[Browser],
        count: usize,
        concurrency: usize,
    ) -> Result<Self, Failure> {
        let meter = CpuMeter::start();
        let healthz = request_rate(origin, browsers, "/healthz", count, concurrency).await?;
        let healthz_cpu = meter.stop();
        let meter = CpuMeter::start();
        let readyz = request_rate(origin, browsers, "/readyz", count, concurrency).await?;
        Ok(Self {
            healthz,
            readyz,
            healthz_cpu,
            readyz_cpu: meter.stop(),
            count,
        })
    }
}

/// Requests per second of `count` GETs of `path`, `concurrency` at a time, each through the
/// next browser's client with its cookies (as a cast is sent).
async fn request_rate(
    origin: &str,
    browsers: &[Browser],
    path: &str,
    count: usize,
    concurrency: usize,
) -> Result<f64, Failure> {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut requests = tokio::task::JoinSet::new();
    let started = std::time::Instant::now();
    for i in 0..count {
        let browser = browsers
            .get(i % browsers.len().max(1))
            .cloned()
            .ok_or_else(|| Failure("no browsers to send requests through".to_owned()))?;
        let (url, gate) = (format!("{origin}{path}"), gate.clone());
        requests.spawn(async move {
            let _permit = gate.acquire().await;
            let r = browser
                .client
                .get(&url)
                .header(reqwest::header::COOKIE, browser.cookies.header())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = r.status();
            let _ = r.bytes().await;
            if status != 200 {
                return Err(format!("GET {url} answered {status}"));
            }
            Ok::<_, String>(())
        });
    }
    while let Some(done) = requests.join_next().await {
        done.map_err(|e| Failure(e.to_string()))?.map_err(Failure)?;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64().max(f64::EPSILON))
}
