//! `POST /Bulk` (RFC 7644 §3.7): many operations in one request, run in
//! order through the same code as the single endpoints. `bulkId:` references
//! in later operations (paths and values, e.g. group members) resolve to the
//! ids created earlier; `failOnErrors` stops after that many failures.
//! Limits (`maxOperations`, `maxPayloadSize`) are advertised in
//! `/ServiceProviderConfig` and answered with 413 when exceeded.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use rollcall_core::scim::error::ScimError;
use rollcall_core::scim::render::Projection;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::scim::body::ScimBody;
use crate::scim::context::ScimContext;
use crate::scim::respond::{ScimReply, ScimResult};
use crate::scim::{groups, users};

pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Replaces every `bulkId:<id>` string (whole value) with the created id.
fn resolve(value: &mut Value, ids: &HashMap<String, String>) -> Result<(), ScimError> {
    match value {
        Value::String(s) => {
            if let Some(reference) = s.strip_prefix("bulkId:") {
                let id = ids.get(reference).ok_or_else(|| {
                    ScimError::new(
                        409,
                        Some(rollcall_core::scim::error::ScimType::InvalidValue),
                        format!(
                            "bulkId:{reference} does not refer to an earlier successful operation"
                        ),
                    )
                })?;
                *s = id.clone();
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|v| resolve(v, ids)),
        Value::Object(map) => map.values_mut().try_for_each(|v| resolve(v, ids)),
        _ => Ok(()),
    }
}

fn resolve_path(path: &str, ids: &HashMap<String, String>) -> Result<String, ScimError> {
    let mut out = Vec::new();
    for segment in path.split('/') {
        match segment.strip_prefix("bulkId:") {
            Some(r) => out.push(ids.get(r).cloned().ok_or_else(|| {
                ScimError::invalid_value(format!(
                    "bulkId:{r} does not refer to an earlier successful operation"
                ))
            })?),
            None => out.push(segment.to_owned()),
        }
    }
    Ok(out.join("/"))
}

/// Runs one operation; returns the reply (status, location, version).
async fn run_one(
    state: &AppState,
    ctx: &ScimContext,
    method: &str,
    path: &str,
    data: Option<Value>,
    version: Option<&str>,
) -> Result<ScimReply, ScimError> {
    let mut headers = HeaderMap::new();
    if let Some(v) = version.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(header::IF_MATCH, v);
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let projection = Projection::parse(None, None)?;
    let need_data = || {
        data.clone()
            .filter(Value::is_object)
            .ok_or_else(|| ScimError::invalid_syntax("this operation needs a 'data' object"))
    };
    match (method.to_ascii_uppercase().as_str(), segments.as_slice()) {
        ("POST", ["Users"]) => users::create(state, ctx, need_data()?, &projection).await,
        ("POST", ["Groups"]) => groups::create(state, ctx, need_data()?, &projection).await,
        ("PUT", ["Users", id]) => {
            users::replace(state, ctx, id, &headers, need_data()?, &projection).await
        }
        ("PUT", ["Groups", id]) => {
            groups::replace(state, ctx, id, &headers, need_data()?, &projection).await
        }
        ("PATCH", ["Users", id]) => {
            users::patch(state, ctx, id, &headers, need_data()?, &projection).await
        }
        ("PATCH", ["Groups", id]) => {
            groups::patch(state, ctx, id, &headers, need_data()?, &projection).await
        }
        ("DELETE", ["Users", id]) => users::delete(state, ctx, id, &headers).await,
        ("DELETE", ["Groups", id]) => groups::delete(state, ctx, id, &headers).await,
        (m, _) => Err(ScimError::invalid_value(format!(
            "unsupported bulk operation {m} {path}"
        ))),
    }
}

pub async fn bulk_handler(
    State(state): State<AppState>,
    ctx: ScimContext,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let obj = body
        .as_object()
        .ok_or_else(|| ctx.fail(ScimError::invalid_syntax("expected a BulkRequest object")))?;
    let schemas_ok = field(obj, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter().any(|u| {
                u.as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(BULK_REQUEST_SCHEMA))
            })
        });
    if !schemas_ok {
        return Err(ctx.fail(ScimError::invalid_syntax(format!(
            "schemas must contain {BULK_REQUEST_SCHEMA}"
        ))));
    }
    let operations = field(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ctx.fail(ScimError::invalid_syntax("Operations must be an array")))?;
    let max = state.config.scim.bulk_max_operations;
    if operations.len() > max {
        return Err(ctx.fail(ScimError::new(
            413,
            None,
            format!("a bulk request may hold at most {max} operations"),
        )));
    }
    let fail_on_errors = match field(obj, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
            ctx.fail(ScimError::invalid_value(
                "failOnErrors must be a positive integer",
            ))
        })?),
    };
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut results = Vec::with_capacity(operations.len());
    let mut errors = 0u64;
    for op in operations {
        if fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
        let (entry, failed) = run_entry(&state, &ctx, op, &mut ids).await;
        errors += u64::from(failed);
        results.push(entry);
    }
    Ok(ScimReply::ok(
        json!({"schemas": [BULK_RESPONSE_SCHEMA], "Operations": results}),
    ))
}

/// One operation's response entry, and whether it failed.
async fn run_entry(
    state: &AppState,
    ctx: &ScimContext,
    op: &Value,
    ids: &mut HashMap<String, String>,
) -> (Value, bool) {
    let empty = Map::new();
    let o = op.as_object().unwrap_or(&empty);
    let method = field(o, "method")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let bulk_id = field(o, "bulkId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut entry = json!({"method": method});
    if let Some(b) = &bulk_id {
        entry["bulkId"] = Value::String(b.clone());
    }
    let outcome = async {
        let path = field(o, "path")
            .and_then(Value::as_str)
            .ok_or_else(|| ScimError::invalid_syntax("each operation needs a 'path'"))?;
        if method.eq_ignore_ascii_case("POST") && bulk_id.is_none() {
            return Err(ScimError::invalid_syntax("POST operations need a bulkId"));
        }
        let path = resolve_path(path, ids)?;
        let mut data = field(o, "data").cloned();
        if let Some(d) = data.as_mut() {
            resolve(d, ids)?;
        }
        let version = field(o, "version").and_then(Value::as_str);
        run_one(state, ctx, &method, &path, data, version).await
    }
    .await;
    match outcome {
        Ok(reply) => {
            if let (Some(b), Some(body)) = (&bulk_id, &reply.body)
                && let Some(id) = body["id"].as_str()
            {
                ids.insert(b.clone(), id.to_owned());
            }
            let location = reply.location.clone().or_else(|| {
                reply
                    .body
                    .as_ref()
                    .and_then(|b| b["meta"]["location"].as_str().map(str::to_owned))
            });
            if let Some(l) = location {
                entry["location"] = Value::String(l);
            }
            if let Some(v) = reply.etag {
                entry["version"] = Value::String(v);
            }
            entry["status"] = Value::String(reply.status.as_u16().to_string());
            (entry, false)
        }
        Err(e) => {
            entry["status"] = Value::String(e.status.to_string());
            entry["response"] = e.to_json();
            (
                entry,
                !StatusCode::from_u16(e.status).is_ok_and(|s| s.is_success()),
            )
        }
    }
}
