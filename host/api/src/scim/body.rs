//! The SCIM request body: `application/scim+json` or `application/json`
//! (a missing Content-Type is tolerated), a JSON object, within the size
//! limit; every rejection is a SCIM error.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use rollcall_core::scim::error::ScimError;
use serde_json::Value;

use crate::scim::context::route_parts;
use crate::scim::respond::ScimFailure;

pub struct ScimBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = ScimFailure;

    async fn from_request(req: Request, state: &S) -> Result<Self, ScimFailure> {
        let (version, _) = route_parts(req.uri().path());
        let fail = |e: ScimError| ScimFailure::new(e, version);
        // Lenient on input: clients send application/scim+json, application/json,
        // text/json, or nothing; whatever it says, a JSON object is accepted.
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                fail(ScimError::new(
                    413,
                    None,
                    "request body is larger than the configured limit",
                ))
            } else {
                fail(ScimError::invalid_syntax(format!(
                    "could not read the body: {}",
                    e.body_text()
                )))
            }
        })?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| fail(ScimError::invalid_syntax(format!("malformed JSON: {e}"))))?;
        if !value.is_object() {
            return Err(fail(ScimError::invalid_syntax(
                "the body must be a JSON object",
            )));
        }
        Ok(ScimBody(value))
    }
}
