//! An initialized Cista instance for tests: a migrated store (SQLite in a directory, or any
//! target), the vault beside it, a fresh key file, and the organization `palm-court`.

use cista_core::{Actor, Cista, Deps};
use cista_crypto::LocalKeyFile;
use cista_store::{ConnectOptions, SeaStore, SeaVault, Target};
use cista_types::{OrgName, OrgSlug, OsRng, SystemClock};
use std::sync::Arc;

/// An instance on a SQLite file in `dir` (key file beside it), on the system clock.
pub async fn cista_in(dir: &std::path::Path) -> Cista {
    cista_on(dir, Target::SqliteFile(dir.join("cista.db"))).await
}

/// An instance on `target`, its key file in `dir`, on the system clock.
pub async fn cista_on(dir: &std::path::Path, target: Target) -> Cista {
    cista_with_clock(dir, target, Arc::new(SystemClock)).await
}

/// An instance on `target` whose clock is `clock`: migrated store and vault, a new key file
/// `dir/k.kek`, the organization `palm-court` ("Palm Court"), and a signed checkpoint.
pub async fn cista_with_clock(
    dir: &std::path::Path,
    target: Target,
    clock: Arc<dyn cista_types::Clock>,
) -> Cista {
    cista_with_settings(dir, target, clock, cista_core::AccessSettings::default()).await
}

/// As `cista_with_clock`, with these settings.
pub async fn cista_with_settings(
    dir: &std::path::Path,
    target: Target,
    clock: Arc<dyn cista_types::Clock>,
    settings: cista_core::AccessSettings,
) -> Cista {
    let store = SeaStore::connect_and_migrate(&target, &ConnectOptions::default())
        .await
        .unwrap();
    let keys = LocalKeyFile::create(&dir.join("k.kek"), &OsRng, clock.now()).unwrap();
    let vault = SeaVault::on(&store);
    vault.migrate().await.unwrap();
    let deps = Deps {
        store: Arc::new(store),
        vault: Arc::new(vault),
        keys: Arc::new(keys),
        clock,
        rng: Arc::new(OsRng),
        settings,
    };
    let (cista, _) = Cista::open_or_initialize(deps, &Actor::operator("test"), None)
        .await
        .unwrap();
    cista
        .create_organization(
            &Actor::operator("test"),
            OrgName::parse("Palm Court").unwrap(),
            OrgSlug::parse("palm-court").unwrap(),
        )
        .await
        .unwrap();
    cista.sign_checkpoint(&Actor::System).await.unwrap();
    cista
}
