//! Responsible disclosure and third parties, the trust page's two companions (issue 14, items
//! 1 and 3): `/.well-known/security.txt` (RFC 9116) from the `[disclosure]` configuration, the
//! `/security/disclosure` policy page it points to, and `/security/third-parties`, every
//! external service this running instance sends data to.

use crate::AppState;
use crate::error::AppError;
use crate::trust::{DisclosureLine, ThirdPartyLine, TrustView};
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use cista_core::Error;

/// `GET /.well-known/security.txt`: the file while it is valid; 404 `not_found` when no
/// contact is configured or its Expires has passed (a stale file must not be used).
pub async fn security_txt(State(state): State<AppState>) -> Result<Response, AppError> {
    let now = state.cista.clock().now();
    match &state.disclosure {
        Some(txt) if !txt.expired(now) => Ok((
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "max-age=3600"),
            ],
            txt.render(),
        )
            .into_response()),
        _ => Err(Error::NotFound {
            what: "security.txt",
        }
        .into()),
    }
}

#[derive(Template)]
#[template(path = "disclosure.html")]
struct DisclosurePage {
    chrome: super::chrome::Chrome,
    disclosure: DisclosureLine,
    encryption: Option<String>,
}

/// `GET /security/disclosure`: how to report a vulnerability, what is in scope, how fast we
/// answer; the contacts are security.txt's.
pub async fn policy(
    State(state): State<AppState>,
    Extension(ctx): Extension<crate::web::context::RequestContext>,
) -> Result<Html<String>, AppError> {
    let now = state.cista.clock().now();
    html(&DisclosurePage {
        chrome: super::chrome::Chrome::new(&ctx, &state),
        disclosure: DisclosureLine::of(state.disclosure.as_ref(), now),
        encryption: state.disclosure.as_ref().and_then(|d| d.encryption.clone()),
    })
}

#[derive(Template)]
#[template(path = "third_parties.html")]
struct ThirdPartiesPage {
    chrome: super::chrome::Chrome,
    parties: Vec<ThirdPartyLine>,
    staff: bool,
}

/// `GET /security/third-parties`: every external service that receives data, read from the
/// running configuration and the webhook receivers organizations set.
pub async fn third_parties(
    State(state): State<AppState>,
    Extension(ctx): Extension<crate::web::context::RequestContext>,
) -> Result<Html<String>, AppError> {
    let view = TrustView::gather(&state, None, &ctx.actor()).await?;
    html(&ThirdPartiesPage {
        chrome: super::chrome::Chrome::new(&ctx, &state),
        staff: view.report.details,
        parties: view.third_parties,
    })
}

fn html(page: &impl Template) -> Result<Html<String>, AppError> {
    page.render()
        .map(Html)
        .map_err(|e| AppError(Error::Internal(e.to_string())))
}
