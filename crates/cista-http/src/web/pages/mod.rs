//! The web surface's pages, by area. Handlers stay short: extract, call one core function,
//! render.

pub mod account;
pub mod admin;
pub mod app_tokens;
pub mod assessments;
pub mod assets;
pub mod auth;
pub mod ballots;
pub mod breaches;
pub mod bulletin;
pub mod chrome;
pub mod collect;
pub mod demo;
pub mod devices;
pub mod disclosure;
pub mod invitations;
pub mod landing;
pub mod my_data;
pub mod names;
pub(crate) mod pager;
pub mod record_forms;
pub mod records;
pub mod records_export;
pub mod records_map;
pub mod templates;
pub mod trust;
pub mod units;
pub mod vote;
pub mod webhooks;

use crate::AppState;
use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

/// The forms anyone can submit: rate-limited per address.
fn public_forms(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/sign-in",
            get(auth::sign_in_page).post(auth::sign_in_submit),
        )
        .route(
            "/i/{token}",
            get(auth::invitation_link).post(auth::invitation_submit),
        )
        .route("/j/{token}", get(auth::join_link).post(auth::join_submit))
        .route("/j/{token}/accept", post(auth::join_accept))
        .route("/r/{token}", get(auth::reset_link).post(auth::reset_submit))
        .route(
            "/reset",
            get(auth::reset_request_page).post(auth::reset_request_submit),
        )
        .route(
            "/invitation",
            get(auth::resend_request_page).post(auth::resend_request_submit),
        )
        .route(
            "/sms",
            get(auth::sms_request_page).post(auth::sms_request_submit),
        )
        .route(
            "/sms/verify",
            get(auth::sms_verify_page).post(auth::sms_verify_submit),
        )
        .route("/mfa", get(auth::mfa_page).post(auth::mfa_submit))
        .route(
            "/mfa/enrol",
            get(auth::mfa_enrol_page).post(auth::mfa_enrol_submit),
        )
        .route("/mfa/recovery-codes", get(auth::recovery_codes_page))
        // Anyone may practise there, and each practice is an audit entry: without a limit,
        // a script could grow the audit log (kept for a year at least) without end.
        .route(
            "/vote/test-device",
            get(vote::device::page).post(vote::device::submit),
        )
        .route("/reset/sent", get(auth::reset_sent))
        .route("/invitation/sent", get(auth::resend_sent))
        .route("/joined", get(auth::joined))
        .route_layer(from_fn_with_state(
            state.clone(),
            crate::web::limits::limit_auth_posts,
        ))
}

pub fn routes(state: &AppState) -> Router<AppState> {
    let public_forms = public_forms(state);
    let mut router = Router::new()
        .route("/", get(landing::page))
        .route("/security", get(trust::page))
        .route("/security/disclosure", get(disclosure::policy))
        .route("/security/third-parties", get(disclosure::third_parties))
        .route("/.well-known/security.txt", get(disclosure::security_txt))
        .route("/static/app.css", get(assets::stylesheet))
        .route("/static/favicon.svg", get(assets::favicon))
        .route("/static/forms.js", get(assets::script))
        .route("/static/embed.js", get(assets::embed_script))
        .route("/static/records_map.js", get(assets::records_map_script))
        .route(
            "/static/vendor/leaflet/leaflet.js",
            get(assets::leaflet_script),
        )
        .route(
            "/static/vendor/leaflet/leaflet.css",
            get(assets::leaflet_stylesheet),
        )
        .route("/sign-out", post(auth::sign_out))
        .route("/sign-out/everywhere", post(auth::sign_out_everywhere))
        .route("/me", get(account::me))
        .route("/me/data", get(my_data::page))
        .route("/me/data.json", get(my_data::my_json))
        .route("/me/data.pdf", get(my_data::my_pdf))
        .route(
            "/admin/{org}/people/{subject}/data.json",
            get(my_data::member_json),
        )
        .route(
            "/admin/{org}/people/{subject}/data.pdf",
            get(my_data::member_pdf),
        )
        .route(
            "/me/password",
            get(account::password_page).post(account::password_submit),
        )
        .route("/admin", get(admin::portal))
        .route("/admin/{org}", get(admin::org_home))
        .route("/admin/{org}/people", get(admin::people))
        .route(
            "/admin/{org}/invite",
            get(invitations::invite_page).post(invitations::invite_submit),
        )
        .route(
            "/admin/{org}/people/{subject}/role",
            post(admin::change_role),
        )
        .route("/admin/{org}/people/{subject}/resend", post(admin::resend))
        .route(
            "/admin/{org}/invitations/{subject}/withdraw",
            post(invitations::withdraw),
        )
        .route("/admin/{org}/people/{subject}/erase", post(admin::erase))
        .route(
            "/admin/{org}/app-tokens",
            get(app_tokens::page).post(app_tokens::create),
        )
        .route(
            "/admin/{org}/app-tokens/{id}/revoke",
            post(app_tokens::revoke),
        )
        .merge(public_forms)
        .merge(vote::routes())
        .merge(bulletin::routes())
        .merge(ballots::routes())
        .merge(units::routes())
        .merge(breaches::routes())
        .merge(assessments::routes())
        .merge(collect::routes())
        .merge(devices::routes())
        .merge(records::routes())
        .merge(webhooks::routes())
        .merge(record_forms::routes());
    if state.demo.as_ref().is_some_and(|d| d.outbox_dir.is_some()) {
        router = router.route("/demo/outbox", get(demo::outbox));
    }
    if state.demo.as_ref().is_some_and(|d| d.webhooks.is_some()) {
        router = router.route("/demo/webhooks", get(crate::demo_receiver::page));
    }
    router
}
