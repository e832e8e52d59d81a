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
mod worker;

use cista_core::platform::access::invitations::Invitee;
use cista_core::{AccessSettings, Actor, Cista, Deps};
use cista_crypto::LocalKeyFile;
use cista_store::{ConnectOptions, SeaStore, SeaVault, Target};
use cista_types::{Email, OrgName, OrgSlug, OsRng, PersonName, Phone, Role, SystemClock};
use std::sync::Arc;

/// A fresh instance on a temporary SQLite file, with one organization.
pub async fn instance(dir: &std::path::Path) -> (Cista, cista_types::OrgId) {
    let store = SeaStore::connect_and_migrate(
        &Target::SqliteFile(dir.join("cista.db")),
        &ConnectOptions::default(),
    )
    .await
    .unwrap();
    let vault = SeaVault::on(&store);
    vault.migrate().await.unwrap();
    let keys = LocalKeyFile::create(
        &dir.join("k.kek"),
        &OsRng,
        cista_types::Clock::now(&SystemClock),
    )
    .unwrap();
    let deps = Deps {
        store: Arc::new(store),
        vault: Arc::new(vault),
        keys: Arc::new(keys),
        clock: Arc::new(SystemClock),
        rng: Arc::new(OsRng),
        settings: AccessSettings::default(),
    };
    let (cista, _) = Cista::open_or_initialize(deps, &Actor::operator("test"), None)
        .await
        .unwrap();
    let org = cista
        .create_organization(
            &Actor::operator("test"),
            OrgName::parse("Palm Court").unwrap(),
            OrgSlug::parse("palm-court").unwrap(),
        )
        .await
        .unwrap();
    (cista, org.id)
}

pub fn invitee(email: &str, phone: Option<&str>) -> Invitee {
    Invitee {
        first_name: PersonName::parse("Ann").unwrap(),
        last_name: PersonName::parse("Lee").unwrap(),
        email: Email::parse(email).unwrap(),
        phone: phone.map(|p| Phone::parse(p, None).unwrap()),
        role: Role::Member,
    }
}
