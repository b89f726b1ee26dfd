//! Admin API keys: global, or scoped to one organization. Stored as SHA-256
//! digests; the plaintext is returned once at creation.

use rollcall_core::Timestamp;
use rollcall_core::ids::{IdKind, new_id};
use rollcall_core::organization::MAX_NAME_LEN;
use rollcall_core::token::{self, IssuedToken, MAX_TOKEN_LEN, TokenKind};
use serde::Serialize;
use utoipa::ToSchema;

use crate::backend::Store;
use crate::error::StoreError;

const LAST_USED_RESOLUTION_MICROS: i64 = 60 * 1_000_000;

/// What a key may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminKeyScope {
    Global,
    Organization(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AdminKey {
    #[schema(value_type = String, example = "admin_key")]
    pub object: &'static str,
    pub id: String,
    pub name: String,
    /// `null` for a global key.
    pub organization_id: Option<String>,
    pub suffix: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl AdminKey {
    pub fn scope(&self) -> AdminKeyScope {
        match &self.organization_id {
            Some(org) => AdminKeyScope::Organization(org.clone()),
            None => AdminKeyScope::Global,
        }
    }
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    name: String,
    organization_id: Option<String>,
    suffix: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

const COLUMNS: &str = "id, name, organization_id, suffix, created_at, last_used_at, revoked_at";

impl From<KeyRow> for AdminKey {
    fn from(r: KeyRow) -> Self {
        AdminKey {
            object: "admin_key",
            id: r.id,
            name: r.name,
            organization_id: r.organization_id,
            suffix: r.suffix,
            created_at: Timestamp::from_micros(r.created_at),
            last_used_at: r.last_used_at.map(Timestamp::from_micros),
            revoked_at: r.revoked_at.map(Timestamp::from_micros),
        }
    }
}

impl Store {
    /// Creates a key with a generated secret; returns it with the plaintext.
    pub async fn create_admin_key(
        &self,
        name: &str,
        organization_id: Option<&str>,
    ) -> Result<(AdminKey, String), StoreError> {
        let issued = token::generate(TokenKind::AdminKey);
        let key = self
            .insert_admin_key(name, organization_id, &issued)
            .await?;
        Ok((key, issued.plaintext))
    }

    /// Makes sure an operator-chosen key (`ROLLCALL_BOOTSTRAP_ADMIN_KEY`)
    /// exists as a global key. Returns whether it was created now.
    pub async fn ensure_admin_key(&self, name: &str, plaintext: &str) -> Result<bool, StoreError> {
        let issued = token::from_plaintext(plaintext.to_owned());
        let existing: Option<String> = on_read!(self, |pool| {
            sqlx::query_scalar("SELECT id FROM admin_keys WHERE key_hash = $1")
                .bind(&issued.hash[..])
                .fetch_optional(pool)
                .await?
        });
        if existing.is_some() {
            return Ok(false);
        }
        match self.insert_admin_key(name, None, &issued).await {
            Ok(_) => Ok(true),
            // Another replica starting at the same moment created it.
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether any key that is not revoked exists (first start detection).
    pub async fn has_admin_keys(&self) -> Result<bool, StoreError> {
        let n: i64 = on_read!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM admin_keys WHERE revoked_at IS NULL")
                .fetch_one(pool)
                .await?
        });
        Ok(n > 0)
    }

    async fn insert_admin_key(
        &self,
        name: &str,
        organization_id: Option<&str>,
        issued: &IssuedToken,
    ) -> Result<AdminKey, StoreError> {
        let name = name.trim();
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(StoreError::Invalid(format!(
                "name must be 1 to {MAX_NAME_LEN} characters"
            )));
        }
        if let Some(org) = organization_id
            && self.get_organization(org).await?.is_none()
        {
            return Err(StoreError::NotFound("organization"));
        }
        let id = new_id(IdKind::AdminKey);
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "INSERT INTO admin_keys (id, name, organization_id, key_hash, suffix, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&id)
            .bind(name)
            .bind(organization_id)
            .bind(&issued.hash[..])
            .bind(&issued.suffix)
            .bind(Timestamp::now().as_micros())
            .execute(&mut *conn)
            .await?;
        });
        tx.commit().await?;
        self.get_admin_key(&id)
            .await?
            .ok_or(StoreError::NotFound("admin key"))
    }

    pub async fn get_admin_key(&self, id: &str) -> Result<Option<AdminKey>, StoreError> {
        let row: Option<KeyRow> = on_read!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM admin_keys WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(AdminKey::from))
    }

    /// All keys, or those of one organization, oldest first.
    pub async fn list_admin_keys(
        &self,
        organization_id: Option<&str>,
    ) -> Result<Vec<AdminKey>, StoreError> {
        let rows: Vec<KeyRow> = on_read!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM admin_keys WHERE ($1 IS NULL OR organization_id = $1) ORDER BY id"
            )))
            .bind(organization_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(AdminKey::from).collect())
    }

    pub async fn revoke_admin_key(&self, id: &str) -> Result<AdminKey, StoreError> {
        let mut tx = self.begin().await?;
        // Revoking twice keeps the first revocation time.
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE admin_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(Timestamp::now().as_micros())
            .execute(&mut *conn)
            .await?;
        });
        tx.commit().await?;
        self.get_admin_key(id)
            .await?
            .ok_or(StoreError::NotFound("admin key"))
    }

    /// The key a presented bearer value belongs to, if valid.
    pub async fn authenticate_admin_key(
        &self,
        presented: &str,
    ) -> Result<Option<AdminKey>, StoreError> {
        if presented.is_empty() || presented.len() > MAX_TOKEN_LEN {
            return Ok(None);
        }
        let digest = token::hash(presented);
        let row: Option<(String, Vec<u8>)> = on_read!(self, |pool| {
            sqlx::query_as(
                "SELECT id, key_hash FROM admin_keys WHERE key_hash = $1 AND revoked_at IS NULL",
            )
            .bind(&digest[..])
            .fetch_optional(pool)
            .await?
        });
        let Some((id, stored)) = row else {
            return Ok(None);
        };
        if !token::digests_equal(&stored, &digest) {
            return Ok(None);
        }
        let Some(key) = self.get_admin_key(&id).await? else {
            return Ok(None);
        };
        let now = Timestamp::now();
        if key
            .last_used_at
            .is_none_or(|t| now.as_micros() - t.as_micros() > LAST_USED_RESOLUTION_MICROS)
        {
            let mut tx = self.begin().await?;
            on_tx!(&mut tx, |conn| {
                sqlx::query("UPDATE admin_keys SET last_used_at = $2 WHERE id = $1")
                    .bind(&id)
                    .bind(now.as_micros())
                    .execute(&mut *conn)
                    .await?;
            });
            tx.commit().await?;
        }
        Ok(Some(key))
    }
}
