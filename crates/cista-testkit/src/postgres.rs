//! PostgreSQL for tests: a private schema per test on the server named by
//! `CISTA_TEST_POSTGRES_URL`. With `CISTA_TEST_REQUIRE_POSTGRES=1` (as `.ci/run` sets) a missing
//! URL or an unreachable server fails the test instead of skipping it.

use sqlx::Connection as _;

/// The server's URL, or `None` after saying the test is skipped; a panic when one is required
/// and none is set.
pub fn server_url() -> Option<String> {
    let required = std::env::var("CISTA_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    match std::env::var("CISTA_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                !required,
                "CISTA_TEST_REQUIRE_POSTGRES=1 but CISTA_TEST_POSTGRES_URL is not set"
            );
            eprintln!("SKIPPED on PostgreSQL: set CISTA_TEST_POSTGRES_URL to run it");
            None
        }
    }
}

/// `url` with `search_path` set to `schema` for every connection made from it (libpq's
/// `options` parameter, which sqlx honours).
pub fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// A schema of its own on the test server, so tests run side by side without seeing each
/// other's tables. Dropped (with everything in it) by [`PrivateSchema::drop_now`], or else when
/// the value goes away (a test that returned early or never called `drop_now`); a test that
/// panics leaves it behind, named so it can be found (`cista_t_…`).
#[derive(Debug)]
pub struct PrivateSchema {
    server: String,
    name: String,
    /// `drop_now` has dropped it.
    dropped: bool,
}

impl PrivateSchema {
    /// Creates a fresh schema, or `None` (after saying so) when no server is configured and
    /// none is required. Panics when the server cannot be reached.
    pub async fn create() -> Option<Self> {
        let server = server_url()?;
        let name = format!("cista_t_{:016x}", rand_u64());
        let mut admin = connect(&server).await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("CREATE SCHEMA {name}: {e}"));
        let _ = admin.close().await;
        Some(Self {
            server,
            name,
            dropped: false,
        })
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's URL (for tools that take a schema of their own, such as pg_dump).
    pub fn server_url(&self) -> &str {
        &self.server
    }

    /// A URL whose connections see this schema first.
    pub fn url(&self) -> String {
        with_search_path(&self.server, &self.name)
    }

    /// Drops the schema and everything in it; errors are ignored (the test is over).
    pub async fn drop_now(mut self) {
        drop_schema(&self.server, &self.name).await;
        self.dropped = true;
    }
}

impl Drop for PrivateSchema {
    /// Drops a schema its test did not (`drop_now`), unless the test is panicking: a failed
    /// test's tables stay behind to be looked at. `Drop` cannot await, so a thread of its own
    /// runs the statement on a runtime of its own, inside a test's runtime or outside any.
    fn drop(&mut self) {
        if self.dropped || std::thread::panicking() {
            return;
        }
        let (server, name) = (self.server.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(drop_schema(&server, &name));
        })
        .join();
    }
}

/// `DROP SCHEMA name CASCADE` on `server`; errors are ignored (the test is over).
async fn drop_schema(server: &str, name: &str) {
    if let Ok(mut admin) = sqlx::PgConnection::connect(server).await {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {name} CASCADE")))
            .execute(&mut admin)
            .await;
        let _ = admin.close().await;
    }
}

async fn connect(url: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at CISTA_TEST_POSTGRES_URL: {e}"))
}

/// 64 random bits from the operating system, for a schema name no other test picks.
fn rand_u64() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::{PrivateSchema, connect};

    async fn schemas_named(server: &str, name: &str) -> i64 {
        let mut admin = connect(server).await;
        let count = sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = $1")
            .bind(name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        let _ = sqlx::Connection::close(admin).await;
        count
    }

    /// A schema its test forgot to drop (or returned early from) is dropped when it goes
    /// away, also from inside a single-threaded runtime; one dropped with `drop_now` is gone.
    #[tokio::test]
    async fn a_schema_its_test_did_not_drop_is_dropped_when_it_goes_away() {
        let Some(forgotten) = PrivateSchema::create().await else {
            return;
        };
        let (server, name) = (
            forgotten.server_url().to_owned(),
            forgotten.name().to_owned(),
        );
        assert_eq!(schemas_named(&server, &name).await, 1);
        drop(forgotten);
        assert_eq!(schemas_named(&server, &name).await, 0, "{name} left behind");

        let Some(dropped) = PrivateSchema::create().await else {
            return;
        };
        let name = dropped.name().to_owned();
        dropped.drop_now().await;
        assert_eq!(schemas_named(&server, &name).await, 0, "{name} left behind");
    }
}
