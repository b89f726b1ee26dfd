//! `/api/v1/plugin_installations/{id}/executions`: the execution log of a
//! lifecycle installation (one entry per event it ran on, with every
//! attempt), retry of one event and replay from an event on.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rollcall_core::ids::IdKind;
use rollcall_store::{ExecutionState, LifecycleExecution, PluginInstallation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, QueryPairs};
use crate::pagination::{ListResponse, PAGE_PARAMS, PageParams, page_request};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_executions))
        .routes(routes!(get_execution))
        .routes(routes!(retry_execution))
        .routes(routes!(replay))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleReplay {
    /// Run this event and every later one the installation wants again.
    pub from_event_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LifecycleReplayResult {
    #[schema(value_type = String, example = "lifecycle_replay")]
    pub object: &'static str,
    /// Executions scheduled.
    pub scheduled: u64,
}

/// A lifecycle installation the caller may see (404 otherwise).
async fn load(state: &AppState, principal: &Principal, id: &str) -> ApiResult<PluginInstallation> {
    let installation = state
        .store
        .get_plugin_installation(id)
        .await?
        .filter(|i| principal.can_access(&i.organization_id))
        .ok_or_else(|| ApiError::not_found("Plugin installation"))?;
    if installation.kind != "lifecycle" {
        return Err(ApiError::invalid(
            "this installation is a connector; only lifecycle actions run on events",
        ));
    }
    Ok(installation)
}

/// The installation's executions, newest event first: state, attempts,
/// the plugin's detail or last error. Cursors are event ids.
#[utoipa::path(get, path = "/api/v1/plugin_installations/{id}/executions", tag = "plugins",
    params(("id" = String, Path, description = "Plugin installation id"), PageParams,
        ("state" = Option<String>, Query, description = "pending, completed, skipped or dead")),
    responses((status = 200, body = ListResponse<LifecycleExecution>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_executions(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<LifecycleExecution>>> {
    query.only(&[&PAGE_PARAMS[..], &["state"]].concat())?;
    load(&state, &principal, &id).await?;
    let page = page_request(&query, IdKind::Event)?;
    let wanted = match query.one("state")? {
        None => None,
        Some(s) => Some(ExecutionState::parse(s).ok_or_else(|| {
            ApiError::invalid("state must be pending, completed, skipped or dead")
        })?),
    };
    Ok(Json(
        state
            .store
            .list_lifecycle_executions(&id, wanted, &page)
            .await?
            .into(),
    ))
}

/// One execution with every attempt (outcome, duration, detail).
#[utoipa::path(get, path = "/api/v1/plugin_installations/{id}/executions/{event_id}", tag = "plugins",
    params(("id" = String, Path, description = "Plugin installation id"), ("event_id" = String, Path, description = "Event id")),
    responses((status = 200, body = LifecycleExecution), (status = 404, body = ErrorBody)))]
async fn get_execution(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, event_id)): Path<(String, String)>,
) -> ApiResult<Json<LifecycleExecution>> {
    load(&state, &principal, &id).await?;
    state
        .store
        .get_lifecycle_execution(&id, &event_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Lifecycle execution"))
}

/// Run one event through the installation again, now (a dead execution
/// gets a fresh retry schedule). Later events of the same user wait for it.
#[utoipa::path(post, path = "/api/v1/plugin_installations/{id}/executions/{event_id}/retry", tag = "plugins",
    params(("id" = String, Path, description = "Plugin installation id"), ("event_id" = String, Path, description = "Event id")),
    responses((status = 202, body = LifecycleExecution), (status = 404, body = ErrorBody)))]
async fn retry_execution(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, event_id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<LifecycleExecution>)> {
    load(&state, &principal, &id).await?;
    let execution = state
        .store
        .retry_lifecycle_execution(&id, &event_id)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(execution)))
}

/// Run every wanted event from `from_event_id` on through the installation again.
#[utoipa::path(post, path = "/api/v1/plugin_installations/{id}/replay", tag = "plugins",
    params(("id" = String, Path, description = "Plugin installation id")),
    request_body = LifecycleReplay,
    responses((status = 202, body = LifecycleReplayResult), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn replay(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<LifecycleReplay>,
) -> ApiResult<(StatusCode, Json<LifecycleReplayResult>)> {
    load(&state, &principal, &id).await?;
    let scheduled = state
        .store
        .replay_lifecycle_events(&id, &body.from_event_id)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(LifecycleReplayResult {
            object: "lifecycle_replay",
            scheduled,
        }),
    ))
}
