//! Small query helpers: a read runs, its driver error becomes the core's, and its rows become
//! domain values in one call, so each store operation is its query and nothing around it.
//!
//! `select.one_as(db, convert::x)` replaces the five-line
//! `select.one(db).await.map_err(db_err)?.map(convert::x).transpose()`, and `all_as`, `all_map`,
//! `first`, `rows` and `count_rows` do the same for the other shapes. Connection-level failures
//! still come out as `store_unavailable` and the rest as `store` (see [`db_err`]).
//!
//! The list reads (`rows`, `all_as`, `all_map`, and `all_items` for a selected tuple) stream: each row becomes its model and its
//! domain value as it arrives, and the driver's row is dropped at once. SeaORM's `all` first
//! collects every driver row (on SQLite each value a `sqlite3_value` copy of its own), which
//! at a million units was about 1.4 GB for one read of the `units` table.

use crate::convert::db_err;
use cista_core::Result;
use futures::TryStreamExt as _;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, FromQueryResult, PaginatorTrait,
    QuerySelect as _, QueryTrait as _, Select, Statement, StreamTrait, Value,
};

/// What a store read runs on: the pool's connection or a transaction, which can both run a
/// statement and stream its rows.
pub(crate) trait Db: ConnectionTrait + StreamTrait {
    /// The engine it runs on (both traits name it `get_database_backend`).
    fn backend(&self) -> DbBackend {
        ConnectionTrait::get_database_backend(self)
    }
}

impl<T: ConnectionTrait + StreamTrait> Db for T {}

/// A `LIKE` pattern that matches text containing `text` literally: its `%`, `_` and `\`
/// are escaped (with `\`, named as the escape character, which both engines need said).
pub(crate) fn contains_literal(text: &str) -> sea_orm::sea_query::LikeExpr {
    let mut literal = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            literal.push('\\');
        }
        literal.push(c);
    }
    sea_orm::sea_query::LikeExpr::new(format!("%{literal}%")).escape('\\')
}

/// How many keys a read by a list of keys (`IN (…)`) takes at most, so that the statement stays
/// well under the engines' bound on parameters (SQLite 32,766, PostgreSQL 65,535).
const KEYS_A_READ: usize = 1000;

/// The rows `read` gives for `subjects`, read `KEYS_A_READ` subject codes at a time (`read`
/// gets the codes of one such part, for its `IN (…)`).
pub(crate) async fn read_by_subjects<T, F, Fut>(
    subjects: &[cista_types::SubjectCode],
    read: F,
) -> Result<Vec<T>>
where
    F: Fn(Vec<i64>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>>>,
{
    let mut rows = Vec::with_capacity(subjects.len());
    for part in subjects.chunks(KEYS_A_READ) {
        rows.extend(read(part.iter().map(|s| s.as_i64()).collect()).await?);
    }
    Ok(rows)
}

/// Writes a one-row read's `LIMIT ?` (bound to 1) as `LIMIT 1` on SQLite. SQLite reads a bound
/// LIMIT while planning (`sqlite3ExprIsInteger`), so it marks the statement to be prepared
/// again whenever that parameter is bound: every primary-key lookup was parsed and planned anew
/// on every run (a sixth of the CPU of a vote cast, measured with perf). A literal keeps the
/// prepared statement in sqlx's cache reusable. PostgreSQL plans a bound LIMIT generically,
/// so its statements are left as they are.
fn inline_sqlite_limit_one(statement: &mut Statement) {
    if statement.db_backend != DbBackend::Sqlite || !statement.sql.ends_with(" LIMIT ?") {
        return;
    }
    let Some(values) = statement.values.as_mut() else {
        return;
    };
    if matches!(values.0.last(), Some(Value::BigUnsigned(Some(1)))) {
        values.0.pop();
        statement.sql.truncate(statement.sql.len() - 1);
        statement.sql.push('1');
    }
}

/// Reads on a SeaORM [`Select`], with the core's errors.
pub(crate) trait Fetch<E: EntityTrait> {
    /// The first row (in the query's order), or `None`.
    async fn first<C: ConnectionTrait>(self, db: &C) -> Result<Option<E::Model>>;

    /// Every row, in the query's order.
    async fn rows<C: Db>(self, db: &C) -> Result<Vec<E::Model>>;

    /// The first row turned into a domain value by `to_domain`, or `None`.
    async fn one_as<T, C: ConnectionTrait>(
        self,
        db: &C,
        to_domain: impl FnOnce(E::Model) -> Result<T>,
    ) -> Result<Option<T>>;

    /// Every row turned into a domain value by `to_domain`; the first row that fails to
    /// convert (a malformed stored value) fails the read.
    async fn all_as<T, C: Db>(
        self,
        db: &C,
        to_domain: impl FnMut(E::Model) -> Result<T>,
    ) -> Result<Vec<T>>;

    /// Every row turned into a domain value by `to_domain`, which cannot fail.
    async fn all_map<T, C: Db>(
        self,
        db: &C,
        to_domain: impl FnMut(E::Model) -> T,
    ) -> Result<Vec<T>>;

    /// How many rows the query selects (its `limit` and `offset` honoured).
    async fn count_rows<C: ConnectionTrait>(self, db: &C) -> Result<u64>;
}

impl<E> Fetch<E> for Select<E>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
{
    async fn first<C: ConnectionTrait>(self, db: &C) -> Result<Option<E::Model>> {
        let mut statement = self.limit(1).build(db.get_database_backend());
        inline_sqlite_limit_one(&mut statement);
        db.query_one_raw(statement)
            .await
            .map_err(db_err)?
            .map(|row| E::Model::from_query_result(&row, ""))
            .transpose()
            .map_err(db_err)
    }

    async fn rows<C: Db>(self, db: &C) -> Result<Vec<E::Model>> {
        self.all_map(db, |model| model).await
    }

    async fn one_as<T, C: ConnectionTrait>(
        self,
        db: &C,
        to_domain: impl FnOnce(E::Model) -> Result<T>,
    ) -> Result<Option<T>> {
        self.first(db).await?.map(to_domain).transpose()
    }

    async fn all_as<T, C: Db>(
        self,
        db: &C,
        mut to_domain: impl FnMut(E::Model) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut models = self.stream(db).await.map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(model) = models.try_next().await.map_err(db_err)? {
            out.push(to_domain(model)?);
        }
        Ok(out)
    }

    async fn all_map<T, C: Db>(
        self,
        db: &C,
        mut to_domain: impl FnMut(E::Model) -> T,
    ) -> Result<Vec<T>> {
        self.all_as(db, |model| Ok(to_domain(model))).await
    }

    async fn count_rows<C: ConnectionTrait>(self, db: &C) -> Result<u64> {
        PaginatorTrait::count(self, db).await.map_err(db_err)
    }
}

/// Commits a transaction, with the core's error.
pub(crate) async fn commit(txn: DatabaseTransaction) -> Result<()> {
    txn.commit().await.map_err(db_err)
}

/// Every item a SeaORM [`Selector`] reads (a selected tuple, `into_tuple`), streamed as the
/// list reads of [`Fetch`] are, with the core's error.
pub(crate) async fn all_items<S, C>(selector: sea_orm::Selector<S>, db: &C) -> Result<Vec<S::Item>>
where
    S: sea_orm::SelectorTrait,
    S::Item: Send,
    C: Db,
{
    selector
        .stream(db)
        .await
        .map_err(db_err)?
        .try_collect()
        .await
        .map_err(db_err)
}

/// Every row of a hand-built `SELECT` (a join the entities do not describe), for the caller
/// to read by column name, with the core's error.
pub(crate) async fn select_rows<C: ConnectionTrait>(
    db: &C,
    select: &sea_orm::sea_query::SelectStatement,
) -> Result<Vec<sea_orm::QueryResult>> {
    db.query_all_raw(db.get_database_backend().build(select))
        .await
        .map_err(db_err)
}

#[cfg(test)]
mod tests {
    use super::{Db, Fetch};
    use cista_core::Error;
    use sea_orm::{ConnectOptions, Database, DatabaseConnection, TransactionTrait as _};
    use sea_orm::{ConnectionTrait as _, EntityTrait as _, QueryOrder as _, QuerySelect as _};

    /// A table of its own, so that the reads below depend on no migration.
    mod row {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "t")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i64,
            pub text: String,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    /// One in-memory SQLite connection holding `rows` rows, ids 1 to `rows`.
    async fn table_of(rows: u32) -> DatabaseConnection {
        let mut options = ConnectOptions::new("sqlite::memory:");
        options.max_connections(1).sqlx_logging(false);
        let db = Database::connect(options).await.unwrap();
        db.execute_unprepared(&format!(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT NOT NULL); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) \
             INSERT INTO t SELECT i, 'row ' || i FROM n;"
        ))
        .await
        .unwrap();
        db
    }

    async fn ids(db: &impl Db) -> Vec<i64> {
        row::Entity::find()
            .order_by_asc(row::Column::Id)
            .all_map(db, |m| m.id)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_list_read_streams_every_row_in_order_and_gives_its_connection_back() {
        // More rows than any driver buffer between the SQLite thread and the reader.
        let db = table_of(20_000).await;
        assert_eq!(ids(&db).await, (1..=20_000).collect::<Vec<_>>());
        // In a transaction, on the pool's one connection: the transaction's next statement
        // and its commit would wait forever if the read's stream still held it.
        let txn = db.begin().await.unwrap();
        assert_eq!(ids(&txn).await.len(), 20_000);
        txn.execute_unprepared("DELETE FROM t WHERE id > 3")
            .await
            .unwrap();
        let rows = row::Entity::find()
            .order_by_asc(row::Column::Id)
            .rows(&txn)
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[2].text, "row 3");
        // A selected tuple streams the same way, and the transaction still goes on.
        let texts = row::Entity::find()
            .select_only()
            .column(row::Column::Id)
            .column(row::Column::Text)
            .order_by_desc(row::Column::Id)
            .into_tuple::<(i64, String)>();
        let texts = super::all_items(texts, &txn).await.unwrap();
        assert_eq!(texts[0], (3, "row 3".to_owned()));
        assert_eq!(texts.len(), 3);
        txn.execute_unprepared("UPDATE t SET text = 'three' WHERE id = 3")
            .await
            .unwrap();
        txn.commit().await.unwrap();
        assert_eq!(ids(&db).await, vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn a_row_that_does_not_convert_fails_the_read_and_nothing_else() {
        let db = table_of(10).await;
        let txn = db.begin().await.unwrap();
        let mut converted = 0;
        let read = row::Entity::find()
            .order_by_asc(row::Column::Id)
            .all_as(&txn, |m| {
                converted += 1;
                if m.id == 4 {
                    return Err(Error::Integrity(format!("row {} is malformed", m.id)));
                }
                Ok(m.id)
            })
            .await;
        assert!(
            matches!(&read, Err(Error::Integrity(m)) if m == "row 4 is malformed"),
            "{read:?}"
        );
        assert_eq!(converted, 4, "the read stops at the first row that fails");
        // The half-read statement is gone: the transaction goes on and commits.
        txn.execute_unprepared("DELETE FROM t WHERE id = 4")
            .await
            .unwrap();
        txn.commit().await.unwrap();
        assert_eq!(ids(&db).await.len(), 9);
    }
}
