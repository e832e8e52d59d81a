//! The domain of Cista, free of HTTP and SQL. `Cista` is the facade every surface (web, API,
//! CLI, background jobs) calls; each call takes the acting identity and authorizes first, and
//! each change goes to the `Store` together with the audit entry that records it.
//!
//! Two rooms: [`platform`] is what every product stands on (organizations, people, access,
//! audit, keys, notices, trust, the submission pipeline and its blob store); [`products`] holds
//! one folder per product (association voting today). [`ports`] are the storage seams the
//! adapters in `cista-store` and `cista-backup` implement.

pub mod error;
pub mod platform;
pub mod ports;
pub mod products;

pub use error::{Error, ErrorClass, Result};
pub use platform::actor::{Access, Action, Actor, AppActor, OrgAction, PersonActor, role_may};
pub use platform::settings::AccessSettings;
pub use ports::{Store, Vault};

use cista_crypto::KeyProvider;
use cista_crypto::note::NoteSigner;
use cista_types::{Clock, Rng};
use platform::access::passwords::PasswordHasher;
use platform::instance_keys::InstanceKeys;
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
    /// Concurrent casts, written together (group commit).
    casts: Arc<products::voting::cast::CastCommitter>,
    /// Published ballots' definitions, parsed once.
    definitions: Arc<products::voting::DefinitionCache>,
    /// The leaf hashes of the closed ballots trackers were last looked up on, within a budget.
    leaves: Arc<products::voting::published::LeafCache>,
    /// Marks on the closed ballots' lists last read past their first page or looked up on.
    marks: Arc<products::voting::list_marks::MarkCache>,
    /// The trust report's counts of whole tables, taken at most every 30 s.
    counts: Arc<platform::trust_counts::CountCache>,
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

    pub(crate) fn cast_committer(&self) -> &Arc<products::voting::cast::CastCommitter> {
        &self.casts
    }

    pub(crate) fn definition_cache(&self) -> &products::voting::DefinitionCache {
        &self.definitions
    }

    pub(crate) fn leaf_cache(&self) -> &products::voting::published::LeafCache {
        &self.leaves
    }

    pub(crate) fn mark_cache(&self) -> &products::voting::list_marks::MarkCache {
        &self.marks
    }

    pub(crate) fn count_cache(&self) -> &platform::trust_counts::CountCache {
        &self.counts
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
