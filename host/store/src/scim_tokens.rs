//! SCIM bearer tokens: issue, rotate (with an optional grace period for the
//! old ones), revoke, list, and authenticate. Only SHA-256 digests are stored.

use rollcall_core::Timestamp;
use rollcall_core::directory::Directory;
use rollcall_core::event::{EventType, NewEvent};
use rollcall_core::ids::{IdKind, new_id};
use rollcall_core::token::{self, TokenKind};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::backend::{Store, Tx};
use crate::directories::fetch_in_tx;
use crate::error::StoreError;
use crate::events;

/// Longest grace period an old token may keep working after rotation.
pub const MAX_GRACE_SECONDS: i64 = 30 * 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Active,
    /// Still accepted until `expires_at` (rotated with a grace period).
    Expiring,
    Expired,
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ScimToken {
    #[schema(value_type = String, example = "scim_token")]
    pub object: &'static str,
    pub id: String,
    pub directory_id: String,
    /// Last four characters, to recognise the token.
    pub suffix: String,
    pub status: TokenStatus,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    directory_id: String,
    suffix: String,
    created_at: i64,
    last_used_at: Option<i64>,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
}

const COLUMNS: &str = "id, directory_id, suffix, created_at, last_used_at, expires_at, revoked_at";

impl TokenRow {
    fn into_token(self, now: Timestamp) -> ScimToken {
        let status = match (self.revoked_at, self.expires_at) {
            (Some(_), _) => TokenStatus::Revoked,
            (None, Some(e)) if e <= now.as_micros() => TokenStatus::Expired,
            (None, Some(_)) => TokenStatus::Expiring,
            (None, None) => TokenStatus::Active,
        };
        ScimToken {
            object: "scim_token",
            id: self.id,
            directory_id: self.directory_id,
            suffix: self.suffix,
            status,
            created_at: Timestamp::from_micros(self.created_at),
            last_used_at: self.last_used_at.map(Timestamp::from_micros),
            expires_at: self.expires_at.map(Timestamp::from_micros),
            revoked_at: self.revoked_at.map(Timestamp::from_micros),
        }
    }
}

fn token_event(event: EventType, directory: &Directory, token: &ScimToken) -> NewEvent {
    NewEvent {
        event,
        organization_id: directory.organization_id.clone(),
        directory_id: Some(directory.id.clone()),
        data: json!({
            "object": "scim_token",
            "id": token.id,
            "directory_id": token.directory_id,
            "suffix": token.suffix,
            "created_at": token.created_at,
            "expires_at": token.expires_at,
            "revoked_at": token.revoked_at,
        }),
    }
}

async fn tokens_in_tx(tx: &mut Tx, directory_id: &str) -> Result<Vec<TokenRow>, StoreError> {
    Ok(on_tx!(tx, |conn| {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM scim_tokens WHERE directory_id = $1 ORDER BY id"
        )))
        .bind(directory_id)
        .fetch_all(&mut *conn)
        .await?
    }))
}

/// Issues a new token for `directory` inside `tx` and emits `dsync.token.created`.
pub(crate) async fn issue_in_tx(
    tx: &mut Tx,
    directory: &Directory,
    expires_at: Option<Timestamp>,
) -> Result<(ScimToken, String), StoreError> {
    let issued = token::generate(TokenKind::Scim);
    let row = TokenRow {
        id: new_id(IdKind::ScimToken),
        directory_id: directory.id.clone(),
        suffix: issued.suffix.clone(),
        created_at: Timestamp::now().as_micros(),
        last_used_at: None,
        expires_at: expires_at.map(Timestamp::as_micros),
        revoked_at: None,
    };
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO scim_tokens (id, directory_id, token_hash, suffix, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.id)
        .bind(&row.directory_id)
        .bind(&issued.hash[..])
        .bind(&row.suffix)
        .bind(row.created_at)
        .bind(row.expires_at)
        .execute(&mut *conn)
        .await?;
    });
    let token = row.into_token(Timestamp::now());
    events::append(
        tx,
        vec![token_event(EventType::TokenCreated, directory, &token)],
    )
    .await?;
    Ok((token, issued.plaintext))
}

impl Store {
    /// Issues a new token. Tokens still valid are revoked at once
    /// (`grace_seconds` = 0 or absent) or keep working for `grace_seconds`;
    /// either way each gets a `dsync.token.revoked` event naming when it stops.
    pub async fn rotate_scim_token(
        &self,
        directory_id: &str,
        grace_seconds: Option<i64>,
    ) -> Result<(ScimToken, String), StoreError> {
        let grace = grace_seconds.unwrap_or(0);
        if !(0..=MAX_GRACE_SECONDS).contains(&grace) {
            return Err(StoreError::Invalid(format!(
                "grace_period_seconds must be between 0 and {MAX_GRACE_SECONDS}"
            )));
        }
        let mut tx = self.begin().await?;
        let directory = fetch_in_tx(&mut tx, directory_id).await?;
        let now = Timestamp::now();
        let stop_at = now.plus_seconds(grace);
        let mut revoked = Vec::new();
        for row in tokens_in_tx(&mut tx, directory_id).await? {
            let token = row.into_token(now);
            if !matches!(token.status, TokenStatus::Active | TokenStatus::Expiring) {
                continue;
            }
            if grace == 0 {
                on_tx!(&mut tx, |conn| {
                    sqlx::query("UPDATE scim_tokens SET revoked_at = $2 WHERE id = $1")
                        .bind(&token.id)
                        .bind(now.as_micros())
                        .execute(&mut *conn)
                        .await?;
                });
            } else if token.expires_at.is_none_or(|e| e > stop_at) {
                on_tx!(&mut tx, |conn| {
                    sqlx::query("UPDATE scim_tokens SET expires_at = $2 WHERE id = $1")
                        .bind(&token.id)
                        .bind(stop_at.as_micros())
                        .execute(&mut *conn)
                        .await?;
                });
            } else {
                continue;
            }
            revoked.push(token.id);
        }
        for id in revoked {
            let token = self.token_in_tx(&mut tx, &id).await?;
            events::append(
                &mut tx,
                vec![token_event(EventType::TokenRevoked, &directory, &token)],
            )
            .await?;
        }
        let issued = issue_in_tx(&mut tx, &directory, None).await?;
        tx.commit().await?;
        self.forget_scim_auth();
        Ok(issued)
    }

    /// Revokes one token now.
    pub async fn revoke_scim_token(
        &self,
        directory_id: &str,
        token_id: &str,
    ) -> Result<ScimToken, StoreError> {
        let mut tx = self.begin().await?;
        let directory = fetch_in_tx(&mut tx, directory_id).await?;
        let token = self.token_in_tx(&mut tx, token_id).await?;
        if token.directory_id != directory_id {
            return Err(StoreError::NotFound("token"));
        }
        if token.status == TokenStatus::Revoked {
            return Ok(token);
        }
        on_tx!(&mut tx, |conn| {
            sqlx::query("UPDATE scim_tokens SET revoked_at = $2 WHERE id = $1")
                .bind(token_id)
                .bind(Timestamp::now().as_micros())
                .execute(&mut *conn)
                .await?;
        });
        let token = self.token_in_tx(&mut tx, token_id).await?;
        events::append(
            &mut tx,
            vec![token_event(EventType::TokenRevoked, &directory, &token)],
        )
        .await?;
        tx.commit().await?;
        self.forget_scim_auth();
        Ok(token)
    }

    pub async fn list_scim_tokens(&self, directory_id: &str) -> Result<Vec<ScimToken>, StoreError> {
        let now = Timestamp::now();
        let rows: Vec<TokenRow> = on_read!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM scim_tokens WHERE directory_id = $1 ORDER BY id"
            )))
            .bind(directory_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|r| r.into_token(now)).collect())
    }

    async fn token_in_tx(&self, tx: &mut Tx, id: &str) -> Result<ScimToken, StoreError> {
        let row: Option<TokenRow> = on_tx!(tx, |conn| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM scim_tokens WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
        });
        Ok(row
            .ok_or(StoreError::NotFound("token"))?
            .into_token(Timestamp::now()))
    }
}
