//! Plugin installations: a connector bound to a directory, or a lifecycle
//! action bound to an organization (optionally one directory), each with
//! its config, grants, and sealed secrets and credentials. Config and
//! grants are checked against the plugin's manifest by the caller (the
//! runtime knows manifests); this module stores and scopes them. Updates
//! are optimistic: they apply only to the version the caller read.

use rollcall_core::Timestamp;
use rollcall_core::event::EventType;
use rollcall_core::ids::{IdKind, new_id};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::AssertSqlSafe;
use sqlx::types::Json;
use utoipa::ToSchema;

use crate::backend::Store;
use crate::error::StoreError;

/// Largest sealed secrets + credentials of one installation, in bytes.
pub const MAX_INSTALLATION_SECRETS_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct NewInstallation {
    pub organization_id: String,
    pub directory_id: Option<String>,
    pub plugin_digest: String,
    pub plugin_id: String,
    pub kind: String,
    pub config: Map<String, Value>,
    pub grants: Value,
    pub secrets: Map<String, Value>,
    pub credentials: Map<String, Value>,
    /// Lifecycle installations: the event types to run on (empty = all).
    pub events: Vec<EventType>,
}

/// An installation as the API shows it: names of secrets, never values.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PluginInstallation {
    #[schema(value_type = String, example = "plugin_installation")]
    pub object: &'static str,
    pub id: String,
    pub organization_id: String,
    pub directory_id: Option<String>,
    pub plugin_digest: String,
    pub plugin_id: String,
    pub kind: String,
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    /// Granted hosts and limits: `{"hosts": [...], "limits": {...}}`.
    #[schema(value_type = Object)]
    pub grants: Value,
    pub secret_names: Vec<String>,
    pub credential_names: Vec<String>,
    /// A disabled installation keeps its settings and state but is not run.
    pub enabled: bool,
    /// Lifecycle installations: event types they run on (empty = every type).
    pub events: Vec<EventType>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Decrypted secrets and credentials of an installation, for the runtime.
#[derive(Debug, Clone, Default, serde::Deserialize, Serialize)]
pub struct InstallationSecrets {
    #[serde(default)]
    pub secrets: Map<String, Value>,
    #[serde(default)]
    pub credentials: Map<String, Value>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    organization_id: String,
    directory_id: Option<String>,
    plugin_digest: String,
    plugin_id: String,
    kind: String,
    config: Json<Map<String, Value>>,
    grants: Json<Value>,
    secret_names: Json<Vec<String>>,
    credential_names: Json<Vec<String>>,
    enabled: bool,
    event_types: Json<Vec<EventType>>,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "id, organization_id, directory_id, plugin_digest, plugin_id, kind, config, grants, \
                       secret_names, credential_names, enabled, event_types, created_at, updated_at";

impl From<Row> for PluginInstallation {
    fn from(r: Row) -> Self {
        PluginInstallation {
            object: "plugin_installation",
            id: r.id,
            organization_id: r.organization_id,
            directory_id: r.directory_id,
            plugin_digest: r.plugin_digest,
            plugin_id: r.plugin_id,
            kind: r.kind,
            config: r.config.0,
            grants: r.grants.0,
            secret_names: r.secret_names.0,
            credential_names: r.credential_names.0,
            enabled: r.enabled,
            events: r.event_types.0,
            created_at: Timestamp::from_micros(r.created_at),
            updated_at: Timestamp::from_micros(r.updated_at),
        }
    }
}

/// What an update replaces; `None` leaves that part as it is.
#[derive(Debug, Clone, Default)]
pub struct InstallationChanges {
    /// Another version of the same plugin (checked by the caller).
    pub plugin_digest: Option<String>,
    pub config: Option<Map<String, Value>>,
    pub grants: Option<Value>,
    /// The complete new secrets and credentials (the caller merges).
    pub secrets: Option<InstallationSecrets>,
    pub enabled: Option<bool>,
    pub events: Option<Vec<EventType>>,
}

/// Secrets and credentials ready to store: their names and the sealed blob.
struct SealedSecrets {
    secret_names: Vec<String>,
    credential_names: Vec<String>,
    sealed: Option<Vec<u8>>,
}

/// Most event types one installation may filter on.
const MAX_EVENT_TYPES: usize = 32;

/// An installation's event filter: lifecycle installations only, deduplicated.
fn check_events(kind: &str, events: &[EventType]) -> Result<Vec<EventType>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    if kind != "lifecycle" {
        return Err(StoreError::Invalid(
            "events: only lifecycle installations run on events".into(),
        ));
    }
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

impl Store {
    /// Seals `plain` bound to the installation id; `None` when empty.
    fn seal_installation_secrets(
        &self,
        id: &str,
        plain: InstallationSecrets,
    ) -> Result<SealedSecrets, StoreError> {
        let secret_names: Vec<String> = plain.secrets.keys().cloned().collect();
        let credential_names: Vec<String> = plain.credentials.keys().cloned().collect();
        let sealed = if secret_names.is_empty() && credential_names.is_empty() {
            None
        } else {
            let bytes = serde_json::to_vec(&plain)
                .map_err(|e| StoreError::Internal(format!("installation secrets: {e}")))?;
            if bytes.len() > MAX_INSTALLATION_SECRETS_BYTES {
                return Err(StoreError::Invalid(format!(
                    "secrets and credentials are larger than {MAX_INSTALLATION_SECRETS_BYTES} bytes"
                )));
            }
            Some(self.master_key.seal(&bytes, id.as_bytes()))
        };
        Ok(SealedSecrets {
            secret_names,
            credential_names,
            sealed,
        })
    }

    /// Applies `changes` to `current`, but only if the installation is
    /// still the version `current` shows (else `Conflict`: read again).
    pub async fn update_plugin_installation(
        &self,
        current: &PluginInstallation,
        changes: InstallationChanges,
    ) -> Result<PluginInstallation, StoreError> {
        let id = current.id.as_str();
        let config = changes.config.unwrap_or_else(|| current.config.clone());
        let grants = changes.grants.unwrap_or_else(|| current.grants.clone());
        let enabled = changes.enabled.unwrap_or(current.enabled);
        let plugin_digest = changes
            .plugin_digest
            .unwrap_or_else(|| current.plugin_digest.clone());
        let events = match changes.events {
            Some(e) => check_events(&current.kind, &e)?,
            None => current.events.clone(),
        };
        let sealed = changes
            .secrets
            .map(|plain| self.seal_installation_secrets(id, plain))
            .transpose()?;
        let replace_sealed = sealed.is_some();
        let (secret_names, credential_names, sealed) = match sealed {
            Some(s) => (s.secret_names, s.credential_names, s.sealed),
            None => (
                current.secret_names.clone(),
                current.credential_names.clone(),
                None,
            ),
        };
        let before = current.updated_at.as_micros();
        let now = Timestamp::now().as_micros().max(before + 1);
        let mut tx = self.begin().await?;
        let updated = on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE plugin_installations SET config = $2, grants = $3, secret_names = $4, \
                 credential_names = $5, sealed = CASE WHEN $6 THEN $7 ELSE sealed END, enabled = $8, \
                 updated_at = $9, event_types = $11, plugin_digest = $12 \
                 WHERE id = $1 AND updated_at = $10",
            )
            .bind(id)
            .bind(Json(&config))
            .bind(Json(&grants))
            .bind(Json(&secret_names))
            .bind(Json(&credential_names))
            .bind(replace_sealed)
            .bind(&sealed)
            .bind(enabled)
            .bind(now)
            .bind(before)
            .bind(Json(&events))
            .bind(&plugin_digest)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        if updated == 0 {
            return match self.get_plugin_installation(id).await? {
                None => Err(StoreError::NotFound("plugin installation")),
                Some(_) => Err(StoreError::Conflict(
                    "the installation was changed by another request; read it again and retry"
                        .into(),
                )),
            };
        }
        tx.commit().await?;
        self.get_plugin_installation(id)
            .await?
            .ok_or(StoreError::NotFound("plugin installation"))
    }

    pub async fn create_plugin_installation(
        &self,
        new: NewInstallation,
    ) -> Result<PluginInstallation, StoreError> {
        if self.get_organization(&new.organization_id).await?.is_none() {
            return Err(StoreError::NotFound("organization"));
        }
        if let Some(dir) = &new.directory_id {
            let directory = self
                .get_directory(dir)
                .await?
                .ok_or(StoreError::NotFound("directory"))?;
            if directory.organization_id != new.organization_id {
                return Err(StoreError::NotFound("directory"));
            }
        }
        if self.get_plugin(&new.plugin_digest).await?.is_none() {
            return Err(StoreError::NotFound("plugin"));
        }
        let events = check_events(&new.kind, &new.events)?;
        let id = new_id(IdKind::PluginInstallation);
        let sealed = self.seal_installation_secrets(
            &id,
            InstallationSecrets {
                secrets: new.secrets,
                credentials: new.credentials,
            },
        )?;
        let (secret_names, credential_names) = (sealed.secret_names, sealed.credential_names);
        let sealed = sealed.sealed;
        let now = Timestamp::now().as_micros();
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "INSERT INTO plugin_installations (id, organization_id, directory_id, plugin_digest, plugin_id, \
                 kind, config, grants, secret_names, credential_names, sealed, created_at, updated_at, \
                 event_types, cursor_seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, \
                 (SELECT COALESCE(MAX(seq), 0) FROM events))",
            )
            .bind(&id)
            .bind(&new.organization_id)
            .bind(&new.directory_id)
            .bind(&new.plugin_digest)
            .bind(&new.plugin_id)
            .bind(&new.kind)
            .bind(Json(&new.config))
            .bind(Json(&new.grants))
            .bind(Json(&secret_names))
            .bind(Json(&credential_names))
            .bind(&sealed)
            .bind(now)
            .bind(Json(&events))
            .execute(&mut *conn)
            .await?;
        });
        tx.commit().await?;
        self.get_plugin_installation(&id)
            .await?
            .ok_or(StoreError::NotFound("plugin installation"))
    }

    pub async fn get_plugin_installation(
        &self,
        id: &str,
    ) -> Result<Option<PluginInstallation>, StoreError> {
        let row: Option<Row> = on_read!(self, |pool| {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM plugin_installations WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(PluginInstallation::from))
    }

    /// Installations, optionally of one organization and/or directory.
    pub async fn list_plugin_installations(
        &self,
        organization_id: Option<&str>,
        directory_id: Option<&str>,
    ) -> Result<Vec<PluginInstallation>, StoreError> {
        let rows: Vec<Row> = on_read!(self, |pool| {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM plugin_installations \
                 WHERE ($1 IS NULL OR organization_id = $1) AND ($2 IS NULL OR directory_id = $2) ORDER BY id"
            )))
            .bind(organization_id)
            .bind(directory_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(PluginInstallation::from).collect())
    }

    /// Removes an installation and its state.
    pub async fn delete_plugin_installation(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let deleted = on_tx!(&mut tx, |conn| {
            sqlx::query("DELETE FROM plugin_state WHERE installation_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM plugin_installations WHERE id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        if deleted == 0 {
            return Err(StoreError::NotFound("plugin installation"));
        }
        tx.commit().await
    }

    /// Decrypted secrets and credentials. For the runtime; never for the API.
    pub async fn plugin_installation_secrets(
        &self,
        id: &str,
    ) -> Result<InstallationSecrets, StoreError> {
        let sealed: Option<Option<Vec<u8>>> = on_read!(self, |pool| {
            sqlx::query_scalar("SELECT sealed FROM plugin_installations WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        match sealed {
            None => Err(StoreError::NotFound("plugin installation")),
            Some(None) => Ok(InstallationSecrets::default()),
            Some(Some(bytes)) => {
                let plain = self
                    .master_key
                    .open(&bytes, id.as_bytes())
                    .map_err(|e| StoreError::Internal(format!("installation secrets: {e}")))?;
                serde_json::from_slice(&plain)
                    .map_err(|e| StoreError::Internal(format!("installation secrets: {e}")))
            }
        }
    }
}
