//! Everything that differs between SQLite and PostgreSQL lives here, and only here: how to
//! connect (durability pragmas, pool sizes, TLS rules), how a write transaction begins, and how
//! to read the engine's own settings for the trust page. The rest of the crate is one code path.

use cista_core::ports::Backend;
use cista_core::{Error, Result};
use cista_types::Secret;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, SqliteTransactionMode, Statement,
    TransactionOptions,
};
use sea_orm::{SqlxPostgresConnector, SqlxSqliteConnector};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::PathBuf;
use std::str::FromStr as _;
use std::time::Duration;

/// Where the data lives, parsed from a database URL.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    /// A SQLite database file (the embedded default, in the data directory).
    SqliteFile(PathBuf),
    /// A private in-memory SQLite database, for tests.
    SqliteMemory,
    /// A PostgreSQL server; the URL may carry a password, so it is a `Secret` (never prints).
    Postgres(Secret),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({})", self.describe())
    }
}

impl Target {
    /// Accepts `sqlite://PATH`, `sqlite::memory:`, `postgres://…` and `postgresql://…`.
    pub fn parse(url: &str) -> Result<Self> {
        let url = url.trim();
        if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            return Ok(Target::SqliteMemory);
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() {
                return Err(Error::invalid(
                    "database.url",
                    "a sqlite:// URL needs a file path, e.g. sqlite:///var/lib/cista/cista.db",
                ));
            }
            return Ok(Target::SqliteFile(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            PgConnectOptions::from_str(url).map_err(|e| {
                Error::invalid(
                    "database.url",
                    format!("it is not a valid PostgreSQL URL: {e}"),
                )
            })?;
            return Ok(Target::Postgres(Secret::new(url)));
        }
        Err(Error::invalid(
            "database.url",
            "use sqlite://PATH or postgres://USER@HOST/DATABASE",
        ))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Target::SqliteFile(_) | Target::SqliteMemory => Backend::Sqlite,
            Target::Postgres(_) => Backend::Postgres,
        }
    }

    /// A printable location with any password removed.
    pub fn describe(&self) -> String {
        match self {
            Target::SqliteFile(path) => format!("sqlite://{}", path.display()),
            Target::SqliteMemory => "sqlite::memory:".to_owned(),
            Target::Postgres(url) => match PgConnectOptions::from_str(url.expose()) {
                Ok(o) => format!(
                    "postgres://{}@{}:{}/{}",
                    o.get_username(),
                    o.get_host(),
                    o.get_port(),
                    o.get_database().unwrap_or("")
                ),
                Err(_) => "postgres://<invalid>".to_owned(),
            },
        }
    }
}

/// How to connect; defaults suit the demo and the tests.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub max_connections: u32,
    pub connect_timeout: Duration,
    /// How long a SQLite writer waits for another writer before giving up.
    pub busy_timeout: Duration,
    /// Create the SQLite file if it does not exist (init, demo, migrate), or refuse (serve).
    pub create_if_missing: bool,
    /// Allow a PostgreSQL server on another host without a verified TLS connection.
    pub allow_unverified_postgres_tls: bool,
    /// SQLite: leave WAL checkpoints to the backup shipper (`wal_autocheckpoint = 0`), which
    /// must copy every frame before the log may be reused.
    pub checkpoints_by_backup: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            connect_timeout: Duration::from_secs(10),
            busy_timeout: Duration::from_secs(10),
            create_if_missing: true,
            allow_unverified_postgres_tls: false,
            checkpoints_by_backup: false,
        }
    }
}

fn is_local_host(host: &str) -> bool {
    host.starts_with('/') || matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]")
}

/// Rows sqlx-sqlite's worker thread may read ahead of the task that takes them (its default
/// is 50): a page of a ballot box (`opening::OPENING_PAGE`, 4,096 rows) read through sqlx
/// (a record file naming units, a SQLite database in memory) can then be read whole while
/// the pages before it are opened, and crosses from the worker to the async side without a
/// wake-up per row. At most a page of rows (about a megabyte) waits here. The close and the
/// published list read a file's box through `voting::box_reader` instead.
const SQLITE_ROW_BUFFER: usize = 4_096;

/// Bytes of the database file a bulk read (a ballot box, page after page) reads through a
/// memory map instead of `pread(2)` (`PRAGMA mmap_size`; SQLite's own default is 0, its
/// ceiling 2 GiB). A million-ballot close made a system call and a copy per 4 KiB page; with
/// the map it took 3.2 s to read, open and count instead of 4.8 s. Writes still go through the
/// WAL with `write(2)` and `fsync(2)`, so durability is unchanged.
///
/// Only the connection doing the bulk read maps the file ([`map_for_bulk_read`]), and the
/// pool's `after_release` hook unmaps it when the connection goes back
/// ([`unmap_if_mapped`]): every mapped page counts in the process's resident memory, once per
/// connection that touched it, and an idle `serve` with the map on every pooled connection
/// stood at 41.0 MB against a 40 MB goal. The other cost, accepted for the read's duration: a
/// disk read error ends the process with `SIGBUS` instead of failing the one statement.
pub(crate) const SQLITE_MMAP_SIZE: u64 = 1 << 30;

/// Takes a connection's memory map down (SQLite's default).
const SQLITE_UNMAP: &str = "PRAGMA mmap_size = 0";

/// SQLite connections a bulk read has mapped (in any pool of this process) and the pool has
/// not yet taken back. While it is zero, a connection going back runs no statement (the pool
/// takes one back four or five times a vote cast; a pragma each time went through the
/// connection's worker thread). Otherwise each is asked for its map size, and the mapped one
/// is unmapped and counted off. A mapped connection the pool closed without the hook would
/// leave the count up for the life of the process, every release asking from then on (it
/// costs time but never leaves a map behind); so the SQLite pool never retires a connection
/// for its age (sqlx's `max_lifetime`, 30 minutes by default, closes an old connection as it
/// goes back, before `after_release` runs), a connection whose unmapping fails, which the
/// pool then closes with its map, is counted off too, and so is a map that failed to be set.
/// Two ways remain, both leaving only the cost: a pool closed while a mapped connection is
/// out (the process is done with that pool), and a connection whose map size cannot even be
/// read as it goes back (closed uncounted: counting it off without knowing could leave a real
/// map on another connection).
static SQLITE_MAPPED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Takes one off [`SQLITE_MAPPED`]; never below zero, whatever order releases arrive in.
fn count_off_mapped() {
    use std::sync::atomic::Ordering;
    let _ = SQLITE_MAPPED.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
}

/// The pool's `after_release` hook: unmaps `conn` if a bulk read mapped it (see
/// [`SQLITE_MAPPED`]). Errors: SQLite's, which make the pool close the connection instead.
async fn unmap_if_mapped(
    conn: &mut sqlx::SqliteConnection,
) -> std::result::Result<(), sqlx::Error> {
    use std::sync::atomic::Ordering;
    if SQLITE_MAPPED.load(Ordering::Acquire) == 0 {
        return Ok(());
    }
    let size: i64 = sqlx::query_scalar("PRAGMA mmap_size")
        .fetch_one(&mut *conn)
        .await?;
    if size > 0 {
        // Unmapped, or failing and so closed by the pool with its map: counted off either way.
        let unmapped = sqlx::Executor::execute(&mut *conn, SQLITE_UNMAP).await;
        count_off_mapped();
        unmapped?;
    }
    Ok(())
}

/// Maps the database file for the SQLite connection `conn` runs on (a transaction, so the
/// pages that follow are read on that same connection) until the pool takes the connection
/// back. Nothing on PostgreSQL, whose server does its own reading. Returns whether this call
/// mapped it: a read of many pages in one transaction calls this for each page, and only the
/// first counts in [`SQLITE_MAPPED`] (the release unmaps, and counts off, once).
///
/// # Errors
/// The store's error if SQLite refuses the pragma.
pub(crate) async fn map_for_bulk_read(conn: &impl ConnectionTrait) -> Result<bool> {
    if conn.get_database_backend() != DbBackend::Sqlite {
        return Ok(false);
    }
    let mapped = text(conn, "PRAGMA mmap_size")
        .await?
        .is_some_and(|size| size != "0");
    if mapped {
        return Ok(false);
    }
    // Counted before the map exists, so the connection's release cannot miss it.
    SQLITE_MAPPED.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    if let Err(e) = conn
        .execute_unprepared(&format!("PRAGMA mmap_size = {SQLITE_MMAP_SIZE}"))
        .await
    {
        // Not mapped after all: its release will find no map to count off.
        count_off_mapped();
        return Err(crate::convert::db_err(e));
    }
    Ok(true)
}

/// How long a pooled PostgreSQL connection may have been idle before the pool pings it
/// (one round trip) ahead of handing it out. sqlx pings every connection before every use by
/// default, and again when it goes back (that one always): a read was three round trips to
/// the server instead of two. A connection the server or the network dropped while idle for
/// longer than this is found and replaced before use; one dropped within this time of its
/// last use (a server restart under steady load) fails the one statement that takes it, as
/// `StoreUnavailable` (a 503 the client may retry; a vote cast is safe to repeat; see
/// `convert::lost_the_database`), and the pool closes it when it goes back and opens a new
/// one.
pub(crate) const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

pub(crate) async fn connect(
    target: &Target,
    options: &ConnectOptions,
) -> Result<DatabaseConnection> {
    match target {
        Target::SqliteFile(path) => {
            if !options.create_if_missing && !path.exists() {
                return Err(Error::NotInitialized);
            }
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(Error::store_unavailable)?;
            }
            let connect = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(options.create_if_missing)
                // WAL lets readers proceed during a write; FULL makes every acknowledged
                // commit durable across power loss, which a recorded vote requires.
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(options.busy_timeout)
                .foreign_keys(true)
                .row_buffer_size(SQLITE_ROW_BUFFER);
            let connect = if options.checkpoints_by_backup {
                connect.pragma("wal_autocheckpoint", "0")
            } else {
                connect
            };
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections.max(1))
                .acquire_timeout(options.connect_timeout)
                // A connection to a local file cannot be hung up on: no ping (a trip through
                // the connection's worker thread) before each use.
                .test_before_acquire(false)
                // Nor does it need retiring with age (that is for a server's connections).
                // sqlx would close an old one as it goes back, before `after_release`, so a
                // connection a bulk read mapped would leave `SQLITE_MAPPED` up for good.
                .max_lifetime(None)
                // A bulk read may have mapped the file (`map_for_bulk_read`); no connection
                // waits in the pool with a map. An error closes the connection instead.
                .after_release(|conn, _| {
                    Box::pin(async move {
                        unmap_if_mapped(conn).await?;
                        Ok(true)
                    })
                })
                .connect_with(connect)
                .await
                .map_err(Error::store_unavailable)?;
            Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
        }
        Target::SqliteMemory => {
            // Each in-memory connection is its own database, so keep exactly one.
            let connect = SqliteConnectOptions::from_str("sqlite::memory:")
                .map_err(Error::store_unavailable)?
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                // Nothing to ping, and an acquire with no await point cannot drop the one
                // connection (and with it the database) when its caller is cancelled.
                .test_before_acquire(false)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(connect)
                .await
                .map_err(Error::store_unavailable)?;
            Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
        }
        Target::Postgres(url) => {
            let connect = PgConnectOptions::from_str(url.expose())
                .map_err(|e| Error::invalid("database.url", e.to_string()))?
                .application_name("cista");
            let verified = matches!(
                connect.get_ssl_mode(),
                PgSslMode::VerifyFull | PgSslMode::VerifyCa
            );
            if !is_local_host(connect.get_host())
                && !verified
                && !options.allow_unverified_postgres_tls
            {
                return Err(Error::invalid(
                    "database.url",
                    format!(
                        "PostgreSQL on {} must be reached over verified TLS: add \
                         ?sslmode=verify-full&sslrootcert=/path/to/ca.pem to the URL (or set \
                         database.allow_unverified_postgres_tls = true if you accept the risk)",
                        connect.get_host()
                    ),
                ));
            }
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections.max(1))
                .acquire_timeout(options.connect_timeout)
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for >= PING_IF_IDLE_FOR {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .connect_with(connect)
                .await
                .map_err(Error::store_unavailable)?;
            Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
        }
    }
}

/// Options for a transaction that will write. SQLite must take the write lock at BEGIN:
/// a deferred transaction that reads first and writes later cannot wait for the lock and
/// fails instead. PostgreSQL locks the rows it touches, so it needs nothing special.
pub(crate) fn write_transaction() -> TransactionOptions {
    TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    }
}

async fn text(db: &impl ConnectionTrait, sql: &str) -> Result<Option<String>> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .map_err(crate::convert::db_err)?;
    Ok(row.and_then(|r| {
        r.try_get_by_index::<String>(0)
            .ok()
            .or_else(|| r.try_get_by_index::<i64>(0).ok().map(|n| n.to_string()))
            .or_else(|| r.try_get_by_index::<bool>(0).ok().map(|b| b.to_string()))
    }))
}

/// The engine's version and the settings that matter for durability and confidentiality.
pub(crate) async fn engine_settings(
    db: &DatabaseConnection,
) -> Result<(String, Vec<(String, String)>)> {
    let unknown = || "unknown".to_owned();
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let version = text(db, "SHOW server_version")
                .await?
                .unwrap_or_else(unknown);
            let sync = text(db, "SHOW synchronous_commit")
                .await?
                .unwrap_or_else(unknown);
            let tls = db
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT ssl, COALESCE(version, '') || ' ' || COALESCE(cipher, '') \
                     FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                ))
                .await
                .map_err(crate::convert::db_err)?
                .map(|r| {
                    let on = r.try_get_by_index::<bool>(0).unwrap_or(false);
                    let detail = r.try_get_by_index::<String>(1).unwrap_or_default();
                    if on {
                        detail.trim().to_owned()
                    } else {
                        "off (local connection)".to_owned()
                    }
                })
                .unwrap_or_else(unknown);
            Ok((
                format!("PostgreSQL {version}"),
                vec![
                    ("synchronous_commit".to_owned(), sync),
                    ("connection TLS".to_owned(), tls),
                ],
            ))
        }
        _ => {
            let version = text(db, "SELECT sqlite_version()")
                .await?
                .unwrap_or_else(unknown);
            let journal = text(db, "PRAGMA journal_mode")
                .await?
                .unwrap_or_else(unknown);
            let sync = match text(db, "PRAGMA synchronous").await?.as_deref() {
                Some("0") => "OFF".to_owned(),
                Some("1") => "NORMAL".to_owned(),
                Some("2") => "FULL".to_owned(),
                Some("3") => "EXTRA".to_owned(),
                other => other.map_or_else(unknown, str::to_owned),
            };
            let fk = text(db, "PRAGMA foreign_keys")
                .await?
                .unwrap_or_else(unknown);
            Ok((
                format!("SQLite {version}"),
                vec![
                    ("journal_mode".to_owned(), journal),
                    ("synchronous".to_owned(), sync),
                    (
                        "foreign_keys".to_owned(),
                        if fk == "1" { "on".to_owned() } else { fk },
                    ),
                ],
            ))
        }
    }
}

/// Database-enforced rules of voting records, as triggers: a published ballot's definition
/// never changes; closed and cancelled are final; participation rows, the roll and refused
/// attempts are never updated or deleted; a ballot box entry is never updated, and deleted
/// only while its ballot is open (the shuffle rewrites it). FL-12 asks for a year; the
/// database refuses outright. The guards against a vote added to a ballot that is not open
/// are `m20261218_000001_votes_sealed`'s, installed after the migrations that rebuild the box.
pub(crate) fn voting_guards(backend: DbBackend) -> Vec<&'static str> {
    match backend {
        DbBackend::Sqlite => vec![
            "CREATE TRIGGER ballots_definition_immutable BEFORE UPDATE ON ballots \
             WHEN OLD.status <> 'draft' AND (NEW.definition IS NOT OLD.definition \
               OR NEW.definition_hash IS NOT OLD.definition_hash) \
             BEGIN SELECT RAISE(ABORT, 'cista: a published ballot definition is immutable'); END",
            "CREATE TRIGGER ballots_final_states BEFORE UPDATE ON ballots \
             WHEN (OLD.status = 'closed' AND (NEW.status IS NOT 'closed' \
                   OR NEW.results IS NOT OLD.results OR NEW.checkpoint IS NOT OLD.checkpoint)) \
               OR (OLD.status = 'cancelled' AND NEW.status IS NOT 'cancelled') \
               OR (OLD.status = 'published' AND NEW.status = 'draft') \
             BEGIN SELECT RAISE(ABORT, 'cista: closed and cancelled ballots are final'); END",
            "CREATE TRIGGER ballots_kept BEFORE DELETE ON ballots WHEN OLD.status <> 'draft' \
             BEGIN SELECT RAISE(ABORT, 'cista: voting records are kept'); END",
            "CREATE TRIGGER participation_no_update BEFORE UPDATE ON participation \
             BEGIN SELECT RAISE(ABORT, 'cista: participation records are immutable'); END",
            "CREATE TRIGGER participation_kept BEFORE DELETE ON participation \
             BEGIN SELECT RAISE(ABORT, 'cista: voting records are kept'); END",
            "CREATE TRIGGER ballot_roll_no_update BEFORE UPDATE ON ballot_roll \
             BEGIN SELECT RAISE(ABORT, 'cista: a ballot roll is immutable'); END",
            "CREATE TRIGGER ballot_roll_kept BEFORE DELETE ON ballot_roll \
             BEGIN SELECT RAISE(ABORT, 'cista: voting records are kept'); END",
            "CREATE TRIGGER vote_refusals_no_update BEFORE UPDATE ON vote_refusals \
             BEGIN SELECT RAISE(ABORT, 'cista: refusal records are immutable'); END",
            "CREATE TRIGGER vote_refusals_kept BEFORE DELETE ON vote_refusals \
             BEGIN SELECT RAISE(ABORT, 'cista: voting records are kept'); END",
            "CREATE TRIGGER ballot_box_no_update BEFORE UPDATE ON ballot_box \
             BEGIN SELECT RAISE(ABORT, 'cista: a cast ballot is immutable'); END",
            "CREATE TRIGGER ballot_box_kept BEFORE DELETE ON ballot_box \
             WHEN (SELECT status FROM ballots WHERE id = OLD.ballot_id) IS NOT 'published' \
             BEGIN SELECT RAISE(ABORT, 'cista: voting records are kept'); END",
        ],
        _ => vec![
            "CREATE FUNCTION cista_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'cista: %', TG_ARGV[0]; END $$",
            "CREATE FUNCTION cista_ballots_guard() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN \
               IF TG_OP = 'DELETE' THEN \
                 IF OLD.status <> 'draft' THEN RAISE EXCEPTION 'cista: voting records are kept'; END IF; \
                 RETURN OLD; \
               END IF; \
               IF OLD.status <> 'draft' AND (NEW.definition IS DISTINCT FROM OLD.definition \
                  OR NEW.definition_hash IS DISTINCT FROM OLD.definition_hash) THEN \
                 RAISE EXCEPTION 'cista: a published ballot definition is immutable'; \
               END IF; \
               IF (OLD.status = 'closed' AND (NEW.status IS DISTINCT FROM 'closed' \
                     OR NEW.results IS DISTINCT FROM OLD.results \
                     OR NEW.checkpoint IS DISTINCT FROM OLD.checkpoint)) \
                  OR (OLD.status = 'cancelled' AND NEW.status IS DISTINCT FROM 'cancelled') \
                  OR (OLD.status = 'published' AND NEW.status = 'draft') THEN \
                 RAISE EXCEPTION 'cista: closed and cancelled ballots are final'; \
               END IF; \
               RETURN NEW; \
             END $$",
            "CREATE TRIGGER ballots_guard BEFORE UPDATE OR DELETE ON ballots \
             FOR EACH ROW EXECUTE FUNCTION cista_ballots_guard()",
            "CREATE TRIGGER participation_kept BEFORE UPDATE OR DELETE ON participation \
             FOR EACH ROW EXECUTE FUNCTION cista_refuse('participation records are kept unchanged')",
            "CREATE TRIGGER ballot_roll_kept BEFORE UPDATE OR DELETE ON ballot_roll \
             FOR EACH ROW EXECUTE FUNCTION cista_refuse('a ballot roll is kept unchanged')",
            "CREATE TRIGGER vote_refusals_kept BEFORE UPDATE OR DELETE ON vote_refusals \
             FOR EACH ROW EXECUTE FUNCTION cista_refuse('refusal records are kept unchanged')",
            "CREATE TRIGGER ballot_box_no_update BEFORE UPDATE ON ballot_box \
             FOR EACH ROW EXECUTE FUNCTION cista_refuse('a cast ballot is immutable')",
            // Once a statement, over the rows it deleted (a transition table): a shuffle
            // deletes a whole box, and a row trigger's PL/pgSQL call and lookup cost 15 s at
            // a million entries. The exception still undoes the whole statement.
            // `m20261211_000001_box_guard_per_statement` puts this in place of the row trigger.
            "CREATE OR REPLACE FUNCTION cista_ballot_box_delete() RETURNS trigger \
             LANGUAGE plpgsql AS $$ \
             BEGIN \
               IF EXISTS (SELECT 1 FROM (SELECT DISTINCT ballot_id FROM removed) r \
                          LEFT JOIN ballots b ON b.id = r.ballot_id \
                          WHERE b.status IS DISTINCT FROM 'published') THEN \
                 RAISE EXCEPTION 'cista: voting records are kept'; \
               END IF; \
               RETURN NULL; \
             END $$",
            "CREATE TRIGGER ballot_box_kept AFTER DELETE ON ballot_box \
             REFERENCING OLD TABLE AS removed \
             FOR EACH STATEMENT EXECUTE FUNCTION cista_ballot_box_delete()",
        ],
    }
}

/// The names of the voting guard triggers present in the database, read from its catalog (so
/// the trust page reports what is enforced, not what should be).
pub(crate) async fn voting_guards_present(db: &DatabaseConnection) -> Result<Vec<String>> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name",
        _ => {
            "SELECT t.tgname::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND NOT t.tgisinternal ORDER BY 1"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .map_err(crate::convert::db_err)?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<String>(0).ok())
        .collect())
}

/// After a shuffle rewrote a ballot box, PostgreSQL still holds the superseded row versions
/// (with their original transaction ids) in its data files until a vacuum removes them; this
/// removes them now. SQLite stores the box in tracker order and has no row history.
pub(crate) async fn compact_ballot_box(db: &DatabaseConnection) -> Result<()> {
    vacuum_on_postgres(db, "VACUUM ballot_box").await
}

/// Vacuums and analyses the tables a ballot's turnout is summed from (`participation` and
/// `ballot_roll`) on PostgreSQL, so that the sums can be read from their indexes alone (an
/// index-only scan needs the visibility map a vacuum sets) or in parallel, and are planned
/// for the rows there are. Without it, a server whose autovacuum is off or behind plans a
/// million voters as a few thousand and reads them through a bitmap heap scan: 440 ms for the
/// two sums against 130–260 ms, measured on the 2-core machine at a million units (issue 15).
/// Vacuum skips the pages it has already marked all-visible, so each run costs in proportion
/// to the rows written since the last. SQLite reads the turnout from its indexes already.
pub(crate) async fn vacuum_turnout_tables(db: &DatabaseConnection) -> Result<()> {
    vacuum_on_postgres(db, "VACUUM (ANALYZE) participation, ballot_roll").await
}

/// Runs `statement` (a `VACUUM`, which cannot run in a transaction) on PostgreSQL only.
async fn vacuum_on_postgres(db: &DatabaseConnection, statement: &str) -> Result<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared(statement)
            .await
            .map_err(crate::convert::db_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
