//! Tests of the connection settings: URLs, TLS refusal, the SQLite memory map and the pool's
//! unmapping, the linked SQLite's build options, and `TCP_NODELAY` on PostgreSQL's sockets.
use super::*;

#[test]
fn urls_are_parsed_and_passwords_never_printed() {
    assert_eq!(
        Target::parse("sqlite:///tmp/x.db").unwrap(),
        Target::SqliteFile(PathBuf::from("/tmp/x.db"))
    );
    assert_eq!(
        Target::parse("sqlite::memory:").unwrap(),
        Target::SqliteMemory
    );
    let pg = Target::parse("postgres://cista:s3cret@db.example:5433/cista").unwrap();
    assert_eq!(pg.describe(), "postgres://cista@db.example:5433/cista");
    assert!(!format!("{pg:?}").contains("s3cret"));
    for bad in [
        "mysql://x",
        "sqlite://",
        "nonsense",
        "postgres://a:b@host:notaport/db",
    ] {
        assert!(Target::parse(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn a_remote_postgres_without_verified_tls_is_refused_before_connecting() {
    let target = Target::parse("postgres://cista@db.example.invalid/cista").unwrap();
    let err = connect(&target, &ConnectOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("sslmode=verify-full"), "{err}");
}

/// The database file's memory maps in this process, from `/proc/self/maps`.
fn mappings_of(path: &std::path::Path) -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let path = path.to_str().unwrap();
    maps.lines().filter(|line| line.ends_with(path)).count()
}

async fn mmap_size(conn: &impl ConnectionTrait) -> String {
    text(conn, "PRAGMA mmap_size").await.unwrap().unwrap()
}

#[tokio::test]
async fn only_a_bulk_read_maps_the_database_and_the_pool_takes_the_map_down() {
    use sea_orm::TransactionTrait as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mapped.db");
    // One connection, so every statement below runs on the connection the read mapped.
    let options = ConnectOptions {
        max_connections: 1,
        ..ConnectOptions::default()
    };
    let db = connect(&Target::SqliteFile(path.clone()), &options)
        .await
        .unwrap();
    db.execute_unprepared(
        "CREATE TABLE t (x BLOB); \
         INSERT INTO t SELECT randomblob(1000) FROM (SELECT 1 UNION SELECT 2 UNION SELECT 3); \
         PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .await
    .unwrap();
    // Reads that are not bulk reads go through `pread(2)`, as SQLite does by default.
    assert_eq!(
        db.query_all_raw(Statement::from_string(DbBackend::Sqlite, "SELECT x FROM t"))
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(mmap_size(&db).await, "0");
    assert_eq!(mappings_of(&path), 0);

    let txn = db.begin().await.unwrap();
    assert!(
        map_for_bulk_read(&txn).await.unwrap(),
        "the first page maps"
    );
    assert_eq!(mmap_size(&txn).await, SQLITE_MMAP_SIZE.to_string());
    // A read of many pages maps before each; the connection is counted as mapped once,
    // as its release unmaps it once.
    assert!(
        !map_for_bulk_read(&txn).await.unwrap(),
        "a later page maps again"
    );
    let read = txn
        .query_all_raw(Statement::from_string(DbBackend::Sqlite, "SELECT x FROM t"))
        .await
        .unwrap();
    assert_eq!(read.len(), 3);
    assert_eq!(mappings_of(&path), 1, "the bulk read maps the file");
    txn.commit().await.unwrap();

    // The next statement waits for the one connection, which the pool hands out only
    // after its `after_release` hook has run.
    assert_eq!(mmap_size(&db).await, "0");
    assert_eq!(
        mappings_of(&path),
        0,
        "no connection waits in the pool with a map"
    );

    // A bulk read abandoned half-way (its transaction dropped, not committed) is unmapped
    // all the same.
    let txn = db.begin().await.unwrap();
    map_for_bulk_read(&txn).await.unwrap();
    assert_eq!(
        txn.query_all_raw(Statement::from_string(DbBackend::Sqlite, "SELECT x FROM t"))
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(mappings_of(&path), 1);
    drop(txn);
    assert_eq!(mmap_size(&db).await, "0");
    assert_eq!(mappings_of(&path), 0, "an abandoned bulk read left its map");
}

/// Connections going back while another holds a map are left as they are, and the mapped
/// one is unmapped whichever goes back first.
#[tokio::test]
async fn the_pool_unmaps_the_mapped_connection_among_others() {
    use sea_orm::TransactionTrait as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("among.db");
    let options = ConnectOptions {
        max_connections: 3,
        ..ConnectOptions::default()
    };
    let db = connect(&Target::SqliteFile(path.clone()), &options)
        .await
        .unwrap();
    db.execute_unprepared(
        "CREATE TABLE t (x BLOB); INSERT INTO t VALUES (randomblob(5000)); \
         PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .await
    .unwrap();
    let select = || Statement::from_string(DbBackend::Sqlite, "SELECT x FROM t");
    for mapped_goes_back_first in [false, true] {
        let plain = db.begin().await.unwrap();
        let mapped = db.begin().await.unwrap();
        map_for_bulk_read(&mapped).await.unwrap();
        assert_eq!(mapped.query_all_raw(select()).await.unwrap().len(), 1);
        assert_eq!(plain.query_all_raw(select()).await.unwrap().len(), 1);
        assert_eq!(mmap_size(&plain).await, "0");
        assert_eq!(mappings_of(&path), 1);
        if mapped_goes_back_first {
            mapped.commit().await.unwrap();
            plain.commit().await.unwrap();
        } else {
            plain.commit().await.unwrap();
            mapped.commit().await.unwrap();
        }
        // Every pooled connection in turn: none holds a map.
        let held: Vec<_> = futures::future::join_all((0..3).map(|_| db.begin()))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        for txn in &held {
            assert_eq!(mmap_size(txn).await, "0");
        }
        assert_eq!(mappings_of(&path), 0, "a map was left behind");
        drop(held);
    }
}

/// The SQLite pool has no `max_lifetime`, so it never closes a connection for its age as it
/// goes back, before the `after_release` hook that unmaps it (sqlx's default of 30 minutes
/// did: a bulk read on a connection older than that left the mapped count up, and every
/// later release asked its connection for its map size).
#[tokio::test]
async fn the_sqlite_pool_retires_no_connection_for_its_age() {
    let dir = tempfile::tempdir().unwrap();
    let db = connect(
        &Target::SqliteFile(dir.path().join("aged.db")),
        &ConnectOptions::default(),
    )
    .await
    .unwrap();
    let options = db.get_sqlite_connection_pool().options();
    assert_eq!(options.get_max_lifetime(), None);
}

/// The SQLite linked in is built with `SQLITE_DEFAULT_MEMSTATUS=0` (set for every build
/// in `.cargo/config.toml`): its allocations take no process-wide lock. A build without
/// that file, or with the variable overridden, fails here instead of silently slowing
/// every bulk read.
#[tokio::test]
async fn the_linked_sqlite_keeps_no_memory_statistics() {
    let db = connect(&Target::SqliteMemory, &ConnectOptions::default())
        .await
        .unwrap();
    let options: Vec<String> = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA compile_options",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect();
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "{options:?}"
    );
}

/// The server process behind the pool's one PostgreSQL connection.
async fn backend_pid(db: &DatabaseConnection) -> Result<String> {
    Ok(text(db, "SELECT pg_backend_pid()::text")
        .await?
        .unwrap_or_default())
}

/// Ends the server process `pid` and waits (up to 5 s) until it has gone.
async fn end_backend(admin: &DatabaseConnection, pid: &str) {
    let ended = text(admin, &format!("SELECT pg_terminate_backend({pid}, 5000)"))
        .await
        .unwrap();
    assert_eq!(ended.as_deref(), Some("true"), "backend {pid}");
}

/// A PostgreSQL connection the server ends while it waits in the pool: once it has been idle
/// for `PING_IF_IDLE_FOR`, the pool's ping finds it before use and a new one is opened, with no
/// error; taken sooner, it fails the one statement that takes it as unavailable (a 503 to
/// retry, never a fault of the statement), and the next statement runs on a new connection.
#[tokio::test]
async fn a_postgres_connection_the_server_ended_is_replaced() {
    let Some(schema) = cista_testkit::postgres::PrivateSchema::create().await else {
        return;
    };
    let options = ConnectOptions {
        max_connections: 1,
        ..ConnectOptions::default()
    };
    let db = connect(&Target::parse(&schema.url()).unwrap(), &options)
        .await
        .unwrap();
    let admin = connect(
        &Target::parse(schema.server_url()).unwrap(),
        &ConnectOptions::default(),
    )
    .await
    .unwrap();

    let first = backend_pid(&db).await.unwrap();
    end_backend(&admin, &first).await;
    tokio::time::sleep(PING_IF_IDLE_FOR + Duration::from_millis(200)).await;
    let second = backend_pid(&db)
        .await
        .expect("an idle connection the server ended is replaced before use");
    assert_ne!(first, second);

    end_backend(&admin, &second).await;
    match backend_pid(&db).await {
        Err(e) => assert!(matches!(e, Error::StoreUnavailable(_)), "{e:?}"),
        // Only if more than `PING_IF_IDLE_FOR` passed since the last statement (a slow
        // machine): the ping found it, as above.
        Ok(pid) => assert_ne!(pid, second),
    }
    let third = backend_pid(&db)
        .await
        .expect("the pool opened a new connection");
    assert_ne!(third, second);
    drop(db);
    schema.drop_now().await;
}

/// A SQLite write that another connection's lock keeps out past the busy timeout is the
/// database out of reach (a 503 to retry, as a PostgreSQL connection lost is), while a
/// statement SQLite refuses on its own terms stays the store's fault.
#[tokio::test]
async fn a_sqlite_write_kept_out_by_another_lock_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.db");
    let options = ConnectOptions {
        max_connections: 1,
        busy_timeout: Duration::from_millis(50),
        ..ConnectOptions::default()
    };
    let db = connect(&Target::SqliteFile(path.clone()), &options)
        .await
        .unwrap();
    db.execute_unprepared("CREATE TABLE t (x INTEGER PRIMARY KEY)")
        .await
        .unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let kept_out = db
        .execute_unprepared("INSERT INTO t VALUES (1)")
        .await
        .map_err(crate::convert::db_err)
        .unwrap_err();
    assert!(
        matches!(kept_out, Error::StoreUnavailable(_)),
        "{kept_out:?}"
    );
    other.execute_batch("ROLLBACK").unwrap();
    db.execute_unprepared("INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let refused = db
        .execute_unprepared("INSERT INTO t VALUES (1)")
        .await
        .map_err(crate::convert::db_err)
        .unwrap_err();
    assert!(matches!(refused, Error::Store(_)), "{refused:?}");
}

/// `(relpages, relallvisible)` of `table` in the schema the connection uses.
async fn visibility(db: &DatabaseConnection, table: &str) -> (i64, i64) {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT relpages::bigint, relallvisible::bigint FROM pg_class \
             WHERE oid = to_regclass($1)",
            [table.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    (
        row.try_get_by_index(0).unwrap(),
        row.try_get_by_index(1).unwrap(),
    )
}

/// The plan PostgreSQL makes for one turnout sum, as text.
async fn turnout_plan(db: &DatabaseConnection, table: &str, weight: &str) -> String {
    let sql = format!("EXPLAIN SELECT COUNT(*), SUM({weight}) FROM {table} WHERE ballot_id = 7");
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The vacuum the worker runs after a shuffle leaves the tables a ballot's turnout is summed from
/// (the participation ledger and the roll) all-visible and analysed: the sums are then
/// planned for the rows there are and read from the indexes or in parallel, never through a
/// bitmap heap scan planned for a few thousand rows (440 ms at a million voters, issue 15).
#[tokio::test]
async fn the_turnout_vacuum_readies_the_turnout_tables() {
    use cista_core::ports::Store as _;
    use sea_orm::TransactionTrait as _;
    let Some(schema) = cista_testkit::postgres::PrivateSchema::create().await else {
        return;
    };
    let target = Target::parse(&schema.url()).unwrap();
    let store = crate::SeaStore::connect_and_migrate(&target, &ConnectOptions::default())
        .await
        .unwrap();
    let db = store.connection();
    // Rows as casts leave them, written since the tables were last vacuumed; the ballot and
    // units they name need not exist for the plans (replica mode skips foreign keys), nor need
    // the roll's sort keys be natural ones (the plans read the weights).
    let txn = db.begin().await.unwrap();
    txn.execute_unprepared(
        "ALTER TABLE participation SET (autovacuum_enabled = false); \
         ALTER TABLE ballot_roll SET (autovacuum_enabled = false); \
         SET LOCAL session_replication_role = replica; \
         INSERT INTO ballot_roll (ballot_id, unit_id, label, weight_micros, sort_key) \
         SELECT 7, n, 'U' || n, 1000000, convert_to('U' || n, 'UTF8') \
         FROM generate_series(1, 50000) AS n; \
         INSERT INTO participation (ballot_id, unit_id, channel, at, roll_weight_micros) \
         SELECT 7, n, 'online', now(), 1000000 FROM generate_series(1, 50000) AS n",
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    let sums = [
        ("participation", "roll_weight_micros"),
        ("ballot_roll", "weight_micros"),
    ];
    for (table, weight) in sums {
        let before = turnout_plan(db, table, weight).await;
        assert!(
            before.contains("Bitmap Heap Scan"),
            "the planner no longer misjudges unvacuumed tables, so this test shows nothing: \
             {before}"
        );
    }

    // VACUUM marks a page all-visible only below the oldest snapshot on the server, and the
    // tests beside this one (other schemas, the same database) open transactions of their
    // own: the vacuum runs again while one holds that horizon back, as the worker's runs
    // again on its next pass, for up to 10 s.
    for _ in 0..50 {
        store.voting().vacuum_turnout_tables().await.unwrap();
        let mut all_visible = true;
        for (table, _) in sums {
            let (pages, visible) = visibility(db, table).await;
            all_visible &= pages > 0 && visible == pages;
        }
        if all_visible {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (table, weight) in sums {
        let (pages, visible) = visibility(db, table).await;
        assert!(
            pages > 0 && visible == pages,
            "{table}: {visible} of {pages}"
        );
        // Planned for the 50,000 rows there are (the statistics sampled them all).
        let after = turnout_plan(db, table, weight).await;
        assert!(
            !after.contains("Bitmap Heap Scan") && after.contains("rows=50000"),
            "{after}"
        );
    }
    // A no-op on SQLite.
    let sqlite = crate::SeaStore::connect_and_migrate(
        &Target::parse("sqlite::memory:").unwrap(),
        &ConnectOptions::default(),
    )
    .await
    .unwrap();
    sqlite.voting().vacuum_turnout_tables().await.unwrap();
    drop(store);
    schema.drop_now().await;
}

/// Every socket of this process connected to a peer's `port`, as copies of their descriptors
/// (`pidfd_getfd(2)` on this process; closing a copy leaves the socket open). A descriptor
/// closed since the listing is skipped; any other failure fails the test, so that a sandbox
/// that refuses the call is named rather than taken for "no socket".
fn sockets_to(port: u16) -> Vec<rustix::fd::OwnedFd> {
    use rustix::process::{PidfdFlags, PidfdGetfdFlags};
    let me = rustix::process::Pid::from_raw(std::process::id().try_into().unwrap()).unwrap();
    let pidfd = rustix::process::pidfd_open(me, PidfdFlags::empty()).unwrap();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let entry = entry.unwrap();
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        let number = entry.file_name().to_str().and_then(|n| n.parse().ok());
        let Some(number) = number.filter(|_| is_socket) else {
            continue;
        };
        let copy = match rustix::process::pidfd_getfd(&pidfd, number, PidfdGetfdFlags::empty()) {
            Ok(copy) => copy,
            Err(rustix::io::Errno::BADF) => continue,
            Err(e) => panic!("pidfd_getfd of descriptor {number}: {e}"),
        };
        let peer = rustix::net::getpeername(&copy)
            .ok()
            .flatten()
            .and_then(|a| std::net::SocketAddr::try_from(a).ok());
        if peer.is_some_and(|p| p.port() == port) {
            found.push(copy);
        }
    }
    found
}

/// The store's connections to PostgreSQL send each statement at once. With Nagle's algorithm
/// (RFC 896) on, a statement longer than a segment ended with a small one that waited for
/// the server's delayed acknowledgement: sqlx 0.9.0 left `TCP_NODELAY` off (sqlx issue
/// #4335), and every 500-row insert of units, a roll or box entries waited about 50 ms (a
/// million-unit publication took 107 s). sqlx 0.9.1 sets it on every socket it connects.
#[tokio::test]
async fn connections_to_postgres_send_without_waiting_nagle() {
    use std::str::FromStr as _;
    let Some(schema) = cista_testkit::postgres::PrivateSchema::create().await else {
        return;
    };
    // The port this process connects to (a proxy or a mapped port may differ from the
    // server's own).
    let options = sqlx::postgres::PgConnectOptions::from_str(&schema.url()).unwrap();
    if options.get_socket().is_some() || options.get_host().starts_with('/') {
        eprintln!("the test server is reached by a Unix socket, where Nagle's algorithm is not");
        schema.drop_now().await;
        return;
    }
    // A pool as the store opens it; no migration, whose transactions would hold back the
    // vacuum horizon of the tests beside this one.
    let db = connect(
        &Target::parse(&schema.url()).unwrap(),
        &ConnectOptions::default(),
    )
    .await
    .unwrap();
    db.execute_unprepared("SELECT 1").await.unwrap();
    let port = options.get_port();
    let sockets = sockets_to(port);
    assert!(!sockets.is_empty(), "no socket to port {port} found");
    for socket in &sockets {
        // Another test's connection may be between its connect and sqlx's `setsockopt`:
        // it gets a moment before it counts.
        let mut nodelay = rustix::net::sockopt::tcp_nodelay(socket).unwrap();
        if !nodelay {
            tokio::time::sleep(Duration::from_millis(200)).await;
            nodelay = rustix::net::sockopt::tcp_nodelay(socket).unwrap();
        }
        assert!(
            nodelay,
            "a connection to PostgreSQL has Nagle's algorithm on"
        );
    }
    drop(db);
    schema.drop_now().await;
}
