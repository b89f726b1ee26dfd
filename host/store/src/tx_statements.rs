//! Statements on a write transaction ([`Tx`]), written once for each of the
//! three ways a transaction runs: sqlx on SQLite, sqlx on PostgreSQL, and
//! SQLite's C API on the group-commit writer's thread ([`crate::direct`]).
//!
//! Code that runs inside a group commit (the directory-state writer, the
//! directory read, the event append) uses these; other transactions may
//! still use `on_tx!` directly, which refuses the direct variant.

use sqlx::AssertSqlSafe;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::backend::Tx;
use crate::direct::DirectRow;
use crate::error::StoreError;
use crate::sql::Arg;

/// A row type every transaction kind can decode.
pub(crate) trait TxRow:
    for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + DirectRow + Send + Unpin
{
}

impl<T> TxRow for T where
    T: for<'r> sqlx::FromRow<'r, SqliteRow>
        + for<'r> sqlx::FromRow<'r, PgRow>
        + DirectRow
        + Send
        + Unpin
{
}

impl Tx {
    /// Runs a statement; answers how many rows it changed.
    pub(crate) async fn execute(&mut self, sql: &str, args: Vec<Arg>) -> Result<u64, StoreError> {
        Ok(match self {
            Tx::Direct(d) => d.execute(sql, &args)?,
            Tx::Sqlite(t) => bind_args!(sqlx::query(AssertSqlSafe(sql)), args)
                .execute(&mut **t)
                .await?
                .rows_affected(),
            Tx::Postgres { tx, .. } => bind_args!(sqlx::query(AssertSqlSafe(sql)), args)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    /// Every row of a query.
    pub(crate) async fn fetch_all<R: TxRow>(
        &mut self,
        sql: &str,
        args: Vec<Arg>,
    ) -> Result<Vec<R>, StoreError> {
        Ok(match self {
            Tx::Direct(d) => d.query(sql, &args)?,
            Tx::Sqlite(t) => {
                bind_args!(sqlx::query_as(AssertSqlSafe(sql)), args)
                    .fetch_all(&mut **t)
                    .await?
            }
            Tx::Postgres { tx, .. } => {
                bind_args!(sqlx::query_as(AssertSqlSafe(sql)), args)
                    .fetch_all(&mut **tx)
                    .await?
            }
        })
    }

    /// The first row of a query, if any.
    pub(crate) async fn fetch_optional<R: TxRow>(
        &mut self,
        sql: &str,
        args: Vec<Arg>,
    ) -> Result<Option<R>, StoreError> {
        Ok(match self {
            Tx::Direct(d) => d.query(sql, &args)?.into_iter().next(),
            Tx::Sqlite(t) => {
                bind_args!(sqlx::query_as(AssertSqlSafe(sql)), args)
                    .fetch_optional(&mut **t)
                    .await?
            }
            Tx::Postgres { tx, .. } => {
                bind_args!(sqlx::query_as(AssertSqlSafe(sql)), args)
                    .fetch_optional(&mut **tx)
                    .await?
            }
        })
    }

    /// The one row a statement returns (an `INSERT … RETURNING`).
    pub(crate) async fn fetch_one<R: TxRow>(
        &mut self,
        sql: &str,
        args: Vec<Arg>,
    ) -> Result<R, StoreError> {
        self.fetch_optional(sql, args)
            .await?
            .ok_or_else(|| StoreError::Internal("the statement returned no row".into()))
    }
}
