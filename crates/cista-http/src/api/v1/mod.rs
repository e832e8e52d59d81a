//! Version 1 of the JSON API, and its OpenAPI 3.1 document, generated from the same route
//! registrations (`utoipa_axum::routes!`), so the document cannot list a route that is not
//! served or miss one that is. Served at `/api/v1/openapi.json`.

pub mod ballots;
pub mod collect;
pub mod intake;
pub mod token;
pub mod trust;

use crate::AppState;
use axum::Json;
use axum::Router;
use axum::routing::get;
use std::sync::{Arc, OnceLock};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Server};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The name of the bearer security scheme in the document.
pub const APP_TOKEN: &str = "app_token";
/// The name of the collectors' device token scheme in the document.
pub const DEVICE_TOKEN: &str = "device_token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cista API",
        description = "Cista's JSON API. Calls other than `/trust`, `/openapi.json` and \
                       `/devices/pair` need an app token (`Authorization: Bearer cista_…`), \
                       which staff create for one organization and one purpose, or, for field \
                       data collection, a collector's device token (`Bearer cista_dt_…`). \
                       Errors are `{\"error\": {\"code\", \
                       \"message\", \"field\"?, \"request_id\"}}` with a stable code.",
        license(name = "AGPL-3.0-only", identifier = "AGPL-3.0-only")
    ),
    components(schemas(crate::error::JsonError, crate::error::JsonErrorBody)),
    modifiers(&Security)
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        doc.servers = Some(vec![Server::new("/api/v1")]);
        let components = doc.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some(
            "An app token: `cista_` and 43 base64url characters, created by staff on the \
             organization's App tokens page or with `cista app-token create`."
                .to_owned(),
        );
        components.add_security_scheme(APP_TOKEN, SecurityScheme::Http(http));
        let mut device = Http::new(HttpAuthScheme::Bearer);
        device.description = Some(
            "A collector's device token: `cista_dt_` and 43 base64url characters, from \
             `POST /devices/pair` with the pairing code of a QR code. It acts as its collector, \
             for records only, until it expires (30 days unless staff chose otherwise) or is \
             revoked."
                .to_owned(),
        );
        components.add_security_scheme(DEVICE_TOKEN, SecurityScheme::Http(device));
    }
}

/// The routes and the document they describe.
fn parts() -> (Router<AppState>, Document) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(trust::trust))
        .routes(routes!(token::token))
        .routes(routes!(ballots::list))
        .routes(routes!(ballots::results))
        .routes(routes!(intake::submit))
        .routes(routes!(intake::upload))
        .routes(routes!(collect::pair))
        .routes(routes!(collect::device))
        .routes(routes!(collect::forms))
        .routes(routes!(collect::form))
        .routes(routes!(collect::status))
        .split_for_parts()
}

/// The OpenAPI document of version 1, built once.
pub fn document() -> Arc<Document> {
    static DOCUMENT: OnceLock<Arc<Document>> = OnceLock::new();
    DOCUMENT.get_or_init(|| Arc::new(parts().1)).clone()
}

/// Version 1's routes, to be nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    parts()
        .0
        .route("/openapi.json", get(|| async { Json(document()) }))
}
