//! SQLite statements run on the calling thread through SQLite's C API.
//!
//! sqlx runs every SQLite statement on a worker thread of its own and wakes
//! the caller with the result: two thread hand-offs per statement. The
//! group-commit writer ([`crate::write_batcher`]) runs dozens of statements
//! per batch while both cores are busy serving HTTP, and each hand-off then
//! waits for a core. So the writer borrows the handle of sqlx's single
//! writer connection for the length of one batch
//! (`SqliteConnection::lock_handle`) and runs the batch here, on its own
//! thread, with no hand-off at all.
//!
//! Invariants:
//! - A [`DirectTx`] exists only while the sqlx connection it was made from
//!   is locked by the caller (see [`DirectTx::begin`]); it never outlives
//!   that lock, and it never closes the handle.
//! - A [`DirectTx`] dropped without [`DirectTx::commit`] rolls back, so the
//!   connection goes back to sqlx's pool outside any transaction.
//! - Placeholders are bound by name (`$1` … `$n`), exactly as sqlx binds
//!   them, so one statement text serves both paths.

use rusqlite::ffi;
use rusqlite::types::ValueRef;

use crate::error::{StoreError, unique_message};
use crate::sql::Arg;

/// Prepared statements kept per connection (a batch uses a few dozen
/// distinct texts: one per statement kind and multi-row chunk size).
const STATEMENT_CACHE: usize = 64;

/// A transaction on a borrowed SQLite handle.
pub(crate) struct DirectTx {
    conn: rusqlite::Connection,
    open: bool,
}

impl std::fmt::Debug for DirectTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DirectTx")
    }
}

impl DirectTx {
    /// Wraps `handle` and starts `BEGIN IMMEDIATE` on it.
    ///
    /// # Safety
    /// `handle` must be an open SQLite connection that no one else uses
    /// until the returned value is dropped (the caller holds sqlx's
    /// `LockedSqliteHandle` for it), and it must not be in a transaction.
    pub(crate) unsafe fn begin(handle: *mut ffi::sqlite3) -> Result<Self, StoreError> {
        // SAFETY: the caller guarantees the handle is open and exclusively
        // ours while `Self` lives; `from_handle` never closes it.
        let conn = unsafe { rusqlite::Connection::from_handle(handle) }.map_err(db_error)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.execute_batch("BEGIN IMMEDIATE").map_err(db_error)?;
        Ok(DirectTx { conn, open: true })
    }

    /// Runs a statement; answers how many rows it changed.
    pub(crate) fn execute(&self, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(db_error)?;
        bind(&mut stmt, args)?;
        let changed = stmt.raw_execute().map_err(db_error)?;
        Ok(changed as u64)
    }

    /// Runs a query and decodes every row.
    pub(crate) fn query<R: DirectRow>(
        &self,
        sql: &str,
        args: &[Arg],
    ) -> Result<Vec<R>, StoreError> {
        query_on(&self.conn, sql, args)
    }

    pub(crate) fn commit(mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT").map_err(db_error)?;
        self.open = false;
        Ok(())
    }
}

impl Drop for DirectTx {
    fn drop(&mut self) {
        if self.open
            && !self.conn.is_autocommit()
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %e, "rolling back the direct SQLite transaction failed");
        }
    }
}

/// Runs a query on `conn` and decodes every row.
fn query_on<R: DirectRow>(
    conn: &rusqlite::Connection,
    sql: &str,
    args: &[Arg],
) -> Result<Vec<R>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(db_error)?;
    bind(&mut stmt, args)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db_error)? {
        out.push(R::from_direct(row).map_err(db_error)?);
    }
    Ok(out)
}

/// Read-only connections of their own, for lookups that return a handful
/// of rows through an index (a SCIM `userName eq` filter): they run on
/// the calling thread, which costs less than the hand-off to sqlx's worker
/// and back. WAL readers never wait for the writer.
pub(crate) struct DirectReaders {
    path: std::path::PathBuf,
    idle: std::sync::Mutex<Vec<rusqlite::Connection>>,
    /// Most idle connections kept.
    keep: usize,
}

impl std::fmt::Debug for DirectReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectReaders")
            .field("path", &self.path)
            .finish()
    }
}

impl DirectReaders {
    /// Readers of the database file at `path`; `None` for an in-memory
    /// database, which other connections cannot see.
    pub(crate) fn for_file(path: &std::path::Path, keep: usize) -> Option<Self> {
        let name = path.to_string_lossy();
        if name.is_empty() || name.starts_with("file:") || name.contains(":memory:") {
            return None;
        }
        Some(DirectReaders {
            path: path.to_owned(),
            idle: std::sync::Mutex::new(Vec::new()),
            keep: keep.max(1),
        })
    }

    /// Runs a short indexed query on an idle reader (opening one if none is).
    pub(crate) fn query<R: DirectRow>(
        &self,
        sql: &str,
        args: &[Arg],
    ) -> Result<Vec<R>, StoreError> {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match taken {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = query_on(&conn, sql, args);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.keep
        {
            idle.push(conn);
        }
        result
    }

    fn open(&self) -> Result<rusqlite::Connection, StoreError> {
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db_error)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }
}

/// Binds `args` to the statement's `$n` parameters by name.
fn bind(stmt: &mut rusqlite::CachedStatement<'_>, args: &[Arg]) -> Result<(), StoreError> {
    for index in 1..=stmt.parameter_count() {
        let name = stmt.parameter_name(index).unwrap_or("");
        let n: usize = name
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .or_else(|| name.is_empty().then_some(index))
            .ok_or_else(|| StoreError::Internal(format!("unexpected SQL parameter {name}")))?;
        let arg = args
            .get(n - 1)
            .ok_or_else(|| StoreError::Internal(format!("no argument for SQL parameter {n}")))?;
        let bound = match arg {
            Arg::Text(s) => stmt.raw_bind_parameter(index, s.as_str()),
            Arg::Int(i) => stmt.raw_bind_parameter(index, i),
            Arg::OptText(s) => stmt.raw_bind_parameter(index, s.as_deref()),
            Arg::OptInt(i) => stmt.raw_bind_parameter(index, i),
            Arg::Blob(b) => stmt.raw_bind_parameter(index, b.as_slice()),
            Arg::Json(v) => stmt.raw_bind_parameter(index, v.to_string()),
        };
        bound.map_err(db_error)?;
    }
    Ok(())
}

/// A row type the direct path can decode (columns read by name).
pub(crate) trait DirectRow: Sized {
    fn from_direct(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

/// A JSON column stored as text, decoded into `T`.
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(
    row: &rusqlite::Row<'_>,
    name: &str,
) -> rusqlite::Result<sqlx::types::Json<T>> {
    let index = row.as_ref().column_index(name)?;
    let bytes = match row.get_ref(index)? {
        ValueRef::Text(t) | ValueRef::Blob(t) => t,
        other => {
            return Err(rusqlite::Error::InvalidColumnType(
                index,
                name.to_owned(),
                other.data_type(),
            ));
        }
    };
    serde_json::from_slice(bytes)
        .map(sqlx::types::Json)
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                index,
                ValueRef::Text(bytes).data_type(),
                Box::new(e),
            )
        })
}

/// The store's error for a failed SQLite call; a uniqueness violation is a
/// [`StoreError::Conflict`], as on the sqlx path.
pub(crate) fn db_error(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(code, message) = &e
        && matches!(
            code.extended_code,
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
    {
        return StoreError::Conflict(unique_message(message.as_deref().unwrap_or("")));
    }
    StoreError::Internal(format!("database error: {e}"))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::Connection;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode};

    use super::*;

    struct Pair {
        k: String,
        v: i64,
    }

    impl DirectRow for Pair {
        fn from_direct(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
            Ok(Pair {
                k: row.get("k")?,
                v: row.get("v")?,
            })
        }
    }

    async fn scratch() -> (std::path::PathBuf, SqliteConnection) {
        let path = std::env::temp_dir().join(format!("rollcall-direct-{}.db", ulid::Ulid::new()));
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .unwrap()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::query("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        (path, conn)
    }

    async fn count(conn: &mut SqliteConnection) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(conn)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn binds_by_name_commits_rolls_back_and_maps_conflicts() {
        let (path, mut conn) = scratch().await;
        {
            let mut handle = conn.lock_handle().await.unwrap();
            let raw = handle.as_raw_handle().as_ptr();
            // SAFETY: the handle is locked for this block; no transaction is open.
            let tx = unsafe { DirectTx::begin(raw.cast()) }.unwrap();
            // `$2` appears before `$1`: arguments still go by number.
            let n = tx
                .execute(
                    "INSERT INTO t (v, k) VALUES ($2, $1)",
                    &[Arg::Text("a".into()), Arg::Int(7)],
                )
                .unwrap();
            assert_eq!(n, 1);
            let rows: Vec<Pair> = tx
                .query("SELECT k, v FROM t WHERE k = $1", &[Arg::Text("a".into())])
                .unwrap();
            assert_eq!((rows[0].k.as_str(), rows[0].v), ("a", 7));
            let dup = tx.execute(
                "INSERT INTO t (k, v) VALUES ($1, $2)",
                &[Arg::Text("a".into()), Arg::Int(8)],
            );
            assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
            tx.commit().unwrap();

            // SAFETY: as above; the previous transaction committed.
            let tx = unsafe { DirectTx::begin(raw.cast()) }.unwrap();
            tx.execute(
                "INSERT INTO t (k, v) VALUES (?, ?)",
                &[Arg::Text("b".into()), Arg::Int(1)],
            )
            .unwrap();
            drop(tx); // rolled back
        }
        // sqlx sees the committed row only, outside any transaction.
        assert_eq!(count(&mut conn).await, 1);
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("INSERT INTO t (k, v) VALUES ('c', 3)")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(count(&mut conn).await, 2);

        let readers = DirectReaders::for_file(&path, 2).unwrap();
        let rows: Vec<Pair> = readers.query("SELECT k, v FROM t ORDER BY k", &[]).unwrap();
        let keys: Vec<&str> = rows.iter().map(|r| r.k.as_str()).collect();
        assert_eq!(keys, ["a", "c"]);
        conn.close().await.unwrap();
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn in_memory_databases_get_no_direct_readers() {
        assert!(DirectReaders::for_file(std::path::Path::new(":memory:"), 2).is_none());
        assert!(
            DirectReaders::for_file(std::path::Path::new("file:sqlx-in-memory-3"), 2).is_none()
        );
        assert!(DirectReaders::for_file(std::path::Path::new("/tmp/x.db"), 2).is_some());
    }
}
