//! Discovery (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes`,
//! `/Schemas`, each resource with its own `schemas` URN and `meta`. They
//! describe exactly what this server does: PATCH, bulk with its limits,
//! filters up to [`MAX_RESULTS`], sorting, ETags; no password changes.

use axum::extract::{Path, State};
use rollcall_core::scim::error::ScimError;
use rollcall_core::scim::schema::{
    Schema, ServiceProviderFeatures, enterprise_user_schema, group_resource_type, group_schema,
    resource_type_json, service_provider_config, user_resource_type, user_schema,
};
use serde_json::Value;

use crate::AppState;
use crate::scim::context::ScimContext;
use crate::scim::query::MAX_RESULTS;
use crate::scim::resources::list_response;
use crate::scim::respond::{ScimReply, ScimResult, ScimVersion};

pub fn features(state: &AppState) -> ServiceProviderFeatures {
    ServiceProviderFeatures {
        patch: true,
        bulk: Some((
            state.config.scim.bulk_max_operations,
            state.config.scim.bulk_max_payload_bytes,
        )),
        filter: Some(MAX_RESULTS as usize),
        change_password: false,
        sort: true,
        etag: true,
        documentation_uri: None,
    }
}

pub async fn service_provider_config_handler(
    State(state): State<AppState>,
    ctx: ScimContext,
) -> ScimResult {
    let body = match ctx.version {
        ScimVersion::V2 => service_provider_config(&ctx.base_url, &features(&state)),
        // Bulk is offered over SCIM 2.0 only (see `v1_bulk_handler`).
        ScimVersion::V1 => rollcall_core::scim::v1::service_provider_configs_v1(
            &ctx.base_url,
            MAX_RESULTS as usize,
            None,
        ),
    };
    Ok(ScimReply::ok(body))
}

fn resource_types(ctx: &ScimContext) -> Vec<Value> {
    let user_ext: Vec<Schema> = ctx.schemas.users.extensions.clone();
    let group_ext: Vec<Schema> = ctx.schemas.groups.extensions.clone();
    vec![
        resource_type_json(
            &user_resource_type().with_extensions(&user_ext),
            &ctx.base_url,
        ),
        resource_type_json(
            &group_resource_type().with_extensions(&group_ext),
            &ctx.base_url,
        ),
    ]
}

fn all_schemas(ctx: &ScimContext) -> Vec<Value> {
    let mut schemas = vec![user_schema(), group_schema(), enterprise_user_schema()];
    schemas.extend(ctx.schemas.custom.iter().cloned());
    schemas.iter().map(|s| s.to_json(&ctx.base_url)).collect()
}

pub async fn resource_types_handler(ctx: ScimContext) -> ScimResult {
    let items = resource_types(&ctx);
    Ok(ScimReply::ok(list_response(items.len() as u64, 1, items)))
}

pub async fn resource_type_handler(
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
) -> ScimResult {
    resource_types(&ctx)
        .into_iter()
        .find(|r| {
            r["id"]
                .as_str()
                .is_some_and(|i| i.eq_ignore_ascii_case(&id))
        })
        .map(ScimReply::ok)
        .ok_or_else(|| ctx.fail(ScimError::not_found(format!("ResourceType {id} not found"))))
}

pub async fn schemas_handler(ctx: ScimContext) -> ScimResult {
    let items = all_schemas(&ctx);
    Ok(ScimReply::ok(list_response(items.len() as u64, 1, items)))
}

pub async fn schema_handler(ctx: ScimContext, Path((_, id)): Path<(String, String)>) -> ScimResult {
    all_schemas(&ctx)
        .into_iter()
        .find(|s| {
            s["id"]
                .as_str()
                .is_some_and(|i| i.eq_ignore_ascii_case(&id))
        })
        .map(ScimReply::ok)
        .ok_or_else(|| ctx.fail(ScimError::not_found(format!("Schema {id} not found"))))
}

/// `/Me` is not offered: Rollcall's SCIM clients are provisioning systems,
/// not end users.
/// SCIM 1.1 `/Bulk`: not offered (its `ServiceProviderConfigs` says so);
/// the 2.0 endpoint of the same directory is.
pub async fn v1_bulk_handler(ctx: ScimContext) -> ScimResult {
    Err(ctx.fail(ScimError::new(
        501,
        None,
        "bulk is not offered over SCIM 1.1; use the SCIM 2.0 /Bulk endpoint",
    )))
}

pub async fn me_handler(ctx: ScimContext) -> ScimResult {
    Err(ctx.fail(ScimError::new(
        501,
        None,
        "/Me is not supported by this service provider",
    )))
}
