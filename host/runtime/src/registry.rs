//! Installing and binding plugins: the checks shared by the CLI and the
//! API. A component is accepted only when it is a component, implements a
//! supported world and version that matches its manifest's `kind` and
//! `wit`, links against the host, and its manifest is sane. A binding is
//! accepted only when its config matches the plugin's schema, its grants
//! stay within the manifest, and its credentials fill declared slots.

use std::collections::BTreeMap;
use std::sync::Arc;

use rollcall_store::{
    InstallationChanges, NewInstallation, NewPlugin, Plugin, PluginInstallation, Store, StoreError,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::builtin::BUILTINS;
use crate::context::InvocationContext;
use crate::credentials::Credential;
use crate::error::InstallError;
use crate::hosts::HostPattern;
use crate::invoke::{LoadedPlugin, Runtime};
use crate::manifest::{self, Capability, Manifest, PluginKind};
use crate::policy::LimitRequest;
use crate::schema;

/// Largest component accepted, in bytes.
pub const MAX_COMPONENT_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    Install(#[from] InstallError),
    #[error("{0}")]
    Invalid(String),
    /// The component is over [`MAX_COMPONENT_BYTES`].
    #[error("the component is {0} bytes; at most {MAX_COMPONENT_BYTES} bytes are accepted")]
    TooLarge(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an installation grants: hosts (within the manifest's) and limits.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub limits: LimitRequest,
}

/// A request to bind a plugin.
#[derive(Debug, Clone, Default)]
pub struct InstallationRequest {
    /// `plugin_…`, `sha256:…` or `id@version`.
    pub plugin: String,
    pub organization_id: String,
    pub directory_id: Option<String>,
    pub config: Map<String, Value>,
    pub grants: Grants,
    pub secrets: Map<String, Value>,
    pub credentials: Map<String, Value>,
    /// Lifecycle installations: event types to run on (empty = all).
    pub events: Vec<rollcall_core::event::EventType>,
}

/// Changes to an installation; `None` (or an empty map) leaves that part
/// as it is. In `secrets` and `credentials` a value sets that entry and
/// `null` removes it; `config` and `grants` are replaced whole.
#[derive(Debug, Clone, Default)]
pub struct InstallationUpdate {
    /// Moves the installation to another version of the same plugin
    /// (`plugin_…`, `sha256:…` or `id@version`); config, grants and
    /// credentials are checked against that version's manifest.
    pub plugin: Option<String>,
    pub config: Option<Map<String, Value>>,
    pub grants: Option<Grants>,
    pub secrets: Map<String, Value>,
    pub credentials: Map<String, Value>,
    pub enabled: Option<bool>,
    /// Replaces a lifecycle installation's event filter.
    pub events: Option<Vec<rollcall_core::event::EventType>>,
}

impl InstallationUpdate {
    fn is_empty(&self) -> bool {
        self.plugin.is_none()
            && self.config.is_none()
            && self.grants.is_none()
            && self.secrets.is_empty()
            && self.credentials.is_empty()
            && self.enabled.is_none()
            && self.events.is_none()
    }
}

/// Validates a component and its manifest and records it.
pub async fn install(
    runtime: &Runtime,
    store: &Store,
    wasm: &[u8],
    manifest_text: Option<&str>,
    source: &'static str,
) -> Result<(Plugin, bool), RegistryError> {
    if wasm.len() > MAX_COMPONENT_BYTES {
        return Err(RegistryError::TooLarge(wasm.len()));
    }
    crate::engine::check_format(wasm)?;
    let embedded = manifest::embedded(wasm);
    let text = manifest_text.or(embedded.as_deref()).ok_or_else(|| {
        RegistryError::Invalid("no manifest: pass plugin.toml (--manifest) or build with rollcall-plugin-sdk, which embeds it".into())
    })?;
    let manifest = Manifest::parse(text).map_err(|e| InstallError::Manifest(e.to_string()))?;
    let loaded = runtime.load(wasm)?;
    if loaded.kind() != manifest.kind {
        return Err(RegistryError::Invalid(format!(
            "plugin.toml says kind = \"{}\" but the component implements the {} world",
            manifest.kind.as_str(),
            loaded.kind().as_str()
        )));
    }
    if loaded.imports_ldap() && !manifest.has(Capability::Ldap) {
        return Err(RegistryError::Invalid(
            "the component imports rollcall:plugin/ldap but plugin.toml does not declare capabilities = [\"ldap\"]".into(),
        ));
    }
    let new = NewPlugin {
        digest: loaded.digest().to_owned(),
        plugin_id: manifest.id.clone(),
        version: manifest.version.clone(),
        kind: manifest.kind.as_str().to_owned(),
        wit_version: manifest.wit.clone(),
        description: manifest.description.clone(),
        manifest: serde_json::to_value(&manifest)
            .map_err(|e| RegistryError::Invalid(e.to_string()))?,
        source,
        wasm: wasm.to_vec(),
    };
    Ok(if source == "builtin" {
        store.insert_builtin_plugin(new).await?
    } else {
        store.insert_plugin(new).await?
    })
}

/// Records every built-in plugin (idempotent).
pub async fn install_builtins(
    runtime: &Runtime,
    store: &Store,
) -> Result<Vec<Plugin>, RegistryError> {
    let mut out = Vec::new();
    for builtin in BUILTINS {
        out.push(
            install(runtime, store, builtin.wasm, None, "builtin")
                .await?
                .0,
        );
    }
    Ok(out)
}

/// The manifest stored with a plugin.
pub fn stored_manifest(plugin: &Plugin) -> Result<Manifest, RegistryError> {
    serde_json::from_value(plugin.manifest.clone()).map_err(|e| {
        RegistryError::Invalid(format!(
            "stored manifest of {} is unreadable: {e}",
            plugin.digest
        ))
    })
}

fn check_config(manifest: &Manifest, config: &Map<String, Value>) -> Result<(), RegistryError> {
    schema::validate(&manifest.schema(), &Value::Object(config.clone())).map_err(|errors| {
        RegistryError::Invalid(format!(
            "config does not match the plugin's schema: {}",
            errors.join("; ")
        ))
    })
}

/// Sets (value) or removes (`null`) entries of `current`.
fn merge(current: &mut Map<String, Value>, changes: Map<String, Value>) {
    for (name, value) in changes {
        if value.is_null() {
            current.remove(&name);
        } else {
            current.insert(name, value);
        }
    }
}

fn check_grants(manifest: &Manifest, grants: &Grants) -> Result<(), RegistryError> {
    for host in &grants.hosts {
        HostPattern::parse(host)
            .map_err(|e| RegistryError::Invalid(format!("grants.hosts: {e}")))?;
        if !manifest.hosts.contains(host)
            && !manifest
                .hosts
                .iter()
                .filter_map(|h| HostPattern::parse(h).ok())
                .any(|p| {
                    let (name, port) = host
                        .rsplit_once(':')
                        .and_then(|(h, p)| p.parse().ok().map(|p| (h, p)))
                        .unwrap_or((host.as_str(), 443));
                    !name.starts_with("*.") && p.matches(name, port)
                })
        {
            return Err(RegistryError::Invalid(format!(
                "grants.hosts: '{host}' is not declared in the plugin's manifest (declared: {})",
                if manifest.hosts.is_empty() {
                    "none".to_owned()
                } else {
                    manifest.hosts.join(", ")
                }
            )));
        }
    }
    Ok(())
}

fn check_credentials(
    manifest: &Manifest,
    credentials: &Map<String, Value>,
) -> Result<BTreeMap<String, Credential>, RegistryError> {
    let mut out = BTreeMap::new();
    for (name, value) in credentials {
        let slot = manifest
            .credentials
            .iter()
            .find(|s| &s.name == name)
            .ok_or_else(|| {
                RegistryError::Invalid(format!(
                    "credentials.{name}: the plugin declares no such credential slot"
                ))
            })?;
        let credential: Credential = serde_json::from_value(value.clone())
            .map_err(|e| RegistryError::Invalid(format!("credentials.{name}: {e}")))?;
        if !slot.kind.accepts(credential.kind()) {
            return Err(RegistryError::Invalid(format!(
                "credentials.{name}: the slot expects kind {}, got {}",
                slot.kind.describe(),
                credential.kind().as_str()
            )));
        }
        credential
            .check()
            .map_err(|e| RegistryError::Invalid(format!("credentials.{name}: {e}")))?;
        out.insert(name.clone(), credential);
    }
    if let Some(missing) = manifest
        .credentials
        .iter()
        .find(|s| !s.optional && !out.contains_key(&s.name))
    {
        return Err(RegistryError::Invalid(format!(
            "credentials.{}: required by the plugin",
            missing.name
        )));
    }
    Ok(out)
}

/// The connector a directory type must be served by: `plugin:<id>` by
/// `<id>`, and the provider types with a built-in connector by it.
fn expected_connector(directory_type: &rollcall_core::directory::DirectoryType) -> Option<&str> {
    use rollcall_core::directory::DirectoryType;
    match directory_type {
        DirectoryType::Plugin(full) => Some(full.strip_prefix("plugin:").unwrap_or(full)),
        DirectoryType::GoogleWorkspace | DirectoryType::AzureGraph | DirectoryType::OktaApi => {
            Some(directory_type.as_str())
        }
        _ => None,
    }
}

/// Validates a binding against the plugin's manifest and records it.
pub async fn create_installation(
    store: &Store,
    request: InstallationRequest,
) -> Result<PluginInstallation, RegistryError> {
    let plugin = store
        .get_plugin(&request.plugin)
        .await?
        .ok_or(StoreError::NotFound("plugin"))?;
    let manifest = stored_manifest(&plugin)?;
    if manifest.kind == PluginKind::Connector && request.directory_id.is_none() {
        return Err(RegistryError::Invalid(
            "a connector plugin is bound to a directory: directory_id is required".into(),
        ));
    }
    if manifest.kind == PluginKind::Connector
        && let Some(directory_id) = &request.directory_id
        && let Some(directory) = store.get_directory(directory_id).await?
        && let Some(wanted) = expected_connector(&directory.directory_type)
        && wanted != manifest.id
    {
        return Err(RegistryError::Invalid(format!(
            "directory {directory_id} has type {}; bind the {wanted} connector to it, not {}",
            directory.directory_type, manifest.id
        )));
    }
    check_config(&manifest, &request.config)?;
    check_grants(&manifest, &request.grants)?;
    check_credentials(&manifest, &request.credentials)?;
    if let Some((name, _)) = request.secrets.iter().find(|(_, v)| !v.is_string()) {
        return Err(RegistryError::Invalid(format!(
            "secrets.{name}: must be a string"
        )));
    }
    Ok(store
        .create_plugin_installation(NewInstallation {
            organization_id: request.organization_id,
            directory_id: request.directory_id,
            plugin_digest: plugin.digest,
            plugin_id: plugin.plugin_id,
            kind: plugin.kind,
            config: request.config,
            grants: serde_json::to_value(&request.grants).unwrap_or(Value::Null),
            secrets: request.secrets,
            credentials: request.credentials,
            events: request.events,
        })
        .await?)
}

/// The plugin an installation moves to: the same plugin id and kind as
/// the one it runs now (a directory of type `plugin:<id>` stays served by
/// `<id>`), any version.
async fn target_plugin(
    store: &Store,
    current: &PluginInstallation,
    key: &str,
) -> Result<Plugin, RegistryError> {
    // `id@version`, `sha256:<64 hex>` and `plugin_…` ids are all far shorter.
    if key.len() > 256 {
        return Err(RegistryError::Invalid(
            "plugin: at most 256 characters (an id@version, sha256:… digest or plugin_… id)".into(),
        ));
    }
    let plugin = store
        .get_plugin(key)
        .await?
        .ok_or_else(|| RegistryError::Invalid(format!("plugin: no plugin '{key}' is installed")))?;
    if plugin.plugin_id != current.plugin_id || plugin.kind != current.kind {
        return Err(RegistryError::Invalid(format!(
            "plugin: an installation of {} can only move to another version of {} (got {}@{})",
            current.plugin_id, current.plugin_id, plugin.plugin_id, plugin.version
        )));
    }
    Ok(plugin)
}

/// Validates changes to an installation against its plugin's manifest
/// (config schema, declared hosts, credential slots) and applies them.
/// Secrets and credentials are merged with the sealed ones and re-sealed.
pub async fn update_installation(
    store: &Store,
    current: &PluginInstallation,
    update: InstallationUpdate,
) -> Result<PluginInstallation, RegistryError> {
    if update.is_empty() {
        return Ok(current.clone());
    }
    let moving = update.plugin.is_some();
    let plugin = match &update.plugin {
        Some(key) => target_plugin(store, current, key).await?,
        None => store
            .get_plugin(&current.plugin_digest)
            .await?
            .ok_or(StoreError::NotFound("plugin"))?,
    };
    let manifest = stored_manifest(&plugin)?;
    // Another version is checked whole: what the update leaves as it is
    // must suit the new manifest too.
    match &update.config {
        Some(config) => check_config(&manifest, config)?,
        None if moving => check_config(&manifest, &current.config)?,
        None => {}
    }
    match &update.grants {
        Some(grants) => check_grants(&manifest, grants)?,
        None if moving => {
            let grants: Grants = serde_json::from_value(current.grants.clone())
                .map_err(|e| RegistryError::Invalid(format!("stored grants: {e}")))?;
            check_grants(&manifest, &grants)?;
        }
        None => {}
    }
    if let Some((name, _)) = update
        .secrets
        .iter()
        .find(|(_, v)| !v.is_string() && !v.is_null())
    {
        return Err(RegistryError::Invalid(format!(
            "secrets.{name}: must be a string, or null to remove it"
        )));
    }
    let changes_secrets = !update.secrets.is_empty() || !update.credentials.is_empty();
    let secrets = if changes_secrets || moving {
        let mut sealed = store.plugin_installation_secrets(&current.id).await?;
        merge(&mut sealed.secrets, update.secrets);
        merge(&mut sealed.credentials, update.credentials);
        check_credentials(&manifest, &sealed.credentials)?;
        // A move only checks the stored credentials; they are re-sealed
        // only when this update changes them.
        changes_secrets.then_some(sealed)
    } else {
        None
    };
    let grants = update
        .grants
        .map(|g| serde_json::to_value(&g).map_err(|e| RegistryError::Invalid(e.to_string())))
        .transpose()?;
    Ok(store
        .update_plugin_installation(
            current,
            InstallationChanges {
                plugin_digest: moving.then(|| plugin.digest.clone()),
                config: update.config,
                grants,
                secrets,
                enabled: update.enabled,
                events: update.events,
            },
        )
        .await?)
}

/// The loaded component and invocation context of an installation.
pub async fn prepare_installation(
    runtime: &Runtime,
    store: &Store,
    installation: &PluginInstallation,
) -> Result<(LoadedPlugin, InvocationContext), RegistryError> {
    if !installation.enabled {
        return Err(RegistryError::Invalid(format!(
            "plugin installation {} is disabled",
            installation.id
        )));
    }
    let plugin = store
        .get_plugin(&installation.plugin_digest)
        .await?
        .ok_or(StoreError::NotFound("plugin"))?;
    let manifest = stored_manifest(&plugin)?;
    let wasm = store.plugin_wasm(&plugin.digest).await?;
    let loaded = runtime.load(&wasm)?;
    let grants: Grants = serde_json::from_value(installation.grants.clone()).unwrap_or_default();
    let sealed = store.plugin_installation_secrets(&installation.id).await?;
    let credentials = check_credentials(&manifest, &sealed.credentials)?;
    let secrets = sealed
        .secrets
        .into_iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
        .collect();
    let ctx = InvocationContext {
        installation_id: installation.id.clone(),
        organization_id: installation.organization_id.clone(),
        directory_id: installation.directory_id.clone(),
        manifest: Arc::new(manifest),
        granted_hosts: grants.hosts,
        grant_limits: grants.limits,
        config: installation.config.clone(),
        secrets,
        credentials,
        state: Arc::new(store.clone()),
    };
    Ok((loaded, ctx))
}
