//! Reading a request's body within a limit. A body whose `Content-Length` (RFC 9110 §8.6)
//! already says it is over the limit is refused before a byte is read: no `100 Continue` goes
//! out (RFC 9110 §10.1.1), so a client that waits for one (curl does above 1 MiB) hears the
//! `413` before it sends the body, instead of having the connection closed under it part way
//! through, which can lose the answer (a TCP reset discards what the client had not read yet).

use axum::body::{Body, Bytes, to_bytes};
use axum::http::{HeaderMap, header};
use cista_core::Error;

/// Whether the request announces a body of more than `limit` bytes. A `Content-Length` that
/// does not parse announces nothing here (hyper refuses such a request before any handler).
pub(crate) fn announced_over(headers: &HeaderMap, limit: u64) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > limit)
}

/// The whole body, at most `limit` bytes.
///
/// # Errors
/// `PayloadTooLarge` when `Content-Length` announces more than `limit` (nothing read), or
/// when more than `limit` bytes arrive (a body sent in chunks) or the body cannot be read.
pub(crate) async fn read_within(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, Error> {
    let too_large = Error::PayloadTooLarge { limit_bytes: limit };
    if announced_over(headers, u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(too_large);
    }
    to_bytes(body, limit).await.map_err(|_| too_large)
}
