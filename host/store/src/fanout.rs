//! Fan-out of the event log into per-subscriber work queues — webhook
//! deliveries per endpoint, lifecycle executions per installation. Each
//! subscriber keeps a cursor (the last event seq it has been given); a
//! round inserts one queue row per wanted event past the cursor, at most
//! `limit`, and moves the cursor. Rows are unique per (subscriber, event),
//! so a repeated round never duplicates work.

use rollcall_core::Timestamp;
use rollcall_core::event::EventType;
use sqlx::types::Json;

use crate::backend::{BackendKind, Store};
use crate::error::StoreError;
use crate::sql::{Arg, Sql};

/// A subscriber as the fan-out sees it.
#[derive(sqlx::FromRow)]
pub(crate) struct Subscriber {
    pub id: String,
    pub organization_id: String,
    /// Only this directory's events (lifecycle installations may be scoped).
    pub directory_id: Option<String>,
    pub event_types: Json<Vec<EventType>>,
    /// `None` for a subscriber that has never been fanned out to: it starts
    /// at the head of the log.
    pub cursor_seq: Option<i64>,
}

/// Where a kind of subscriber keeps its cursor and its queue.
pub(crate) struct Queue {
    /// Table of subscribers (with `id` and `cursor_seq` columns).
    pub subscribers: &'static str,
    /// `SELECT id, organization_id, directory_id, event_types, cursor_seq …`
    /// of the subscribers to serve now (without the lock clause).
    pub select: &'static str,
    /// The queue table and its subscriber column.
    pub table: &'static str,
    pub owner_column: &'static str,
    /// An extra `(column, SQL expression over events)` to fill, if any.
    pub extra: Option<(&'static str, &'static str)>,
}

/// The events a subscriber wants in `(after, upto]`.
pub(crate) fn wanted_range(sql: &mut Sql, sub: &Subscriber, after: i64, upto: i64) {
    sql.and(
        "organization_id",
        "=",
        Arg::Text(sub.organization_id.clone()),
    );
    if let Some(dir) = &sub.directory_id {
        sql.and("directory_id", "=", Arg::Text(dir.clone()));
    }
    sql.and("seq", ">", Arg::Int(after));
    sql.and("seq", "<=", Arg::Int(upto));
    type_filter(sql, "type", &sub.event_types.0);
}

/// `type IN ($n, …)` for a subscriber's filter; empty when it wants all.
pub(crate) fn type_filter(sql: &mut Sql, column: &str, types: &[EventType]) {
    if types.is_empty() {
        return;
    }
    let ps: Vec<String> = types
        .iter()
        .map(|t| sql.arg(Arg::Text(t.as_str().to_owned())))
        .collect();
    sql.push(&format!(" AND {column} IN ({})", ps.join(", ")));
}

/// `INSERT INTO queue (…) SELECT … FROM events WHERE 1=1` for `owner`,
/// pending and due `now`; the caller appends the range and conflict clause.
/// Answers the statement and the placeholder holding `now`.
pub(crate) fn insert_pending(queue: &Queue, owner: &str, now: i64) -> (Sql, String) {
    let mut sql = Sql::new("");
    let p_owner = sql.arg(Arg::Text(owner.to_owned()));
    let p_now = sql.arg(Arg::Int(now));
    let (extra_column, extra_value) = match queue.extra {
        Some((column, expr)) => (format!(", {column}"), format!(", {expr}")),
        None => (String::new(), String::new()),
    };
    sql.push(&format!(
        "INSERT INTO {} ({}, event_id, event_seq, event_type{extra_column}, state, next_attempt_at, \
         created_at, updated_at) SELECT {p_owner}, id, seq, type{extra_value}, 'pending', {p_now}, \
         {p_now}, {p_now} FROM events WHERE 1=1",
        queue.table, queue.owner_column
    ));
    (sql, p_now)
}

impl Store {
    /// One fan-out round for every subscriber `queue.select` answers;
    /// answers how many queue rows were created. On PostgreSQL the
    /// subscribers are locked (`SKIP LOCKED`), so replicas never fan out
    /// to the same subscriber at once.
    pub(crate) async fn fan_out(&self, queue: &Queue, limit: u32) -> Result<u64, StoreError> {
        let now = Timestamp::now().as_micros();
        let mut tx = self.begin().await?;
        let lock = match self.kind() {
            BackendKind::Postgres => " FOR UPDATE SKIP LOCKED",
            BackendKind::Sqlite => "",
        };
        let subscribers: Vec<Subscriber> = on_tx!(&mut tx, |conn| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{} ORDER BY id{lock}",
                queue.select
            )))
            .fetch_all(&mut *conn)
            .await?
        });
        if subscribers.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        // Every event up to `head` is committed (the log's seq order is its
        // commit order), so a cursor may move up to it.
        let head: i64 = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
                .fetch_one(&mut *conn)
                .await?
        });
        let mut created = 0;
        for sub in subscribers {
            let from = sub.cursor_seq.unwrap_or(head);
            let cursor = if from >= head {
                head
            } else {
                // How far this batch reaches: `limit` wanted events, or the head.
                let mut probe =
                    Sql::new("SELECT COUNT(*), MAX(seq) FROM (SELECT seq FROM events WHERE 1=1");
                wanted_range(&mut probe, &sub, from, head);
                probe.push(&format!(" ORDER BY seq LIMIT {limit}) t"));
                let (count, last): (i64, Option<i64>) = on_tx!(&mut tx, |conn| {
                    bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(probe.text)), probe.args)
                        .fetch_one(&mut *conn)
                        .await?
                });
                let cursor = match last {
                    Some(last) if count >= i64::from(limit) => last,
                    _ => head,
                };
                if count > 0 {
                    let (mut insert, _) = insert_pending(queue, &sub.id, now);
                    wanted_range(&mut insert, &sub, from, cursor);
                    insert.push(" ON CONFLICT DO NOTHING");
                    created += on_tx!(&mut tx, |conn| {
                        bind_args!(sqlx::query(sqlx::AssertSqlSafe(insert.text)), insert.args)
                            .execute(&mut *conn)
                            .await?
                            .rows_affected()
                    });
                }
                cursor
            };
            if sub.cursor_seq != Some(cursor) {
                on_tx!(&mut tx, |conn| {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE {} SET cursor_seq = $2 \
                         WHERE id = $1 AND (cursor_seq IS NULL OR cursor_seq < $2)",
                        queue.subscribers
                    )))
                    .bind(&sub.id)
                    .bind(cursor)
                    .execute(&mut *conn)
                    .await?;
                });
            }
        }
        tx.commit().await?;
        Ok(created)
    }
}
