//! `/api/v1/directory_users`: list (by directory or group, optionally by
//! state) and get one with its groups.

use axum::Json;
use axum::extract::{Path, State};
use rollcall_core::directory_user::{DirectoryUser, UserState};
use rollcall_core::ids::IdKind;
use rollcall_store::UserFilter;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::QueryPairs;
use crate::pagination::{ListResponse, PAGE_PARAMS, PageParams, page_request};
use crate::routes::directory_groups;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(get_user))
}

/// List directory users. One of `directory` or `group` is required.
#[utoipa::path(get, path = "/api/v1/directory_users", tag = "directory users",
    params(PageParams,
        ("directory" = Option<String>, Query, description = "Directory id"),
        ("group" = Option<String>, Query, description = "Only members of this group"),
        ("state" = Option<String>, Query, description = "`active` or `inactive`")),
    responses((status = 200, body = ListResponse<DirectoryUser>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_users(
    State(state): State<AppState>,
    principal: Principal,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<DirectoryUser>>> {
    query.only(&[&PAGE_PARAMS[..], &["directory", "group", "state"]].concat())?;
    let page = page_request(&query, IdKind::DirectoryUser)?;
    let directory = query.one("directory")?.filter(|v| !v.is_empty());
    let group = query.one("group")?.filter(|v| !v.is_empty());
    if directory.is_none() && group.is_none() {
        return Err(ApiError::invalid(
            "one of 'directory' or 'group' is required",
        ));
    }
    if let Some(id) = directory {
        crate::routes::directories::load(&state, &principal, id).await?;
    }
    if let Some(id) = group {
        directory_groups::load(&state, &principal, id).await?;
    }
    let user_state = match query.one("state")? {
        None => None,
        Some(s) => Some(
            UserState::parse(s)
                .ok_or_else(|| ApiError::invalid("state must be 'active' or 'inactive'"))?,
        ),
    };
    let filter = UserFilter {
        directory_id: directory.map(str::to_owned),
        group_id: group.map(str::to_owned),
        state: user_state,
        organization_id: principal.organization().map(str::to_owned),
    };
    Ok(Json(state.store.list_users(&filter, &page).await?.into()))
}

/// Get one directory user with its groups.
#[utoipa::path(get, path = "/api/v1/directory_users/{id}", tag = "directory users",
    params(("id" = String, Path, description = "Directory user id")),
    responses((status = 200, body = DirectoryUser), (status = 404, body = ErrorBody)))]
async fn get_user(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<DirectoryUser>> {
    let user = state
        .store
        .get_user(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("Directory user"))?;
    principal.check_access(&user.organization_id, "Directory user")?;
    Ok(Json(user))
}
