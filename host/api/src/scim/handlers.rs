//! The HTTP handlers of `/Users` and `/Groups`, written once over an
//! [`Endpoint`] (the resource kind's operations), for SCIM 2.0 and — with
//! bodies translated at the edge — SCIM 1.1.

use std::future::Future;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use rollcall_core::scim::error::ScimError;
use rollcall_core::scim::patch::PATCH_OP_SCHEMA;
use rollcall_core::scim::render::Projection;
use rollcall_core::scim::resource::ResourceKind;
use rollcall_core::scim::v1::{
    V1Patch, list_to_v1, patch_from_v1, resource_from_v1, resource_to_v1,
};
use serde_json::{Value, json};

use crate::AppState;
use crate::extract::QueryPairs;
use crate::scim::body::ScimBody;
use crate::scim::context::ScimContext;
use crate::scim::query::ListParams;
use crate::scim::resources::list_response;
use crate::scim::respond::{ScimReply, ScimResult, ScimVersion};
use crate::scim::{groups, users};

/// The operations of one resource endpoint.
pub trait Endpoint: Send + Sync + 'static {
    const KIND: ResourceKind;

    fn search(
        state: &AppState,
        ctx: &ScimContext,
        params: &ListParams,
    ) -> impl Future<Output = Result<(u64, Vec<Value>), ScimError>> + Send;
    fn get(
        state: &AppState,
        ctx: &ScimContext,
        id: &str,
        headers: &HeaderMap,
        projection: &Projection,
    ) -> impl Future<Output = Result<ScimReply, ScimError>> + Send;
    fn create(
        state: &AppState,
        ctx: &ScimContext,
        body: Value,
        projection: &Projection,
    ) -> impl Future<Output = Result<ScimReply, ScimError>> + Send;
    fn replace(
        state: &AppState,
        ctx: &ScimContext,
        id: &str,
        headers: &HeaderMap,
        body: Value,
        projection: &Projection,
    ) -> impl Future<Output = Result<ScimReply, ScimError>> + Send;
    fn patch(
        state: &AppState,
        ctx: &ScimContext,
        id: &str,
        headers: &HeaderMap,
        body: Value,
        projection: &Projection,
    ) -> impl Future<Output = Result<ScimReply, ScimError>> + Send;
    fn delete(
        state: &AppState,
        ctx: &ScimContext,
        id: &str,
        headers: &HeaderMap,
    ) -> impl Future<Output = Result<ScimReply, ScimError>> + Send;
}

pub struct Users;
pub struct Groups;

macro_rules! endpoint {
    ($ty:ty, $kind:expr, $module:ident) => {
        impl Endpoint for $ty {
            const KIND: ResourceKind = $kind;
            fn search(
                state: &AppState,
                ctx: &ScimContext,
                params: &ListParams,
            ) -> impl Future<Output = Result<(u64, Vec<Value>), ScimError>> + Send {
                $module::search(state, ctx, params)
            }
            fn get(
                state: &AppState,
                ctx: &ScimContext,
                id: &str,
                headers: &HeaderMap,
                projection: &Projection,
            ) -> impl Future<Output = Result<ScimReply, ScimError>> + Send {
                $module::get(state, ctx, id, headers, projection)
            }
            fn create(
                state: &AppState,
                ctx: &ScimContext,
                body: Value,
                projection: &Projection,
            ) -> impl Future<Output = Result<ScimReply, ScimError>> + Send {
                $module::create(state, ctx, body, projection)
            }
            fn replace(
                state: &AppState,
                ctx: &ScimContext,
                id: &str,
                headers: &HeaderMap,
                body: Value,
                projection: &Projection,
            ) -> impl Future<Output = Result<ScimReply, ScimError>> + Send {
                $module::replace(state, ctx, id, headers, body, projection)
            }
            fn patch(
                state: &AppState,
                ctx: &ScimContext,
                id: &str,
                headers: &HeaderMap,
                body: Value,
                projection: &Projection,
            ) -> impl Future<Output = Result<ScimReply, ScimError>> + Send {
                $module::patch(state, ctx, id, headers, body, projection)
            }
            fn delete(
                state: &AppState,
                ctx: &ScimContext,
                id: &str,
                headers: &HeaderMap,
            ) -> impl Future<Output = Result<ScimReply, ScimError>> + Send {
                $module::delete(state, ctx, id, headers)
            }
        }
    };
}

endpoint!(Users, ResourceKind::User, users);
endpoint!(Groups, ResourceKind::Group, groups);

/// `attributes` / `excludedAttributes` from the query string.
pub fn projection(query: &QueryPairs) -> Result<Projection, ScimError> {
    let get = |n: &str| {
        query
            .0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    };
    Projection::parse(get("attributes"), get("excludedAttributes"))
}

/// Request bodies in the endpoint's version, as 2.0.
fn body_in(ctx: &ScimContext, kind: ResourceKind, body: Value) -> Result<Value, ScimError> {
    match ctx.version {
        ScimVersion::V2 => Ok(body),
        ScimVersion::V1 => resource_from_v1(kind, &body),
    }
}

fn patch_in(ctx: &ScimContext, kind: ResourceKind, body: Value) -> Result<Value, ScimError> {
    match ctx.version {
        ScimVersion::V2 => Ok(body),
        ScimVersion::V1 => Ok(patch_as_v2(patch_from_v1(kind, &body)?)),
    }
}

/// Replies in the endpoint's version.
fn reply_out(ctx: &ScimContext, kind: ResourceKind, mut reply: ScimReply) -> ScimReply {
    if ctx.version == ScimVersion::V1 {
        reply.body = reply.body.map(|b| resource_to_v1(kind, &b));
    }
    reply
}

fn list_out(
    ctx: &ScimContext,
    kind: ResourceKind,
    total: u64,
    start: u64,
    items: Vec<Value>,
) -> ScimReply {
    ScimReply::ok(match ctx.version {
        ScimVersion::V2 => list_response(total, start, items),
        ScimVersion::V1 => list_to_v1(
            total,
            start,
            items.iter().map(|i| resource_to_v1(kind, i)).collect(),
        ),
    })
}

/// A 1.1 PATCH as the equivalent 2.0 PatchOp request: removals first
/// (attributes in `meta.attributes`, elements marked `operation: delete`,
/// members), then the merge of everything else.
fn patch_as_v2(patch: V1Patch) -> Value {
    let mut ops: Vec<Value> = Vec::new();
    if patch.clear_members {
        ops.push(json!({"op": "remove", "path": "members"}));
    }
    ops.extend(
        patch
            .remove_attributes
            .into_iter()
            .map(|path| json!({"op": "remove", "path": path})),
    );
    for (attr, element) in patch.removals {
        let value = element.get("value").cloned().unwrap_or(element);
        match value.as_str() {
            Some(v) => ops.push(json!({"op": "remove", "path": format!("{attr}[value eq {}]", Value::String(v.to_owned()))})),
            None => ops.push(json!({"op": "remove", "path": attr, "value": [{"value": value}]})),
        }
    }
    if !patch.members_remove.is_empty() {
        let values: Vec<Value> = patch
            .members_remove
            .iter()
            .map(|v| json!({"value": v}))
            .collect();
        ops.push(json!({"op": "remove", "path": "members", "value": values}));
    }
    if !patch.members_add.is_empty() {
        let values: Vec<Value> = patch
            .members_add
            .iter()
            .map(|m| match &m.r#type {
                Some(t) => json!({"value": m.value, "type": t}),
                None => json!({"value": m.value}),
            })
            .collect();
        ops.push(json!({"op": "add", "path": "members", "value": values}));
    }
    if patch.merge.as_object().is_some_and(|m| !m.is_empty()) {
        ops.push(json!({"op": "add", "value": patch.merge}));
    }
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
}

pub async fn list<E: Endpoint>(
    State(state): State<AppState>,
    ctx: ScimContext,
    query: QueryPairs,
) -> ScimResult {
    let run = async {
        let params = ListParams::from_pairs(Some(E::KIND), &query.0)?;
        let (total, items) = E::search(&state, &ctx, &params).await?;
        Ok(list_out(&ctx, E::KIND, total, params.start_index, items))
    };
    run.await.map_err(|e: ScimError| ctx.fail(e))
}

pub async fn search<E: Endpoint>(
    State(state): State<AppState>,
    ctx: ScimContext,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let run = async {
        let params = ListParams::from_search(Some(E::KIND), &body)?;
        let (total, items) = E::search(&state, &ctx, &params).await?;
        Ok(list_out(&ctx, E::KIND, total, params.start_index, items))
    };
    run.await.map_err(|e: ScimError| ctx.fail(e))
}

pub async fn get<E: Endpoint>(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    query: QueryPairs,
) -> ScimResult {
    let run = async {
        let p = projection(&query)?;
        Ok(reply_out(
            &ctx,
            E::KIND,
            E::get(&state, &ctx, &id, &headers, &p).await?,
        ))
    };
    run.await.map_err(|e: ScimError| ctx.fail(e))
}

pub async fn create<E: Endpoint>(
    State(state): State<AppState>,
    ctx: ScimContext,
    query: QueryPairs,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let run = async {
        let p = projection(&query)?;
        let body = body_in(&ctx, E::KIND, body)?;
        Ok(reply_out(
            &ctx,
            E::KIND,
            E::create(&state, &ctx, body, &p).await?,
        ))
    };
    run.await.map_err(|e: ScimError| ctx.fail(e))
}

pub async fn replace<E: Endpoint>(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    query: QueryPairs,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let run = async {
        let p = projection(&query)?;
        let body = body_in(&ctx, E::KIND, body)?;
        Ok(reply_out(
            &ctx,
            E::KIND,
            E::replace(&state, &ctx, &id, &headers, body, &p).await?,
        ))
    };
    run.await.map_err(|e: ScimError| ctx.fail(e))
}

pub async fn patch<E: Endpoint>(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    query: QueryPairs,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let run = async {
        let p = projection(&query)?;
        let body = patch_in(&ctx, E::KIND, body)?;
        Ok(reply_out(
            &ctx,
            E::KIND,
            E::patch(&state, &ctx, &id, &headers, body, &p).await?,
        ))
    };
    run.await.map_err(|e: ScimError| ctx.fail(e))
}

pub async fn delete<E: Endpoint>(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ScimResult {
    E::delete(&state, &ctx, &id, &headers)
        .await
        .map_err(|e| ctx.fail(e))
}
