//! Wiring: turns the CLI arguments and configuration into the store, the key provider and
//! an opened `Cista`, with errors that say what is wrong and how to fix it.

use crate::cli::GlobalArgs;
use crate::config::{Config, Resolved};
use cista_core::{Actor, Cista, Deps};
use cista_crypto::{KeyProviderError, LocalKeyFile};
use cista_store::{ConnectOptions, SeaStore, Target};
use cista_types::{Clock as _, OsRng, SystemClock, Timestamp};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A failure to report to the operator: one line, then exit 1.
#[derive(Debug)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<cista_core::Error> for Failure {
    fn from(e: cista_core::Error) -> Self {
        Failure(e.chain())
    }
}

impl From<crate::config::ConfigError> for Failure {
    fn from(e: crate::config::ConfigError) -> Self {
        Failure(e.to_string())
    }
}

impl From<KeyProviderError> for Failure {
    fn from(e: KeyProviderError) -> Self {
        Failure(e.to_string())
    }
}

impl From<cista_http::tls::TlsError> for Failure {
    fn from(e: cista_http::tls::TlsError) -> Self {
        Failure(e.to_string())
    }
}

impl From<String> for Failure {
    fn from(e: String) -> Self {
        Failure(e)
    }
}

/// The configured environment of one command.
#[derive(Debug)]
pub struct Runtime {
    pub config: Config,
    pub paths: Resolved,
}

impl Runtime {
    pub fn load(global: &GlobalArgs) -> Result<Self, Failure> {
        let config = Config::load(global.config.as_deref(), std::env::vars())?;
        let data_dir = if global.data_dir.is_absolute() {
            global.data_dir.clone()
        } else {
            std::env::current_dir()
                .map_err(|e| Failure(format!("cannot read the current directory: {e}")))?
                .join(&global.data_dir)
        };
        let paths = Resolved::new(&config, &data_dir);
        Ok(Self { config, paths })
    }

    pub fn now(&self) -> Timestamp {
        SystemClock.now()
    }

    /// The person at the keyboard, named by their local account.
    pub fn operator(&self) -> Actor {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".to_owned());
        Actor::operator(user)
    }

    pub fn target(&self) -> Result<Target, Failure> {
        Ok(Target::parse(&self.paths.database_url)?)
    }

    /// Connects to the database. `create` allows a new SQLite file; `migrate` applies
    /// pending migrations.
    pub async fn store(&self, create: bool, migrate: bool) -> Result<SeaStore, Failure> {
        let target = self.target()?;
        let options = ConnectOptions {
            max_connections: self.config.database.max_connections,
            connect_timeout: Duration::from_secs(self.config.database.connect_timeout_secs),
            create_if_missing: create,
            allow_unverified_postgres_tls: self.config.database.allow_unverified_postgres_tls,
            ..ConnectOptions::default()
        };
        let store = match SeaStore::connect(&target, &options).await {
            Ok(store) => store,
            Err(cista_core::Error::NotInitialized) => {
                return Err(Failure(format!(
                    "there is no database at {}; run `cista init --data-dir {}` first",
                    target.describe(),
                    self.paths.data_dir.display()
                )));
            }
            Err(e) => {
                return Err(Failure(format!(
                    "cannot use the database {}: {}",
                    target.describe(),
                    e.chain()
                )));
            }
        };
        if migrate {
            for name in store.migrate().await? {
                tracing::info!(migration = %name, "applied migration");
            }
        }
        Ok(store)
    }

    pub fn key_provider(&self) -> Result<Arc<LocalKeyFile>, Failure> {
        if self.config.keys.provider != "local" {
            return Err(Failure(format!(
                "keys.provider `{}` is not available in this build; use `local`",
                self.config.keys.provider
            )));
        }
        Ok(Arc::new(LocalKeyFile::open(&self.paths.kek_file)?))
    }

    pub fn deps(&self, store: SeaStore, keys: Arc<LocalKeyFile>) -> Deps {
        Deps {
            store: Arc::new(store),
            keys,
            clock: Arc::new(SystemClock),
            rng: Arc::new(OsRng),
        }
    }

    /// Opens the initialized instance: the store, the key file, and the signing key.
    pub async fn open(&self, migrate: bool) -> Result<Cista, Failure> {
        let keys = self.key_provider()?;
        let store = self.store(false, migrate).await?;
        store.require_current_schema().await?;
        match Cista::open(self.deps(store, keys)).await {
            Ok(cista) => Ok(cista),
            Err(cista_core::Error::NotInitialized) => Err(Failure(format!(
                "the database is not initialized; run `cista init --data-dir {}`",
                self.paths.data_dir.display()
            ))),
            Err(e) => Err(e.into()),
        }
    }
}
