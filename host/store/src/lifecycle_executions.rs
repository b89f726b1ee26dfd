//! Lifecycle executions: one row per (lifecycle installation, event), the
//! dispatcher's queue and the execution log.
//!
//! Like webhook deliveries, executions are fanned out from the event log
//! per installation cursor, claimed with a lease and recorded per attempt.
//! In addition, the executions of one **subject** (the user an event is
//! about, else its group or directory) run strictly in event order: only
//! the oldest pending execution of a subject can be claimed, so a plugin
//! never sees "user deleted" before "user updated".

use rollcall_core::Timestamp;
use rollcall_core::event::{Event, EventType};
use serde::Serialize;
use sqlx::types::Json;
use utoipa::ToSchema;

use crate::backend::{BackendKind, Store};
use crate::error::StoreError;
use crate::fanout::{Queue, Subscriber, insert_pending, wanted_range};
use crate::page::{Page, PageRequest};
use crate::sql::{Arg, Sql};
use crate::webhook_deliveries::truncate;

/// Longest detail or error kept per attempt.
const MAX_DETAIL_LEN: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionState {
    /// Waiting for its (next) attempt, or for an earlier event of its subject.
    Pending,
    /// The plugin handled the event.
    Completed,
    /// The plugin decided the event needs nothing.
    Skipped,
    /// Failed permanently, or every retry failed.
    Dead,
}

impl ExecutionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionState::Pending => "pending",
            ExecutionState::Completed => "completed",
            ExecutionState::Skipped => "skipped",
            ExecutionState::Dead => "dead",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(ExecutionState::Pending),
            "completed" => Some(ExecutionState::Completed),
            "skipped" => Some(ExecutionState::Skipped),
            "dead" => Some(ExecutionState::Dead),
            _ => None,
        }
    }
}

/// One event's execution by one lifecycle installation.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LifecycleExecution {
    #[schema(value_type = String, example = "lifecycle_execution")]
    pub object: &'static str,
    pub installation_id: String,
    pub event_id: String,
    pub event: EventType,
    /// The user (else group or directory) whose events run in order.
    pub subject: String,
    pub state: ExecutionState,
    pub attempts: u32,
    pub next_attempt_at: Option<Timestamp>,
    /// What the plugin reported (`completed` / `skipped` detail).
    pub detail: Option<String>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<f64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// Every attempt, oldest first (only when one execution is fetched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_log: Option<Vec<LifecycleAttempt>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LifecycleAttempt {
    pub attempt: u32,
    pub started_at: Timestamp,
    pub duration_ms: f64,
    /// `completed`, `skipped`, or the error kind (`transient`,
    /// `rate_limited`, `unauthorized`, `invalid_config`, `permanent`,
    /// `not_found`, `timeout`, `trap`, …).
    pub outcome: String,
    pub detail: Option<String>,
}

/// A claimed execution with its event, ready to run.
#[derive(Debug, Clone)]
pub struct DueExecution {
    pub installation_id: String,
    pub event: Event,
    pub attempts: u32,
    pub round_start: u32,
}

/// What became of an attempt.
#[derive(Debug, Clone)]
pub enum ExecutionOutcome {
    Completed(Option<String>),
    Skipped(String),
    /// Try again at the given time.
    Retry(Timestamp),
    Dead,
    /// Not attempted (the runtime was busy): try again at the given time,
    /// without counting an attempt.
    Deferred(Timestamp),
}

/// The record of one attempt.
#[derive(Debug, Clone)]
pub struct ExecutionRecord {
    pub installation_id: String,
    pub event_id: String,
    pub attempt: u32,
    pub started_at: Timestamp,
    pub duration_us: i64,
    /// `completed`, `skipped` or an error kind.
    pub outcome_label: String,
    pub detail: Option<String>,
    pub outcome: ExecutionOutcome,
}

#[derive(sqlx::FromRow)]
struct ExecutionRow {
    installation_id: String,
    event_id: String,
    event_type: String,
    subject: String,
    state: String,
    attempts: i64,
    next_attempt_at: Option<i64>,
    detail: Option<String>,
    last_error: Option<String>,
    last_duration_us: Option<i64>,
    created_at: i64,
    updated_at: i64,
    finished_at: Option<i64>,
}

const COLUMNS: &str = "installation_id, event_id, event_type, subject, state, attempts, next_attempt_at, \
    detail, last_error, last_duration_us, created_at, updated_at, finished_at";

impl TryFrom<ExecutionRow> for LifecycleExecution {
    type Error = StoreError;
    fn try_from(r: ExecutionRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str, v: &str| {
            StoreError::Internal(format!("stored {what} '{v}' is not recognised"))
        };
        Ok(LifecycleExecution {
            object: "lifecycle_execution",
            event: EventType::parse(&r.event_type)
                .ok_or_else(|| corrupt("event type", &r.event_type))?,
            state: ExecutionState::parse(&r.state)
                .ok_or_else(|| corrupt("execution state", &r.state))?,
            installation_id: r.installation_id,
            event_id: r.event_id,
            subject: r.subject,
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            next_attempt_at: r.next_attempt_at.map(Timestamp::from_micros),
            detail: r.detail,
            last_error: r.last_error,
            last_duration_ms: r.last_duration_us.map(|us| us as f64 / 1000.0),
            created_at: Timestamp::from_micros(r.created_at),
            updated_at: Timestamp::from_micros(r.updated_at),
            finished_at: r.finished_at.map(Timestamp::from_micros),
            attempt_log: None,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    installation_id: String,
    event_id: String,
    attempts: i64,
    round_start: i64,
}

const LIFECYCLE_SELECT_SQLITE: &str = "SELECT id, organization_id, directory_id, event_types, cursor_seq \
     FROM plugin_installations WHERE kind = 'lifecycle' AND enabled = 1";
const LIFECYCLE_SELECT_POSTGRES: &str = "SELECT id, organization_id, directory_id, event_types, cursor_seq \
     FROM plugin_installations WHERE kind = 'lifecycle' AND enabled = TRUE";

impl Store {
    /// The SQL for an event's subject: the user it is about, else its own id
    /// (user, group or directory events carry the object's id).
    fn subject_expression(&self) -> &'static str {
        match self.kind() {
            BackendKind::Sqlite => {
                "COALESCE(json_extract(data, '$.user.id'), json_extract(data, '$.id'), id)"
            }
            BackendKind::Postgres => "COALESCE(data->'user'->>'id', data->>'id', id)",
        }
    }

    /// Lifecycle installations and their executions, for [`Store::fan_out`].
    fn lifecycle_queue(&self) -> Queue {
        Queue {
            subscribers: "plugin_installations",
            select: match self.kind() {
                BackendKind::Sqlite => LIFECYCLE_SELECT_SQLITE,
                BackendKind::Postgres => LIFECYCLE_SELECT_POSTGRES,
            },
            table: "lifecycle_executions",
            owner_column: "installation_id",
            extra: Some(("subject", self.subject_expression())),
        }
    }

    /// Turns new events into pending executions for every enabled lifecycle
    /// installation that wants them (at most `limit` per installation).
    pub async fn fan_out_lifecycle(&self, limit: u32) -> Result<u64, StoreError> {
        self.fan_out(&self.lifecycle_queue(), limit).await
    }

    /// Claims up to `limit` due executions of enabled installations — for
    /// each subject only its oldest pending one — with a lease, and answers
    /// them with their events. Executions whose event was pruned die.
    pub async fn claim_lifecycle_executions(
        &self,
        limit: u32,
        lease_seconds: i64,
    ) -> Result<Vec<DueExecution>, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        let claimed: Vec<ClaimRow> = on_tx!(&mut tx, |conn| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "UPDATE lifecycle_executions SET lease_until = $1 \
                 WHERE (installation_id, event_id) IN ( \
                   SELECT x.installation_id, x.event_id FROM lifecycle_executions x \
                   JOIN plugin_installations i ON i.id = x.installation_id \
                   WHERE x.state = 'pending' AND x.next_attempt_at <= $2 \
                     AND (x.lease_until IS NULL OR x.lease_until < $2) AND i.enabled = $3 \
                     AND NOT EXISTS (SELECT 1 FROM lifecycle_executions p \
                       WHERE p.installation_id = x.installation_id AND p.subject = x.subject \
                         AND p.state = 'pending' AND p.event_seq < x.event_seq) \
                   ORDER BY x.event_seq LIMIT {limit}{}) \
                 RETURNING installation_id, event_id, attempts, round_start",
                match self.kind() {
                    BackendKind::Postgres => " FOR UPDATE OF x SKIP LOCKED",
                    BackendKind::Sqlite => "",
                }
            )))
            .bind(now.plus_seconds(lease_seconds).as_micros())
            .bind(now.as_micros())
            .bind(true)
            .fetch_all(&mut *conn)
            .await?
        });
        tx.commit().await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let events = self
            .events_by_id(claimed.iter().map(|c| c.event_id.as_str()))
            .await?;
        let mut due = Vec::with_capacity(claimed.len());
        let mut orphans = Vec::new();
        for c in claimed {
            // Several installations may claim the same event in one batch.
            match events.get(&c.event_id) {
                Some(event) => due.push(DueExecution {
                    installation_id: c.installation_id,
                    event: event.clone(),
                    attempts: u32::try_from(c.attempts).unwrap_or(0),
                    round_start: u32::try_from(c.round_start).unwrap_or(0),
                }),
                None => orphans.push(ExecutionRecord {
                    installation_id: c.installation_id,
                    event_id: c.event_id,
                    attempt: u32::try_from(c.attempts).unwrap_or(0),
                    started_at: now,
                    duration_us: 0,
                    outcome_label: "pruned".into(),
                    detail: Some("the event was pruned from the log before it could run".into()),
                    outcome: ExecutionOutcome::Dead,
                }),
            }
        }
        self.record_lifecycle_attempts(&orphans).await?;
        Ok(due)
    }

    /// Writes attempts and their outcomes in one transaction.
    pub async fn record_lifecycle_attempts(
        &self,
        records: &[ExecutionRecord],
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let now = Timestamp::now().as_micros();
        let mut tx = self.begin().await?;
        for r in records {
            if let ExecutionOutcome::Deferred(at) = &r.outcome {
                on_tx!(&mut tx, |conn| {
                    sqlx::query(
                        "UPDATE lifecycle_executions SET next_attempt_at = $3, lease_until = NULL, updated_at = $4 \
                         WHERE installation_id = $1 AND event_id = $2",
                    )
                    .bind(&r.installation_id)
                    .bind(&r.event_id)
                    .bind(at.as_micros())
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                });
                continue;
            }
            let detail = r.detail.as_deref().map(|d| truncate(d, MAX_DETAIL_LEN));
            if r.attempt > 0 {
                on_tx!(&mut tx, |conn| {
                    sqlx::query(
                        "INSERT INTO lifecycle_attempts (installation_id, event_id, attempt, started_at, \
                         duration_us, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                    )
                    .bind(&r.installation_id)
                    .bind(&r.event_id)
                    .bind(i64::from(r.attempt))
                    .bind(r.started_at.as_micros())
                    .bind(r.duration_us)
                    .bind(&r.outcome_label)
                    .bind(&detail)
                    .execute(&mut *conn)
                    .await?;
                });
            }
            let (state, next, finished, ok_detail, error) = match &r.outcome {
                ExecutionOutcome::Completed(_) => (
                    ExecutionState::Completed,
                    None,
                    Some(now),
                    detail.clone(),
                    None,
                ),
                ExecutionOutcome::Skipped(_) => (
                    ExecutionState::Skipped,
                    None,
                    Some(now),
                    detail.clone(),
                    None,
                ),
                ExecutionOutcome::Retry(at) => (
                    ExecutionState::Pending,
                    Some(at.as_micros()),
                    None,
                    None,
                    detail.clone(),
                ),
                ExecutionOutcome::Dead => {
                    (ExecutionState::Dead, None, Some(now), None, detail.clone())
                }
                ExecutionOutcome::Deferred(_) => continue,
            };
            on_tx!(&mut tx, |conn| {
                sqlx::query(
                    "UPDATE lifecycle_executions SET state = $3, attempts = $4, next_attempt_at = $5, \
                     lease_until = NULL, detail = COALESCE($6, detail), last_error = $7, last_duration_us = $8, \
                     updated_at = $9, finished_at = $10 WHERE installation_id = $1 AND event_id = $2",
                )
                .bind(&r.installation_id)
                .bind(&r.event_id)
                .bind(state.as_str())
                .bind(i64::from(r.attempt))
                .bind(next)
                .bind(&ok_detail)
                .bind(&error)
                .bind(r.duration_us)
                .bind(now)
                .bind(finished)
                .execute(&mut *conn)
                .await?;
            });
        }
        tx.commit().await?;
        Ok(())
    }

    /// An installation's executions, newest event first, optionally in one state.
    pub async fn list_lifecycle_executions(
        &self,
        installation_id: &str,
        state: Option<ExecutionState>,
        page: &PageRequest,
    ) -> Result<Page<LifecycleExecution>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {COLUMNS} FROM lifecycle_executions WHERE 1=1"
        ));
        sql.and(
            "installation_id",
            "=",
            Arg::Text(installation_id.to_owned()),
        );
        if let Some(state) = state {
            sql.and("state", "=", Arg::Text(state.as_str().to_owned()));
        }
        page.apply(&mut sql, "event_id");
        let rows: Vec<ExecutionRow> = on_read!(self, |pool| {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.text)), sql.args)
                .fetch_all(pool)
                .await?
        });
        let rows = rows
            .into_iter()
            .map(LifecycleExecution::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page.finish(rows, |e| &e.event_id))
    }

    /// One execution with its attempt log.
    pub async fn get_lifecycle_execution(
        &self,
        installation_id: &str,
        event_id: &str,
    ) -> Result<Option<LifecycleExecution>, StoreError> {
        let row: Option<ExecutionRow> = on_read!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM lifecycle_executions WHERE installation_id = $1 AND event_id = $2"
            )))
            .bind(installation_id)
            .bind(event_id)
            .fetch_optional(pool)
            .await?
        });
        let Some(row) = row else { return Ok(None) };
        let mut execution = LifecycleExecution::try_from(row)?;
        let attempts: Vec<(i64, i64, i64, String, Option<String>)> = on_read!(self, |pool| {
            sqlx::query_as(
                "SELECT attempt, started_at, duration_us, outcome, detail FROM lifecycle_attempts \
                 WHERE installation_id = $1 AND event_id = $2 ORDER BY attempt",
            )
            .bind(installation_id)
            .bind(event_id)
            .fetch_all(pool)
            .await?
        });
        execution.attempt_log = Some(
            attempts
                .into_iter()
                .map(
                    |(attempt, started, duration, outcome, detail)| LifecycleAttempt {
                        attempt: u32::try_from(attempt).unwrap_or(0),
                        started_at: Timestamp::from_micros(started),
                        duration_ms: duration as f64 / 1000.0,
                        outcome,
                        detail,
                    },
                )
                .collect(),
        );
        Ok(Some(execution))
    }

    /// Runs one event through an installation again, now (a dead or
    /// finished execution gets a fresh retry schedule).
    pub async fn retry_lifecycle_execution(
        &self,
        installation_id: &str,
        event_id: &str,
    ) -> Result<LifecycleExecution, StoreError> {
        let installation = self
            .get_plugin_installation(installation_id)
            .await?
            .ok_or(StoreError::NotFound("plugin installation"))?;
        let event = self
            .get_event(event_id)
            .await?
            .filter(|e| e.organization_id == installation.organization_id)
            .ok_or(StoreError::NotFound("event"))?;
        let now = Timestamp::now().as_micros();
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO lifecycle_executions (installation_id, event_id, event_seq, event_type, subject, \
                 state, next_attempt_at, created_at, updated_at) \
                 SELECT $1, id, seq, type, {}, 'pending', $3, $3, $3 FROM events WHERE id = $2 \
                 ON CONFLICT (installation_id, event_id) DO UPDATE SET state = 'pending', next_attempt_at = $3, \
                 round_start = lifecycle_executions.attempts, lease_until = NULL, finished_at = NULL, updated_at = $3",
                self.subject_expression()
            )))
            .bind(installation_id)
            .bind(&event.id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        });
        tx.commit().await?;
        self.get_lifecycle_execution(installation_id, event_id)
            .await?
            .ok_or(StoreError::NotFound("lifecycle execution"))
    }

    /// Runs every wanted event from `from_event_id` on (inclusive) through
    /// the installation again. Answers how many were scheduled.
    pub async fn replay_lifecycle_events(
        &self,
        installation_id: &str,
        from_event_id: &str,
    ) -> Result<u64, StoreError> {
        let installation = self
            .get_plugin_installation(installation_id)
            .await?
            .ok_or(StoreError::NotFound("plugin installation"))?;
        if installation.kind != "lifecycle" {
            return Err(StoreError::Invalid(
                "only lifecycle installations run on events".into(),
            ));
        }
        let from = self
            .get_event(from_event_id)
            .await?
            .filter(|e| e.organization_id == installation.organization_id)
            .ok_or(StoreError::NotFound("event"))?;
        let now = Timestamp::now().as_micros();
        let mut tx = self.begin().await?;
        let cursor: Option<i64> = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar("SELECT cursor_seq FROM plugin_installations WHERE id = $1")
                .bind(installation_id)
                .fetch_one(&mut *conn)
                .await?
        });
        let sub = Subscriber {
            id: installation.id.clone(),
            organization_id: installation.organization_id.clone(),
            directory_id: installation.directory_id.clone(),
            event_types: Json(installation.events.clone()),
            cursor_seq: cursor,
        };
        let (mut sql, p_now) = insert_pending(&self.lifecycle_queue(), installation_id, now);
        wanted_range(&mut sql, &sub, from.seq - 1, cursor.unwrap_or(0));
        sql.push(&format!(
            " ON CONFLICT (installation_id, event_id) DO UPDATE SET state = 'pending', next_attempt_at = {p_now}, \
             round_start = lifecycle_executions.attempts, lease_until = NULL, finished_at = NULL, updated_at = {p_now}"
        ));
        let n = on_tx!(&mut tx, |conn| {
            bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql.text)), sql.args)
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        tx.commit().await?;
        Ok(n)
    }
}
