//! Per-address rate limits for the sign-in family of forms (an in-memory token bucket per IP;
//! the per-account lockout lives in the core, in the database), and a response-time floor so
//! that "known address" and "unknown address" take the same time.

use crate::AppState;
use crate::error::error_response;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use cista_core::Error;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Limits for the authentication forms.
#[derive(Debug, Clone)]
pub struct AuthLimits {
    /// Form submissions per minute from one address (with the same burst).
    pub per_minute: u32,
    /// Minimum time an enumeration-sensitive answer takes.
    pub response_floor: Duration,
}

impl Default for AuthLimits {
    fn default() -> Self {
        Self {
            per_minute: 30,
            response_floor: Duration::from_millis(400),
        }
    }
}

pub struct AuthLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    pub settings: AuthLimits,
}

impl std::fmt::Debug for AuthLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthLimiter({:?})", self.settings)
    }
}

impl AuthLimiter {
    pub fn new(settings: AuthLimits) -> Arc<Self> {
        let per_minute = NonZeroU32::new(settings.per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Arc::new(Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            settings,
        })
    }
}

/// Refuses POSTs beyond the per-address quota with 429 `rate_limited`.
pub async fn limit_auth_posts(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    // An IPv6 client is its /64, which it could otherwise rotate through.
    let ip = cista_core::platform::access::requesters::requester_network(ip);
    let limiter = &state.auth_limiter.limiter;
    if let Err(not_until) = limiter.check_key(&ip) {
        metrics::counter!("cista_rate_limited_total").increment(1);
        // Until this address's bucket holds a token again, in whole seconds rounded up.
        let wait = not_until.wait_time_from(governor::clock::Clock::now(limiter.clock()));
        return error_response(&Error::RateLimited {
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        });
    }
    next.run(req).await
}

/// Runs `work` and answers no sooner than `floor` after it began, so answers take the same time
/// whatever the path taken (known or unknown address, sent or not sent, right or wrong password).
pub async fn at_response_floor<T>(
    floor: Duration,
    work: impl std::future::Future<Output = T>,
) -> T {
    let started = Instant::now();
    let result = work.await;
    let spent = started.elapsed();
    if spent < floor {
        tokio::time::sleep(floor - spent).await;
    }
    result
}
