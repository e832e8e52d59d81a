//! The both-databases harness: every store behaviour is tested on SQLite (a file in a temporary
//! directory) and on PostgreSQL (a private schema on the test server), from one test body.
//! [`both_databases!`](crate::both_databases) instantiates the bodies; [`TestDatabase`] is the
//! database each one gets.

use crate::postgres::PrivateSchema;
use cista_store::Target;

/// A fresh, isolated database for one test, and a temporary directory beside it (for key
/// files, blobs, exports). [`TestDatabase::cleanup`] drops a PostgreSQL schema; the directory
/// (and a SQLite file in it) goes when the value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    /// Where the store connects: `Target::SqliteFile(dir/cista.db)`, or the schema's URL.
    pub target: Target,
    /// The test's own directory.
    pub dir: tempfile::TempDir,
    schema: Option<PrivateSchema>,
}

impl TestDatabase {
    /// A SQLite file `cista.db` in a new temporary directory (not created until connected).
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let target = Target::SqliteFile(dir.path().join("cista.db"));
        Self {
            target,
            dir,
            schema: None,
        }
    }

    /// A private schema on the PostgreSQL test server, or `None` (after saying so) when no
    /// server is configured and none is required (see [`crate::postgres`]).
    pub async fn postgres() -> Option<Self> {
        let schema = PrivateSchema::create().await?;
        let target = Target::parse(&schema.url()).expect("the schema's URL parses");
        Some(Self {
            target,
            dir: tempfile::tempdir().expect("a temporary directory"),
            schema: Some(schema),
        })
    }

    pub fn is_postgres(&self) -> bool {
        self.schema.is_some()
    }

    /// Every byte the database holds: the SQLite file with its WAL and shared-memory files, or
    /// `pg_dump --data-only` of the schema (pg_dump must be installed, as `.ci/run` does). For
    /// tests that look for plaintext where only ciphertext belongs.
    pub fn raw_bytes(&self) -> Vec<u8> {
        match (&self.target, &self.schema) {
            (_, Some(schema)) => {
                let out = std::process::Command::new("pg_dump")
                    .args(["--data-only", "--schema", schema.name(), "--dbname"])
                    .arg(schema.server_url())
                    .output()
                    .expect("pg_dump must be installed for the PostgreSQL run");
                assert!(
                    out.status.success(),
                    "pg_dump: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                out.stdout
            }
            (Target::SqliteFile(path), None) => {
                let mut all = Vec::new();
                for suffix in ["", "-wal", "-shm"] {
                    if let Ok(bytes) = std::fs::read(format!("{}{suffix}", path.display())) {
                        all.extend(bytes);
                    }
                }
                all
            }
            (other, None) => panic!("no raw bytes for {other:?}"),
        }
    }

    /// Drops the PostgreSQL schema with everything in it.
    pub async fn cleanup(self) {
        if let Some(schema) = self.schema {
            schema.drop_now().await;
        }
    }
}

/// Instantiates each listed test body once per database: `sqlite::NAME` and `postgres::NAME`,
/// each a `#[tokio::test]` that builds the harness type with its async `sqlite()` (returning
/// `Self`) or `postgres()` (returning `Option<Self>`: `None` skips, as [`crate::postgres`]
/// says), calls `crate::MODULE::NAME(&harness)`, then the harness's async `cleanup(self)`.
///
/// ```text
/// cista_testkit::both_databases! { crate::Harness;
///     schema::migrations_apply_once,
///     people::an_invitation_is_sent,
/// }
/// ```
// `crate::MODULE::NAME` is meant: the test bodies live in the crate that calls the macro.
#[allow(clippy::crate_in_macro_def)]
#[macro_export]
macro_rules! both_databases {
    ($harness:ty; $($module:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let h = <$harness>::sqlite().await;
                    crate::$module::$name(&h).await;
                    h.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(h) = <$harness>::postgres().await else { return };
                    crate::$module::$name(&h).await;
                    h.cleanup().await;
                }
            )*
        }
    };
}
