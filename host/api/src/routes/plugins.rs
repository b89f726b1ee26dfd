//! `/api/v1/plugins` (install, list, get, remove components) and
//! `/api/v1/plugin_installations` (bind a plugin to an organization or a
//! directory with config, grants, secrets and credentials).
//!
//! Validation is the runtime registry's, the same as the CLI's. The
//! runtime (one wasmtime engine per process) is [`AppState::plugins`],
//! built at start-up from the `ROLLCALL_PLUGIN_*` settings.

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use base64::Engine;
use rollcall_core::event::EventType;
use rollcall_runtime::registry::{
    self, Grants, InstallationRequest, InstallationUpdate, RegistryError,
};
use rollcall_store::{Plugin, PluginInstallation};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, QueryPairs};

/// Largest install request: a component of up to
/// [`registry::MAX_COMPONENT_BYTES`] in base64, plus room for the manifest.
/// Only the install route accepts more than the server's usual body limit.
pub const MAX_INSTALL_BODY: usize = registry::MAX_COMPONENT_BYTES / 3 * 4 + 4 + 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plugins, install_plugin))
        .layer(DefaultBodyLimit::max(MAX_INSTALL_BODY))
        .routes(routes!(get_plugin, remove_plugin))
        .routes(routes!(list_installations, create_installation))
        .routes(routes!(
            get_installation,
            update_installation,
            delete_installation
        ))
}

fn registry_error(e: RegistryError) -> ApiError {
    match e {
        RegistryError::Store(s) => s.into(),
        RegistryError::Install(i) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_plugin",
            i.to_string(),
        ),
        RegistryError::Invalid(m) => ApiError::invalid(m),
        e @ RegistryError::TooLarge(_) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            e.to_string(),
        ),
    }
}

/// A component to install.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallPlugin {
    /// The component (`.wasm`), base64.
    pub wasm_base64: String,
    /// `plugin.toml` text; optional when the SDK embedded it.
    #[serde(default)]
    pub manifest: Option<String>,
}

/// List installed plugins (built-ins included).
#[utoipa::path(get, path = "/api/v1/plugins", tag = "plugins",
    responses((status = 200, body = Vec<Plugin>), (status = 401, body = ErrorBody)))]
async fn list_plugins(
    State(state): State<AppState>,
    _principal: Principal,
) -> ApiResult<Json<Vec<Plugin>>> {
    registry::install_builtins(&state.plugins, &state.store)
        .await
        .map_err(registry_error)?;
    Ok(Json(state.store.list_plugins().await?))
}

/// Install a plugin component (global keys only). Answers 201, or 200 when
/// the same bytes were installed before.
#[utoipa::path(post, path = "/api/v1/plugins", tag = "plugins",
    request_body = InstallPlugin,
    responses((status = 201, body = Plugin), (status = 200, body = Plugin), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn install_plugin(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<InstallPlugin>,
) -> ApiResult<(StatusCode, Json<Plugin>)> {
    principal.require_global("install plugins")?;
    let wasm = base64::engine::general_purpose::STANDARD
        .decode(body.wasm_base64.trim())
        .map_err(|_| ApiError::invalid("wasm_base64 is not valid base64"))?;
    let (plugin, created) = registry::install(
        &state.plugins,
        &state.store,
        &wasm,
        body.manifest.as_deref(),
        "upload",
    )
    .await
    .map_err(registry_error)?;
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(plugin),
    ))
}

/// Get a plugin by `plugin_…` id, `sha256:…` digest or `id@version`.
#[utoipa::path(get, path = "/api/v1/plugins/{id}", tag = "plugins",
    params(("id" = String, Path, description = "plugin_… id, sha256:… digest or id@version")),
    responses((status = 200, body = Plugin), (status = 404, body = ErrorBody)))]
async fn get_plugin(
    State(state): State<AppState>,
    _principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Plugin>> {
    registry::install_builtins(&state.plugins, &state.store)
        .await
        .map_err(registry_error)?;
    Ok(Json(
        state
            .store
            .get_plugin(&id)
            .await?
            .ok_or_else(|| ApiError::not_found("Plugin"))?,
    ))
}

/// Remove a plugin no installation uses (global keys only; not built-ins).
#[utoipa::path(delete, path = "/api/v1/plugins/{id}", tag = "plugins",
    params(("id" = String, Path, description = "plugin_… id, sha256:… digest or id@version")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn remove_plugin(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require_global("remove plugins")?;
    let plugin = state
        .store
        .get_plugin(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("Plugin"))?;
    if plugin.source == "builtin" {
        return Err(ApiError::forbidden(format!(
            "{}@{} is built in and cannot be removed",
            plugin.plugin_id, plugin.version
        )));
    }
    state.store.delete_plugin(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A binding of a plugin to an organization (and, for connectors, a directory).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPluginInstallation {
    /// `plugin_…` id, `sha256:…` digest or `id@version`.
    pub plugin: String,
    pub organization_id: String,
    /// Required for connectors; optional for lifecycle actions.
    #[serde(default)]
    pub directory_id: Option<String>,
    /// Validated against the plugin's config schema.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    /// `{"hosts": [...], "limits": {...}}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub grants: Option<Value>,
    /// Secret strings, sealed at rest; never returned.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub secrets: Map<String, Value>,
    /// Credentials per manifest slot, sealed at rest; never returned.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub credentials: Map<String, Value>,
    /// Lifecycle actions: the event types to run on (default: every type).
    #[serde(default)]
    pub events: Vec<EventType>,
}

/// List installations (`organization`, `directory` filters).
#[utoipa::path(get, path = "/api/v1/plugin_installations", tag = "plugins",
    params(("organization" = Option<String>, Query), ("directory" = Option<String>, Query)),
    responses((status = 200, body = Vec<PluginInstallation>), (status = 400, body = ErrorBody)))]
async fn list_installations(
    State(state): State<AppState>,
    principal: Principal,
    query: QueryPairs,
) -> ApiResult<Json<Vec<PluginInstallation>>> {
    query.only(&["organization", "directory"])?;
    let org = match (principal.organization(), query.one("organization")?) {
        (Some(own), Some(asked)) if own != asked => return Ok(Json(Vec::new())),
        (Some(own), _) => Some(own.to_owned()),
        (None, asked) => asked.map(str::to_owned),
    };
    let list = state
        .store
        .list_plugin_installations(org.as_deref(), query.one("directory")?)
        .await?;
    Ok(Json(list))
}

/// Bind a plugin: config, grants, secrets and credentials are validated
/// against its manifest.
#[utoipa::path(post, path = "/api/v1/plugin_installations", tag = "plugins",
    request_body = NewPluginInstallation,
    responses((status = 201, body = PluginInstallation), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_installation(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<NewPluginInstallation>,
) -> ApiResult<(StatusCode, Json<PluginInstallation>)> {
    principal.check_access(&body.organization_id, "Organization")?;
    let grants = body
        .grants
        .map(parse_grants)
        .transpose()?
        .unwrap_or_default();
    let request = InstallationRequest {
        plugin: body.plugin,
        organization_id: body.organization_id,
        directory_id: body.directory_id,
        config: body.config,
        grants,
        secrets: body.secrets,
        credentials: body.credentials,
        events: body.events,
    };
    let installation = registry::create_installation(&state.store, request)
        .await
        .map_err(registry_error)?;
    Ok((StatusCode::CREATED, Json(installation)))
}

async fn load_installation(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> ApiResult<PluginInstallation> {
    let installation = state
        .store
        .get_plugin_installation(id)
        .await?
        .ok_or_else(|| ApiError::not_found("Plugin installation"))?;
    principal.check_access(&installation.organization_id, "Plugin installation")?;
    Ok(installation)
}

/// Get one installation (secret values are never returned).
#[utoipa::path(get, path = "/api/v1/plugin_installations/{id}", tag = "plugins",
    params(("id" = String, Path, description = "Installation id")),
    responses((status = 200, body = PluginInstallation), (status = 404, body = ErrorBody)))]
async fn get_installation(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<PluginInstallation>> {
    Ok(Json(load_installation(&state, &principal, &id).await?))
}

/// Changes to an installation; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginInstallationUpdate {
    /// Moves the installation to another version of the same plugin
    /// (`plugin_…`, `sha256:…` or `id@version`), keeping its settings,
    /// secrets and state; everything is re-checked against that version.
    #[serde(default)]
    pub plugin: Option<String>,
    /// Replaces the config; validated against the plugin's config schema.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Map<String, Value>>,
    /// Replaces the grants: `{"hosts": [...], "limits": {...}}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub grants: Option<Value>,
    /// Sets secrets (string values) or removes them (`null`); others are kept.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub secrets: Map<String, Value>,
    /// Sets credentials per manifest slot or removes them (`null`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub credentials: Map<String, Value>,
    /// A disabled installation keeps its settings and state but is not run.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Replaces a lifecycle action's event filter (`[]` = every type).
    #[serde(default)]
    pub events: Option<Vec<EventType>>,
}

fn parse_grants(value: Value) -> ApiResult<Grants> {
    serde_json::from_value(value).map_err(|e| ApiError::invalid(format!("grants: {e}")))
}

/// Update an installation: the plugin version, config (re-validated),
/// grants, secrets and credentials (set or remove; sealed at rest), and the
/// enabled flag.
#[utoipa::path(patch, path = "/api/v1/plugin_installations/{id}", tag = "plugins",
    params(("id" = String, Path, description = "Installation id")),
    request_body = PluginInstallationUpdate,
    responses((status = 200, body = PluginInstallation), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_installation(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PluginInstallationUpdate>,
) -> ApiResult<Json<PluginInstallation>> {
    let current = load_installation(&state, &principal, &id).await?;
    let update = InstallationUpdate {
        plugin: body.plugin,
        config: body.config,
        grants: body.grants.map(parse_grants).transpose()?,
        secrets: body.secrets,
        credentials: body.credentials,
        enabled: body.enabled,
        events: body.events,
    };
    let updated = registry::update_installation(&state.store, &current, update)
        .await
        .map_err(registry_error)?;
    Ok(Json(updated))
}

/// Remove an installation and its state.
#[utoipa::path(delete, path = "/api/v1/plugin_installations/{id}", tag = "plugins",
    params(("id" = String, Path, description = "Installation id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_installation(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    load_installation(&state, &principal, &id).await?;
    state.store.delete_plugin_installation(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
