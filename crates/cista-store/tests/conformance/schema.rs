//! Migrations, schema versions, engine settings and value round trips.

use crate::Harness;
use cista_core::Error;
use cista_core::Store as _;
use cista_core::ports::Backend;
use cista_store::{ConnectOptions, SeaStore};
use cista_types::{OrgName, OrgSlug};

pub async fn migrations_apply_once_and_leave_nothing_pending(h: &Harness) {
    let status = h.store.schema_status().await.unwrap();
    assert!(status.pending.is_empty(), "{status:?}");
    assert!(!status.applied.is_empty());
    // Running migrate again is a no-op.
    assert!(h.store.migrate().await.unwrap().is_empty());
    let again = SeaStore::connect_and_migrate(&h.target, &ConnectOptions::default())
        .await
        .unwrap();
    assert_eq!(again.schema_status().await.unwrap(), status);
    h.store.require_current_schema().await.unwrap();
}

pub async fn a_database_newer_than_the_binary_is_refused(h: &Harness) {
    h.tamper(
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m29991231_000001_future', 0)",
    )
    .await;
    let err = SeaStore::connect(&h.target, &ConnectOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SchemaTooNew { .. }), "{err:?}");
    assert_eq!(err.code(), "schema_too_new");
    let message = err.to_string();
    assert!(message.contains("m29991231_000001_future"), "{message}");
    assert!(message.contains("newer Cista"), "{message}");
}

pub async fn the_engine_reports_durable_settings(h: &Harness) {
    let d = h.store.describe().await.unwrap();
    let setting = |name: &str| {
        d.settings
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    match d.backend {
        Backend::Sqlite => {
            assert!(d.version.starts_with("SQLite 3."), "{}", d.version);
            assert_eq!(setting("journal_mode"), "wal");
            assert_eq!(setting("synchronous"), "FULL");
            assert_eq!(setting("foreign_keys"), "on");
        }
        Backend::Postgres => {
            assert!(d.version.starts_with("PostgreSQL "), "{}", d.version);
            assert_eq!(setting("synchronous_commit"), "on");
            assert!(!d.location.contains(':') || !d.location.contains("password"));
        }
    }
    assert!(d.schema.starts_with("m2026"), "{}", d.schema);
}

pub async fn timestamps_round_trip_to_the_microsecond(h: &Harness) {
    let cista = h.cista().await;
    let org = cista
        .create_organization(
            &cista_core::Actor::operator("test"),
            OrgName::parse("Time Keepers").unwrap(),
            OrgSlug::parse("time-keepers").unwrap(),
        )
        .await
        .unwrap();
    let back = h.store.organization(org.id).await.unwrap().unwrap();
    assert_eq!(back.created_at, org.created_at);
    assert_eq!(back.created_at.to_rfc3339(), "2026-11-22T14:03:00.123456Z");
}
