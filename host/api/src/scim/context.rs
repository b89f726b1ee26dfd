//! Who is calling a SCIM endpoint: the directory its bearer token opens,
//! the dialect it speaks, and the directory's schemas (cached until the
//! directory changes). The token → directory answer is cached by the store
//! for at most two seconds (see `rollcall_store::scim_auth`).
//!
//! A token opens exactly one directory; a request whose path names another
//! directory is refused as unauthenticated, so ids of other directories can
//! never be probed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use rollcall_core::Timestamp;
use rollcall_core::directory::{Directory, DirectoryState, DirectoryType, Ingress};
use rollcall_core::scim::dialect::{self, Dialect};
use rollcall_core::scim::error::ScimError;
use rollcall_core::scim::schema::{ResourceSchema, Schema};

use crate::AppState;
use crate::scim::respond::{ScimFailure, ScimVersion, store_error};

/// The schemas in force for one directory.
#[derive(Debug)]
pub struct DirectorySchemas {
    pub users: ResourceSchema,
    pub groups: ResourceSchema,
    /// The directory's custom extension schemas (also inside `users`/`groups`).
    pub custom: Vec<Schema>,
}

/// Cache of [`DirectorySchemas`], keyed by directory and valid while the
/// directory's `updated_at` is unchanged (changing a custom schema bumps it).
#[derive(Default)]
pub struct SchemaCache {
    entries: Mutex<HashMap<String, (Timestamp, Arc<DirectorySchemas>)>>,
}

impl SchemaCache {
    fn get(&self, directory: &Directory) -> Option<Arc<DirectorySchemas>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&directory.id)
            .filter(|(at, _)| *at == directory.updated_at)
            .map(|(_, s)| s.clone())
    }

    fn put(&self, directory: &Directory, schemas: Arc<DirectorySchemas>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() > 10_000 {
            entries.clear();
        }
        entries.insert(directory.id.clone(), (directory.updated_at, schemas));
    }
}

/// The authenticated SCIM caller.
pub struct ScimContext {
    pub directory: Directory,
    pub version: ScimVersion,
    pub dialect: Dialect,
    pub schemas: Arc<DirectorySchemas>,
    /// The SCIM base URL of this directory, e.g. `https://host/scim/v2/directory_…`.
    pub base_url: String,
}

impl ScimContext {
    pub fn fail(&self, error: ScimError) -> ScimFailure {
        ScimFailure::new(error, self.version)
    }

    pub fn location(&self, endpoint: &str, id: &str) -> String {
        format!("{}/{endpoint}/{id}", self.base_url)
    }
}

/// The protocol version and directory id from `/scim/v{1,2}/{directory_id}/…`.
pub fn route_parts(path: &str) -> (ScimVersion, Option<&str>) {
    let mut segments = path.trim_start_matches('/').split('/');
    let _scim = segments.next();
    let version = match segments.next() {
        Some("v1") => ScimVersion::V1,
        _ => ScimVersion::V2,
    };
    (version, segments.next().filter(|s| !s.is_empty()))
}

async fn load_schemas(
    state: &AppState,
    directory: &Directory,
) -> Result<Arc<DirectorySchemas>, ScimError> {
    if let Some(s) = state.scim.schemas.get(directory) {
        return Ok(s);
    }
    let stored = state
        .store
        .list_scim_schemas(&directory.id)
        .await
        .map_err(store_error)?;
    let mut user_ext = Vec::new();
    let mut group_ext = Vec::new();
    let mut custom = Vec::new();
    for s in stored {
        // Stored schemas were validated when they were saved.
        let Ok(schema) = Schema::from_custom_json(&s.definition) else {
            continue;
        };
        if s.resource_type == "Group" {
            group_ext.push(schema.clone());
        } else {
            user_ext.push(schema.clone());
        }
        custom.push(schema);
    }
    let schemas = Arc::new(DirectorySchemas {
        users: ResourceSchema::user(user_ext),
        groups: ResourceSchema::group(group_ext),
        custom,
    });
    state.scim.schemas.put(directory, schemas.clone());
    Ok(schemas)
}

impl FromRequestParts<AppState> for ScimContext {
    type Rejection = ScimFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimFailure> {
        let (version, directory_id) = route_parts(parts.uri.path());
        let fail = |e: ScimError| ScimFailure::new(e, version);
        let unauthorized = || fail(ScimError::new(401, None, "missing or invalid bearer token"));
        let directory_id =
            directory_id.ok_or_else(|| fail(ScimError::not_found("no directory in the path")))?;
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(unauthorized)?;
        let directory = state
            .store
            .authenticate_scim(presented)
            .await
            .map_err(|e| fail(store_error(e)))?
            .ok_or_else(unauthorized)?;
        if directory.id != directory_id {
            return Err(unauthorized());
        }
        let span = tracing::Span::current();
        span.record("directory_id", directory_id);
        span.record("organization_id", directory.organization_id.as_str());
        if directory.directory_type.ingress() != Ingress::ScimPush {
            return Err(fail(ScimError::not_found(
                "this directory does not accept SCIM",
            )));
        }
        if directory.state != DirectoryState::Active {
            return Err(fail(ScimError::new(
                403,
                None,
                format!(
                    "directory is {}; activate it to accept SCIM requests",
                    directory.state.as_str()
                ),
            )));
        }
        let expects_v1 = matches!(
            directory.directory_type,
            DirectoryType::GenericScimV1 | DirectoryType::OktaScimV1
        );
        if expects_v1 != (version == ScimVersion::V1) && matches!(version, ScimVersion::V1) {
            return Err(fail(ScimError::not_found(
                "SCIM 1.1 is served for generic-scim-v1 and okta-scim-v1 directories",
            )));
        }
        if let Some(wait) = state.scim.rate_limiter.check(&directory.id) {
            let mut failure = fail(ScimError::new(429, None, "too many requests; slow down"));
            failure.retry_after = Some(wait);
            return Err(failure);
        }
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let dialect = dialect::detect(
            directory.directory_type.as_str(),
            user_agent,
            parts.uri.query(),
        );
        let schemas = load_schemas(state, &directory).await.map_err(fail)?;
        let segment = if version == ScimVersion::V1 {
            "v1"
        } else {
            "v2"
        };
        let base_url = format!(
            "{}/scim/{segment}/{}",
            state.config.public_url.trim_end_matches('/'),
            directory.id
        );
        Ok(ScimContext {
            directory,
            version,
            dialect,
            schemas,
            base_url,
        })
    }
}
