//! `/api/v1/directories`: create (answers the SCIM endpoint and its token
//! once), list, get, update, delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rollcall_core::directory::{Directory, DirectoryUpdate, Ingress, NewDirectory};
use rollcall_core::ids::IdKind;
use serde::Serialize;
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
        .routes(routes!(list_directories, create_directory))
        .routes(routes!(get_directory, update_directory, delete_directory))
}

/// Where a SCIM client sends its requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScimEndpoint {
    /// SCIM 2.0 base URL.
    pub url: String,
    /// SCIM 1.1 base URL.
    pub v1_url: String,
    /// The bearer token; present only in the response that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// A directory as the API returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryView {
    #[serde(flatten)]
    pub directory: Directory,
    /// For SCIM directories: the endpoint (and, on creation, the token).
    pub scim: Option<ScimEndpoint>,
}

/// The API shape of a directory; `token` only right after it was issued.
pub fn view(public_url: &str, directory: Directory, token: Option<String>) -> DirectoryView {
    let scim = (directory.directory_type.ingress() == Ingress::ScimPush).then(|| {
        let base = public_url.trim_end_matches('/');
        ScimEndpoint {
            url: format!("{base}/scim/v2/{}", directory.id),
            v1_url: format!("{base}/scim/v1/{}", directory.id),
            token,
        }
    });
    DirectoryView { directory, scim }
}

/// A directory the caller may see, or 404.
pub(crate) async fn load(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> ApiResult<Directory> {
    let directory = state
        .store
        .get_directory(id)
        .await?
        .ok_or_else(|| ApiError::not_found("Directory"))?;
    principal.check_access(&directory.organization_id, "Directory")?;
    tracing::Span::current().record("directory_id", directory.id.as_str());
    Ok(directory)
}

/// List directories, optionally of one organization.
#[utoipa::path(get, path = "/api/v1/directories", tag = "directories",
    params(PageParams, ("organization_id" = Option<String>, Query, description = "Only this organization's directories")),
    responses((status = 200, body = ListResponse<DirectoryView>), (status = 400, body = ErrorBody)))]
async fn list_directories(
    State(state): State<AppState>,
    principal: Principal,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<DirectoryView>>> {
    query.only(&[&PAGE_PARAMS[..], &["organization_id"]].concat())?;
    let page = page_request(&query, IdKind::Directory)?;
    let org = match (query.one("organization_id")?, principal.organization()) {
        (Some(asked), _) => {
            principal.check_access(asked, "Organization")?;
            Some(asked)
        }
        (None, own) => own,
    };
    let list = state.store.list_directories(org, &page).await?;
    Ok(Json(
        list.map(|d| view(&state.config.public_url, d, None)).into(),
    ))
}

/// Create a directory. For SCIM types the response carries `scim.url`,
/// `scim.v1_url` and `scim.token`; the token is never shown again.
#[utoipa::path(post, path = "/api/v1/directories", tag = "directories",
    request_body = NewDirectory,
    responses((status = 201, body = DirectoryView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_directory(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(new): ApiJson<NewDirectory>,
) -> ApiResult<(StatusCode, Json<DirectoryView>)> {
    principal.check_access(&new.organization_id, "Organization")?;
    let created = state.store.create_directory(new).await?;
    let token = created.token.map(|(_, plaintext)| plaintext);
    Ok((
        StatusCode::CREATED,
        Json(view(&state.config.public_url, created.directory, token)),
    ))
}

/// Get one directory.
#[utoipa::path(get, path = "/api/v1/directories/{id}", tag = "directories",
    params(("id" = String, Path, description = "Directory id")),
    responses((status = 200, body = DirectoryView), (status = 404, body = ErrorBody)))]
async fn get_directory(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<DirectoryView>> {
    let directory = load(&state, &principal, &id).await?;
    Ok(Json(view(&state.config.public_url, directory, None)))
}

/// Update name, domain, settings, secrets, or set the state to `active` /
/// `inactive` (emits `dsync.activated` / `dsync.deactivated`).
#[utoipa::path(patch, path = "/api/v1/directories/{id}", tag = "directories",
    params(("id" = String, Path, description = "Directory id")),
    request_body = DirectoryUpdate,
    responses((status = 200, body = DirectoryView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_directory(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(update): ApiJson<DirectoryUpdate>,
) -> ApiResult<Json<DirectoryView>> {
    load(&state, &principal, &id).await?;
    let directory = state.store.update_directory(&id, update).await?;
    Ok(Json(view(&state.config.public_url, directory, None)))
}

/// Delete a directory with its users, groups and tokens. Emits `dsync.deleted` only.
#[utoipa::path(delete, path = "/api/v1/directories/{id}", tag = "directories",
    params(("id" = String, Path, description = "Directory id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_directory(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    load(&state, &principal, &id).await?;
    state.store.delete_directory(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
