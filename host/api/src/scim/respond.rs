//! SCIM responses: bodies as `application/scim+json`, errors as SCIM Error
//! messages (2.0, or 1.1 for `/scim/v1`), with `ETag` and `Location` headers.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rollcall_core::scim::error::ScimError;
use serde_json::Value;

/// SCIM protocol version of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimVersion {
    V2,
    V1,
}

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// A successful SCIM answer.
pub struct ScimReply {
    pub status: StatusCode,
    pub body: Option<Value>,
    pub etag: Option<String>,
    pub location: Option<String>,
}

impl ScimReply {
    pub fn ok(body: Value) -> Self {
        ScimReply {
            status: StatusCode::OK,
            body: Some(body),
            etag: None,
            location: None,
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn with_etag(mut self, etag: String) -> Self {
        self.etag = Some(etag);
        self
    }

    pub fn with_location(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }

    pub fn no_content() -> Self {
        ScimReply {
            status: StatusCode::NO_CONTENT,
            body: None,
            etag: None,
            location: None,
        }
    }

    pub fn not_modified(etag: String) -> Self {
        ScimReply {
            status: StatusCode::NOT_MODIFIED,
            body: None,
            etag: Some(etag),
            location: None,
        }
    }
}

impl IntoResponse for ScimReply {
    fn into_response(self) -> Response {
        let mut headers = HeaderMap::new();
        if let Some(etag) = self.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
            headers.insert(header::ETAG, etag);
        }
        if let Some(loc) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(header::LOCATION, loc);
        }
        match self.body {
            Some(body) => {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(SCIM_CONTENT_TYPE),
                );
                (self.status, headers, body.to_string()).into_response()
            }
            None => (self.status, headers).into_response(),
        }
    }
}

/// A SCIM failure, rendered for the endpoint's protocol version.
#[derive(Debug)]
pub struct ScimFailure {
    pub error: ScimError,
    pub version: ScimVersion,
    /// Seconds for `Retry-After` (429).
    pub retry_after: Option<u64>,
}

impl ScimFailure {
    pub fn new(error: ScimError, version: ScimVersion) -> Self {
        ScimFailure {
            error,
            version,
            retry_after: None,
        }
    }
}

impl IntoResponse for ScimFailure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.error.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = match self.version {
            ScimVersion::V2 => self.error.to_json(),
            ScimVersion::V1 => rollcall_core::scim::v1::error_to_v1(&self.error),
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_CONTENT_TYPE),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"rollcall-scim\""),
            );
        }
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        (status, headers, body.to_string()).into_response()
    }
}

pub type ScimResult<T = ScimReply> = Result<T, ScimFailure>;

/// Maps a storage error to its SCIM meaning.
pub fn store_error(e: rollcall_store::StoreError) -> ScimError {
    use rollcall_store::StoreError;
    match e {
        StoreError::NotFound(what) => ScimError::not_found(format!("{what} not found")),
        StoreError::Conflict(m) => ScimError::uniqueness(m),
        StoreError::Invalid(m) => ScimError::invalid_value(m),
        StoreError::VersionMismatch { .. } => ScimError::new(
            412,
            None,
            "the resource changed: its version does not match If-Match",
        ),
        other => {
            tracing::error!(error = %other, "storage failure during SCIM request");
            ScimError::new(500, None, "internal error; see the server log")
        }
    }
}
