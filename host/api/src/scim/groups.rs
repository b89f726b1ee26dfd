//! `/Groups`: list, get, create, replace, patch, delete. Members live in
//! the membership table, never inside the stored resource: PATCH operations
//! on `members` become membership changes, and members are loaded only when
//! the response includes them.

use std::collections::HashSet;

use axum::http::{HeaderMap, StatusCode};
use rollcall_core::directory_group::DirectoryGroup;
use rollcall_core::ids::{IdKind, new_id};
use rollcall_core::scim::error::ScimError;
use rollcall_core::scim::mapping;
use rollcall_core::scim::patch::{MemberChange, apply_patch, parse_patch, split_member_ops};
use rollcall_core::scim::render::{Projection, render};
use rollcall_core::scim::resource::{MemberRef, ResourceKind, ingest};
use rollcall_store::StoreError;
use rollcall_store::directory_state::{Change, Outcome, Ref};
use serde_json::{Value, json};

use crate::AppState;
use crate::scim::context::ScimContext;
use crate::scim::query::ListParams;
use crate::scim::resources::{
    WRITE_RETRIES, check_if_match, etag, filter_view, meta, not_modified, resource_reply,
};
use crate::scim::respond::{ScimReply, store_error};

const KIND: ResourceKind = ResourceKind::Group;

pub async fn load(
    state: &AppState,
    ctx: &ScimContext,
    id: &str,
) -> Result<DirectoryGroup, ScimError> {
    match state.store.get_group(id).await.map_err(store_error)? {
        Some(g) if g.directory_id == ctx.directory.id => Ok(g),
        _ => Err(ScimError::not_found(format!("Group {id} not found"))),
    }
}

pub async fn render_groups(
    state: &AppState,
    ctx: &ScimContext,
    groups: &[DirectoryGroup],
    projection: &Projection,
) -> Result<Vec<Value>, ScimError> {
    let mut members = if !projection.excludes_members() && !groups.is_empty() {
        let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
        Some(
            state
                .store
                .scim_group_members(&ids)
                .await
                .map_err(store_error)?,
        )
    } else {
        None
    };
    let schema = &ctx.schemas.groups;
    Ok(groups
        .iter()
        .map(|g| {
            let list = members.as_mut().map(|m| {
                m.remove(&g.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(uid, display)| json!({"value": uid, "display": display, "$ref": ctx.location("Users", &uid), "type": "User"}))
                    .collect::<Vec<_>>()
            });
            let stored = Value::Object(g.raw_attributes.clone());
            let m = meta(ctx, KIND, &g.id, g.created_at, g.updated_at, g.version);
            render(KIND, &stored, &g.id, &m, list, schema, projection)
        })
        .collect())
}

async fn reply(
    state: &AppState,
    ctx: &ScimContext,
    group: &DirectoryGroup,
    projection: &Projection,
    status: StatusCode,
) -> Result<ScimReply, ScimError> {
    let body = render_groups(state, ctx, std::slice::from_ref(group), projection)
        .await?
        .pop()
        .unwrap_or(Value::Null);
    Ok(resource_reply(
        ctx,
        KIND,
        &group.id,
        group.version,
        body,
        status,
    ))
}

pub async fn search(
    state: &AppState,
    ctx: &ScimContext,
    params: &ListParams,
) -> Result<(u64, Vec<Value>), ScimError> {
    let schema = &ctx.schemas.groups;
    let (query, residual) = params.plan(KIND, schema)?;
    let predicate = |g: &DirectoryGroup| {
        residual.as_ref().is_none_or(|f| {
            f.matches(
                &filter_view(
                    &g.raw_attributes,
                    &g.id,
                    g.created_at,
                    g.updated_at,
                    "Group",
                ),
                schema,
            )
        })
    };
    let sort_key = |x: &DirectoryGroup| {
        params.sort_path.as_ref().map_or_else(String::new, |p| {
            let view = filter_view(
                &x.raw_attributes,
                &x.id,
                x.created_at,
                x.updated_at,
                "Group",
            );
            crate::scim::query::computed_sort_key(&view, p, schema)
        })
    };
    let page = state
        .store
        .scim_list_groups(&ctx.directory.id, &query, &predicate, &sort_key)
        .await
        .map_err(store_error)?;
    let resources = render_groups(state, ctx, &page.items, &params.projection).await?;
    Ok((page.total, resources))
}

/// Member ids must be users of this directory; nested groups are refused.
async fn check_members(
    state: &AppState,
    ctx: &ScimContext,
    members: &[MemberRef],
) -> Result<Vec<String>, ScimError> {
    if let Some(m) = members.iter().find(|m| {
        m.r#type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("group"))
    }) {
        return Err(ScimError::invalid_value(format!(
            "member {} is a group; nested groups are not supported",
            m.value
        )));
    }
    let ids: Vec<String> = members.iter().map(|m| m.value.clone()).collect();
    check_user_ids(state, ctx, &ids).await?;
    Ok(ids)
}

async fn check_user_ids(
    state: &AppState,
    ctx: &ScimContext,
    ids: &[String],
) -> Result<(), ScimError> {
    let found = state
        .store
        .scim_existing_users(&ctx.directory.id, ids)
        .await
        .map_err(store_error)?;
    let missing: Vec<&str> = ids
        .iter()
        .filter(|i| !found.contains(*i))
        .map(String::as_str)
        .take(10)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ScimError::invalid_value(format!(
            "members reference unknown users: {}",
            missing.join(", ")
        )))
    }
}

/// The labels (`display`) the client gave members, to store with the
/// memberships. With `whole_list` (the request sets the member list) every
/// member's, so an omitted label is forgotten; else only the given ones.
fn labels(group_id: &str, members: &[MemberRef], whole_list: bool) -> Option<Change> {
    let labels: Vec<(String, Option<String>)> = members
        .iter()
        .filter(|m| whole_list || m.display.is_some())
        .map(|m| (m.value.clone(), m.display.clone()))
        .collect();
    (!labels.is_empty()).then(|| Change::LabelMembers {
        group: Ref::Id(group_id.to_owned()),
        labels,
    })
}

fn user_refs(ids: Vec<String>) -> Vec<Ref> {
    ids.into_iter().map(Ref::Id).collect()
}

fn conflict(e: StoreError) -> ScimError {
    match e {
        StoreError::Conflict(m) if m.contains("idp_id") => {
            ScimError::uniqueness("another group already has this externalId")
        }
        other => store_error(other),
    }
}

pub async fn create(
    state: &AppState,
    ctx: &ScimContext,
    body: Value,
    projection: &Projection,
) -> Result<ScimReply, ScimError> {
    let schema = &ctx.schemas.groups;
    let body = ctx.dialect.normalize_resource(body, schema);
    let ingested = ingest(KIND, &body, schema, None)?;
    let id = new_id(IdKind::DirectoryGroup);
    let mut changes = vec![Change::CreateGroup {
        id: Some(id.clone()),
        input: mapping::group_input(&ingested.resource, &id),
    }];
    if let Some(members) = &ingested.members {
        let ids = check_members(state, ctx, members).await?;
        changes.push(Change::SetMembers {
            group: Ref::Id(id.clone()),
            users: user_refs(ids),
        });
        changes.extend(labels(&id, members, false));
    }
    let outcomes = state
        .store
        .apply_changes(&ctx.directory.id, changes)
        .await
        .map_err(conflict)?;
    match outcomes.into_iter().next() {
        Some(Outcome::GroupCreated(g)) => {
            reply(state, ctx, &g, projection, StatusCode::CREATED).await
        }
        other => Err(ScimError::new(
            500,
            None,
            format!("unexpected outcome {other:?}"),
        )),
    }
}

/// Writes the group's new resource (if any) and membership changes in one
/// transaction, retrying on a concurrent write unless `If-Match` pinned the version.
async fn write<F>(
    state: &AppState,
    ctx: &ScimContext,
    mut group: DirectoryGroup,
    expected: Option<i64>,
    next: F,
) -> Result<DirectoryGroup, ScimError>
where
    F: Fn(&DirectoryGroup) -> Result<(Option<Value>, Vec<Change>), ScimError>,
{
    for _ in 0..WRITE_RETRIES {
        let (resource, member_changes) = next(&group)?;
        let mut changes = Vec::new();
        // With If-Match, the version is checked inside the write transaction
        // even when only members change (an unchanged resource writes nothing).
        let resource =
            resource.or_else(|| expected.map(|_| Value::Object(group.raw_attributes.clone())));
        if let Some(resource) = resource {
            let input = mapping::group_input(&resource, &group.id);
            changes.push(Change::UpdateGroup {
                id: group.id.clone(),
                input,
                expected_version: Some(expected.unwrap_or(group.version)),
            });
        }
        changes.extend(member_changes);
        if changes.is_empty() {
            return Ok(group);
        }
        match state.store.apply_changes(&ctx.directory.id, changes).await {
            Ok(_) => return load(state, ctx, &group.id).await,
            Err(StoreError::VersionMismatch { .. }) if expected.is_none() => {
                group = load(state, ctx, &group.id).await?
            }
            Err(e) => return Err(conflict(e)),
        }
    }
    Err(ScimError::new(
        409,
        None,
        "the group is being changed concurrently; retry",
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
    let group = load(state, ctx, id).await?;
    let expected = check_if_match(headers, group.version)?;
    let schema = &ctx.schemas.groups;
    let body = ctx.dialect.normalize_resource(body, schema);
    let existing = Value::Object(group.raw_attributes.clone());
    let ingested = ingest(KIND, &body, schema, Some(&existing))?;
    // PUT replaces the whole resource: no `members` means no members.
    let members = ingested.members.as_deref().unwrap_or(&[]);
    let member_ids = check_members(state, ctx, members).await?;
    let gid = group.id.clone();
    let updated = write(state, ctx, group, expected, |_| {
        let mut changes = vec![Change::SetMembers {
            group: Ref::Id(gid.clone()),
            users: user_refs(member_ids.clone()),
        }];
        changes.extend(labels(&gid, members, true));
        Ok((Some(ingested.resource.clone()), changes))
    })
    .await?;
    reply(state, ctx, &updated, projection, StatusCode::OK).await
}

/// Membership changes of a PATCH, as service-layer changes.
async fn member_changes(
    state: &AppState,
    ctx: &ScimContext,
    group_id: &str,
    ops: Vec<MemberChange>,
) -> Result<Vec<Change>, ScimError> {
    let gref = || Ref::Id(group_id.to_owned());
    let mut changes = Vec::new();
    for op in ops {
        match op {
            MemberChange::Add(refs) => {
                let ids: Vec<String> = refs.iter().map(|m| m.value.clone()).collect();
                check_user_ids(state, ctx, &ids).await?;
                changes.extend(ids.into_iter().map(|u| Change::AddMember {
                    group: gref(),
                    user: Ref::Id(u),
                }));
                changes.extend(labels(group_id, &refs, false));
            }
            MemberChange::Remove(ids) => {
                // Removing someone who is not (or no longer) a user is a no-op.
                let found = state
                    .store
                    .scim_existing_users(&ctx.directory.id, &ids)
                    .await
                    .map_err(store_error)?;
                changes.extend(ids.into_iter().filter(|u| found.contains(u)).map(|u| {
                    Change::RemoveMember {
                        group: gref(),
                        user: Ref::Id(u),
                    }
                }));
            }
            MemberChange::RemoveAll => changes.push(Change::SetMembers {
                group: gref(),
                users: vec![],
            }),
            MemberChange::Replace(refs) => {
                let ids: Vec<String> = refs.iter().map(|m| m.value.clone()).collect();
                check_user_ids(state, ctx, &ids).await?;
                changes.push(Change::SetMembers {
                    group: gref(),
                    users: user_refs(ids),
                });
                changes.extend(labels(group_id, &refs, true));
            }
            MemberChange::RemoveWhere(filter) => {
                let members = state
                    .store
                    .scim_group_members(&[group_id.to_owned()])
                    .await
                    .map_err(store_error)?;
                let schema = &ctx.schemas.groups;
                let parent = rollcall_core::scim::path::AttrPath::new("members");
                let mut seen = HashSet::new();
                for (uid, display) in members.into_values().flatten() {
                    let element = json!({"value": uid, "display": display, "type": "User"});
                    if filter.matches_within(&parent, &element, schema) && seen.insert(uid.clone())
                    {
                        changes.push(Change::RemoveMember {
                            group: gref(),
                            user: Ref::Id(uid),
                        });
                    }
                }
            }
        }
    }
    Ok(changes)
}

pub async fn patch(
    state: &AppState,
    ctx: &ScimContext,
    id: &str,
    headers: &HeaderMap,
    body: Value,
    projection: &Projection,
) -> Result<ScimReply, ScimError> {
    let group = load(state, ctx, id).await?;
    let expected = check_if_match(headers, group.version)?;
    let schema = &ctx.schemas.groups;
    let options = ctx.dialect.patch_options();
    let ops = parse_patch(&ctx.dialect.normalize_patch(body), &options)?;
    let (resource_ops, member_ops) = split_member_ops(ops, schema)?;
    let memberships = member_changes(state, ctx, &group.id, member_ops).await?;
    let updated = write(state, ctx, group, expected, |current| {
        let mut resource = Value::Object(current.raw_attributes.clone());
        let changed = apply_patch(&mut resource, &resource_ops, schema, &options)?;
        Ok((changed.then_some(resource), memberships.clone()))
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
    let group = load(state, ctx, id).await?;
    check_if_match(headers, group.version)?;
    state
        .store
        .apply_change(&ctx.directory.id, Change::DeleteGroup(Ref::Id(group.id)))
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
    let group = load(state, ctx, id).await?;
    if not_modified(headers, group.version) {
        return Ok(ScimReply::not_modified(etag(group.version)));
    }
    reply(state, ctx, &group, projection, StatusCode::OK).await
}
