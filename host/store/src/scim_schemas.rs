//! Per-directory custom SCIM extension schemas (RFC 7643 §7 JSON), so an
//! IdP's custom attributes validate and round-trip.

use rollcall_core::Timestamp;
use serde_json::Value;
use sqlx::types::Json;

use crate::backend::Store;
use crate::error::StoreError;

/// Most custom schemas one directory may define.
pub const MAX_CUSTOM_SCHEMAS: usize = 20;

/// A stored custom schema: for `User` or `Group` resources.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredScimSchema {
    pub urn: String,
    pub resource_type: String,
    pub definition: Value,
}

impl Store {
    pub async fn list_scim_schemas(
        &self,
        directory_id: &str,
    ) -> Result<Vec<StoredScimSchema>, StoreError> {
        let rows: Vec<(String, String, Json<Value>)> = on_read!(self, |pool| {
            sqlx::query_as(
                "SELECT urn, resource_type, definition FROM scim_schemas \
                 WHERE directory_id = $1 ORDER BY urn",
            )
            .bind(directory_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(urn, resource_type, definition)| StoredScimSchema {
                urn,
                resource_type,
                definition: definition.0,
            })
            .collect())
    }

    /// Creates or replaces a custom schema, and bumps the directory's
    /// `updated_at` so cached schema sets are refreshed.
    pub async fn put_scim_schema(
        &self,
        directory_id: &str,
        schema: StoredScimSchema,
    ) -> Result<(), StoreError> {
        let existing = self.list_scim_schemas(directory_id).await?;
        if existing.len() >= MAX_CUSTOM_SCHEMAS && !existing.iter().any(|s| s.urn == schema.urn) {
            return Err(StoreError::Invalid(format!(
                "a directory may define at most {MAX_CUSTOM_SCHEMAS} custom schemas"
            )));
        }
        let now = Timestamp::now().as_micros();
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "INSERT INTO scim_schemas (directory_id, urn, resource_type, definition, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) \
                 ON CONFLICT (directory_id, urn) DO UPDATE SET resource_type = $3, definition = $4, updated_at = $5",
            )
            .bind(directory_id)
            .bind(&schema.urn)
            .bind(&schema.resource_type)
            .bind(Json(&schema.definition))
            .bind(now)
            .execute(&mut *conn)
            .await?;
            sqlx::query("UPDATE directories SET updated_at = $2 WHERE id = $1")
                .bind(directory_id)
                .bind(now)
                .execute(&mut *conn)
                .await?;
        });
        tx.commit().await?;
        self.forget_scim_auth();
        Ok(())
    }

    pub async fn delete_scim_schema(
        &self,
        directory_id: &str,
        urn: &str,
    ) -> Result<(), StoreError> {
        let now = Timestamp::now().as_micros();
        let mut tx = self.begin().await?;
        let n = on_tx!(&mut tx, |conn| {
            let n = sqlx::query("DELETE FROM scim_schemas WHERE directory_id = $1 AND urn = $2")
                .bind(directory_id)
                .bind(urn)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            sqlx::query("UPDATE directories SET updated_at = $2 WHERE id = $1")
                .bind(directory_id)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            n
        });
        if n == 0 {
            return Err(StoreError::NotFound("schema"));
        }
        tx.commit().await?;
        self.forget_scim_auth();
        Ok(())
    }
}
