//! Admin API authentication and tenant scoping.
//!
//! `Authorization: Bearer <admin key>`. A missing or unknown key is 401; a
//! key that is valid but may not do this kind of thing is 403; an object in
//! another organization is 404, exactly as if it did not exist, so a scoped
//! key cannot even learn which ids exist elsewhere.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use rollcall_store::{AdminKey, AdminKeyScope};

use crate::AppState;
use crate::error::ApiError;

/// Who is calling: the authenticated admin key.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key: AdminKey,
}

impl Principal {
    /// The organization the key is confined to, if any.
    pub fn organization(&self) -> Option<&str> {
        self.key.organization_id.as_deref()
    }

    pub fn is_global(&self) -> bool {
        self.key.scope() == AdminKeyScope::Global
    }

    /// May this key see objects of `organization_id`?
    pub fn can_access(&self, organization_id: &str) -> bool {
        self.organization().is_none_or(|own| own == organization_id)
    }

    /// `Ok` when the key may see `organization_id`, else 404 for `what`.
    pub fn check_access(&self, organization_id: &str, what: &str) -> Result<(), ApiError> {
        if self.can_access(organization_id) {
            Ok(())
        } else {
            Err(ApiError::not_found(what))
        }
    }

    /// Only global keys may do this.
    pub fn require_global(&self, action: &str) -> Result<(), ApiError> {
        if self.is_global() {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "an organization-scoped key cannot {action}"
            )))
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <admin key>"))?;
        let value = header
            .to_str()
            .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
        let presented = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| ApiError::unauthorized("expected Authorization: Bearer <admin key>"))?;
        let key = state
            .store
            .authenticate_admin_key(presented)
            .await?
            .ok_or_else(|| ApiError::unauthorized("invalid or revoked admin key"))?;
        let span = tracing::Span::current();
        span.record("admin_key", key.id.as_str());
        if let Some(org) = &key.organization_id {
            span.record("organization_id", org.as_str());
        }
        Ok(Principal { key })
    }
}
