//! The embed surface's rate limits: an in-memory token bucket per client address and one per
//! form (organization and form key), so one address cannot flood a form and many addresses
//! together cannot flood one form's advisors and audit log. A request over either is `429
//! rate_limited` with `Retry-After`, counted in `cista_embed_refused_total{reason=…}`.

use crate::error::error_response;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use cista_core::Error;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

/// How many widget requests (loads, submissions, preflights) a minute are allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedLimits {
    /// From one client address (with the same burst).
    pub per_address_per_minute: u32,
    /// To one form, from everyone together.
    pub per_form_per_minute: u32,
}

impl Default for EmbedLimits {
    fn default() -> Self {
        Self {
            per_address_per_minute: 60,
            per_form_per_minute: 1200,
        }
    }
}

pub struct EmbedLimiter {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    per_form: DefaultKeyedRateLimiter<String>,
}

impl std::fmt::Debug for EmbedLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmbedLimiter")
    }
}

impl EmbedLimiter {
    pub fn new(limits: EmbedLimits) -> Arc<Self> {
        let quota =
            |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        Arc::new(Self {
            per_address: RateLimiter::keyed(quota(limits.per_address_per_minute)),
            per_form: RateLimiter::keyed(quota(limits.per_form_per_minute)),
        })
    }
}

/// The form a path names (`/w/{org}/{form}`, `/embed/v1/{org}/{form}…`), as one key.
fn form_key(path: &str) -> Option<String> {
    let rest = path
        .strip_prefix("/w/")
        .or_else(|| path.strip_prefix("/embed/v1/"))?;
    let mut parts = rest.split('/');
    let (org, form) = (parts.next()?, parts.next()?);
    Some(format!("{org}/{form}"))
}

/// Refuses a request over its address's or its form's budget with `429 rate_limited`.
pub async fn limit(State(limiter): State<Arc<EmbedLimiter>>, req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    // An IPv6 client is its /64, which it could otherwise rotate through.
    let ip = cista_core::platform::access::requesters::requester_network(ip);
    let refused = match limiter.per_address.check_key(&ip) {
        Err(not_until) => Some(("address", not_until)),
        Ok(()) => match form_key(req.uri().path()) {
            Some(key) => limiter.per_form.check_key(&key).err().map(|n| ("form", n)),
            None => None,
        },
    };
    if let Some((reason, not_until)) = refused {
        metrics::counter!("cista_embed_refused_total", "reason" => format!("rate_limited_{reason}"))
            .increment(1);
        let now = governor::clock::Clock::now(limiter.per_address.clock());
        let wait = not_until.wait_time_from(now);
        return error_response(&Error::RateLimited {
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        });
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_is_read_from_either_path() {
        assert_eq!(form_key("/w/harbor/risk").as_deref(), Some("harbor/risk"));
        assert_eq!(
            form_key("/embed/v1/harbor/risk/submissions").as_deref(),
            Some("harbor/risk")
        );
        assert_eq!(form_key("/widget.js"), None);
    }
}
