//! A pull directory's sync state: when the schedule runs it next, the
//! connector checkpoint of the last successful run, the full-pass
//! generation, and whether an operator must look at it. Finishing a run
//! updates this, the run and the directory's state in one transaction.

use rollcall_core::Timestamp;
use rollcall_core::directory::DirectoryState;
use rollcall_core::event::EventType;
use serde::Serialize;
use utoipa::ToSchema;

use crate::backend::Store;
use crate::directories::{directory_event, fetch_in_tx};
use crate::error::StoreError;
use crate::events;
use crate::sync_runs::{RunEnd, SyncMode, SyncRun};

/// The sync status of one directory.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DirectorySync {
    pub directory_id: String,
    /// When the schedule queues the next run (`null`: as soon as possible).
    pub next_run_at: Option<Timestamp>,
    /// Whether an incremental checkpoint is stored.
    pub has_checkpoint: bool,
    pub last_full_sync_at: Option<Timestamp>,
    pub last_success_at: Option<Timestamp>,
    /// Why the directory needs an operator (an invalid configuration).
    pub attention: Option<String>,
    #[serde(skip)]
    pub checkpoint: Option<String>,
    #[serde(skip)]
    pub generation: i64,
}

type SyncRow = (
    String,
    Option<i64>,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

fn from_row(r: SyncRow) -> DirectorySync {
    DirectorySync {
        directory_id: r.0,
        next_run_at: r.1.map(Timestamp::from_micros),
        has_checkpoint: r.2.is_some(),
        checkpoint: r.2,
        generation: r.3,
        last_full_sync_at: r.4.map(Timestamp::from_micros),
        last_success_at: r.5.map(Timestamp::from_micros),
        attention: r.6,
    }
}

impl Store {
    pub async fn directory_sync(
        &self,
        directory_id: &str,
    ) -> Result<Option<DirectorySync>, StoreError> {
        let row: Option<SyncRow> = on_read!(self, |pool| {
            sqlx::query_as(
                "SELECT directory_id, next_run_at, checkpoint, generation, last_full_at, \
                 last_success_at, attention FROM directory_sync WHERE directory_id = $1",
            )
            .bind(directory_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(from_row))
    }

    /// Directories with an enabled connector installation whose schedule
    /// is due at `now` (never synced, or `next_run_at` passed), oldest
    /// first. The caller keeps the pull types.
    pub async fn due_sync_directories(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        Ok(on_read!(self, |pool| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT d.id FROM directories d \
                 LEFT JOIN directory_sync s ON s.directory_id = d.id \
                 WHERE d.state IN ('active', 'validating', 'invalid_credentials') \
                   AND (s.next_run_at IS NULL OR s.next_run_at <= $1) \
                   AND EXISTS (SELECT 1 FROM plugin_installations i WHERE i.directory_id = d.id \
                     AND i.kind = 'connector' AND i.enabled = $2) \
                 ORDER BY COALESCE(s.next_run_at, 0), d.id LIMIT {limit}"
            )))
            .bind(now.as_micros())
            .bind(true)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Sets when the schedule next queues a run for the directory.
    pub async fn schedule_sync(&self, directory_id: &str, at: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "INSERT INTO directory_sync (directory_id, next_run_at, updated_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (directory_id) DO UPDATE \
                 SET next_run_at = $2, updated_at = $3",
            )
            .bind(directory_id)
            .bind(at.as_micros())
            .bind(Timestamp::now().as_micros())
            .execute(&mut *conn)
            .await?;
        });
        tx.commit().await
    }

    /// Ends a run held by `owner`: its status, and the directory's sync
    /// state and state (a first success activates a `validating`
    /// directory with `dsync.activated`; rejected credentials put it into
    /// `invalid_credentials`). `next_run_at` is the schedule's next slot.
    pub async fn finish_sync_run(
        &self,
        run: &SyncRun,
        owner: &str,
        end: RunEnd,
        next_run_at: Timestamp,
    ) -> Result<(), StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        let (status, kind, message) = match &end {
            RunEnd::Succeeded => ("succeeded", None, None),
            RunEnd::Failed { kind, message, .. } => {
                ("failed", Some(kind.as_str()), Some(message.as_str()))
            }
        };
        let n = on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE sync_runs SET status = $3, phase = CASE WHEN $3 = 'succeeded' THEN 'done' \
                 ELSE phase END, error_kind = $4, error = $5, finished_at = $6, updated_at = $6, \
                 lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2",
            )
            .bind(&run.id)
            .bind(owner)
            .bind(status)
            .bind(kind)
            .bind(message)
            .bind(now.as_micros())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::Conflict(
                "the sync run's lease was lost to another worker".into(),
            ));
        }
        let directory = fetch_in_tx(&mut tx, &run.directory_id).await?;
        let (attention, new_state) = match &end {
            RunEnd::Succeeded => {
                let full = run.mode == SyncMode::Full;
                on_tx!(&mut tx, |conn| {
                    sqlx::query(
                        "INSERT INTO directory_sync (directory_id, next_run_at, checkpoint, \
                         last_full_at, last_success_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
                         ON CONFLICT (directory_id) DO UPDATE SET next_run_at = $2, checkpoint = $3, \
                         last_full_at = COALESCE($4, directory_sync.last_full_at), \
                         last_success_at = $5, attention = NULL, updated_at = $5",
                    )
                    .bind(&run.directory_id)
                    .bind(next_run_at.as_micros())
                    .bind(&run.checkpoint)
                    .bind(full.then(|| now.as_micros()))
                    .bind(now.as_micros())
                    .execute(&mut *conn)
                    .await?;
                });
                let state = match directory.state {
                    DirectoryState::Validating | DirectoryState::InvalidCredentials => {
                        Some(DirectoryState::Active)
                    }
                    _ => None,
                };
                (None, state)
            }
            RunEnd::Failed {
                message,
                invalid_credentials,
                attention,
                ..
            } => {
                let state = (*invalid_credentials
                    && matches!(
                        directory.state,
                        DirectoryState::Active | DirectoryState::Validating
                    ))
                .then_some(DirectoryState::InvalidCredentials);
                (attention.then(|| message.clone()), state)
            }
        };
        if matches!(end, RunEnd::Failed { .. }) {
            on_tx!(&mut tx, |conn| {
                sqlx::query(
                    "INSERT INTO directory_sync (directory_id, next_run_at, attention, updated_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (directory_id) DO UPDATE \
                     SET next_run_at = $2, attention = $3, updated_at = $4",
                )
                .bind(&run.directory_id)
                .bind(next_run_at.as_micros())
                .bind(&attention)
                .bind(now.as_micros())
                .execute(&mut *conn)
                .await?;
            });
        }
        if let Some(state) = new_state {
            on_tx!(&mut tx, |conn| {
                sqlx::query("UPDATE directories SET state = $2, updated_at = $3 WHERE id = $1")
                    .bind(&run.directory_id)
                    .bind(state.as_str())
                    .bind(now.as_micros())
                    .execute(&mut *conn)
                    .await?;
            });
            if state == DirectoryState::Active && directory.state == DirectoryState::Validating {
                let updated = fetch_in_tx(&mut tx, &run.directory_id).await?;
                events::append(
                    &mut tx,
                    vec![directory_event(EventType::DirectoryActivated, &updated)],
                )
                .await?;
            }
        }
        tx.commit().await?;
        if new_state.is_some() {
            self.forget_scim_auth();
        }
        Ok(())
    }
}

/// Why a directory cannot be synced now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncRefusal {
    /// Push (SCIM) and upload directories receive their data.
    NotPull(String),
    /// Inactive or being deleted.
    Inactive(String),
    /// No enabled connector installation is bound to it.
    NoConnector,
}

impl std::fmt::Display for SyncRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncRefusal::NotPull(t) => write!(
                f,
                "a {t} directory receives its data from the provider (SCIM or upload); only pull directories sync"
            ),
            SyncRefusal::Inactive(s) => write!(f, "the directory is {s}; activate it first"),
            SyncRefusal::NoConnector => f.write_str(
                "no enabled connector plugin installation is bound to this directory; bind one (POST /api/v1/plugin_installations or rollcall plugin bind)",
            ),
        }
    }
}

impl Store {
    /// The directory's enabled connector installation, or why it cannot
    /// be synced (API, CLI and the runner ask the same question).
    pub async fn sync_connector(
        &self,
        directory: &rollcall_core::directory::Directory,
    ) -> Result<Result<crate::PluginInstallation, SyncRefusal>, StoreError> {
        use rollcall_core::directory::Ingress;
        if directory.directory_type.ingress() != Ingress::Pull {
            return Ok(Err(SyncRefusal::NotPull(
                directory.directory_type.to_string(),
            )));
        }
        if matches!(
            directory.state,
            DirectoryState::Inactive | DirectoryState::Deleting
        ) {
            return Ok(Err(SyncRefusal::Inactive(directory.state.as_str().into())));
        }
        Ok(self
            .list_plugin_installations(None, Some(&directory.id))
            .await?
            .into_iter()
            .find(|i| i.kind == "connector" && i.enabled)
            .ok_or(SyncRefusal::NoConnector))
    }
}

impl Store {
    /// Refreshes the planner's statistics of the directory-state tables
    /// (PostgreSQL; nothing to do on SQLite). A first sync grows them from
    /// nothing to hundreds of thousands of rows within minutes, faster than
    /// autovacuum notices, and plans made for empty tables then scan whole
    /// tables for every page.
    pub async fn refresh_directory_statistics(&self) -> Result<(), StoreError> {
        if let crate::backend::Backend::Postgres(pool) = &self.backend {
            sqlx::query(
                "ANALYZE directory_users, directory_groups, directory_memberships, directory_user_emails",
            )
            .execute(pool)
            .await?;
        }
        Ok(())
    }
}
