//! Plugin state: a small key-value store per (organization, installation)
//! with quotas on key count and total bytes, checked inside the write
//! transaction. The installation row is touched first so that concurrent
//! writers of one installation serialize on PostgreSQL too.

use rollcall_core::Timestamp;

use crate::backend::Store;
use crate::error::StoreError;

/// Limits of one installation's state.
#[derive(Debug, Clone, Copy)]
pub struct StateQuota {
    pub max_keys: u64,
    pub max_bytes: u64,
}

/// The result of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateWrite {
    Written,
    /// Refused; the text names the exceeded quota.
    QuotaExceeded(String),
}

impl Store {
    pub async fn plugin_state_get(
        &self,
        organization_id: &str,
        installation_id: &str,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(on_read!(self, |pool| {
            sqlx::query_scalar(
                "SELECT value FROM plugin_state WHERE organization_id = $1 AND installation_id = $2 AND key = $3",
            )
            .bind(organization_id)
            .bind(installation_id)
            .bind(key)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Writes `key`, unless the installation would then exceed `quota`.
    pub async fn plugin_state_set(
        &self,
        organization_id: &str,
        installation_id: &str,
        key: &str,
        value: &str,
        quota: StateQuota,
    ) -> Result<StateWrite, StoreError> {
        let mut tx = self.begin().await?;
        let (keys, bytes): (i64, i64) = on_tx!(&mut tx, |conn| {
            sqlx::query("UPDATE plugin_installations SET updated_at = updated_at WHERE id = $1")
                .bind(installation_id)
                .execute(&mut *conn)
                .await?;
            sqlx::query_as(
                "SELECT COUNT(*), CAST(COALESCE(SUM(LENGTH(key) + LENGTH(value)), 0) AS BIGINT) FROM plugin_state \
                 WHERE organization_id = $1 AND installation_id = $2 AND key <> $3",
            )
            .bind(organization_id)
            .bind(installation_id)
            .bind(key)
            .fetch_one(&mut *conn)
            .await?
        });
        let keys_after = keys as u64 + 1;
        let bytes_after = bytes as u64 + (key.len() + value.len()) as u64;
        if keys_after > quota.max_keys {
            return Ok(StateWrite::QuotaExceeded(format!(
                "state quota exceeded: at most {} keys per installation",
                quota.max_keys
            )));
        }
        if bytes_after > quota.max_bytes {
            return Ok(StateWrite::QuotaExceeded(format!(
                "state quota exceeded: at most {} bytes per installation",
                quota.max_bytes
            )));
        }
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "INSERT INTO plugin_state (organization_id, installation_id, key, value, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (organization_id, installation_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(organization_id)
            .bind(installation_id)
            .bind(key)
            .bind(value)
            .bind(Timestamp::now().as_micros())
            .execute(&mut *conn)
            .await?;
        });
        tx.commit().await?;
        Ok(StateWrite::Written)
    }

    pub async fn plugin_state_delete(
        &self,
        organization_id: &str,
        installation_id: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query("DELETE FROM plugin_state WHERE organization_id = $1 AND installation_id = $2 AND key = $3")
                .bind(organization_id)
                .bind(installation_id)
                .bind(key)
                .execute(&mut *conn)
                .await?;
        });
        tx.commit().await
    }

    /// Keys starting with `prefix`, sorted, at most `limit`.
    pub async fn plugin_state_keys(
        &self,
        organization_id: &str,
        installation_id: &str,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let keys: Vec<String> = on_read!(self, |pool| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT key FROM plugin_state WHERE organization_id = $1 AND installation_id = $2 \
                 AND substr(key, 1, CAST($3 AS INTEGER)) = $4 ORDER BY key LIMIT {limit}"
            )))
            .bind(organization_id)
            .bind(installation_id)
            .bind(prefix.len() as i64)
            .bind(prefix)
            .fetch_all(pool)
            .await?
        });
        Ok(keys)
    }
}
