//! The SCIM request log: the last requests and responses per directory
//! (redacted by the caller), written in batches off the request path and
//! pruned to a fixed number per directory.

use rollcall_core::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

use sqlx::AssertSqlSafe;

use crate::backend::Store;
use crate::error::StoreError;
use crate::sql::{Arg, Sql};

/// One logged SCIM exchange.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ScimRequestLog {
    #[serde(skip)]
    pub directory_id: String,
    pub created_at: Timestamp,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub duration_us: i64,
    pub user_agent: Option<String>,
    /// The request body, redacted and truncated.
    pub request_body: Option<String>,
    /// The response body, truncated.
    pub response_body: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    directory_id: String,
    created_at: i64,
    method: String,
    path: String,
    status: i64,
    duration_us: i64,
    user_agent: Option<String>,
    request_body: Option<String>,
    response_body: Option<String>,
}

impl Store {
    /// Appends entries (oldest first), then keeps only the newest `keep` per
    /// directory touched. Entries the pruning would remove at once (more
    /// than `keep` of one directory in this batch) are not written at all.
    pub async fn append_scim_requests(
        &self,
        entries: &[ScimRequestLog],
        keep: i64,
    ) -> Result<(), StoreError> {
        let entries = newest_per_directory(entries, keep, |e| e.directory_id.as_str());
        if entries.is_empty() {
            return Ok(());
        }
        let entries = entries.as_slice();
        let mut directories: Vec<&str> = entries.iter().map(|e| e.directory_id.as_str()).collect();
        directories.sort_unstable();
        directories.dedup();
        let mut tx = self.begin().await?;
        // 9 arguments per row: 64 rows stay far below both backends' limits.
        let mut rest = entries;
        for size in Sql::row_chunks(entries.len(), 64) {
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let mut sql = Sql::new(
                "INSERT INTO scim_requests (directory_id, created_at, method, path, status, \
                 duration_us, user_agent, request_body, response_body) VALUES ",
            );
            for (i, e) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                let row = sql.tuple([
                    Arg::Text(e.directory_id.clone()),
                    Arg::Int(e.created_at.as_micros()),
                    Arg::Text(e.method.clone()),
                    Arg::Text(e.path.clone()),
                    Arg::Int(e.status),
                    Arg::Int(e.duration_us),
                    Arg::OptText(e.user_agent.clone()),
                    Arg::OptText(e.request_body.clone()),
                    Arg::OptText(e.response_body.clone()),
                ]);
                sql.push(&row);
            }
            let text = tx.text(&sql);
            on_tx!(&mut tx, |conn| {
                bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args)
                    .execute(&mut *conn)
                    .await?;
            });
        }
        on_tx!(&mut tx, |conn| {
            for dir in &directories {
                sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM scim_requests WHERE directory_id = $1 AND seq <= \
                     (SELECT seq FROM scim_requests WHERE directory_id = $1 ORDER BY seq DESC \
                      LIMIT 1 OFFSET {keep})"
                )))
                .bind(*dir)
                .execute(&mut *conn)
                .await?;
            }
        });
        tx.commit().await
    }

    /// The newest `limit` entries of a directory, newest first.
    pub async fn list_scim_requests(
        &self,
        directory_id: &str,
        limit: i64,
    ) -> Result<Vec<ScimRequestLog>, StoreError> {
        let rows: Vec<Row> = on_read!(self, |pool| {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT directory_id, created_at, method, path, status, duration_us, user_agent, \
                 request_body, response_body FROM scim_requests WHERE directory_id = $1 \
                 ORDER BY seq DESC LIMIT {limit}"
            )))
            .bind(directory_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|r| ScimRequestLog {
                directory_id: r.directory_id,
                created_at: Timestamp::from_micros(r.created_at),
                method: r.method,
                path: r.path,
                status: r.status,
                duration_us: r.duration_us,
                user_agent: r.user_agent,
                request_body: r.request_body,
                response_body: r.response_body,
            })
            .collect())
    }
}

/// The entries that survive pruning to `keep` per directory: for each
/// directory (as `directory` names it), its newest `keep` entries of the
/// batch, in batch order. Callers holding unrendered entries use it to
/// render only these.
pub fn newest_per_directory<T>(
    entries: &[T],
    keep: i64,
    directory: impl for<'a> Fn(&'a T) -> &'a str,
) -> Vec<&T> {
    let keep = usize::try_from(keep).unwrap_or(0);
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut kept: Vec<&T> = entries
        .iter()
        .rev()
        .filter(|e| {
            let n = seen.entry(directory(e)).or_default();
            *n += 1;
            *n <= keep
        })
        .collect();
    kept.reverse();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(directory_id: &str, path: &str) -> ScimRequestLog {
        ScimRequestLog {
            directory_id: directory_id.into(),
            created_at: Timestamp::from_micros(0),
            method: "GET".into(),
            path: path.into(),
            status: 200,
            duration_us: 1,
            user_agent: None,
            request_body: None,
            response_body: None,
        }
    }

    fn dir(e: &ScimRequestLog) -> &str {
        e.directory_id.as_str()
    }

    #[test]
    fn only_the_newest_entries_per_directory_are_written() {
        let batch = [
            entry("a", "1"),
            entry("b", "1"),
            entry("a", "2"),
            entry("a", "3"),
            entry("b", "2"),
        ];
        let kept: Vec<(&str, &str)> = newest_per_directory(&batch, 2, dir)
            .into_iter()
            .map(|e| (e.directory_id.as_str(), e.path.as_str()))
            .collect();
        assert_eq!(kept, [("b", "1"), ("a", "2"), ("a", "3"), ("b", "2")]);
        assert!(newest_per_directory(&batch, 0, dir).is_empty());
        assert_eq!(newest_per_directory(&batch, 10, dir).len(), 5);
    }
}
