//! Webhook endpoints: where an organization's events are delivered, which
//! event types it wants, and its signing secrets (sealed at rest; the
//! plaintext is answered once at creation and at rotation).

use rollcall_core::Timestamp;
use rollcall_core::event::EventType;
use rollcall_core::ids::{IdKind, new_id};
use rollcall_core::webhook::{self, MAX_EVENT_TYPES, SigningSecret};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use utoipa::ToSchema;

use crate::backend::Store;
use crate::error::StoreError;
use crate::page::{Page, PageRequest};
use crate::scim_tokens::MAX_GRACE_SECONDS;
use crate::sql::{Arg, Sql};

/// Longest description.
pub const MAX_DESCRIPTION_LEN: usize = 500;
/// Largest batch (events per request) an endpoint may ask for.
pub const MAX_BATCH_SIZE: u32 = 100;
/// Highest per-endpoint rate limit, in requests per second.
pub const MAX_RATE_LIMIT: u32 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointState {
    Enabled,
    Disabled,
}

impl EndpointState {
    fn as_str(self) -> &'static str {
        match self {
            EndpointState::Enabled => "enabled",
            EndpointState::Disabled => "disabled",
        }
    }
}

/// A webhook endpoint as the API shows it (never with its secret).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WebhookEndpoint {
    #[schema(value_type = String, example = "webhook_endpoint")]
    pub object: &'static str,
    pub id: String,
    pub organization_id: String,
    pub url: String,
    pub description: String,
    /// Event types delivered; empty means every type.
    pub events: Vec<EventType>,
    pub state: EndpointState,
    /// Why the endpoint was disabled (by a person, or by a 410 answer).
    pub disabled_reason: Option<String>,
    /// The last four characters of the current signing secret.
    pub secret_suffix: String,
    /// Until when the previous secret still signs requests, after a rotation.
    pub previous_secret_expires_at: Option<Timestamp>,
    /// Events per request; 1 sends each event on its own.
    pub batch_size: u32,
    /// Most requests per second to this endpoint; `null` for no limit.
    pub rate_limit: Option<u32>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What creating an endpoint takes.
#[derive(Debug, Clone, Default)]
pub struct NewWebhookEndpoint {
    pub organization_id: String,
    pub url: String,
    pub description: String,
    pub events: Vec<EventType>,
    pub batch_size: Option<u32>,
    pub rate_limit: Option<u32>,
    /// Whether `http://` URLs are accepted (operator setting).
    pub allow_http: bool,
}

/// A partial update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookEndpointUpdate {
    pub url: Option<String>,
    pub description: Option<String>,
    pub events: Option<Vec<EventType>>,
    pub batch_size: Option<u32>,
    /// `Some(None)` removes the limit.
    pub rate_limit: Option<Option<u32>>,
    pub allow_http: bool,
}

#[derive(Serialize, Deserialize)]
struct SealedSecrets {
    current: String,
    previous: Option<String>,
}

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: String,
    organization_id: String,
    url: String,
    description: String,
    event_types: Json<Vec<EventType>>,
    state: String,
    disabled_reason: Option<String>,
    secret_suffix: String,
    previous_expires_at: Option<i64>,
    batch_size: i64,
    rate_limit: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "id, organization_id, url, description, event_types, state, disabled_reason, \
    secret_suffix, previous_expires_at, batch_size, rate_limit, created_at, updated_at";

impl TryFrom<EndpointRow> for WebhookEndpoint {
    type Error = StoreError;
    fn try_from(r: EndpointRow) -> Result<Self, StoreError> {
        let state = match r.state.as_str() {
            "enabled" => EndpointState::Enabled,
            "disabled" => EndpointState::Disabled,
            other => {
                return Err(StoreError::Internal(format!(
                    "stored endpoint state '{other}' is not recognised"
                )));
            }
        };
        let now = Timestamp::now();
        Ok(WebhookEndpoint {
            object: "webhook_endpoint",
            id: r.id,
            organization_id: r.organization_id,
            url: r.url,
            description: r.description,
            events: r.event_types.0,
            state,
            disabled_reason: r.disabled_reason,
            secret_suffix: r.secret_suffix,
            previous_secret_expires_at: r
                .previous_expires_at
                .map(Timestamp::from_micros)
                .filter(|t| *t > now),
            batch_size: u32::try_from(r.batch_size).unwrap_or(1),
            rate_limit: r.rate_limit.and_then(|n| u32::try_from(n).ok()),
            created_at: Timestamp::from_micros(r.created_at),
            updated_at: Timestamp::from_micros(r.updated_at),
        })
    }
}

fn check_url(url: &str, allow_http: bool) -> Result<String, StoreError> {
    webhook::check_url(url, allow_http).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn check_description(d: &str) -> Result<(), StoreError> {
    if d.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(StoreError::Invalid(format!(
            "description must be at most {MAX_DESCRIPTION_LEN} characters"
        )));
    }
    Ok(())
}

fn check_events(events: &[EventType]) -> Result<Vec<EventType>, StoreError> {
    if events.len() > MAX_EVENT_TYPES {
        return Err(StoreError::Invalid(format!(
            "events: at most {MAX_EVENT_TYPES} event types"
        )));
    }
    let mut out: Vec<EventType> = Vec::new();
    for e in events {
        if !out.contains(e) {
            out.push(*e);
        }
    }
    Ok(out)
}

fn check_batch(n: u32) -> Result<(), StoreError> {
    if !(1..=MAX_BATCH_SIZE).contains(&n) {
        return Err(StoreError::Invalid(format!(
            "batch_size must be 1 to {MAX_BATCH_SIZE}"
        )));
    }
    Ok(())
}

fn check_rate(n: u32) -> Result<(), StoreError> {
    if !(1..=MAX_RATE_LIMIT).contains(&n) {
        return Err(StoreError::Invalid(format!(
            "rate_limit must be 1 to {MAX_RATE_LIMIT} requests per second"
        )));
    }
    Ok(())
}

impl Store {
    fn seal_webhook_secrets(&self, id: &str, secrets: &SealedSecrets) -> Vec<u8> {
        let plain = serde_json::to_vec(secrets).unwrap_or_default();
        self.master_key.seal(&plain, id.as_bytes())
    }

    /// Creates an endpoint; answers it with its signing secret (shown once).
    pub async fn create_webhook_endpoint(
        &self,
        new: &NewWebhookEndpoint,
    ) -> Result<(WebhookEndpoint, String), StoreError> {
        let url = check_url(&new.url, new.allow_http)?;
        check_description(&new.description)?;
        let events = check_events(&new.events)?;
        let batch = new.batch_size.unwrap_or(1);
        check_batch(batch)?;
        if let Some(r) = new.rate_limit {
            check_rate(r)?;
        }
        if self.get_organization(&new.organization_id).await?.is_none() {
            return Err(StoreError::NotFound("organization"));
        }
        let id = new_id(IdKind::WebhookEndpoint);
        let secret = SigningSecret::generate();
        let sealed = self.seal_webhook_secrets(
            &id,
            &SealedSecrets {
                current: secret.expose(),
                previous: None,
            },
        );
        let now = Timestamp::now().as_micros();
        let mut tx = self.begin().await?;
        // New endpoints receive events from now on; older ones can be replayed.
        let cursor: i64 = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
                .fetch_one(&mut *conn)
                .await?
        });
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "INSERT INTO webhook_endpoints (id, organization_id, url, description, event_types, \
                 state, secrets, secret_suffix, batch_size, rate_limit, cursor_seq, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'enabled', $6, $7, $8, $9, $10, $11, $11)",
            )
            .bind(&id)
            .bind(&new.organization_id)
            .bind(&url)
            .bind(new.description.trim())
            .bind(Json(&events))
            .bind(&sealed)
            .bind(secret.suffix())
            .bind(i64::from(batch))
            .bind(new.rate_limit.map(i64::from))
            .bind(cursor)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        });
        tx.commit().await?;
        let endpoint = self
            .get_webhook_endpoint(&id)
            .await?
            .ok_or(StoreError::NotFound("webhook endpoint"))?;
        Ok((endpoint, secret.expose()))
    }

    pub async fn get_webhook_endpoint(
        &self,
        id: &str,
    ) -> Result<Option<WebhookEndpoint>, StoreError> {
        let row: Option<EndpointRow> = on_read!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(WebhookEndpoint::try_from).transpose()
    }

    /// Endpoints, optionally of one organization, as a cursor page.
    pub async fn list_webhook_endpoints(
        &self,
        organization_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<WebhookEndpoint>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {COLUMNS} FROM webhook_endpoints WHERE 1=1"
        ));
        if let Some(org) = organization_id {
            sql.and("organization_id", "=", Arg::Text(org.to_owned()));
        }
        page.apply(&mut sql, "id");
        let rows: Vec<EndpointRow> = on_read!(self, |pool| {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.text)), sql.args)
                .fetch_all(pool)
                .await?
        });
        let rows = rows
            .into_iter()
            .map(WebhookEndpoint::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page.finish(rows, |e| &e.id))
    }

    /// Every enabled endpoint (the delivery worker's view).
    pub async fn enabled_webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let rows: Vec<EndpointRow> = on_read!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM webhook_endpoints WHERE state = 'enabled' ORDER BY id"
            )))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(WebhookEndpoint::try_from).collect()
    }

    pub async fn update_webhook_endpoint(
        &self,
        id: &str,
        update: &WebhookEndpointUpdate,
    ) -> Result<WebhookEndpoint, StoreError> {
        let current = self
            .get_webhook_endpoint(id)
            .await?
            .ok_or(StoreError::NotFound("webhook endpoint"))?;
        let url = match &update.url {
            Some(u) => check_url(u, update.allow_http)?,
            None => current.url,
        };
        let description = match &update.description {
            Some(d) => {
                check_description(d)?;
                d.trim().to_owned()
            }
            None => current.description,
        };
        let events = match &update.events {
            Some(e) => check_events(e)?,
            None => current.events,
        };
        let batch = update.batch_size.unwrap_or(current.batch_size);
        check_batch(batch)?;
        let rate = match update.rate_limit {
            Some(r) => r,
            None => current.rate_limit,
        };
        if let Some(r) = rate {
            check_rate(r)?;
        }
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, \
                 batch_size = $5, rate_limit = $6, updated_at = $7 WHERE id = $1",
            )
            .bind(id)
            .bind(&url)
            .bind(&description)
            .bind(Json(&events))
            .bind(i64::from(batch))
            .bind(rate.map(i64::from))
            .bind(Timestamp::now().as_micros())
            .execute(&mut *conn)
            .await?;
        });
        tx.commit().await?;
        self.get_webhook_endpoint(id)
            .await?
            .ok_or(StoreError::NotFound("webhook endpoint"))
    }

    /// Enables or disables an endpoint. Enabling resumes from the end of
    /// the event log (events of the disabled period can be replayed);
    /// deliveries pending when it was disabled resume.
    pub async fn set_webhook_endpoint_enabled(
        &self,
        id: &str,
        enabled: bool,
        reason: Option<&str>,
    ) -> Result<WebhookEndpoint, StoreError> {
        let current = self
            .get_webhook_endpoint(id)
            .await?
            .ok_or(StoreError::NotFound("webhook endpoint"))?;
        let wanted = if enabled {
            EndpointState::Enabled
        } else {
            EndpointState::Disabled
        };
        if current.state != wanted {
            let now = Timestamp::now().as_micros();
            let mut tx = self.begin().await?;
            if enabled {
                on_tx!(&mut tx, |conn| {
                    sqlx::query(
                        "UPDATE webhook_endpoints SET state = 'enabled', disabled_reason = NULL, \
                         cursor_seq = (SELECT COALESCE(MAX(seq), 0) FROM events), updated_at = $2 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                });
            } else {
                on_tx!(&mut tx, |conn| {
                    sqlx::query(
                        "UPDATE webhook_endpoints SET state = $2, disabled_reason = $3, updated_at = $4 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(wanted.as_str())
                    .bind(reason.unwrap_or("disabled through the API"))
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                });
            }
            tx.commit().await?;
        }
        self.get_webhook_endpoint(id)
            .await?
            .ok_or(StoreError::NotFound("webhook endpoint"))
    }

    /// Replaces the signing secret; the old one keeps signing (as a second
    /// signature) for `grace_seconds`. Answers the new secret (shown once).
    pub async fn rotate_webhook_secret(
        &self,
        id: &str,
        grace_seconds: i64,
    ) -> Result<(WebhookEndpoint, String), StoreError> {
        if !(0..=MAX_GRACE_SECONDS).contains(&grace_seconds) {
            return Err(StoreError::Invalid(format!(
                "grace_period_seconds must be 0 to {MAX_GRACE_SECONDS}"
            )));
        }
        let current = self.webhook_secrets_raw(id).await?;
        let secret = SigningSecret::generate();
        let sealed = self.seal_webhook_secrets(
            id,
            &SealedSecrets {
                current: secret.expose(),
                previous: (grace_seconds > 0).then_some(current.current),
            },
        );
        let now = Timestamp::now();
        let expires = (grace_seconds > 0).then(|| now.plus_seconds(grace_seconds).as_micros());
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE webhook_endpoints SET secrets = $2, secret_suffix = $3, previous_expires_at = $4, \
                 updated_at = $5 WHERE id = $1",
            )
            .bind(id)
            .bind(&sealed)
            .bind(secret.suffix())
            .bind(expires)
            .bind(now.as_micros())
            .execute(&mut *conn)
            .await?;
        });
        tx.commit().await?;
        let endpoint = self
            .get_webhook_endpoint(id)
            .await?
            .ok_or(StoreError::NotFound("webhook endpoint"))?;
        Ok((endpoint, secret.expose()))
    }

    async fn webhook_secrets_raw(&self, id: &str) -> Result<SealedSecrets, StoreError> {
        let sealed: Option<Vec<u8>> = on_read!(self, |pool| {
            sqlx::query_scalar("SELECT secrets FROM webhook_endpoints WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        let sealed = sealed.ok_or(StoreError::NotFound("webhook endpoint"))?;
        let plain = self
            .master_key
            .open(&sealed, id.as_bytes())
            .map_err(|_| {
                StoreError::Internal(format!(
                    "the signing secret of {id} cannot be opened: is ROLLCALL_MASTER_KEY the key it was sealed with?"
                ))
            })?;
        serde_json::from_slice(&plain)
            .map_err(|_| StoreError::Internal(format!("the signing secret of {id} is corrupt")))
    }

    /// The secrets that sign requests now: the current one, then the
    /// previous one while its grace period lasts.
    pub async fn webhook_signing_secrets(
        &self,
        id: &str,
    ) -> Result<Vec<SigningSecret>, StoreError> {
        let raw = self.webhook_secrets_raw(id).await?;
        let endpoint = self
            .get_webhook_endpoint(id)
            .await?
            .ok_or(StoreError::NotFound("webhook endpoint"))?;
        let parse = |s: &str| {
            SigningSecret::parse(s)
                .map_err(|_| StoreError::Internal(format!("the signing secret of {id} is corrupt")))
        };
        let mut out = vec![parse(&raw.current)?];
        if let (Some(previous), Some(_)) = (raw.previous, endpoint.previous_secret_expires_at) {
            out.push(parse(&previous)?);
        }
        Ok(out)
    }

    pub async fn delete_webhook_endpoint(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let n = on_tx!(&mut tx, |conn| {
            sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        tx.commit().await?;
        if n == 0 {
            return Err(StoreError::NotFound("webhook endpoint"));
        }
        Ok(())
    }
}
