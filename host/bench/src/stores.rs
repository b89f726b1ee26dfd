//! Scratch databases for benchmarks: a temporary SQLite file (durable
//! settings, as `rollcall serve` uses them) or a new PostgreSQL database
//! that is dropped afterwards.

use anyhow::{Context, Result, bail};
use rollcall_core::sealed::MasterKey;
use rollcall_store::{SqliteSync, Store, StoreOptions};
use sqlx::Connection;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    pub fn parse_list(text: &str) -> Result<Vec<Backend>> {
        Ok(match text {
            "sqlite" => vec![Backend::Sqlite],
            "postgres" => vec![Backend::Postgres],
            "both" => vec![Backend::Sqlite, Backend::Postgres],
            other => bail!("--backend must be sqlite, postgres or both, not '{other}'"),
        })
    }
}

pub struct Scratch {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl Scratch {
    /// Closes the store and drops a PostgreSQL scratch database.
    pub async fn finish(self) -> Result<()> {
        self.store.close().await;
        if let Some((admin_url, name)) = self.postgres {
            let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await?;
        }
        Ok(())
    }
}

pub async fn open(backend: Backend, postgres_url: &str) -> Result<Scratch> {
    open_with(backend, postgres_url, 16).await
}

/// [`open`] with `max_connections` database connections.
pub async fn open_with(
    backend: Backend,
    postgres_url: &str,
    max_connections: u32,
) -> Result<Scratch> {
    let (url, dir, postgres) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir()?;
            (
                format!("sqlite://{}", dir.path().join("bench.db").display()),
                Some(dir),
                None,
            )
        }
        Backend::Postgres => {
            let name = format!(
                "rollcall_bench_{}_{}",
                std::process::id(),
                rollcall_core::Timestamp::now().as_micros()
            );
            let mut admin = sqlx::PgConnection::connect(postgres_url)
                .await
                .with_context(|| format!("cannot reach PostgreSQL at {postgres_url}"))?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await?;
            let base = postgres_url
                .rsplit_once('/')
                .map_or(postgres_url, |(b, _)| b);
            (
                format!("{base}/{name}"),
                None,
                Some((postgres_url.to_owned(), name)),
            )
        }
    };
    let store = Store::connect(StoreOptions {
        url,
        max_connections,
        sqlite_sync: SqliteSync::Full,
        master_key: MasterKey::generate(),
    })
    .await?;
    store.migrate().await?;
    Ok(Scratch {
        store,
        _dir: dir,
        postgres,
    })
}

/// An organization "Bench" with one generic SCIM directory.
pub async fn bench_directory(store: &Store) -> Result<rollcall_store::CreatedDirectory> {
    let org = store
        .create_organization(rollcall_core::organization::NewOrganization {
            name: "Bench".into(),
            ..Default::default()
        })
        .await?;
    Ok(store
        .create_directory(rollcall_core::directory::NewDirectory {
            organization_id: org.id,
            name: "Bench".into(),
            directory_type: rollcall_core::directory::DirectoryType::GenericScimV2,
            domain: None,
            settings: serde_json::Map::new(),
            secrets: serde_json::Map::new(),
        })
        .await?)
}
