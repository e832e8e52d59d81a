//! The domain of Cista, free of HTTP and SQL. `Cista` is the facade every surface (web, CLI,
//! background jobs) calls; each call takes the acting identity and authorizes first, and each
//! change goes to the `Store` together with the audit entry that records it.

pub mod access;
pub mod actor;
pub mod audit;
pub mod blobs;
pub mod error;
pub mod instance;
mod instance_keys;
pub mod intake;
pub mod keys;
pub mod notices;
pub mod org;
pub mod people;
pub mod ports;
pub mod settings;
pub mod submissions;
pub mod trust;
pub mod voting;

pub use actor::{Access, Action, Actor, AppActor, OrgAction, PersonActor, role_may};
pub use error::{Error, ErrorClass, Result};
pub use ports::{Store, Vault};
pub use settings::AccessSettings;

use access::passwords::PasswordHasher;
use cista_crypto::KeyProvider;
use cista_crypto::note::NoteSigner;
use cista_types::{Clock, Rng};
use instance_keys::InstanceKeys;
use ports::Instance;
use std::sync::Arc;

/// What the core is built from; the binary wires real ones, tests wire fakes.
#[derive(Debug, Clone)]
pub struct Deps {
    pub store: Arc<dyn Store>,
    /// The person vault: the main database by default, or a database of its own.
    pub vault: Arc<dyn Vault>,
    pub keys: Arc<dyn KeyProvider>,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn Rng>,
    pub settings: AccessSettings,
}

/// An opened Cista instance: its dependencies, its identity, its checkpoint signer and its
/// instance-level keys.
#[derive(Debug, Clone)]
pub struct Cista {
    deps: Deps,
    instance: Instance,
    signer: Arc<NoteSigner>,
    instance_keys: Arc<InstanceKeys>,
    hasher: PasswordHasher,
}

impl Cista {
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.deps.store
    }

    pub fn vault(&self) -> &Arc<dyn Vault> {
        &self.deps.vault
    }

    pub fn settings(&self) -> &AccessSettings {
        &self.deps.settings
    }

    pub(crate) fn instance_keys(&self) -> &InstanceKeys {
        &self.instance_keys
    }

    pub(crate) fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    pub fn key_provider(&self) -> &Arc<dyn KeyProvider> {
        &self.deps.keys
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.deps.clock
    }

    pub fn rng(&self) -> &Arc<dyn Rng> {
        &self.deps.rng
    }

    pub fn instance(&self) -> &Instance {
        &self.instance
    }
}
