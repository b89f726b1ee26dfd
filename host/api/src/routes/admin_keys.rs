//! `/api/v1/admin_keys`: create (answers the key once), list, revoke.
//! A global key manages every key; an organization-scoped key manages only
//! keys of its own organization and cannot mint global ones.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rollcall_store::AdminKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdminKey {
    pub name: String,
    /// Scope the key to this organization; omit for a global key.
    #[serde(default)]
    pub organization_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedAdminKey {
    #[serde(flatten)]
    pub key: AdminKey,
    /// The secret. Store it now; it cannot be shown again.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminKeyList {
    #[schema(value_type = String, example = "list")]
    pub object: &'static str,
    pub data: Vec<AdminKey>,
}

/// List admin keys (never their secrets).
#[utoipa::path(get, path = "/api/v1/admin_keys", tag = "admin keys",
    responses((status = 200, body = AdminKeyList), (status = 401, body = ErrorBody)))]
async fn list_keys(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<AdminKeyList>> {
    Ok(Json(AdminKeyList {
        object: "list",
        data: state
            .store
            .list_admin_keys(principal.organization())
            .await?,
    }))
}

/// Create an admin key.
#[utoipa::path(post, path = "/api/v1/admin_keys", tag = "admin keys",
    request_body = NewAdminKey,
    responses((status = 201, body = CreatedAdminKey), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_key(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(new): ApiJson<NewAdminKey>,
) -> ApiResult<(StatusCode, Json<CreatedAdminKey>)> {
    match (&new.organization_id, principal.organization()) {
        (None, Some(_)) => principal.require_global("create global keys")?,
        (Some(asked), _) => principal.check_access(asked, "Organization")?,
        (None, None) => {}
    }
    let (key, secret) = state
        .store
        .create_admin_key(&new.name, new.organization_id.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedAdminKey { key, secret })))
}

/// Revoke an admin key at once.
#[utoipa::path(delete, path = "/api/v1/admin_keys/{id}", tag = "admin keys",
    params(("id" = String, Path, description = "Admin key id")),
    responses((status = 200, body = AdminKey), (status = 404, body = ErrorBody)))]
async fn revoke_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<AdminKey>> {
    let key = state
        .store
        .get_admin_key(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("Admin key"))?;
    let visible = match (&key.organization_id, principal.organization()) {
        (_, None) => true,
        (Some(org), Some(own)) => org == own,
        (None, Some(_)) => false,
    };
    if !visible {
        return Err(ApiError::not_found("Admin key"));
    }
    Ok(Json(state.store.revoke_admin_key(&id).await?))
}
