//! The landing page: what Cista is, and a summary of this instance's security facts read live.

use super::templates::Fact;
use super::trust::{TrustView, facts};
use crate::AppState;
use crate::error::AppError;
use crate::tls::ConnectionTls;
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::Html;
use cista_core::Error;
use std::sync::Arc;

#[derive(Template)]
#[template(path = "landing.html")]
struct Landing<'a> {
    chrome: super::chrome::Chrome,
    facts: Vec<Fact>,
    demo_organization: Option<&'a str>,
}

pub async fn page(
    State(state): State<AppState>,
    Extension(ctx): Extension<crate::web::context::RequestContext>,
    connection: Option<Extension<Arc<ConnectionTls>>>,
) -> Result<Html<String>, AppError> {
    let view = TrustView::gather(&state, connection.map(|c| c.0), &ctx.actor()).await?;
    let page = Landing {
        chrome: super::chrome::Chrome::new(&ctx, &state),
        facts: facts(&view),
        demo_organization: state.demo.as_ref().map(|d| d.organization.as_str()),
    };
    Ok(Html(
        page.render().map_err(|e| Error::Internal(e.to_string()))?,
    ))
}
