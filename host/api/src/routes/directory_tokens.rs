//! `/api/v1/directories/{id}/tokens`: rotate (with an optional grace period
//! for the old token), list, and revoke SCIM bearer tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rollcall_core::directory::Ingress;
use rollcall_store::{MAX_GRACE_SECONDS, ScimToken};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::routes::directories::load;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, rotate_token))
        .routes(routes!(revoke_token))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateToken {
    /// How long the current token(s) keep working, in seconds (0 = revoke
    /// now, the default; at most 30 days).
    #[serde(default)]
    pub grace_period_seconds: Option<i64>,
}

/// A newly issued token: shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedScimToken {
    #[serde(flatten)]
    pub details: ScimToken,
    /// The bearer token. Store it now; it cannot be shown again.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    #[schema(value_type = String, example = "list")]
    pub object: &'static str,
    pub data: Vec<ScimToken>,
}

/// List a directory's SCIM tokens (never their values).
#[utoipa::path(get, path = "/api/v1/directories/{id}/tokens", tag = "directories",
    params(("id" = String, Path, description = "Directory id")),
    responses((status = 200, body = TokenList), (status = 404, body = ErrorBody)))]
async fn list_tokens(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenList>> {
    load(&state, &principal, &id).await?;
    Ok(Json(TokenList {
        object: "list",
        data: state.store.list_scim_tokens(&id).await?,
    }))
}

/// Issue a new SCIM token. The old ones stop at once, or after
/// `grace_period_seconds`. Emits `dsync.token.created` (and
/// `dsync.token.revoked` for each old token).
#[utoipa::path(post, path = "/api/v1/directories/{id}/tokens", tag = "directories",
    params(("id" = String, Path, description = "Directory id")),
    request_body = RotateToken,
    responses((status = 201, body = IssuedScimToken), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rotate_token(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RotateToken>,
) -> ApiResult<(StatusCode, Json<IssuedScimToken>)> {
    let directory = load(&state, &principal, &id).await?;
    if directory.directory_type.ingress() != Ingress::ScimPush {
        return Err(ApiError::invalid(format!(
            "directories of type '{}' do not use SCIM tokens",
            directory.directory_type
        )));
    }
    if let Some(g) = body.grace_period_seconds
        && !(0..=MAX_GRACE_SECONDS).contains(&g)
    {
        return Err(ApiError::invalid(format!(
            "grace_period_seconds must be between 0 and {MAX_GRACE_SECONDS}"
        )));
    }
    let (issued, token) = state
        .store
        .rotate_scim_token(&id, body.grace_period_seconds)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedScimToken {
            details: issued,
            token,
        }),
    ))
}

/// Revoke one SCIM token now. Emits `dsync.token.revoked`.
#[utoipa::path(delete, path = "/api/v1/directories/{id}/tokens/{token_id}", tag = "directories",
    params(("id" = String, Path, description = "Directory id"), ("token_id" = String, Path, description = "Token id")),
    responses((status = 200, body = ScimToken), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, token_id)): Path<(String, String)>,
) -> ApiResult<Json<ScimToken>> {
    load(&state, &principal, &id).await?;
    Ok(Json(state.store.revoke_scim_token(&id, &token_id).await?))
}
