//! Shared plumbing of the Users and Groups endpoints: loading a resource of
//! this directory, ETags and preconditions, `meta`, and list responses.

use axum::http::HeaderMap;
use axum::http::header;
use rollcall_core::Timestamp;
use rollcall_core::scim::error::ScimError;
use rollcall_core::scim::render::Meta;
use rollcall_core::scim::resource::ResourceKind;
use serde_json::{Value, json};

use crate::scim::context::ScimContext;

pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// How many times a write that lost an optimistic-concurrency race is
/// re-read and re-applied before giving up.
pub const WRITE_RETRIES: usize = 5;

pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

pub fn endpoint(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "Users",
        ResourceKind::Group => "Groups",
    }
}

pub fn meta(
    ctx: &ScimContext,
    kind: ResourceKind,
    id: &str,
    created: Timestamp,
    modified: Timestamp,
    version: i64,
) -> Meta {
    Meta {
        resource_type: match kind {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        },
        created: created.to_rfc3339(),
        last_modified: modified.to_rfc3339(),
        location: ctx.location(endpoint(kind), id),
        version: etag(version),
    }
}

/// The view a filter is evaluated against: the stored resource plus `id`
/// and `meta` timestamps.
pub fn filter_view(
    stored: &serde_json::Map<String, Value>,
    id: &str,
    created: Timestamp,
    modified: Timestamp,
    resource_type: &str,
) -> Value {
    let mut view = stored.clone();
    view.insert("id".into(), Value::String(id.to_owned()));
    view.insert(
        "meta".into(),
        json!({"resourceType": resource_type, "created": created.to_rfc3339(), "lastModified": modified.to_rfc3339()}),
    );
    Value::Object(view)
}

fn header_tags(headers: &HeaderMap, name: header::HeaderName) -> Option<Vec<String>> {
    let raw = headers.get(name)?.to_str().ok()?;
    Some(
        raw.split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect(),
    )
}

/// Weak comparison: `W/"3"` matches `"3"` and `W/"3"`.
fn same_tag(a: &str, b: &str) -> bool {
    a.trim_start_matches("W/") == b.trim_start_matches("W/")
}

/// `If-Match` on writes: 412 when the client's version is stale.
pub fn check_if_match(headers: &HeaderMap, version: i64) -> Result<Option<i64>, ScimError> {
    let Some(tags) = header_tags(headers, header::IF_MATCH) else {
        return Ok(None);
    };
    let current = etag(version);
    if tags.iter().any(|t| t == "*" || same_tag(t, &current)) {
        Ok(Some(version))
    } else {
        Err(ScimError::new(
            412,
            None,
            format!("If-Match does not match the current version {current}"),
        ))
    }
}

/// `If-None-Match` on reads: true when the client already has this version.
pub fn not_modified(headers: &HeaderMap, version: i64) -> bool {
    let current = etag(version);
    header_tags(headers, header::IF_NONE_MATCH)
        .is_some_and(|tags| tags.iter().any(|t| t == "*" || same_tag(t, &current)))
}

pub fn list_response(total: u64, start_index: u64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// The reply for one rendered resource: its ETag, and `Location` on 201.
pub fn resource_reply(
    ctx: &ScimContext,
    kind: ResourceKind,
    id: &str,
    version: i64,
    body: Value,
    status: axum::http::StatusCode,
) -> crate::scim::respond::ScimReply {
    let mut r = crate::scim::respond::ScimReply::ok(body)
        .with_status(status)
        .with_etag(etag(version));
    if status == axum::http::StatusCode::CREATED {
        r = r.with_location(ctx.location(endpoint(kind), id));
    }
    r
}
