//! `/Users`: list, get, create, replace, patch, delete. The operations are
//! plain functions so `/Bulk` runs exactly the same code.

use axum::http::{HeaderMap, StatusCode};
use rollcall_core::directory_user::DirectoryUser;
use rollcall_core::ids::{IdKind, new_id};
use rollcall_core::scim::error::ScimError;
use rollcall_core::scim::mapping;
use rollcall_core::scim::patch::{apply_patch, parse_patch};
use rollcall_core::scim::path::AttrPath;
use rollcall_core::scim::render::{Projection, render};
use rollcall_core::scim::resource::{ResourceKind, ingest};
use std::collections::HashMap;

use rollcall_store::directory_state::{Change, Outcome, Ref};
use rollcall_store::{RefPair, StoreError};
use serde_json::{Value, json};

use crate::AppState;
use crate::scim::context::ScimContext;
use crate::scim::query::ListParams;
use crate::scim::resources::{
    WRITE_RETRIES, check_if_match, etag, filter_view, meta, not_modified, resource_reply,
};
use crate::scim::respond::{ScimReply, store_error};

const KIND: ResourceKind = ResourceKind::User;

/// A user of this directory, or 404.
pub async fn load(
    state: &AppState,
    ctx: &ScimContext,
    id: &str,
) -> Result<DirectoryUser, ScimError> {
    match state.store.get_user(id).await.map_err(store_error)? {
        Some(u) if u.directory_id == ctx.directory.id => Ok(u),
        _ => Err(ScimError::not_found(format!("User {id} not found"))),
    }
}

/// Renders users, with their `groups` unless the projection leaves them out.
pub async fn render_users(
    state: &AppState,
    ctx: &ScimContext,
    users: &[DirectoryUser],
    projection: &Projection,
) -> Result<Vec<Value>, ScimError> {
    render_users_with(state, ctx, users, projection, None).await
}

/// [`render_users`], with the users' groups when the caller already has them.
async fn render_users_with(
    state: &AppState,
    ctx: &ScimContext,
    users: &[DirectoryUser],
    projection: &Projection,
    known_groups: Option<HashMap<String, Vec<RefPair>>>,
) -> Result<Vec<Value>, ScimError> {
    let with_groups = projection.wants(&AttrPath::new("groups"));
    let mut groups = if let Some(known) = known_groups.filter(|_| with_groups) {
        known
    } else if with_groups && !users.is_empty() {
        let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
        state
            .store
            .scim_user_groups(&ids)
            .await
            .map_err(store_error)?
    } else {
        Default::default()
    };
    let schema = &ctx.schemas.users;
    Ok(users
        .iter()
        .map(|u| {
            let mut stored = Value::Object(u.raw_attributes.clone());
            if let Some(list) = groups.remove(&u.id).filter(|l| !l.is_empty()) {
                let refs: Vec<Value> = list
                    .into_iter()
                    .map(|(gid, name)| {
                        json!({"value": gid, "display": name, "$ref": ctx.location("Groups", &gid), "type": "direct"})
                    })
                    .collect();
                stored["groups"] = Value::Array(refs);
            }
            let m = meta(ctx, KIND, &u.id, u.created_at, u.updated_at, u.version);
            render(KIND, &stored, &u.id, &m, None, schema, projection)
        })
        .collect())
}

async fn reply(
    state: &AppState,
    ctx: &ScimContext,
    user: &DirectoryUser,
    projection: &Projection,
    status: StatusCode,
) -> Result<ScimReply, ScimError> {
    reply_with(state, ctx, user, projection, status, None).await
}

/// [`reply`], with the user's groups when the caller knows them.
async fn reply_with(
    state: &AppState,
    ctx: &ScimContext,
    user: &DirectoryUser,
    projection: &Projection,
    status: StatusCode,
    known_groups: Option<HashMap<String, Vec<RefPair>>>,
) -> Result<ScimReply, ScimError> {
    let body = render_users_with(
        state,
        ctx,
        std::slice::from_ref(user),
        projection,
        known_groups,
    )
    .await?
    .pop()
    .unwrap_or(Value::Null);
    Ok(resource_reply(
        ctx,
        KIND,
        &user.id,
        user.version,
        body,
        status,
    ))
}

pub async fn search(
    state: &AppState,
    ctx: &ScimContext,
    params: &ListParams,
) -> Result<(u64, Vec<Value>), ScimError> {
    let schema = &ctx.schemas.users;
    let (query, residual) = params.plan(KIND, schema)?;
    let predicate = |u: &DirectoryUser| {
        residual.as_ref().is_none_or(|f| {
            f.matches(
                &filter_view(&u.raw_attributes, &u.id, u.created_at, u.updated_at, "User"),
                schema,
            )
        })
    };
    let sort_key = |x: &DirectoryUser| {
        params.sort_path.as_ref().map_or_else(String::new, |p| {
            let view = filter_view(&x.raw_attributes, &x.id, x.created_at, x.updated_at, "User");
            crate::scim::query::computed_sort_key(&view, p, schema)
        })
    };
    let page = state
        .store
        .scim_list_users(&ctx.directory.id, &query, &predicate, &sort_key)
        .await
        .map_err(store_error)?;
    let resources = render_users_with(
        state,
        ctx,
        &page.items,
        &params.projection,
        page.user_groups,
    )
    .await?;
    Ok((page.total, resources))
}

pub async fn create(
    state: &AppState,
    ctx: &ScimContext,
    body: Value,
    projection: &Projection,
) -> Result<ScimReply, ScimError> {
    let schema = &ctx.schemas.users;
    let body = ctx.dialect.normalize_resource(body, schema);
    let ingested = ingest(KIND, &body, schema, None)?;
    let id = new_id(IdKind::DirectoryUser);
    let input = mapping::user_input(&ingested.resource, &id);
    let outcome = state
        .store
        .apply_change(
            &ctx.directory.id,
            Change::CreateUser {
                id: Some(id),
                input,
            },
        )
        .await
        .map_err(conflict_as_uniqueness)?;
    match outcome {
        // Created in this commit, the user belongs to no group yet.
        Outcome::UserCreated(u) => {
            let no_groups = HashMap::from([(u.id.clone(), Vec::new())]);
            reply_with(
                state,
                ctx,
                &u,
                projection,
                StatusCode::CREATED,
                Some(no_groups),
            )
            .await
        }
        other => Err(ScimError::new(
            500,
            None,
            format!("unexpected outcome {other:?}"),
        )),
    }
}

fn conflict_as_uniqueness(e: StoreError) -> ScimError {
    match e {
        StoreError::Conflict(m) if m.contains("idp_id") => {
            ScimError::uniqueness("another user already has this externalId")
        }
        other => store_error(other),
    }
}

/// Writes a new version of `user` computed by `next` from its stored
/// resource, retrying when a concurrent write got there first.
async fn update_with<F>(
    state: &AppState,
    ctx: &ScimContext,
    mut user: DirectoryUser,
    expected: Option<i64>,
    next: F,
) -> Result<DirectoryUser, ScimError>
where
    F: Fn(&DirectoryUser) -> Result<Option<Value>, ScimError>,
{
    for _ in 0..WRITE_RETRIES {
        let Some(resource) = next(&user)? else {
            return Ok(user);
        };
        let input = mapping::user_input(&resource, &user.id);
        let change = Change::UpdateUser {
            id: user.id.clone(),
            input,
            expected_version: Some(expected.unwrap_or(user.version)),
        };
        match state.store.apply_change(&ctx.directory.id, change).await {
            Ok(Outcome::UserUpdated(u) | Outcome::UserUnchanged(u)) => return Ok(u),
            Ok(other) => {
                return Err(ScimError::new(
                    500,
                    None,
                    format!("unexpected outcome {other:?}"),
                ));
            }
            Err(StoreError::VersionMismatch { .. }) if expected.is_none() => {
                user = load(state, ctx, &user.id).await?;
            }
            Err(e) => return Err(conflict_as_uniqueness(e)),
        }
    }
    Err(ScimError::new(
        409,
        None,
        "the user is being changed concurrently; retry",
    ))
}

pub async fn replace(
    state: &AppState,
    ctx: &ScimContext,
    id: &str,
    headers: &HeaderMap,
    body: Value,
    projection: &Projection,
) -> Result<ScimReply, ScimError> {
    let user = load(state, ctx, id).await?;
    let expected = check_if_match(headers, user.version)?;
    let schema = &ctx.schemas.users;
    let body = ctx.dialect.normalize_resource(body, schema);
    let updated = update_with(state, ctx, user, expected, |current| {
        let existing = Value::Object(current.raw_attributes.clone());
        Ok(Some(ingest(KIND, &body, schema, Some(&existing))?.resource))
    })
    .await?;
    reply(state, ctx, &updated, projection, StatusCode::OK).await
}

pub async fn patch(
    state: &AppState,
    ctx: &ScimContext,
    id: &str,
    headers: &HeaderMap,
    body: Value,
    projection: &Projection,
) -> Result<ScimReply, ScimError> {
    let user = load(state, ctx, id).await?;
    let expected = check_if_match(headers, user.version)?;
    let schema = &ctx.schemas.users;
    let options = ctx.dialect.patch_options();
    let ops = parse_patch(&ctx.dialect.normalize_patch(body), &options)?;
    let updated = update_with(state, ctx, user, expected, |current| {
        let mut resource = Value::Object(current.raw_attributes.clone());
        let changed = apply_patch(&mut resource, &ops, schema, &options)?;
        // Passwords are accepted but never stored (Rollcall does not sign users in).
        if let Value::Object(map) = &mut resource {
            map.retain(|k, _| !k.eq_ignore_ascii_case("password"));
        }
        Ok(
            (changed && resource != Value::Object(current.raw_attributes.clone()))
                .then_some(resource),
        )
    })
    .await?;
    reply(state, ctx, &updated, projection, StatusCode::OK).await
}

pub async fn delete(
    state: &AppState,
    ctx: &ScimContext,
    id: &str,
    headers: &HeaderMap,
) -> Result<ScimReply, ScimError> {
    let user = load(state, ctx, id).await?;
    check_if_match(headers, user.version)?;
    state
        .store
        .apply_change(&ctx.directory.id, Change::DeleteUser(Ref::Id(user.id)))
        .await
        .map_err(store_error)?;
    Ok(ScimReply::no_content())
}

pub async fn get(
    state: &AppState,
    ctx: &ScimContext,
    id: &str,
    headers: &HeaderMap,
    projection: &Projection,
) -> Result<ScimReply, ScimError> {
    let user = load(state, ctx, id).await?;
    if not_modified(headers, user.version) {
        return Ok(ScimReply::not_modified(etag(user.version)));
    }
    reply(state, ctx, &user, projection, StatusCode::OK).await
}
