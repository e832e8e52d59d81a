//! Extractors of the web surface, which replace hand-written gates at the top of handlers:
//! `SignedIn` is the person of a live session. A page (GET) asked for without one sends the
//! browser where it must go first (sign-in, or the second factor), with the page as `next`;
//! a form post without one is refused with a code (`unauthenticated`,
//! `second_factor_required`), since a redirect would drop what was posted. Role checks stay
//! in the core, which every handler calls with `actor`.

use crate::AppState;
use crate::error::AppError;
use crate::web::context::RequestContext;
use crate::web::pages::chrome::{person_or_redirect, person_or_refuse, see_other};
use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use cista_core::platform::access::sessions::ResolvedSession;
use cista_core::{Actor, Error};

/// The signed-in person of this request (a full or an SMS session).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub actor: Actor,
    pub session: ResolvedSession,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Response> {
        let Some(ctx) = parts.extensions.get::<RequestContext>() else {
            return Err(AppError(Error::Internal(
                "the web surface's context layer did not run".to_owned(),
            ))
            .into_response());
        };
        let found = if matches!(parts.method, Method::GET | Method::HEAD) {
            person_or_redirect(ctx).map_err(|to| see_other(&to))
        } else {
            person_or_refuse(ctx).map_err(IntoResponse::into_response)
        };
        found.map(|(actor, session)| Self {
            actor,
            session: session.clone(),
        })
    }
}
