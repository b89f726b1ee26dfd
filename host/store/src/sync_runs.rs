//! Pull-sync runs. A run is also its own job: queued and running rows are
//! the queue, claimed with a lease (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL) that the worker renews while it works. A run remembers its
//! position (phase, connector cursor, the group whose members it reads)
//! and its counters; both are saved in the same transaction as each
//! page's changes, so a run taken over after a crash continues from its
//! last committed page without duplicating or losing events.
//!
//! At most one queued or running run exists per directory (a partial
//! unique index); asking for another returns the active one.

use rollcall_core::Timestamp;
use rollcall_core::ids::{IdKind, new_id};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use utoipa::ToSchema;

use crate::backend::{BackendKind, Store, Tx};
use crate::error::StoreError;
use crate::page::{Page, PageRequest};
use crate::sql::{Arg, Sql};

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
            pub fn parse(s: &str) -> Result<Self, StoreError> {
                match s {
                    $($text => Ok($name::$variant),)*
                    other => Err(StoreError::Internal(format!(
                        "stored {} '{other}' is not recognised", stringify!($name)
                    ))),
                }
            }
        }
    };
}

string_enum!(
    /// Where a run is in its life.
    SyncStatus {
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
    }
);

string_enum!(
    /// A full pass reads everything and removes what it did not see; an
    /// incremental run reads the connector's changes since its checkpoint.
    SyncMode {
        Full = "full",
        Incremental = "incremental",
    }
);

string_enum!(
    /// The step a run is at: `start` (not begun), `users`, `groups`,
    /// `members` and `removing` (full pass), `changes` (incremental), `done`.
    SyncPhase {
        Start = "start",
        Users = "users",
        Groups = "groups",
        Members = "members",
        Removing = "removing",
        Changes = "changes",
        Done = "done",
    }
);

string_enum!(
    /// Why a run exists.
    SyncTrigger {
        Schedule = "schedule",
        Manual = "manual",
    }
);

/// What a run changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct SyncCounts {
    pub users_created: u64,
    pub users_updated: u64,
    pub users_deleted: u64,
    pub users_unchanged: u64,
    /// Users the provider listed that could not be stored (see `warning`).
    pub users_skipped: u64,
    pub groups_created: u64,
    pub groups_updated: u64,
    pub groups_deleted: u64,
    pub groups_unchanged: u64,
    pub members_added: u64,
    pub members_removed: u64,
    pub members_unchanged: u64,
    /// Memberships naming a user the provider did not list (nested groups,
    /// external members): ignored.
    pub members_skipped: u64,
}

/// One sync run as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SyncRun {
    #[schema(value_type = String, example = "sync_run")]
    pub object: &'static str,
    pub id: String,
    pub directory_id: String,
    pub organization_id: String,
    pub trigger: SyncTrigger,
    pub mode: SyncMode,
    pub status: SyncStatus,
    pub phase: SyncPhase,
    /// Pages read from the connector.
    pub pages: u64,
    #[serde(flatten)]
    pub counts: SyncCounts,
    /// Attempts that failed and were retried.
    pub attempts: u32,
    /// For a queued or waiting run: not before this time (back-off or the
    /// provider's `retry-after`).
    pub next_attempt_at: Option<Timestamp>,
    /// The first problem that did not fail the run (skipped users …).
    pub warning: Option<String>,
    /// Why the run failed (or why its last attempt did).
    pub error: Option<String>,
    /// `rate_limited`, `transient`, `unauthorized`, `invalid_config`,
    /// `permanent`, `plugin` (trap, deadline), `no_connector` …
    pub error_kind: Option<String>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// Wall time from start to finish.
    pub duration_ms: Option<u64>,
    /// Position (internal): the connector cursor of the next page.
    #[serde(skip)]
    pub cursor: Option<String>,
    /// Position (internal): the group whose members are being read.
    #[serde(skip)]
    pub member_group: Option<String>,
    /// The connector checkpoint this run will store when it succeeds.
    #[serde(skip)]
    pub checkpoint: Option<String>,
    /// The full-pass generation that marks what this run saw.
    #[serde(skip)]
    pub generation: Option<i64>,
    /// Asked for a full pass even if a checkpoint exists.
    #[serde(skip)]
    pub force_full: bool,
}

pub(crate) const RUN_COLUMNS: &str = "id, directory_id, organization_id, trigger, mode, status, phase, cursor, member_group, checkpoint, generation, force_full, pages, users_created, users_updated, users_deleted, users_unchanged, users_skipped, groups_created, groups_updated, groups_deleted, groups_unchanged, members_added, members_removed, members_unchanged, members_skipped, attempts, not_before, warning, error, error_kind, created_at, started_at, finished_at";

#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    id: String,
    directory_id: String,
    organization_id: String,
    trigger: String,
    mode: String,
    status: String,
    phase: String,
    cursor: Option<String>,
    member_group: Option<String>,
    checkpoint: Option<String>,
    generation: Option<i64>,
    force_full: i64,
    pages: i64,
    users_created: i64,
    users_updated: i64,
    users_deleted: i64,
    users_unchanged: i64,
    users_skipped: i64,
    groups_created: i64,
    groups_updated: i64,
    groups_deleted: i64,
    groups_unchanged: i64,
    members_added: i64,
    members_removed: i64,
    members_unchanged: i64,
    members_skipped: i64,
    attempts: i64,
    not_before: i64,
    warning: Option<String>,
    error: Option<String>,
    error_kind: Option<String>,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
}

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl TryFrom<RunRow> for SyncRun {
    type Error = StoreError;
    fn try_from(r: RunRow) -> Result<Self, StoreError> {
        let status = SyncStatus::parse(&r.status)?;
        let active = matches!(status, SyncStatus::Queued | SyncStatus::Running);
        Ok(SyncRun {
            object: "sync_run",
            id: r.id,
            directory_id: r.directory_id,
            organization_id: r.organization_id,
            trigger: SyncTrigger::parse(&r.trigger)?,
            mode: SyncMode::parse(&r.mode)?,
            status,
            phase: SyncPhase::parse(&r.phase)?,
            pages: count(r.pages),
            counts: SyncCounts {
                users_created: count(r.users_created),
                users_updated: count(r.users_updated),
                users_deleted: count(r.users_deleted),
                users_unchanged: count(r.users_unchanged),
                users_skipped: count(r.users_skipped),
                groups_created: count(r.groups_created),
                groups_updated: count(r.groups_updated),
                groups_deleted: count(r.groups_deleted),
                groups_unchanged: count(r.groups_unchanged),
                members_added: count(r.members_added),
                members_removed: count(r.members_removed),
                members_unchanged: count(r.members_unchanged),
                members_skipped: count(r.members_skipped),
            },
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            next_attempt_at: active.then(|| Timestamp::from_micros(r.not_before)),
            warning: r.warning,
            error: r.error,
            error_kind: r.error_kind,
            created_at: Timestamp::from_micros(r.created_at),
            started_at: r.started_at.map(Timestamp::from_micros),
            finished_at: r.finished_at.map(Timestamp::from_micros),
            duration_ms: match (r.started_at, r.finished_at) {
                (Some(s), Some(f)) => Some(u64::try_from((f - s) / 1000).unwrap_or(0)),
                _ => None,
            },
            cursor: r.cursor,
            member_group: r.member_group,
            checkpoint: r.checkpoint,
            generation: r.generation,
            force_full: r.force_full != 0,
        })
    }
}

/// How a run ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// Every page is in; store the checkpoint, schedule the next run.
    Succeeded,
    /// Failed for good. `directory_state`: put the directory into
    /// `invalid_credentials`; `attention`: the operator must fix the
    /// installation's configuration (shown on the directory's sync status).
    Failed {
        kind: String,
        message: String,
        invalid_credentials: bool,
        attention: bool,
    },
}

/// Limits on claiming work.
#[derive(Debug, Clone, Copy)]
pub struct ClaimLimits {
    /// Runs this worker may take now.
    pub take: u32,
    /// Runs holding a live lease at once, over every replica.
    pub global: u32,
    /// Runs holding a live lease at once per organization.
    pub per_organization: u32,
    pub lease_seconds: i64,
}

/// Advisory-lock key serializing claims on PostgreSQL, so the global and
/// per-organization limits hold across replicas.
const CLAIM_LOCK: i64 = 0x726f_6c6c_7379_6e63; // "rollsync"

impl Store {
    /// Queues a run for the directory, or answers the queued/running one
    /// (`false`: nothing new was queued).
    pub async fn enqueue_sync_run(
        &self,
        directory_id: &str,
        trigger: SyncTrigger,
        force_full: bool,
    ) -> Result<(SyncRun, bool), StoreError> {
        let directory = self
            .get_directory(directory_id)
            .await?
            .ok_or(StoreError::NotFound("directory"))?;
        let id = new_id(IdKind::SyncRun);
        let now = Timestamp::now().as_micros();
        let mut tx = self.begin().await?;
        let inserted = on_tx!(&mut tx, |conn| {
            sqlx::query(
                "INSERT INTO sync_runs (id, directory_id, organization_id, trigger, mode, status, \
                 phase, force_full, not_before, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'full', 'queued', 'start', $5, $6, $6, $6) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&id)
            .bind(directory_id)
            .bind(&directory.organization_id)
            .bind(trigger.as_str())
            .bind(i64::from(force_full))
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        }) > 0;
        if !inserted && force_full {
            // A full pass asked for while a run is queued: upgrade it.
            on_tx!(&mut tx, |conn| {
                sqlx::query(
                    "UPDATE sync_runs SET force_full = 1 WHERE directory_id = $1 \
                     AND status = 'queued' AND phase = 'start'",
                )
                .bind(directory_id)
                .execute(&mut *conn)
                .await?;
            });
        }
        let row: RunRow = on_tx!(&mut tx, |conn| {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {RUN_COLUMNS} FROM sync_runs WHERE directory_id = $1 \
                 AND status IN ('queued', 'running')"
            )))
            .bind(directory_id)
            .fetch_one(&mut *conn)
            .await?
        });
        tx.commit().await?;
        Ok((SyncRun::try_from(row)?, inserted))
    }

    /// Takes due runs (queued, or running with an expired lease: their
    /// worker died) under a lease owned by `owner`, oldest first, within
    /// the global and per-organization limits.
    pub async fn claim_sync_runs(
        &self,
        owner: &str,
        limits: ClaimLimits,
    ) -> Result<Vec<SyncRun>, StoreError> {
        if limits.take == 0 {
            return Ok(Vec::new());
        }
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        if let Tx::Postgres { tx: t, .. } = &mut tx {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(CLAIM_LOCK)
                .execute(&mut **t)
                .await?;
        }
        let live: i64 = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM sync_runs WHERE status = 'running' AND lease_until >= $1",
            )
            .bind(now.as_micros())
            .fetch_one(&mut *conn)
            .await?
        });
        let room = i64::from(limits.global).saturating_sub(live);
        let take = room.min(i64::from(limits.take));
        if take <= 0 {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let skip_locked = match self.kind() {
            BackendKind::Postgres => " FOR UPDATE OF r SKIP LOCKED",
            BackendKind::Sqlite => "",
        };
        let candidates: Vec<(String, String)> = on_tx!(&mut tx, |conn| {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT r.id, r.organization_id FROM sync_runs r \
                 WHERE r.status IN ('queued', 'running') AND r.not_before <= $1 \
                   AND (r.lease_until IS NULL OR r.lease_until < $1) \
                 ORDER BY r.not_before, r.id LIMIT {}{skip_locked}",
                take * 4
            )))
            .bind(now.as_micros())
            .fetch_all(&mut *conn)
            .await?
        });
        let mut claimed = Vec::new();
        let mut per_org: std::collections::HashMap<String, i64> = Default::default();
        for (id, org) in candidates {
            if claimed.len() as i64 >= take {
                break;
            }
            let busy = match per_org.get(&org) {
                Some(n) => *n,
                None => on_tx!(&mut tx, |conn| {
                    sqlx::query_scalar::<_, i64>(
                        "SELECT COUNT(*) FROM sync_runs WHERE organization_id = $1 \
                         AND status = 'running' AND lease_until >= $2",
                    )
                    .bind(&org)
                    .bind(now.as_micros())
                    .fetch_one(&mut *conn)
                    .await?
                }),
            };
            if busy >= i64::from(limits.per_organization) {
                per_org.insert(org, busy);
                continue;
            }
            let row: RunRow = on_tx!(&mut tx, |conn| {
                sqlx::query_as(AssertSqlSafe(format!(
                    "UPDATE sync_runs SET status = 'running', lease_owner = $2, lease_until = $3, \
                     started_at = COALESCE(started_at, $4), updated_at = $4 \
                     WHERE id = $1 RETURNING {RUN_COLUMNS}"
                )))
                .bind(&id)
                .bind(owner)
                .bind(now.plus_seconds(limits.lease_seconds).as_micros())
                .bind(now.as_micros())
                .fetch_one(&mut *conn)
                .await?
            });
            per_org.insert(org, busy + 1);
            claimed.push(SyncRun::try_from(row)?);
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Takes one particular run if it is free (queued, or running without a
    /// live lease), ignoring `not_before`: `rollcall sync run` drives the
    /// run it asked for itself. `None` when another worker holds it.
    pub async fn claim_sync_run(
        &self,
        id: &str,
        owner: &str,
        lease_seconds: i64,
    ) -> Result<Option<SyncRun>, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        let row: Option<RunRow> = on_tx!(&mut tx, |conn| {
            sqlx::query_as(AssertSqlSafe(format!(
                "UPDATE sync_runs SET status = 'running', lease_owner = $2, lease_until = $3, \
                 started_at = COALESCE(started_at, $4), updated_at = $4 \
                 WHERE id = $1 AND status IN ('queued', 'running') \
                 AND (lease_until IS NULL OR lease_until < $4) RETURNING {RUN_COLUMNS}"
            )))
            .bind(id)
            .bind(owner)
            .bind(now.plus_seconds(lease_seconds).as_micros())
            .bind(now.as_micros())
            .fetch_optional(&mut *conn)
            .await?
        });
        tx.commit().await?;
        row.map(SyncRun::try_from).transpose()
    }

    /// Renews the lease; `false` when `owner` no longer holds the run.
    pub async fn heartbeat_sync_run(
        &self,
        id: &str,
        owner: &str,
        lease_seconds: i64,
    ) -> Result<bool, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        let n = on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE sync_runs SET lease_until = $3, updated_at = $4 \
                 WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
            )
            .bind(id)
            .bind(owner)
            .bind(now.plus_seconds(lease_seconds).as_micros())
            .bind(now.as_micros())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Gives the run back to the queue, to be taken again at `not_before`
    /// (by any worker), keeping its position. `reason` (kind, message) is
    /// recorded as the run's last error; `count_attempt` counts it as a
    /// failed attempt (a rate-limit wait is not one).
    pub async fn defer_sync_run(
        &self,
        id: &str,
        owner: &str,
        not_before: Timestamp,
        reason: Option<(&str, &str)>,
        count_attempt: bool,
    ) -> Result<(), StoreError> {
        let now = Timestamp::now().as_micros();
        let inc = i64::from(count_attempt);
        let (kind, message) = match reason {
            Some((kind, message)) => (Some(kind), Some(message)),
            None => (None, None),
        };
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE sync_runs SET lease_owner = NULL, lease_until = NULL, not_before = $3, \
                 attempts = attempts + $4, error_kind = COALESCE($5, error_kind), \
                 error = COALESCE($6, error), updated_at = $7 \
                 WHERE id = $1 AND lease_owner = $2",
            )
            .bind(id)
            .bind(owner)
            .bind(not_before.as_micros())
            .bind(inc)
            .bind(kind)
            .bind(message)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        });
        tx.commit().await?;
        Ok(())
    }

    /// Releases every lease `owner` holds (graceful shutdown): the runs
    /// stay where they are and any worker may continue them at once.
    pub async fn release_sync_leases(&self, owner: &str) -> Result<u64, StoreError> {
        let now = Timestamp::now().as_micros();
        let mut tx = self.begin().await?;
        let n = on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE sync_runs SET lease_owner = NULL, lease_until = NULL, not_before = $2, \
                 updated_at = $2 WHERE lease_owner = $1 AND status = 'running'",
            )
            .bind(owner)
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        tx.commit().await?;
        Ok(n)
    }

    pub async fn get_sync_run(&self, id: &str) -> Result<Option<SyncRun>, StoreError> {
        let row: Option<RunRow> = on_read!(self, |pool| {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {RUN_COLUMNS} FROM sync_runs WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(SyncRun::try_from).transpose()
    }

    /// A directory's runs, newest first by default.
    pub async fn list_sync_runs(
        &self,
        directory_id: &str,
        page: &PageRequest,
    ) -> Result<Page<SyncRun>, StoreError> {
        let mut sql = Sql::new(&format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE 1=1"));
        sql.and("directory_id", "=", Arg::Text(directory_id.to_owned()));
        page.apply(&mut sql, "id");
        let rows: Vec<RunRow> = on_read!(self, |pool| {
            bind_args!(sqlx::query_as(AssertSqlSafe(sql.text)), sql.args)
                .fetch_all(pool)
                .await?
        });
        let runs = rows
            .into_iter()
            .map(SyncRun::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page.finish(runs, |r| &r.id))
    }
}

/// Saves a run's position and counters inside a page's transaction.
/// Fails with [`StoreError::Conflict`] when `owner` lost the lease, which
/// rolls the page back: another worker owns the run now.
pub(crate) async fn save_progress(
    tx: &mut Tx,
    run: &SyncRun,
    owner: &str,
) -> Result<(), StoreError> {
    let c = &run.counts;
    let n = on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE sync_runs SET mode = $3, phase = $4, cursor = $5, member_group = $6, \
             checkpoint = $7, generation = $8, pages = $9, users_created = $10, \
             users_updated = $11, users_deleted = $12, users_unchanged = $13, users_skipped = $14, \
             groups_created = $15, groups_updated = $16, groups_deleted = $17, \
             groups_unchanged = $18, members_added = $19, members_removed = $20, \
             members_unchanged = $21, members_skipped = $22, warning = $23, updated_at = $24 \
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        )
        .bind(&run.id)
        .bind(owner)
        .bind(run.mode.as_str())
        .bind(run.phase.as_str())
        .bind(&run.cursor)
        .bind(&run.member_group)
        .bind(&run.checkpoint)
        .bind(run.generation)
        .bind(run.pages as i64)
        .bind(c.users_created as i64)
        .bind(c.users_updated as i64)
        .bind(c.users_deleted as i64)
        .bind(c.users_unchanged as i64)
        .bind(c.users_skipped as i64)
        .bind(c.groups_created as i64)
        .bind(c.groups_updated as i64)
        .bind(c.groups_deleted as i64)
        .bind(c.groups_unchanged as i64)
        .bind(c.members_added as i64)
        .bind(c.members_removed as i64)
        .bind(c.members_unchanged as i64)
        .bind(c.members_skipped as i64)
        .bind(&run.warning)
        .bind(Timestamp::now().as_micros())
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    if n == 0 {
        return Err(StoreError::Conflict(
            "the sync run's lease was lost to another worker".into(),
        ));
    }
    Ok(())
}
