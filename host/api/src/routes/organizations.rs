//! `/api/v1/organizations`: create, list, get, update, delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rollcall_core::ids::IdKind;
use rollcall_core::organization::{NewOrganization, Organization, OrganizationUpdate};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, QueryPairs};
use crate::pagination::{ListResponse, PAGE_PARAMS, PageParams, page_request};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_organizations, create_organization))
        .routes(routes!(
            get_organization,
            update_organization,
            delete_organization
        ))
}

/// List organizations (an organization-scoped key sees only its own).
#[utoipa::path(get, path = "/api/v1/organizations", tag = "organizations",
    params(PageParams),
    responses((status = 200, body = ListResponse<Organization>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_organizations(
    State(state): State<AppState>,
    principal: Principal,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<Organization>>> {
    query.only(&PAGE_PARAMS)?;
    let page = page_request(&query, IdKind::Organization)?;
    let list = state
        .store
        .list_organizations(principal.organization(), &page)
        .await?;
    Ok(Json(list.into()))
}

/// Create an organization (global keys only).
#[utoipa::path(post, path = "/api/v1/organizations", tag = "organizations",
    request_body = NewOrganization,
    responses((status = 201, body = Organization), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_organization(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(new): ApiJson<NewOrganization>,
) -> ApiResult<(StatusCode, Json<Organization>)> {
    principal.require_global("create organizations")?;
    let org = state.store.create_organization(new).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

async fn load(state: &AppState, principal: &Principal, id: &str) -> ApiResult<Organization> {
    let org = state
        .store
        .get_organization(id)
        .await?
        .ok_or_else(|| ApiError::not_found("Organization"))?;
    principal.check_access(&org.id, "Organization")?;
    Ok(org)
}

/// Get one organization.
#[utoipa::path(get, path = "/api/v1/organizations/{id}", tag = "organizations",
    params(("id" = String, Path, description = "Organization id")),
    responses((status = 200, body = Organization), (status = 404, body = ErrorBody)))]
async fn get_organization(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Organization>> {
    Ok(Json(load(&state, &principal, &id).await?))
}

/// Update an organization's name, external id or domains.
#[utoipa::path(patch, path = "/api/v1/organizations/{id}", tag = "organizations",
    params(("id" = String, Path, description = "Organization id")),
    request_body = OrganizationUpdate,
    responses((status = 200, body = Organization), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_organization(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(update): ApiJson<OrganizationUpdate>,
) -> ApiResult<Json<Organization>> {
    load(&state, &principal, &id).await?;
    Ok(Json(state.store.update_organization(&id, update).await?))
}

/// Delete an organization with all its directories (each emits `dsync.deleted`).
#[utoipa::path(delete, path = "/api/v1/organizations/{id}", tag = "organizations",
    params(("id" = String, Path, description = "Organization id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_organization(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    load(&state, &principal, &id).await?;
    principal.require_global("delete organizations")?;
    state.store.delete_organization(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
