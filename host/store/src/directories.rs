//! Directories: create (with their first SCIM token), read, list, update
//! (state changes emit `dsync.activated` / `dsync.deactivated`), delete
//! (emits `dsync.deleted` only), and their sealed secrets.

use rollcall_core::Timestamp;
use rollcall_core::directory::{
    Directory, DirectoryState, DirectoryUpdate, Ingress, MAX_SECRETS_BYTES, MAX_SETTINGS_BYTES,
    NewDirectory,
};
use rollcall_core::event::{EventType, NewEvent};
use rollcall_core::ids::{IdKind, new_id};
use rollcall_core::organization::{MAX_NAME_LEN, is_valid_domain};
use serde_json::{Map, Value};
use sqlx::AssertSqlSafe;
use sqlx::types::Json;

use crate::backend::{Store, Tx};
use crate::error::StoreError;
use crate::events;
use crate::page::{Page, PageRequest};
use crate::rows::{DIRECTORY_COLUMNS, DirectoryRow};
use crate::scim_tokens::{self, ScimToken};
use crate::sql::{Arg, Sql};

/// A new directory and, for SCIM directories, its first token (plaintext,
/// shown once).
#[derive(Debug, Clone)]
pub struct CreatedDirectory {
    pub directory: Directory,
    pub token: Option<(ScimToken, String)>,
}

fn check_name(value: &str) -> Result<String, StoreError> {
    let value = value.trim();
    if value.is_empty() || value.len() > MAX_NAME_LEN {
        return Err(StoreError::Invalid(format!(
            "name must be 1 to {MAX_NAME_LEN} characters"
        )));
    }
    Ok(value.to_owned())
}

fn check_domain(value: Option<String>) -> Result<Option<String>, StoreError> {
    match value.map(|d| d.trim().to_ascii_lowercase()) {
        Some(d) if !is_valid_domain(&d) => Err(StoreError::Invalid(format!(
            "domain: '{}' is not a valid domain name",
            d.chars().take(80).collect::<String>()
        ))),
        other => Ok(other),
    }
}

fn check_size(field: &str, value: &Map<String, Value>, max: usize) -> Result<(), StoreError> {
    let size = serde_json::to_vec(value).map_or(0, |v| v.len());
    if size > max {
        return Err(StoreError::Invalid(format!(
            "{field} is larger than {max} bytes"
        )));
    }
    Ok(())
}

/// The pull-sync keys of `settings` must be valid (other keys are free).
fn check_sync_settings(settings: &Map<String, Value>) -> Result<(), StoreError> {
    rollcall_core::sync_settings::DirectorySyncSettings::parse(
        settings,
        rollcall_core::sync_settings::DEFAULT_INTERVAL_MINUTES,
    )
    .map(|_| ())
    .map_err(StoreError::Invalid)
}

pub(crate) fn directory_event(event: EventType, directory: &Directory) -> NewEvent {
    NewEvent {
        event,
        organization_id: directory.organization_id.clone(),
        directory_id: Some(directory.id.clone()),
        data: serde_json::to_value(directory).unwrap_or(Value::Null),
    }
}

impl Store {
    pub async fn create_directory(
        &self,
        new: NewDirectory,
    ) -> Result<CreatedDirectory, StoreError> {
        let name = check_name(&new.name)?;
        let domain = check_domain(new.domain)?;
        check_size("settings", &new.settings, MAX_SETTINGS_BYTES)?;
        check_sync_settings(&new.settings)?;
        check_size("secrets", &new.secrets, MAX_SECRETS_BYTES)?;
        if self.get_organization(&new.organization_id).await?.is_none() {
            return Err(StoreError::NotFound("organization"));
        }
        let id = new_id(IdKind::Directory);
        let state = new.directory_type.initial_state();
        let secret_names: Vec<String> = new.secrets.keys().cloned().collect();
        let sealed = self.seal_secrets(&id, &new.secrets)?;
        let now = Timestamp::now().as_micros();
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "INSERT INTO directories (id, organization_id, name, type, state, domain, settings, \
                 secret_names, secrets, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
            )
            .bind(&id)
            .bind(&new.organization_id)
            .bind(&name)
            .bind(new.directory_type.as_str())
            .bind(state.as_str())
            .bind(&domain)
            .bind(Json(&new.settings))
            .bind(Json(&secret_names))
            .bind(&sealed)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        });
        let directory = fetch_in_tx(&mut tx, &id).await?;
        let mut new_events = Vec::new();
        if state == DirectoryState::Active {
            new_events.push(directory_event(EventType::DirectoryActivated, &directory));
        }
        events::append(&mut tx, new_events).await?;
        let token = if directory.directory_type.ingress() == Ingress::ScimPush {
            Some(scim_tokens::issue_in_tx(&mut tx, &directory, None).await?)
        } else {
            None
        };
        tx.commit().await?;
        Ok(CreatedDirectory { directory, token })
    }

    pub async fn get_directory(&self, id: &str) -> Result<Option<Directory>, StoreError> {
        let row: Option<DirectoryRow> = on_read!(self, |pool| {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {DIRECTORY_COLUMNS} FROM directories WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(Directory::try_from).transpose()
    }

    pub async fn list_directories(
        &self,
        organization_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Directory>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {DIRECTORY_COLUMNS} FROM directories WHERE 1=1"
        ));
        if let Some(org) = organization_id {
            sql.and("organization_id", "=", Arg::Text(org.to_owned()));
        }
        page.apply(&mut sql, "id");
        let rows: Vec<DirectoryRow> = on_read!(self, |pool| {
            bind_args!(sqlx::query_as(AssertSqlSafe(sql.text)), sql.args)
                .fetch_all(pool)
                .await?
        });
        let page = page.finish(rows, |r| &r.id);
        Ok(Page {
            data: page
                .data
                .into_iter()
                .map(Directory::try_from)
                .collect::<Result<_, _>>()?,
            before: page.before,
            after: page.after,
        })
    }

    pub async fn update_directory(
        &self,
        id: &str,
        update: DirectoryUpdate,
    ) -> Result<Directory, StoreError> {
        if let Some(state) = update.state
            && !matches!(state, DirectoryState::Active | DirectoryState::Inactive)
        {
            return Err(StoreError::Invalid(
                "state: only 'active' and 'inactive' can be set".into(),
            ));
        }
        let mut tx = self.begin().await?;
        let current = fetch_in_tx(&mut tx, id).await?;
        let name = match update.name {
            Some(n) => check_name(&n)?,
            None => current.name.clone(),
        };
        let domain = match update.domain {
            Some(d) => check_domain(d)?,
            None => current.domain.clone(),
        };
        let settings = match update.settings {
            Some(s) => {
                check_size("settings", &s, MAX_SETTINGS_BYTES)?;
                check_sync_settings(&s)?;
                s
            }
            None => current.settings.clone(),
        };
        let state = update.state.unwrap_or(current.state);
        if let Some(changes) = &update.secrets {
            check_size("secrets", changes, MAX_SECRETS_BYTES)?;
            let mut secrets = self.directory_secrets(id).await?;
            for (k, v) in changes {
                if v.is_null() {
                    secrets.remove(k);
                } else {
                    secrets.insert(k.clone(), v.clone());
                }
            }
            check_size("secrets", &secrets, MAX_SECRETS_BYTES)?;
            let names: Vec<String> = secrets.keys().cloned().collect();
            let sealed = self.seal_secrets(id, &secrets)?;
            on_tx!(&mut tx, |conn| {
                sqlx::query("UPDATE directories SET secrets = $2, secret_names = $3 WHERE id = $1")
                    .bind(id)
                    .bind(&sealed)
                    .bind(Json(&names))
                    .execute(&mut *conn)
                    .await?;
            });
        }
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE directories SET name = $2, domain = $3, settings = $4, state = $5, \
                 updated_at = $6 WHERE id = $1",
            )
            .bind(id)
            .bind(&name)
            .bind(&domain)
            .bind(Json(&settings))
            .bind(state.as_str())
            .bind(Timestamp::now().as_micros())
            .execute(&mut *conn)
            .await?;
        });
        let updated = fetch_in_tx(&mut tx, id).await?;
        if state != current.state {
            let event = match state {
                DirectoryState::Active => EventType::DirectoryActivated,
                _ => EventType::DirectoryDeactivated,
            };
            events::append(&mut tx, vec![directory_event(event, &updated)]).await?;
        }
        tx.commit().await?;
        self.forget_scim_auth();
        Ok(updated)
    }

    /// Deletes a directory with its users, groups, memberships and tokens.
    /// Emits `dsync.deleted` and nothing else.
    pub async fn delete_directory(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        delete_in_tx(&mut tx, id).await?;
        tx.commit().await?;
        self.forget_scim_auth();
        Ok(())
    }

    /// The directory's secrets, decrypted. For connectors; never for the API.
    pub async fn directory_secrets(&self, id: &str) -> Result<Map<String, Value>, StoreError> {
        let sealed: Option<Option<Vec<u8>>> = on_read!(self, |pool| {
            sqlx::query_scalar("SELECT secrets FROM directories WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        match sealed {
            None => Err(StoreError::NotFound("directory")),
            Some(None) => Ok(Map::new()),
            Some(Some(bytes)) => {
                let plain = self
                    .master_key
                    .open(&bytes, id.as_bytes())
                    .map_err(|e| StoreError::Internal(format!("directory secrets: {e}")))?;
                serde_json::from_slice(&plain)
                    .map_err(|e| StoreError::Internal(format!("directory secrets: {e}")))
            }
        }
    }

    fn seal_secrets(
        &self,
        id: &str,
        secrets: &Map<String, Value>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        if secrets.is_empty() {
            return Ok(None);
        }
        let plain = serde_json::to_vec(secrets)
            .map_err(|e| StoreError::Internal(format!("secrets: {e}")))?;
        Ok(Some(self.master_key.seal(&plain, id.as_bytes())))
    }
}

pub(crate) async fn fetch_in_tx(tx: &mut Tx, id: &str) -> Result<Directory, StoreError> {
    let row: Option<DirectoryRow> = tx
        .fetch_optional(
            &format!("SELECT {DIRECTORY_COLUMNS} FROM directories WHERE id = $1"),
            vec![Arg::Text(id.to_owned())],
        )
        .await?;
    row.ok_or(StoreError::NotFound("directory"))?.try_into()
}

pub(crate) async fn delete_in_tx(tx: &mut Tx, id: &str) -> Result<(), StoreError> {
    let mut directory = fetch_in_tx(tx, id).await?;
    directory.state = DirectoryState::Deleting;
    directory.updated_at = Timestamp::now();
    events::append(
        tx,
        vec![directory_event(EventType::DirectoryDeleted, &directory)],
    )
    .await?;
    on_tx!(tx, |conn| {
        for table in [
            "DELETE FROM directory_memberships WHERE directory_id = $1",
            "DELETE FROM directory_users WHERE directory_id = $1",
            "DELETE FROM directory_groups WHERE directory_id = $1",
            "DELETE FROM scim_tokens WHERE directory_id = $1",
            "DELETE FROM directories WHERE id = $1",
        ] {
            sqlx::query(table).bind(id).execute(&mut *conn).await?;
        }
    });
    Ok(())
}
