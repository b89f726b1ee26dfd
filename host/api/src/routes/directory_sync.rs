//! `/api/v1/directories/{id}/sync` and `/sync_runs`: run a pull
//! directory's sync now, see its schedule and state, and its runs with
//! their counts, pages, duration and errors.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rollcall_core::Timestamp;
use rollcall_core::directory::Directory;
use rollcall_core::ids::IdKind;
use rollcall_store::{SyncRefusal, SyncRun, SyncStatus, SyncTrigger};
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
        .routes(routes!(sync_status, start_sync))
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Run a full pass even if the connector could continue from its
    /// checkpoint (default false).
    #[serde(default)]
    pub full: bool,
}

/// A directory's sync state.
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectorySyncStatus {
    #[schema(value_type = String, example = "directory_sync")]
    pub object: &'static str,
    pub directory_id: String,
    /// When the schedule queues the next run (`null`: as soon as possible).
    pub next_run_at: Option<Timestamp>,
    /// Whether the connector's incremental checkpoint is stored.
    pub has_checkpoint: bool,
    pub last_full_sync_at: Option<Timestamp>,
    pub last_success_at: Option<Timestamp>,
    /// Why the directory needs an operator (invalid configuration).
    pub attention: Option<String>,
    /// The queued or running run, if any.
    pub current_run: Option<SyncRun>,
    /// The newest run.
    pub last_run: Option<SyncRun>,
}

/// A directory the caller may see (404 otherwise).
async fn load(state: &AppState, principal: &Principal, id: &str) -> ApiResult<Directory> {
    state
        .store
        .get_directory(id)
        .await?
        .filter(|d| principal.can_access(&d.organization_id))
        .ok_or_else(|| ApiError::not_found("Directory"))
}

/// The directory's schedule, checkpoint and the current and last runs.
#[utoipa::path(get, path = "/api/v1/directories/{id}/sync", tag = "directories",
    params(("id" = String, Path, description = "Directory id")),
    responses((status = 200, body = DirectorySyncStatus), (status = 404, body = ErrorBody)))]
async fn sync_status(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<DirectorySyncStatus>> {
    let directory = load(&state, &principal, &id).await?;
    let sync = state.store.directory_sync(&directory.id).await?;
    let newest = state
        .store
        .list_sync_runs(
            &directory.id,
            &rollcall_store::PageRequest {
                limit: 1,
                ..Default::default()
            },
        )
        .await?
        .data
        .into_iter()
        .next();
    let current = newest
        .clone()
        .filter(|r| matches!(r.status, SyncStatus::Queued | SyncStatus::Running));
    Ok(Json(DirectorySyncStatus {
        object: "directory_sync",
        directory_id: directory.id,
        next_run_at: sync.as_ref().and_then(|s| s.next_run_at),
        has_checkpoint: sync.as_ref().is_some_and(|s| s.has_checkpoint),
        last_full_sync_at: sync.as_ref().and_then(|s| s.last_full_sync_at),
        last_success_at: sync.as_ref().and_then(|s| s.last_success_at),
        attention: sync.and_then(|s| s.attention),
        current_run: current,
        last_run: newest,
    }))
}

/// Sync the directory now. Answers the queued run (202); if a run is
/// already queued or running, answers that one (200) — a directory never
/// runs twice at once. `{"full": true}` asks for a full pass.
#[utoipa::path(post, path = "/api/v1/directories/{id}/sync", tag = "directories",
    params(("id" = String, Path, description = "Directory id")),
    request_body(content = SyncRequest, description = "Optional; an empty body is `{}`"),
    responses((status = 202, body = SyncRun, description = "Queued"),
        (status = 200, body = SyncRun, description = "A run was already queued or running"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn start_sync(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SyncRequest>,
) -> ApiResult<(StatusCode, Json<SyncRun>)> {
    let directory = load(&state, &principal, &id).await?;
    match state.store.sync_connector(&directory).await? {
        Ok(_) => {}
        Err(refusal @ SyncRefusal::NotPull(_)) => {
            return Err(ApiError::invalid(refusal.to_string()));
        }
        Err(refusal @ SyncRefusal::Inactive(_)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "directory_inactive",
                refusal.to_string(),
            ));
        }
        Err(refusal @ SyncRefusal::NoConnector) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "no_connector",
                refusal.to_string(),
            ));
        }
    }
    let (run, created) = state
        .store
        .enqueue_sync_run(&directory.id, SyncTrigger::Manual, body.full)
        .await?;
    let status = if created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(run)))
}

/// The directory's sync runs, newest first: status, mode, phase, pages,
/// counts, duration, error. Cursors are run ids.
#[utoipa::path(get, path = "/api/v1/directories/{id}/sync_runs", tag = "directories",
    params(("id" = String, Path, description = "Directory id"), PageParams),
    responses((status = 200, body = ListResponse<SyncRun>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_runs(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<SyncRun>>> {
    query.only(&PAGE_PARAMS)?;
    let directory = load(&state, &principal, &id).await?;
    let page = page_request(&query, IdKind::SyncRun)?;
    Ok(Json(
        state
            .store
            .list_sync_runs(&directory.id, &page)
            .await?
            .into(),
    ))
}

/// One sync run.
#[utoipa::path(get, path = "/api/v1/directories/{id}/sync_runs/{run_id}", tag = "directories",
    params(("id" = String, Path, description = "Directory id"), ("run_id" = String, Path, description = "Sync run id")),
    responses((status = 200, body = SyncRun), (status = 404, body = ErrorBody)))]
async fn get_run(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, run_id)): Path<(String, String)>,
) -> ApiResult<Json<SyncRun>> {
    let directory = load(&state, &principal, &id).await?;
    state
        .store
        .get_sync_run(&run_id)
        .await?
        .filter(|r| r.directory_id == directory.id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Sync run"))
}
