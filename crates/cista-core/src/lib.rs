//! The domain of Cista, free of HTTP and SQL. `Cista` is the facade every surface (web, CLI,
//! background jobs) calls; each call takes the acting identity and authorizes first, and each
//! change goes to the `Store` together with the audit entry that records it.

pub mod actor;
pub mod audit;
pub mod error;
pub mod instance;
pub mod keys;
pub mod org;
pub mod ports;
pub mod trust;

pub use actor::{Action, Actor};
pub use error::{Error, ErrorClass, Result};
pub use ports::Store;

use cista_crypto::KeyProvider;
use cista_crypto::note::NoteSigner;
use cista_types::{Clock, Rng};
use ports::Instance;
use std::sync::Arc;

/// What the core is built from; the binary wires real ones, tests wire fakes.
#[derive(Debug, Clone)]
pub struct Deps {
    pub store: Arc<dyn Store>,
    pub keys: Arc<dyn KeyProvider>,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn Rng>,
}

/// An opened Cista instance: its dependencies, its identity and its checkpoint signer.
#[derive(Debug, Clone)]
pub struct Cista {
    deps: Deps,
    instance: Instance,
    signer: Arc<NoteSigner>,
}

impl Cista {
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.deps.store
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
