//! Webhook deliveries: one row per (endpoint, event), the worker's queue
//! and the delivery log.
//!
//! The worker never reads request handlers' state: it *fans out* the event
//! log into delivery rows (per endpoint, from the endpoint's cursor), then
//! *claims* due rows with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
//! so several replicas share the work without sending one delivery twice),
//! sends them, and *records* each attempt. A crashed worker's leases
//! expire and the rows are claimed again: delivery is at least once.

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

/// Longest response excerpt kept per attempt, in bytes.
pub const MAX_EXCERPT_BYTES: usize = 1024;
/// Longest error message kept per attempt.
const MAX_ERROR_LEN: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    Delivered,
    /// Every attempt of the retry schedule failed.
    Dead,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "dead" => Some(DeliveryState::Dead),
            _ => None,
        }
    }
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WebhookDelivery {
    #[schema(value_type = String, example = "webhook_delivery")]
    pub object: &'static str,
    pub endpoint_id: String,
    /// The event delivered; also the `webhook-id` header.
    pub event_id: String,
    pub event: EventType,
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_attempt_at: Option<Timestamp>,
    /// HTTP status of the last attempt (`null` when no answer came).
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// Duration of the last attempt, in milliseconds.
    pub last_latency_ms: Option<f64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    /// Every attempt, oldest first (only when one delivery is fetched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_log: Option<Vec<WebhookAttempt>>,
}

/// One HTTP attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WebhookAttempt {
    pub attempt: u32,
    pub started_at: Timestamp,
    pub latency_ms: f64,
    pub status: Option<u16>,
    pub error: Option<String>,
    /// The first bytes of the response body.
    pub response_excerpt: Option<String>,
}

/// A claimed delivery, with its event, ready to send.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub endpoint_id: String,
    pub event: Event,
    /// Attempts made so far (this one will be `attempts + 1`).
    pub attempts: u32,
    /// Attempts made before the last manual redelivery.
    pub round_start: u32,
}

/// What became of an attempt.
#[derive(Debug, Clone)]
pub enum AttemptOutcome {
    Delivered,
    /// Try again at the given time.
    Retry(Timestamp),
    /// The schedule is exhausted.
    Dead,
    /// The endpoint answered 410 Gone: disable it; the delivery waits.
    Gone(Timestamp),
    /// Not attempted (the endpoint's rate limit): try at the given time;
    /// no attempt is counted or logged.
    Deferred(Timestamp),
}

/// The record of one attempt, written by [`Store::record_webhook_attempts`].
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub endpoint_id: String,
    pub event_id: String,
    pub attempt: u32,
    pub started_at: Timestamp,
    pub duration_us: i64,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
    pub outcome: AttemptOutcome,
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    endpoint_id: String,
    event_id: String,
    event_type: String,
    state: String,
    attempts: i64,
    next_attempt_at: Option<i64>,
    last_status: Option<i64>,
    last_error: Option<String>,
    last_duration_us: Option<i64>,
    created_at: i64,
    updated_at: i64,
    delivered_at: Option<i64>,
}

const DELIVERY_COLUMNS: &str = "endpoint_id, event_id, event_type, state, attempts, next_attempt_at, \
    last_status, last_error, last_duration_us, created_at, updated_at, delivered_at";

impl TryFrom<DeliveryRow> for WebhookDelivery {
    type Error = StoreError;
    fn try_from(r: DeliveryRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str, v: &str| {
            StoreError::Internal(format!("stored {what} '{v}' is not recognised"))
        };
        Ok(WebhookDelivery {
            object: "webhook_delivery",
            event: EventType::parse(&r.event_type)
                .ok_or_else(|| corrupt("event type", &r.event_type))?,
            state: DeliveryState::parse(&r.state)
                .ok_or_else(|| corrupt("delivery state", &r.state))?,
            endpoint_id: r.endpoint_id,
            event_id: r.event_id,
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            next_attempt_at: r.next_attempt_at.map(Timestamp::from_micros),
            last_status: r.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: r.last_error,
            last_latency_ms: r.last_duration_us.map(|us| us as f64 / 1000.0),
            created_at: Timestamp::from_micros(r.created_at),
            updated_at: Timestamp::from_micros(r.updated_at),
            delivered_at: r.delivered_at.map(Timestamp::from_micros),
            attempt_log: None,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    attempt: i64,
    started_at: i64,
    duration_us: i64,
    status: Option<i64>,
    error: Option<String>,
    response_excerpt: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    endpoint_id: String,
    event_id: String,
    attempts: i64,
    round_start: i64,
}

pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Webhook endpoints and their deliveries, for [`Store::fan_out`].
const QUEUE: Queue = Queue {
    subscribers: "webhook_endpoints",
    select: "SELECT id, organization_id, CAST(NULL AS TEXT) AS directory_id, event_types, cursor_seq \
             FROM webhook_endpoints WHERE state = 'enabled'",
    table: "webhook_deliveries",
    owner_column: "endpoint_id",
    extra: None,
};

impl Store {
    /// Turns new events into pending deliveries for every enabled endpoint
    /// that wants them, at most `limit` events per endpoint. Answers how
    /// many deliveries were created.
    pub async fn fan_out_webhooks(&self, limit: u32) -> Result<u64, StoreError> {
        self.fan_out(&QUEUE, limit).await
    }
}

impl Store {
    /// Claims up to `limit` due deliveries of enabled endpoints for
    /// `lease_seconds`, and answers them with their events. A delivery
    /// whose event was pruned is dead-lettered instead.
    pub async fn claim_webhook_deliveries(
        &self,
        limit: u32,
        lease_seconds: i64,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        let claimed: Vec<ClaimRow> = on_tx!(&mut tx, |conn| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "UPDATE webhook_deliveries SET lease_until = $1 \
                 WHERE (endpoint_id, event_id) IN ( \
                   SELECT d.endpoint_id, d.event_id FROM webhook_deliveries d \
                   JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                   WHERE d.state = 'pending' AND d.next_attempt_at <= $2 \
                     AND (d.lease_until IS NULL OR d.lease_until < $2) AND e.state = 'enabled' \
                   ORDER BY d.next_attempt_at LIMIT {limit}{}) \
                 RETURNING endpoint_id, event_id, attempts, round_start",
                match self.kind() {
                    BackendKind::Postgres => " FOR UPDATE OF d SKIP LOCKED",
                    BackendKind::Sqlite => "",
                }
            )))
            .bind(now.plus_seconds(lease_seconds).as_micros())
            .bind(now.as_micros())
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
            match events.get(&c.event_id) {
                Some(event) => due.push(DueDelivery {
                    endpoint_id: c.endpoint_id,
                    event: event.clone(),
                    attempts: u32::try_from(c.attempts).unwrap_or(0),
                    round_start: u32::try_from(c.round_start).unwrap_or(0),
                }),
                None => orphans.push(c),
            }
        }
        if !orphans.is_empty() {
            let mut tx = self.begin().await?;
            for o in orphans {
                on_tx!(&mut tx, |conn| {
                    sqlx::query(
                        "UPDATE webhook_deliveries SET state = 'dead', lease_until = NULL, next_attempt_at = NULL, \
                         last_error = 'the event was pruned from the log before it could be delivered', updated_at = $3 \
                         WHERE endpoint_id = $1 AND event_id = $2",
                    )
                    .bind(&o.endpoint_id)
                    .bind(&o.event_id)
                    .bind(now.as_micros())
                    .execute(&mut *conn)
                    .await?;
                });
            }
            tx.commit().await?;
        }
        Ok(due)
    }

    /// Writes attempts and their outcomes in one transaction.
    pub async fn record_webhook_attempts(
        &self,
        records: &[AttemptRecord],
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let now = Timestamp::now().as_micros();
        let mut tx = self.begin().await?;
        for r in records {
            if let AttemptOutcome::Deferred(at) = &r.outcome {
                on_tx!(&mut tx, |conn| {
                    sqlx::query(
                        "UPDATE webhook_deliveries SET next_attempt_at = $3, lease_until = NULL, updated_at = $4 \
                         WHERE endpoint_id = $1 AND event_id = $2",
                    )
                    .bind(&r.endpoint_id)
                    .bind(&r.event_id)
                    .bind(at.as_micros())
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                });
                continue;
            }
            let error = r.error.as_deref().map(|e| truncate(e, MAX_ERROR_LEN));
            let excerpt = r
                .response_excerpt
                .as_deref()
                .map(|e| truncate(e, MAX_EXCERPT_BYTES));
            on_tx!(&mut tx, |conn| {
                sqlx::query(
                    "INSERT INTO webhook_attempts (endpoint_id, event_id, attempt, started_at, duration_us, \
                     status, error, response_excerpt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&r.endpoint_id)
                .bind(&r.event_id)
                .bind(i64::from(r.attempt))
                .bind(r.started_at.as_micros())
                .bind(r.duration_us)
                .bind(r.status.map(i64::from))
                .bind(&error)
                .bind(&excerpt)
                .execute(&mut *conn)
                .await?;
            });
            let (state, next, delivered) = match &r.outcome {
                AttemptOutcome::Delivered => (DeliveryState::Delivered, None, Some(now)),
                AttemptOutcome::Retry(at) | AttemptOutcome::Gone(at) => {
                    (DeliveryState::Pending, Some(at.as_micros()), None)
                }
                AttemptOutcome::Dead => (DeliveryState::Dead, None, None),
                AttemptOutcome::Deferred(_) => continue,
            };
            on_tx!(&mut tx, |conn| {
                sqlx::query(
                    "UPDATE webhook_deliveries SET state = $3, attempts = $4, next_attempt_at = $5, \
                     lease_until = NULL, last_status = $6, last_error = $7, last_duration_us = $8, \
                     updated_at = $9, delivered_at = COALESCE($10, delivered_at) \
                     WHERE endpoint_id = $1 AND event_id = $2",
                )
                .bind(&r.endpoint_id)
                .bind(&r.event_id)
                .bind(state.as_str())
                .bind(i64::from(r.attempt))
                .bind(next)
                .bind(r.status.map(i64::from))
                .bind(&error)
                .bind(r.duration_us)
                .bind(now)
                .bind(delivered)
                .execute(&mut *conn)
                .await?;
            });
            if let AttemptOutcome::Gone(_) = r.outcome {
                on_tx!(&mut tx, |conn| {
                    sqlx::query(
                        "UPDATE webhook_endpoints SET state = 'disabled', \
                         disabled_reason = 'the endpoint answered 410 Gone', updated_at = $2 \
                         WHERE id = $1 AND state = 'enabled'",
                    )
                    .bind(&r.endpoint_id)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                });
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Gives claimed deliveries back (graceful shutdown) so another worker
    /// picks them up at once.
    pub async fn release_webhook_leases(
        &self,
        keys: &[(String, String)],
    ) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for (endpoint, event) in keys {
            on_tx!(&mut tx, |conn| {
                sqlx::query(
                    "UPDATE webhook_deliveries SET lease_until = NULL WHERE endpoint_id = $1 AND event_id = $2",
                )
                .bind(endpoint)
                .bind(event)
                .execute(&mut *conn)
                .await?;
            });
        }
        tx.commit().await?;
        Ok(())
    }

    /// An endpoint's deliveries, newest event first, optionally in one state.
    pub async fn list_webhook_deliveries(
        &self,
        endpoint_id: &str,
        state: Option<DeliveryState>,
        page: &PageRequest,
    ) -> Result<Page<WebhookDelivery>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE 1=1"
        ));
        sql.and("endpoint_id", "=", Arg::Text(endpoint_id.to_owned()));
        if let Some(state) = state {
            sql.and("state", "=", Arg::Text(state.as_str().to_owned()));
        }
        page.apply(&mut sql, "event_id");
        let rows: Vec<DeliveryRow> = on_read!(self, |pool| {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.text)), sql.args)
                .fetch_all(pool)
                .await?
        });
        let rows = rows
            .into_iter()
            .map(WebhookDelivery::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page.finish(rows, |d| &d.event_id))
    }

    /// One delivery with its attempt log.
    pub async fn get_webhook_delivery(
        &self,
        endpoint_id: &str,
        event_id: &str,
    ) -> Result<Option<WebhookDelivery>, StoreError> {
        let row: Option<DeliveryRow> = on_read!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = $1 AND event_id = $2"
            )))
            .bind(endpoint_id)
            .bind(event_id)
            .fetch_optional(pool)
            .await?
        });
        let Some(row) = row else { return Ok(None) };
        let mut delivery = WebhookDelivery::try_from(row)?;
        let attempts: Vec<AttemptRow> = on_read!(self, |pool| {
            sqlx::query_as(
                "SELECT attempt, started_at, duration_us, status, error, response_excerpt \
                 FROM webhook_attempts WHERE endpoint_id = $1 AND event_id = $2 ORDER BY attempt",
            )
            .bind(endpoint_id)
            .bind(event_id)
            .fetch_all(pool)
            .await?
        });
        delivery.attempt_log = Some(
            attempts
                .into_iter()
                .map(|a| WebhookAttempt {
                    attempt: u32::try_from(a.attempt).unwrap_or(0),
                    started_at: Timestamp::from_micros(a.started_at),
                    latency_ms: a.duration_us as f64 / 1000.0,
                    status: a.status.and_then(|s| u16::try_from(s).ok()),
                    error: a.error,
                    response_excerpt: a.response_excerpt,
                })
                .collect(),
        );
        Ok(Some(delivery))
    }

    /// Schedules one event for (re)delivery to an endpoint now, whatever
    /// its delivery's state; the retry schedule starts again.
    pub async fn redeliver_webhook_event(
        &self,
        endpoint_id: &str,
        event_id: &str,
    ) -> Result<WebhookDelivery, StoreError> {
        let endpoint = self
            .get_webhook_endpoint(endpoint_id)
            .await?
            .ok_or(StoreError::NotFound("webhook endpoint"))?;
        let event = self
            .get_event(event_id)
            .await?
            .filter(|e| e.organization_id == endpoint.organization_id)
            .ok_or(StoreError::NotFound("event"))?;
        let now = Timestamp::now().as_micros();
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "INSERT INTO webhook_deliveries (endpoint_id, event_id, event_seq, event_type, state, \
                 next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', $5, $5, $5) \
                 ON CONFLICT (endpoint_id, event_id) DO UPDATE SET state = 'pending', next_attempt_at = $5, \
                 round_start = webhook_deliveries.attempts, lease_until = NULL, updated_at = $5",
            )
            .bind(endpoint_id)
            .bind(event_id)
            .bind(event.seq)
            .bind(event.event.as_str())
            .bind(now)
            .execute(&mut *conn)
            .await?;
        });
        tx.commit().await?;
        self.get_webhook_delivery(endpoint_id, event_id)
            .await?
            .ok_or(StoreError::NotFound("webhook delivery"))
    }

    /// Schedules every event the endpoint wants, from `from_event_id` on
    /// (inclusive), for delivery again — the replay after an outage, or
    /// of the events of a disabled period. Answers how many were scheduled.
    pub async fn replay_webhook_events(
        &self,
        endpoint_id: &str,
        from_event_id: &str,
    ) -> Result<u64, StoreError> {
        let endpoint = self
            .get_webhook_endpoint(endpoint_id)
            .await?
            .ok_or(StoreError::NotFound("webhook endpoint"))?;
        let from = self
            .get_event(from_event_id)
            .await?
            .filter(|e| e.organization_id == endpoint.organization_id)
            .ok_or(StoreError::NotFound("event"))?;
        let now = Timestamp::now().as_micros();
        let mut tx = self.begin().await?;
        let cursor: i64 = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar("SELECT cursor_seq FROM webhook_endpoints WHERE id = $1")
                .bind(endpoint_id)
                .fetch_one(&mut *conn)
                .await?
        });
        let (mut sql, p_now) = insert_pending(&QUEUE, endpoint_id, now);
        let sub = Subscriber {
            id: endpoint.id.clone(),
            organization_id: endpoint.organization_id.clone(),
            directory_id: None,
            event_types: Json(endpoint.events.clone()),
            cursor_seq: Some(cursor),
        };
        // Events past the cursor are fanned out by the worker anyway.
        wanted_range(&mut sql, &sub, from.seq - 1, cursor);
        sql.push(&format!(
            " ON CONFLICT (endpoint_id, event_id) DO UPDATE SET state = 'pending', next_attempt_at = {p_now}, \
             round_start = webhook_deliveries.attempts, lease_until = NULL, updated_at = {p_now}"
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

    /// Deletes events created before `cutoff` with their webhook deliveries
    /// and lifecycle executions, at most
    /// `batch` events per call; answers how many events were deleted.
    pub async fn prune_events(&self, cutoff: Timestamp, batch: u32) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let upto: Option<i64> = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT MAX(seq) FROM (SELECT seq FROM events WHERE created_at < $1 ORDER BY seq LIMIT {batch}) t"
            )))
            .bind(cutoff.as_micros())
            .fetch_one(&mut *conn)
            .await?
        });
        let Some(upto) = upto else {
            tx.commit().await?;
            return Ok(0);
        };
        on_tx!(&mut tx, |conn| {
            sqlx::query("DELETE FROM webhook_deliveries WHERE event_seq <= $1")
                .bind(upto)
                .execute(&mut *conn)
                .await?;
        });
        on_tx!(&mut tx, |conn| {
            sqlx::query("DELETE FROM lifecycle_executions WHERE event_seq <= $1")
                .bind(upto)
                .execute(&mut *conn)
                .await?;
        });
        let n = on_tx!(&mut tx, |conn| {
            sqlx::query("DELETE FROM events WHERE seq <= $1 AND created_at < $2")
                .bind(upto)
                .bind(cutoff.as_micros())
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        tx.commit().await?;
        Ok(n)
    }
}
