//! Delivery against real peers: a local SMTP server (Python's aiosmtpd, with STARTTLS and a
//! certificate from a test CA), a local Twilio-style HTTP server, and the file sinks the demo
//! uses, driven through the real outbox.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod sms;
mod smtp;
mod webhooks;
mod worker;

use cista_core::Cista;
use cista_core::platform::access::invitations::Invitee;
use cista_types::{OrgSlug, Role};

/// A fresh instance on a temporary SQLite file, with one organization (`palm-court`).
pub async fn instance(dir: &std::path::Path) -> (Cista, cista_types::OrgId) {
    let cista = cista_testkit::instance::cista_in(dir).await;
    let org = cista
        .store()
        .organization_by_slug(&OrgSlug::parse("palm-court").unwrap())
        .await
        .unwrap()
        .unwrap();
    (cista, org.id)
}

pub fn invitee(email: &str, phone: Option<&str>) -> Invitee {
    cista_testkit::fixtures::invitee("Ann", "Lee", email, phone, Role::Member)
}
