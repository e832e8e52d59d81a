//! Migrations, schema versions, engine settings and value round trips.

use crate::Harness;
use cista_core::Error;
use cista_core::Store as _;
use cista_core::ports::Backend;
use cista_store::{ConnectOptions, SeaStore};
use cista_types::{OrgName, OrgSlug, Timestamp};
use sea_orm::ConnectionTrait as _;

pub async fn migrations_apply_once_and_leave_nothing_pending(h: &Harness) {
    let status = h.store.schema_status().await.unwrap();
    assert!(status.pending.is_empty(), "{status:?}");
    assert!(!status.applied.is_empty());
    // Running migrate again is a no-op.
    assert!(h.store.migrate().await.unwrap().is_empty());
    let again = SeaStore::connect_and_migrate(&h.db.target, &ConnectOptions::default())
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
    let err = SeaStore::connect(&h.db.target, &ConnectOptions::default())
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

/// Invites someone at `at` and says whether their invitation is due `later` (the clock is set to
/// each in turn; the outbox stores the invitation as due at `at`).
async fn invitation_due(
    h: &Harness,
    cista: &cista_core::Cista,
    email: &str,
    at: &str,
    later: &str,
) -> bool {
    use cista_core::Actor;
    let org = h
        .store
        .organization_by_slug(&OrgSlug::parse("time-keepers").unwrap())
        .await
        .unwrap();
    let org = match org {
        Some(org) => org.id,
        None => {
            cista
                .create_organization(
                    &Actor::operator("test"),
                    OrgName::parse("Time Keepers").unwrap(),
                    OrgSlug::parse("time-keepers").unwrap(),
                )
                .await
                .unwrap()
                .id
        }
    };
    h.clock.set(Timestamp::parse_rfc3339(at).unwrap());
    cista
        .invite(
            &Actor::operator("test"),
            org,
            crate::harness::invitee("Tim", "Keeper", email, None, cista_types::Role::Member),
        )
        .await
        .unwrap();
    h.clock.set(Timestamp::parse_rfc3339(later).unwrap());
    let due = cista.due_deliveries(&Actor::System, 10).await.unwrap();
    due.iter().any(|d| d.address == email)
}

/// Stored times compare in time order even within one second, where the text SQLite used to
/// keep (`…:00Z`, `…:00.12Z`: trailing zeros dropped) sorted a whole second after its fractions
/// and `.12` after `.123`.
pub async fn stored_times_keep_time_order_within_a_second(h: &Harness) {
    let cista = h.cista().await;
    for (email, at, later) in [
        (
            "whole@example.org",
            "2026-11-22T14:04:00Z",
            "2026-11-22T14:04:00.000001Z",
        ),
        (
            "tenth@example.org",
            "2026-11-22T14:05:00.1Z",
            "2026-11-22T14:05:00.100001Z",
        ),
        (
            "short@example.org",
            "2026-11-22T14:06:00.12Z",
            "2026-11-22T14:06:00.123Z",
        ),
        (
            "same@example.org",
            "2026-11-22T14:07:00.5Z",
            "2026-11-22T14:07:00.5Z",
        ),
    ] {
        assert!(
            invitation_due(h, &cista, email, at, later).await,
            "an invitation made at {at} is due at {later}"
        );
    }
    // And not a microsecond early.
    assert!(
        !invitation_due(
            h,
            &cista,
            "early@example.org",
            "2026-11-22T14:08:00.000001Z",
            "2026-11-22T14:08:00Z"
        )
        .await
    );
}

/// A database written before the fixed-width rule keeps its times and, once migrated, compares
/// them in time order too (on PostgreSQL the migration has nothing to do).
pub async fn times_stored_before_the_fixed_width_rule_are_rewritten(h: &Harness) {
    let cista = h.cista().await;
    assert!(
        !invitation_due(
            h,
            &cista,
            "old@example.org",
            "2026-11-22T14:04:01Z",
            "2026-11-22T14:04:00.999999Z"
        )
        .await
    );
    // The text sqlx wrote before (trailing zeros dropped), as an older Cista left it.
    h.tamper("UPDATE outbox SET next_attempt_at = '2026-11-22T14:04:00Z'")
        .await;
    h.tamper("UPDATE organizations SET created_at = '2026-11-22T14:03:00.12Z'")
        .await;
    h.tamper("DELETE FROM seaql_migrations WHERE version = 'm20261202_000001_sortable_times'")
        .await;
    assert_eq!(
        h.store.migrate().await.unwrap(),
        ["m20261202_000001_sortable_times"]
    );
    let org = h
        .store
        .organization_by_slug(&OrgSlug::parse("time-keepers").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(org.created_at.to_rfc3339(), "2026-11-22T14:03:00.120000Z");
    h.clock
        .set(Timestamp::parse_rfc3339("2026-11-22T14:04:00.000001Z").unwrap());
    let due = cista
        .due_deliveries(&cista_core::Actor::System, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1, "due at 14:04:00 and read just after");
}

/// Text sorts by its bytes (code points) on both engines: SQLite's `BINARY`, PostgreSQL's
/// `"C"` on every text column. A PostgreSQL database created with a locale collation (as
/// `en_US.UTF-8` production servers are) sorts `alpha` before `Zeta` and skips punctuation;
/// the migration gives such a database byte order, and lists come out the same everywhere.
pub async fn text_sorts_by_its_bytes_on_both_engines(h: &Harness) {
    let cista = h.cista().await;
    if h.is_postgres() {
        // As a database with a locale's collation left it (ICU's root locale is always there
        // when PostgreSQL has ICU): the migration must give byte order back.
        h.tamper("ALTER TABLE organizations ALTER COLUMN name TYPE text COLLATE \"und-x-icu\"")
            .await;
        h.tamper("DELETE FROM seaql_migrations WHERE version = 'm20261202_000002_byte_order_text'")
            .await;
        assert_eq!(
            h.store.migrate().await.unwrap(),
            ["m20261202_000002_byte_order_text"]
        );
    }
    let names = [
        "Zeta Towers",
        "alpha Court",
        "Éclair House",
        "_Annex",
        "beta-Villas",
        "Beta Villas",
    ];
    for (i, name) in names.iter().enumerate() {
        cista
            .create_organization(
                &cista_core::Actor::operator("test"),
                OrgName::parse(name).unwrap(),
                OrgSlug::parse(&format!("sorted-{i}")).unwrap(),
            )
            .await
            .unwrap();
    }
    let listed: Vec<String> = h
        .store
        .organizations()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name.to_string())
        .filter(|n| names.contains(&n.as_str()))
        .collect();
    let mut bytewise: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    bytewise.sort();
    assert_eq!(listed, bytewise);
    if h.is_postgres() {
        // Every collatable column, the vault's too, so a later migration cannot bring a
        // locale's order back unnoticed.
        let rows = h
            .store
            .connection()
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT c.relname || '.' || a.attname AS col FROM pg_attribute a \
                 JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_collation co ON co.oid = a.attcollation \
                 WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0 \
                   AND NOT a.attisdropped AND co.collname <> 'C' \
                   AND c.relname NOT LIKE 'seaql\\_migrations%'",
            ))
            .await
            .unwrap();
        let columns: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String>("", "col").unwrap())
            .collect();
        assert!(columns.is_empty(), "not in byte order: {columns:?}");
    }
}

/// The plan the engine makes for `sql`, as text: SQLite's `EXPLAIN QUERY PLAN` details, or
/// PostgreSQL's `EXPLAIN (COSTS OFF)` with sequential and bitmap scans and sorts priced out, so
/// that the plan a large table would get (an index walked in the order asked for) is made
/// however few rows the test's tables hold.
async fn plan(h: &Harness, sql: &str) -> String {
    use sea_orm::TransactionTrait as _;
    let db = h.store.connection();
    let backend = db.get_database_backend();
    let txn = db.begin().await.unwrap();
    let explain = if h.is_postgres() {
        // An empty table's plan would read it all and sort: with no statistics, PostgreSQL
        // cannot tell a walk of an index in order from a read of the whole table.
        txn.execute_unprepared(
            "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; \
             SET LOCAL enable_sort = off",
        )
        .await
        .unwrap();
        format!("EXPLAIN (COSTS OFF) {sql}")
    } else {
        format!("EXPLAIN QUERY PLAN {sql}")
    };
    let rows = txn
        .query_all_raw(sea_orm::Statement::from_string(backend, explain))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    txn.rollback().await.unwrap();
    // PostgreSQL's plan is one text column; SQLite's detail is the fourth.
    let column = if h.is_postgres() { 0 } else { 3 };
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(column).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads and deletes that run again and again, or inside a write transaction, start from an
/// index that fits them rather than walking a table's whole history (issue 15). Each
/// statement is the one the store sends, with values in place of its parameters; the plan
/// must name one of the indexes listed for it.
pub async fn reads_keyed_by_a_column_start_from_its_index(h: &Harness) {
    let time = "'2026-12-07T00:00:00.000000Z'";
    let statements: [(&str, String, &[&str]); 7] = [
        (
            "erasure: the messages queued to a person",
            "DELETE FROM outbox WHERE recipient = 5".to_owned(),
            &["ix_outbox_recipient"],
        ),
        (
            "a webhook's page: its newest deliveries",
            "SELECT id FROM webhook_deliveries WHERE org_id = 1 AND webhook_id = 3 \
             ORDER BY created_at DESC, id ASC LIMIT 50"
                .to_owned(),
            &["ix_webhook_deliveries_webhook"],
        ),
        (
            "removing a webhook: its pending deliveries given up",
            format!(
                "UPDATE webhook_deliveries SET failed_at = {time} \
                 WHERE webhook_id = 3 AND delivered_at IS NULL AND failed_at IS NULL"
            ),
            &[
                "ix_webhook_deliveries_webhook",
                "ix_webhook_deliveries_pending",
            ],
        ),
        (
            "one form's submissions, the first page",
            "SELECT id FROM submissions WHERE org_id = 1 AND form_id IN (2) \
             ORDER BY received_at DESC, id DESC LIMIT 500"
                .to_owned(),
            &["ix_submissions_form_received"],
        ),
        (
            "one form's submissions, a later page",
            format!(
                "SELECT id FROM submissions WHERE org_id = 1 AND form_id IN (2) \
                 AND (received_at, id) < ({time}, 9) \
                 ORDER BY received_at DESC, id DESC LIMIT 500"
            ),
            &["ix_submissions_form_received"],
        ),
        (
            "a widget's load: the newest version of a form",
            "SELECT id FROM forms WHERE org_id = 1 AND form_key = 'risk-profile' \
             ORDER BY version DESC LIMIT 1"
                .to_owned(),
            &["ux_forms_org_key_version"],
        ),
        (
            "an organization's submissions of all its forms",
            "SELECT id FROM submissions WHERE org_id = 1 \
             ORDER BY received_at DESC, id DESC LIMIT 500"
                .to_owned(),
            &["ix_submissions_org_received"],
        ),
    ];
    for (what, sql, indexes) in statements {
        let plan = plan(h, &sql).await;
        assert!(
            indexes.iter().any(|index| plan.contains(index)),
            "{what}: expected one of {indexes:?}\n{sql}\n{plan}"
        );
    }
}
