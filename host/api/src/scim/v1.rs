//! SCIM 1.1 at `/scim/v1/{directory_id}/…` for `generic-scim-v1` and
//! `okta-scim-v1` directories: the same store and the same operations as
//! 2.0, with bodies, PATCH semantics (`operation: "delete"`,
//! `meta.attributes`) and errors translated at the edge.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use rollcall_core::scim::error::ScimError;
use rollcall_core::scim::patch::PATCH_OP_SCHEMA;
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
use crate::scim::respond::{ScimReply, ScimResult};
use crate::scim::users::projection;
use crate::scim::{discovery, groups, users};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/scim/v1/{directory_id}/Users",
            get(list_users).post(create_user),
        )
        .route(
            "/scim/v1/{directory_id}/Users/{id}",
            get(get_user)
                .put(replace_user)
                .patch(patch_user)
                .delete(delete_user),
        )
        .route(
            "/scim/v1/{directory_id}/Groups",
            get(list_groups).post(create_group),
        )
        .route(
            "/scim/v1/{directory_id}/Groups/{id}",
            get(get_group)
                .put(replace_group)
                .patch(patch_group)
                .delete(delete_group),
        )
        .route(
            "/scim/v1/{directory_id}/ServiceProviderConfigs",
            get(discovery::service_provider_config_handler),
        )
        .route(
            "/scim/v1/{directory_id}/Schemas",
            get(discovery::schemas_handler),
        )
}

/// A 2.0 reply with its body turned into 1.1.
fn to_v1(kind: ResourceKind, mut reply: ScimReply) -> ScimReply {
    reply.body = reply.body.map(|b| resource_to_v1(kind, &b));
    reply
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

async fn list(
    state: &AppState,
    ctx: &ScimContext,
    kind: ResourceKind,
    query: &QueryPairs,
) -> Result<ScimReply, ScimError> {
    let params = ListParams::from_pairs(Some(kind), &query.0)?;
    let (total, items) = match kind {
        ResourceKind::User => users::search(state, ctx, &params).await?,
        ResourceKind::Group => groups::search(state, ctx, &params).await?,
    };
    let items = items.iter().map(|i| resource_to_v1(kind, i)).collect();
    Ok(ScimReply::ok(list_to_v1(total, params.start_index, items)))
}

async fn list_users(
    State(state): State<AppState>,
    ctx: ScimContext,
    query: QueryPairs,
) -> ScimResult {
    list(&state, &ctx, ResourceKind::User, &query)
        .await
        .map_err(|e| ctx.fail(e))
}

async fn list_groups(
    State(state): State<AppState>,
    ctx: ScimContext,
    query: QueryPairs,
) -> ScimResult {
    list(&state, &ctx, ResourceKind::Group, &query)
        .await
        .map_err(|e| ctx.fail(e))
}

async fn get_user(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    query: QueryPairs,
) -> ScimResult {
    let run = async {
        let p = projection(&query)?;
        Ok(to_v1(
            ResourceKind::User,
            users::get(&state, &ctx, &id, &headers, &p).await?,
        ))
    };
    run.await.map_err(|e: ScimError| ctx.fail(e))
}

async fn get_group(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    query: QueryPairs,
) -> ScimResult {
    let run = async {
        let p = projection(&query)?;
        Ok(to_v1(
            ResourceKind::Group,
            groups::get(&state, &ctx, &id, &headers, &p).await?,
        ))
    };
    run.await.map_err(|e: ScimError| ctx.fail(e))
}

async fn create_user(
    State(state): State<AppState>,
    ctx: ScimContext,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let run = async {
        let body = resource_from_v1(ResourceKind::User, &body)?;
        let p = projection(&QueryPairs::default())?;
        Ok(to_v1(
            ResourceKind::User,
            users::create(&state, &ctx, body, &p).await?,
        ))
    };
    run.await.map_err(|e: ScimError| ctx.fail(e))
}

async fn create_group(
    State(state): State<AppState>,
    ctx: ScimContext,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let run = async {
        let body = resource_from_v1(ResourceKind::Group, &body)?;
        let p = projection(&QueryPairs::default())?;
        Ok(to_v1(
            ResourceKind::Group,
            groups::create(&state, &ctx, body, &p).await?,
        ))
    };
    run.await.map_err(|e: ScimError| ctx.fail(e))
}

async fn replace_user(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let run = async {
        let body = resource_from_v1(ResourceKind::User, &body)?;
        let p = projection(&QueryPairs::default())?;
        Ok(to_v1(
            ResourceKind::User,
            users::replace(&state, &ctx, &id, &headers, body, &p).await?,
        ))
    };
    run.await.map_err(|e: ScimError| ctx.fail(e))
}

async fn replace_group(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let run = async {
        let body = resource_from_v1(ResourceKind::Group, &body)?;
        let p = projection(&QueryPairs::default())?;
        Ok(to_v1(
            ResourceKind::Group,
            groups::replace(&state, &ctx, &id, &headers, body, &p).await?,
        ))
    };
    run.await.map_err(|e: ScimError| ctx.fail(e))
}

async fn patch_user(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let run = async {
        let patch = patch_as_v2(patch_from_v1(ResourceKind::User, &body)?);
        let p = projection(&QueryPairs::default())?;
        Ok(to_v1(
            ResourceKind::User,
            users::patch(&state, &ctx, &id, &headers, patch, &p).await?,
        ))
    };
    run.await.map_err(|e: ScimError| ctx.fail(e))
}

async fn patch_group(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let run = async {
        let patch = patch_as_v2(patch_from_v1(ResourceKind::Group, &body)?);
        let p = projection(&QueryPairs::default())?;
        Ok(to_v1(
            ResourceKind::Group,
            groups::patch(&state, &ctx, &id, &headers, patch, &p).await?,
        ))
    };
    run.await.map_err(|e: ScimError| ctx.fail(e))
}

async fn delete_user(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ScimResult {
    users::delete(&state, &ctx, &id, &headers)
        .await
        .map_err(|e| ctx.fail(e))
}

async fn delete_group(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ScimResult {
    groups::delete(&state, &ctx, &id, &headers)
        .await
        .map_err(|e| ctx.fail(e))
}
