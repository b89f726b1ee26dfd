//! `/api/v1/directory_groups`: list (by directory or member) and get one.

use axum::Json;
use axum::extract::{Path, State};
use rollcall_core::directory_group::DirectoryGroup;
use rollcall_core::ids::IdKind;
use rollcall_store::GroupFilter;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::QueryPairs;
use crate::pagination::{ListResponse, PAGE_PARAMS, PageParams, page_request};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups))
        .routes(routes!(get_group))
}

/// A group the caller may see, or 404.
pub(crate) async fn load(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> ApiResult<DirectoryGroup> {
    let group = state
        .store
        .get_group(id)
        .await?
        .ok_or_else(|| ApiError::not_found("Directory group"))?;
    principal.check_access(&group.organization_id, "Directory group")?;
    Ok(group)
}

/// List directory groups. One of `directory` or `user` is required.
#[utoipa::path(get, path = "/api/v1/directory_groups", tag = "directory groups",
    params(PageParams,
        ("directory" = Option<String>, Query, description = "Directory id"),
        ("user" = Option<String>, Query, description = "Only groups this directory user belongs to")),
    responses((status = 200, body = ListResponse<DirectoryGroup>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_groups(
    State(state): State<AppState>,
    principal: Principal,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<DirectoryGroup>>> {
    query.only(&[&PAGE_PARAMS[..], &["directory", "user"]].concat())?;
    let page = page_request(&query, IdKind::DirectoryGroup)?;
    let directory = query.one("directory")?.filter(|v| !v.is_empty());
    let user = query.one("user")?.filter(|v| !v.is_empty());
    if directory.is_none() && user.is_none() {
        return Err(ApiError::invalid(
            "one of 'directory' or 'user' is required",
        ));
    }
    if let Some(id) = directory {
        crate::routes::directories::load(&state, &principal, id).await?;
    }
    if let Some(id) = user {
        let u = state
            .store
            .get_user(id)
            .await?
            .ok_or_else(|| ApiError::not_found("Directory user"))?;
        principal.check_access(&u.organization_id, "Directory user")?;
    }
    let filter = GroupFilter {
        directory_id: directory.map(str::to_owned),
        user_id: user.map(str::to_owned),
        organization_id: principal.organization().map(str::to_owned),
    };
    Ok(Json(state.store.list_groups(&filter, &page).await?.into()))
}

/// Get one directory group.
#[utoipa::path(get, path = "/api/v1/directory_groups/{id}", tag = "directory groups",
    params(("id" = String, Path, description = "Directory group id")),
    responses((status = 200, body = DirectoryGroup), (status = 404, body = ErrorBody)))]
async fn get_group(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<DirectoryGroup>> {
    Ok(Json(load(&state, &principal, &id).await?))
}
