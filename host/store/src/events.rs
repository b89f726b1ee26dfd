//! The event log: append inside a caller's transaction, read with a cursor.

use rollcall_core::Timestamp;
use rollcall_core::event::{Event, EventType, NewEvent};
use rollcall_core::ids::{IdKind, new_id};
use sqlx::AssertSqlSafe;
use sqlx::types::Json;

use crate::backend::{Store, Tx};
use crate::error::StoreError;
use crate::rows::{EVENT_COLUMNS, EventRow};
use crate::sql::{Arg, Sql};

/// What the Events API may filter on. `organization_ids` restricts the
/// result to those organizations (used for organization-scoped keys).
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub organization_id: Option<String>,
    pub directory_id: Option<String>,
    pub types: Vec<EventType>,
    pub range_start: Option<Timestamp>,
    pub range_end: Option<Timestamp>,
    /// Return events after this event id.
    pub after: Option<String>,
    pub limit: u32,
}

/// Appends events to the log as part of `tx`; returns them as stored.
pub(crate) async fn append(tx: &mut Tx, events: Vec<NewEvent>) -> Result<Vec<Event>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    tx.lock_event_log().await?;
    let now = Timestamp::now();
    let mut stored = Vec::with_capacity(events.len());
    for e in events {
        let id = new_id(IdKind::Event);
        let seq: i64 = on_tx!(tx, |conn| {
            sqlx::query_scalar(
                "INSERT INTO events (id, type, organization_id, directory_id, data, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
            )
            .bind(&id)
            .bind(e.event.as_str())
            .bind(&e.organization_id)
            .bind(&e.directory_id)
            .bind(Json(&e.data))
            .bind(now.as_micros())
            .fetch_one(&mut *conn)
            .await?
        });
        stored.push(Event {
            object: Event::OBJECT,
            id,
            event: e.event,
            data: e.data,
            created_at: now,
            directory_id: e.directory_id,
            organization_id: e.organization_id,
            seq,
        });
    }
    Ok(stored)
}

/// Appends many events with multi-row inserts (pull sync pages, group
/// commits of SCIM writes), in the given order. Nothing is returned: callers that need the stored events
/// use [`append`].
pub(crate) async fn append_many(tx: &mut Tx, mut events: Vec<NewEvent>) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    tx.lock_event_log().await?;
    let now = Timestamp::now().as_micros();
    // 6 arguments per row; well under both backends' parameter limits.
    let sizes: Vec<usize> = Sql::row_chunks(events.len(), 512).collect();
    for size in sizes {
        let rest = events.split_off(size);
        let chunk = std::mem::replace(&mut events, rest);
        let mut sql = Sql::new(
            "INSERT INTO events (id, type, organization_id, directory_id, data, created_at) VALUES ",
        );
        for (i, e) in chunk.into_iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            let row = sql.tuple([
                Arg::Text(new_id(IdKind::Event)),
                Arg::Text(e.event.as_str().to_owned()),
                Arg::Text(e.organization_id),
                Arg::OptText(e.directory_id),
                Arg::Json(e.data),
                Arg::Int(now),
            ]);
            sql.push(&row);
        }
        let text = tx.text(&sql);
        tx.execute(&text, sql.args).await?;
    }
    Ok(())
}

impl Store {
    /// Events in log order (oldest first) after the cursor, filtered.
    pub async fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        let mut sql = self.event_filter_sql(filter).await?;
        let limit = filter.limit;
        sql.push(&format!(" ORDER BY seq ASC LIMIT {limit}"));
        let rows: Vec<EventRow> = on_read!(self, |pool| {
            bind_args!(sqlx::query_as(AssertSqlSafe(sql.text)), sql.args)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(Event::try_from).collect()
    }

    /// The newest `filter.limit` events matching the filter, in log order
    /// (what `rollcall events tail` shows first).
    pub async fn latest_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        let mut sql = self.event_filter_sql(filter).await?;
        let limit = filter.limit;
        sql.push(&format!(" ORDER BY seq DESC LIMIT {limit}"));
        let rows: Vec<EventRow> = on_read!(self, |pool| {
            bind_args!(sqlx::query_as(AssertSqlSafe(sql.text)), sql.args)
                .fetch_all(pool)
                .await?
        });
        let mut events = rows
            .into_iter()
            .map(Event::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        events.reverse();
        Ok(events)
    }

    async fn event_filter_sql(&self, filter: &EventFilter) -> Result<Sql, StoreError> {
        let mut sql = Sql::new(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE 1=1"));
        if let Some(after) = &filter.after {
            let seq = on_read!(self, |pool| {
                sqlx::query_scalar::<_, i64>(
                    "SELECT seq FROM events WHERE id = $1 AND ($2 IS NULL OR organization_id = $2)",
                )
                .bind(after)
                .bind(&filter.organization_id)
                .fetch_optional(pool)
                .await?
            });
            let seq = seq
                .ok_or_else(|| StoreError::Invalid(format!("after: no event with id '{after}'")))?;
            sql.and("seq", ">", Arg::Int(seq));
        }
        if let Some(org) = &filter.organization_id {
            sql.and("organization_id", "=", Arg::Text(org.clone()));
        }
        if let Some(dir) = &filter.directory_id {
            sql.and("directory_id", "=", Arg::Text(dir.clone()));
        }
        if !filter.types.is_empty() {
            let placeholders: Vec<String> = filter
                .types
                .iter()
                .map(|t| sql.arg(Arg::Text(t.as_str().to_owned())))
                .collect();
            sql.push(&format!(" AND type IN ({})", placeholders.join(", ")));
        }
        if let Some(start) = filter.range_start {
            sql.and("created_at", ">=", Arg::Int(start.as_micros()));
        }
        if let Some(end) = filter.range_end {
            sql.and("created_at", "<", Arg::Int(end.as_micros()));
        }
        Ok(sql)
    }

    /// The events with these ids, by id (ids not in the log are left out).
    pub(crate) async fn events_by_id(
        &self,
        ids: impl Iterator<Item = &str>,
    ) -> Result<std::collections::HashMap<String, Event>, StoreError> {
        let mut sql = Sql::new(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE id IN ("));
        let ps: Vec<String> = ids.map(|id| sql.arg(Arg::Text(id.to_owned()))).collect();
        if ps.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        sql.push(&ps.join(", "));
        sql.push(")");
        let rows: Vec<EventRow> = on_read!(self, |pool| {
            bind_args!(sqlx::query_as(AssertSqlSafe(sql.text)), sql.args)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|row| Event::try_from(row).map(|e| (e.id.clone(), e)))
            .collect()
    }

    /// One event by id.
    pub async fn get_event(&self, id: &str) -> Result<Option<Event>, StoreError> {
        let row: Option<EventRow> = on_read!(self, |pool| {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(Event::try_from).transpose()
    }
}
