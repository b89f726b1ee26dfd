//! Operator views of a directory's SCIM side: its request log
//! (`/scim_requests`) and its custom extension schemas (`/scim_schemas`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rollcall_core::scim::schema::Schema;
use rollcall_store::{ScimRequestLog, StoredScimSchema};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, QueryPairs};
use crate::routes::directories::load;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_requests))
        .routes(routes!(list_schemas, put_schema))
        .routes(routes!(delete_schema))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScimRequestList {
    #[schema(value_type = String, example = "list")]
    pub object: &'static str,
    /// Newest first.
    pub data: Vec<ScimRequestLog>,
}

/// The directory's most recent SCIM requests and responses (passwords and
/// secrets redacted, bodies truncated to 8 KiB), newest first.
#[utoipa::path(get, path = "/api/v1/directories/{id}/scim_requests", tag = "directories",
    params(("id" = String, Path, description = "Directory id"), ("limit" = Option<u32>, Query, description = "1 to 1000, default 50")),
    responses((status = 200, body = ScimRequestList), (status = 404, body = ErrorBody)))]
async fn list_requests(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    query: QueryPairs,
) -> ApiResult<Json<ScimRequestList>> {
    query.only(&["limit"])?;
    load(&state, &principal, &id).await?;
    let limit = match query.one("limit")? {
        None => 50,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::invalid("limit must be an integer from 1 to 1000"))?,
    };
    Ok(Json(ScimRequestList {
        object: "list",
        data: state.store.list_scim_requests(&id, limit).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScimSchema {
    /// `User` or `Group`: which resources the extension applies to.
    pub resource_type: String,
    /// The schema in RFC 7643 §7 form (`id` is its URN, `attributes`).
    #[schema(value_type = Object)]
    pub schema: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScimSchemaView {
    pub urn: String,
    pub resource_type: String,
    #[schema(value_type = Object)]
    pub schema: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScimSchemaList {
    #[schema(value_type = String, example = "list")]
    pub object: &'static str,
    pub data: Vec<ScimSchemaView>,
}

fn view(s: StoredScimSchema) -> ScimSchemaView {
    ScimSchemaView {
        urn: s.urn,
        resource_type: s.resource_type,
        schema: s.definition,
    }
}

/// The directory's custom SCIM extension schemas.
#[utoipa::path(get, path = "/api/v1/directories/{id}/scim_schemas", tag = "directories",
    params(("id" = String, Path, description = "Directory id")),
    responses((status = 200, body = ScimSchemaList), (status = 404, body = ErrorBody)))]
async fn list_schemas(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<ScimSchemaList>> {
    load(&state, &principal, &id).await?;
    let data = state
        .store
        .list_scim_schemas(&id)
        .await?
        .into_iter()
        .map(view)
        .collect();
    Ok(Json(ScimSchemaList {
        object: "list",
        data,
    }))
}

/// Adds or replaces a custom extension schema (keyed by its URN), so an
/// IdP's custom attributes (e.g. Okta profile extensions, Entra directory
/// extensions) validate and round-trip through SCIM.
#[utoipa::path(post, path = "/api/v1/directories/{id}/scim_schemas", tag = "directories",
    params(("id" = String, Path, description = "Directory id")),
    request_body = NewScimSchema,
    responses((status = 201, body = ScimSchemaView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn put_schema(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewScimSchema>,
) -> ApiResult<(StatusCode, Json<ScimSchemaView>)> {
    load(&state, &principal, &id).await?;
    let resource_type = match body.resource_type.as_str() {
        "User" | "user" => "User",
        "Group" | "group" => "Group",
        other => {
            return Err(ApiError::invalid(format!(
                "resource_type must be User or Group, not '{other}'"
            )));
        }
    };
    let schema = Schema::from_custom_json(&body.schema)
        .map_err(|e| ApiError::invalid(format!("schema: {e}")))?;
    let stored = StoredScimSchema {
        urn: schema.id.clone(),
        resource_type: resource_type.to_owned(),
        definition: serde_json::to_value(&schema).map_err(|_| ApiError::internal())?,
    };
    state.store.put_scim_schema(&id, stored.clone()).await?;
    Ok((StatusCode::CREATED, Json(view(stored))))
}

/// Removes a custom extension schema. Stored values stay in the users'
/// raw attributes but no longer validate or render as an extension.
#[utoipa::path(delete, path = "/api/v1/directories/{id}/scim_schemas/{urn}", tag = "directories",
    params(("id" = String, Path, description = "Directory id"), ("urn" = String, Path, description = "Schema URN")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_schema(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, urn)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    load(&state, &principal, &id).await?;
    state.store.delete_scim_schema(&id, &urn).await?;
    Ok(StatusCode::NO_CONTENT)
}
