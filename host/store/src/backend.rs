//! The two database backends behind one [`Store`], and the only SQL that
//! differs between them.
//!
//! SQLite runs in WAL mode with one writer connection (writes are serialized
//! in-process, so they never fail with `SQLITE_BUSY` against each other) and
//! a pool of readers. PostgreSQL uses one pool; event writers take a
//! transaction-scoped advisory lock so events commit in `seq` order.

use std::str::FromStr;
use std::time::Duration;

use rollcall_core::sealed::MasterKey;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite, Transaction};

use crate::error::StoreError;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Advisory-lock key taken by every PostgreSQL transaction that appends events.
const EVENT_LOG_LOCK: i64 = 0x726f_6c6c_6361_6c6c; // "rollcall"

/// How hard SQLite syncs a commit to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteSync {
    /// fsync on every commit: an acknowledged write survives power loss.
    Full,
    /// fsync at checkpoints: survives a crash of the process, not of the machine.
    Normal,
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://path/to/file.db` or `postgres://…`.
    pub url: String,
    pub max_connections: u32,
    pub sqlite_sync: SqliteSync,
    pub master_key: MasterKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Sqlite {
        write: SqlitePool,
        read: SqlitePool,
        /// Point lookups on the calling thread; `None` in memory.
        direct: Option<std::sync::Arc<crate::direct::DirectReaders>>,
    },
    Postgres(PgPool),
}

/// Connection-pool figures for `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// The storage handle; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    pub(crate) master_key: MasterKey,
    pub(crate) batcher: std::sync::Arc<crate::write_batcher::Batcher>,
    pub(crate) auth_cache: std::sync::Arc<crate::scim_auth::AuthCache>,
    pub(crate) max_connections: u32,
}

/// A write transaction on either backend.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    /// SQLite through its C API on the group-commit writer's thread
    /// ([`crate::direct`]); only [`crate::tx_statements`] runs on it.
    Direct(crate::direct::DirectTx),
    Postgres {
        tx: Transaction<'static, Postgres>,
        event_lock: bool,
    },
}

/// Runs `$body` with `$conn` bound to a read pool of whichever backend.
macro_rules! on_read {
    ($store:expr, |$conn:ident| $body:expr) => {
        match &$store.backend {
            $crate::backend::Backend::Sqlite { read, .. } => {
                let $conn = read;
                $body
            }
            $crate::backend::Backend::Postgres(pool) => {
                let $conn = pool;
                $body
            }
        }
    };
}

/// Runs `$body` with `$conn` bound to the connection of a [`Tx`].
/// Inside, use `&mut *$conn` as the executor. A direct transaction (the
/// group-commit writer's) is refused: code it runs uses
/// [`crate::tx_statements`].
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::backend::Tx::Direct(_) => {
                return Err($crate::error::StoreError::Internal(
                    "statement not available on the direct SQLite writer".into(),
                ));
            }
            $crate::backend::Tx::Sqlite(t) => {
                let $conn: &mut sqlx::SqliteConnection = &mut *t;
                $body
            }
            $crate::backend::Tx::Postgres { tx: t, .. } => {
                let $conn: &mut sqlx::PgConnection = &mut *t;
                $body
            }
        }
    };
}

impl Store {
    /// Connects (creating an SQLite file if needed). Does not migrate.
    pub async fn connect(options: StoreOptions) -> Result<Store, StoreError> {
        let max = options.max_connections.max(2);
        let backend = if is_postgres(&options.url) {
            let connect = PgConnectOptions::from_str(&options.url)?;
            let pool = PgPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(connect)
                .await?;
            Backend::Postgres(pool)
        } else if options.url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(&options.url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(match options.sqlite_sync {
                    SqliteSync::Full => SqliteSynchronous::Full,
                    SqliteSync::Normal => SqliteSynchronous::Normal,
                })
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(connect.clone())
                .await?;
            let direct =
                crate::direct::DirectReaders::for_file(connect.get_filename(), max as usize)
                    .map(std::sync::Arc::new);
            let read = SqlitePoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(connect)
                .await?;
            Backend::Sqlite {
                write,
                read,
                direct,
            }
        } else {
            return Err(StoreError::Invalid(
                "database URL must start with sqlite: or postgres://".into(),
            ));
        };
        Ok(Store {
            backend,
            master_key: options.master_key,
            batcher: std::sync::Arc::new(crate::write_batcher::Batcher::new()),
            auth_cache: std::sync::Arc::default(),
            max_connections: max,
        })
    }

    pub fn kind(&self) -> BackendKind {
        match self.backend {
            Backend::Sqlite { .. } => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Applies every embedded migration that has not run yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite { write, .. } => SQLITE_MIGRATIONS.run(write).await?,
            Backend::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// How many embedded migrations have not been applied (0 = ready).
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        let (migrator, applied): (&sqlx::migrate::Migrator, Result<Vec<i64>, sqlx::Error>) =
            match &self.backend {
                Backend::Sqlite { read, .. } => (
                    &SQLITE_MIGRATIONS,
                    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                        .fetch_all(read)
                        .await,
                ),
                Backend::Postgres(pool) => (
                    &POSTGRES_MIGRATIONS,
                    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                        .fetch_all(pool)
                        .await,
                ),
            };
        // A missing migrations table means nothing was applied.
        let applied = applied.unwrap_or_default();
        Ok(migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
            .count())
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_read!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    pub fn pool_stats(&self) -> PoolStats {
        let (size, idle) = match &self.backend {
            Backend::Sqlite { write, read, .. } => (
                write.size() + read.size(),
                (write.num_idle() + read.num_idle()) as u32,
            ),
            Backend::Postgres(pool) => (pool.size(), pool.num_idle() as u32),
        };
        PoolStats {
            size,
            idle,
            max: self.max_connections,
        }
    }

    /// Closes every connection (waits for checked-out ones to return).
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { write, read, .. } => {
                read.close().await;
                write.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }

    /// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so a
    /// second process (the CLI) waits for the lock instead of failing later.
    pub(crate) async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match &self.backend {
            Backend::Sqlite { write, .. } => Tx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres(pool) => Tx::Postgres {
                tx: pool.begin().await?,
                event_lock: false,
            },
        })
    }
}

impl Tx {
    /// `sql`'s text in the form this backend binds fastest.
    pub(crate) fn text(&self, sql: &crate::sql::Sql) -> String {
        match self {
            Tx::Sqlite(_) | Tx::Direct(_) => sql.sqlite_text(),
            Tx::Postgres { .. } => sql.text.clone(),
        }
    }

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Direct(tx) => tx.commit()?,
            Tx::Postgres { tx, .. } => tx.commit().await?,
        }
        Ok(())
    }

    /// Before appending events: on PostgreSQL, serialize with other event
    /// writers until commit so that `seq` order is commit order and a reader
    /// polling "after seq N" can never skip an event that commits late.
    /// SQLite has a single writer already.
    pub(crate) async fn lock_event_log(&mut self) -> Result<(), StoreError> {
        if let Tx::Postgres { tx, event_lock } = self
            && !*event_lock
        {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(EVENT_LOG_LOCK)
                .execute(&mut **tx)
                .await?;
            *event_lock = true;
        }
        Ok(())
    }
}

pub(crate) fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}
