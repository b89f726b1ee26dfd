//! Installed plugins: components addressed by sha256 digest, several
//! versions of one plugin side by side. A plugin cannot be removed while an
//! installation uses it.

use rollcall_core::Timestamp;
use rollcall_core::ids::{IdKind, new_id};
use serde::Serialize;
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::types::Json;
use utoipa::ToSchema;

use crate::backend::Store;
use crate::error::StoreError;

/// A component to record (already validated by the runtime).
#[derive(Debug, Clone)]
pub struct NewPlugin {
    pub digest: String,
    pub plugin_id: String,
    pub version: String,
    pub kind: String,
    pub wit_version: String,
    pub description: String,
    pub manifest: Value,
    /// `upload` or `builtin`.
    pub source: &'static str,
    pub wasm: Vec<u8>,
}

/// An installed plugin (without its bytes).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Plugin {
    #[schema(value_type = String, example = "plugin")]
    pub object: &'static str,
    pub id: String,
    /// `sha256:<hex>` of the component.
    pub digest: String,
    /// The id from `plugin.toml`.
    pub plugin_id: String,
    pub version: String,
    /// `connector` or `lifecycle`.
    pub kind: String,
    pub wit_version: String,
    pub description: String,
    /// `upload` or `builtin`.
    pub source: String,
    pub size_bytes: i64,
    /// The parsed `plugin.toml`.
    #[schema(value_type = Object)]
    pub manifest: Value,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct PluginRow {
    id: String,
    digest: String,
    plugin_id: String,
    version: String,
    kind: String,
    wit_version: String,
    description: String,
    manifest: Json<Value>,
    source: String,
    size_bytes: i64,
    created_at: i64,
}

const COLUMNS: &str = "id, digest, plugin_id, version, kind, wit_version, description, manifest, source, size_bytes, created_at";

impl From<PluginRow> for Plugin {
    fn from(r: PluginRow) -> Self {
        Plugin {
            object: "plugin",
            id: r.id,
            digest: r.digest,
            plugin_id: r.plugin_id,
            version: r.version,
            kind: r.kind,
            wit_version: r.wit_version,
            description: r.description,
            source: r.source,
            size_bytes: r.size_bytes,
            manifest: r.manifest.0,
            created_at: Timestamp::from_micros(r.created_at),
        }
    }
}

/// How a plugin is named on the command line and in URLs: its `plugin_…`
/// id, its `sha256:…` digest, or `plugin-id@version`.
fn lookup_clause(key: &str) -> (&'static str, Vec<String>) {
    if key.starts_with("sha256:") {
        ("digest = $1", vec![key.to_owned()])
    } else if let Some((id, version)) = key.split_once('@') {
        (
            "plugin_id = $1 AND version = $2",
            vec![id.to_owned(), version.to_owned()],
        )
    } else {
        ("id = $1", vec![key.to_owned()])
    }
}

impl Store {
    /// Records a plugin. Installing the same bytes again answers the
    /// existing record (`false`); the same id and version with other bytes
    /// is a conflict.
    pub async fn insert_plugin(&self, new: NewPlugin) -> Result<(Plugin, bool), StoreError> {
        if let Some(existing) = self.get_plugin(&new.digest).await? {
            return Ok((existing, false));
        }
        if let Some(other) = self
            .get_plugin(&format!("{}@{}", new.plugin_id, new.version))
            .await?
        {
            return Err(StoreError::Conflict(format!(
                "{}@{} is already installed with digest {}; bump the version in plugin.toml",
                new.plugin_id, new.version, other.digest
            )));
        }
        let id = new_id(IdKind::Plugin);
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "INSERT INTO plugins (id, digest, plugin_id, version, kind, wit_version, description, \
                 manifest, source, size_bytes, wasm, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&id)
            .bind(&new.digest)
            .bind(&new.plugin_id)
            .bind(&new.version)
            .bind(&new.kind)
            .bind(&new.wit_version)
            .bind(&new.description)
            .bind(Json(&new.manifest))
            .bind(new.source)
            .bind(new.wasm.len() as i64)
            .bind(&new.wasm)
            .bind(Timestamp::now().as_micros())
            .execute(&mut *conn)
            .await?;
        });
        tx.commit().await?;
        let plugin = self
            .get_plugin(&id)
            .await?
            .ok_or(StoreError::NotFound("plugin"))?;
        Ok((plugin, true))
    }

    /// Records a plugin shipped inside the binary: like
    /// [`Store::insert_plugin`], except that when an older build of the
    /// binary recorded other bytes under the same `id@version` (a new
    /// compiler or dependency changes a component's bytes), that record is
    /// kept under `version+<12 hex digits of its digest>` and these bytes
    /// take the plain version. Installations pin digests, so those on the
    /// older bytes keep running them until they are moved.
    pub async fn insert_builtin_plugin(
        &self,
        new: NewPlugin,
    ) -> Result<(Plugin, bool), StoreError> {
        if let Some(existing) = self.get_plugin(&new.digest).await? {
            return Ok((existing, false));
        }
        let key = format!("{}@{}", new.plugin_id, new.version);
        if let Some(older) = self.get_plugin(&key).await?
            && older.source == "builtin"
        {
            self.retire_builtin(&older).await?;
        }
        let digest = new.digest.clone();
        match self.insert_plugin(new).await {
            // Another replica recorded the same bytes at the same moment.
            Err(StoreError::Conflict(e)) => match self.get_plugin(&digest).await? {
                Some(existing) => Ok((existing, false)),
                None => Err(StoreError::Conflict(e)),
            },
            other => other,
        }
    }

    /// Moves an older built-in to `version+<digest prefix>` (its manifest
    /// too), freeing its plain version.
    async fn retire_builtin(&self, older: &Plugin) -> Result<(), StoreError> {
        let hex = older.digest.trim_start_matches("sha256:");
        let prefix: String = hex.chars().take(12).collect();
        let version = format!("{}+{prefix}", older.version);
        let mut manifest = older.manifest.clone();
        if let Some(m) = manifest.as_object_mut() {
            m.insert("version".into(), Value::String(version.clone()));
        }
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE plugins SET version = $2, manifest = $3 WHERE id = $1 AND version = $4",
            )
            .bind(&older.id)
            .bind(&version)
            .bind(Json(&manifest))
            .bind(&older.version)
            .execute(&mut *conn)
            .await?;
        });
        tx.commit().await
    }

    /// A plugin by `plugin_…` id, `sha256:…` digest or `id@version`.
    pub async fn get_plugin(&self, key: &str) -> Result<Option<Plugin>, StoreError> {
        let (clause, args) = lookup_clause(key);
        let sql = format!("SELECT {COLUMNS} FROM plugins WHERE {clause}");
        let row: Option<PluginRow> = on_read!(self, |pool| {
            let mut q = sqlx::query_as(AssertSqlSafe(sql.clone()));
            for a in &args {
                q = q.bind(a.clone());
            }
            q.fetch_optional(pool).await?
        });
        Ok(row.map(Plugin::from))
    }

    /// The component bytes of a plugin.
    pub async fn plugin_wasm(&self, digest: &str) -> Result<Vec<u8>, StoreError> {
        let bytes: Option<Vec<u8>> = on_read!(self, |pool| {
            sqlx::query_scalar("SELECT wasm FROM plugins WHERE digest = $1")
                .bind(digest)
                .fetch_optional(pool)
                .await?
        });
        bytes.ok_or(StoreError::NotFound("plugin"))
    }

    /// Every installed plugin, by plugin id then install order.
    pub async fn list_plugins(&self) -> Result<Vec<Plugin>, StoreError> {
        let rows: Vec<PluginRow> = on_read!(self, |pool| {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM plugins ORDER BY plugin_id, id"
            )))
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Plugin::from).collect())
    }

    /// Removes a plugin that no installation uses.
    pub async fn delete_plugin(&self, key: &str) -> Result<Plugin, StoreError> {
        let plugin = self
            .get_plugin(key)
            .await?
            .ok_or(StoreError::NotFound("plugin"))?;
        let mut tx = self.begin().await?;
        let users: i64 = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar("SELECT COUNT(*) FROM plugin_installations WHERE plugin_digest = $1")
                .bind(&plugin.digest)
                .fetch_one(&mut *conn)
                .await?
        });
        if users > 0 {
            return Err(StoreError::Conflict(format!(
                "{}@{} is used by {users} installation(s); remove them first",
                plugin.plugin_id, plugin.version
            )));
        }
        on_tx!(&mut tx, |conn| {
            sqlx::query("DELETE FROM plugins WHERE digest = $1")
                .bind(&plugin.digest)
                .execute(&mut *conn)
                .await?;
        });
        tx.commit().await?;
        Ok(plugin)
    }
}
