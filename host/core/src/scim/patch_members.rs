//! Group membership out of PATCH requests: member operations become
//! [`MemberChange`]s that the store applies by member id, so a PATCH on a
//! Group never needs its (possibly huge) member list in memory.
//!
//! Covered shapes: `add`/`replace` on `members` with a list, path-less
//! `add`/`replace` with a `members` key, `remove` on `members[value eq "…"]`
//! (and `or`-chains of those), any other member filter, `remove` on `members`
//! with a value list (Entra ID, OneLogin) and without (remove all).

use serde_json::Value;

use super::error::ScimError;
use super::filter::{CompareOp, Filter};
use super::patch::{PatchOp, PatchOperation};
use super::patch_parse::member;
use super::patch_target::{Resolved, Target, resolve};
use super::patch_values::{Object, elements};
use super::path::{PatchPath, parse_patch_path};
use super::resource::{MemberRef, member_ref};
use super::schema::{self, AttributeDef, ResourceSchema};

/// A change to a Group's member list, in request order.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberChange {
    /// Add these members (already-present ones are no change).
    Add(Vec<MemberRef>),
    /// Remove these member ids (absent ones are no change).
    Remove(Vec<String>),
    /// Remove every member.
    RemoveAll,
    /// Make the member list exactly these members.
    Replace(Vec<MemberRef>),
    /// Remove the members matching this filter (relative to a member:
    /// `value`, `type`, `display`), e.g. `type eq "Group"`.
    RemoveWhere(Filter),
}

/// Splits member operations off a Group PATCH: returns the remaining
/// operations (for [`super::patch::apply_patch`]) and the member changes in
/// request order. Schemas without a core `members` attribute pass everything
/// through.
///
/// Member ids are the `value` sub-attribute; an element without one is
/// `invalidValue`. Member sub-attributes are immutable, so a path to one is
/// `mutability`; a value filter with `add`/`replace` is `invalidPath`.
pub fn split_member_ops(
    ops: Vec<PatchOperation>,
    schema: &ResourceSchema,
) -> Result<(Vec<PatchOperation>, Vec<MemberChange>), ScimError> {
    let Some(members) = schema.core.attribute("members") else {
        return Ok((ops, Vec::new()));
    };
    let mut rest = Vec::new();
    let mut changes = Vec::new();
    for op in ops {
        match &op.path {
            Some(path) => match members_target(schema, members, path) {
                Some(target) => push(&mut changes, path_change(&op, &target, members)?),
                None => rest.push(op),
            },
            None if op.op == PatchOp::Remove => rest.push(op),
            None => {
                let (remaining, found) = split_value(schema, members, op.value.as_ref())?;
                push(&mut changes, found.map(|ids| whole_list(op.op, ids)));
                if let Some(value) = remaining {
                    rest.push(PatchOperation {
                        value: Some(value),
                        ..op
                    });
                }
            }
        }
    }
    Ok((rest, changes))
}

/// The target when `path` addresses the core `members` attribute.
fn members_target<'s>(
    schema: &'s ResourceSchema,
    members: &AttributeDef,
    path: &PatchPath,
) -> Option<Target<'s>> {
    match resolve(schema, path) {
        Ok(Some(Resolved::Attr(t))) if t.ext.is_none() && std::ptr::eq(t.attr, members) => Some(t),
        _ => None,
    }
}

fn path_change(
    op: &PatchOperation,
    target: &Target<'_>,
    members: &AttributeDef,
) -> Result<Option<MemberChange>, ScimError> {
    if target.sub.is_some() {
        return Err(ScimError::mutability(
            "member sub-attributes are immutable: add or remove members instead",
        ));
    }
    let value = op.value.as_ref().filter(|v| !v.is_null());
    match (&target.filter, op.op) {
        (Some(filter), PatchOp::Remove) => Ok(Some(match listed_ids(filter) {
            Some(ids) => MemberChange::Remove(ids),
            None => MemberChange::RemoveWhere(filter.clone()),
        })),
        (Some(_), _) => Err(ScimError::invalid_path(
            "a members value filter can only select members to remove",
        )),
        (None, PatchOp::Remove) => Ok(Some(match value {
            Some(v) => MemberChange::Remove(
                member_refs(members, v)?
                    .into_iter()
                    .map(|m| m.value)
                    .collect(),
            ),
            None => MemberChange::RemoveAll,
        })),
        (None, PatchOp::Add) if value.is_none() => Ok(None),
        (None, _) => {
            let refs = value.map(|v| member_refs(members, v)).transpose()?;
            Ok(Some(whole_list(op.op, refs.unwrap_or_default())))
        }
    }
}

/// Records a change; adding or removing no ids is no change.
fn push(changes: &mut Vec<MemberChange>, change: Option<MemberChange>) {
    match change {
        Some(MemberChange::Add(refs)) if refs.is_empty() => {}
        Some(MemberChange::Remove(ids)) if ids.is_empty() => {}
        Some(change) => changes.push(change),
        None => {}
    }
}

fn whole_list(op: PatchOp, refs: Vec<MemberRef>) -> MemberChange {
    match op {
        PatchOp::Replace => MemberChange::Replace(refs),
        _ => MemberChange::Add(refs),
    }
}

/// Takes the `members` key out of a path-less value. Returns the rest of the
/// value (`None` when nothing else is left) and the members found.
fn split_value(
    schema: &ResourceSchema,
    members: &AttributeDef,
    value: Option<&Value>,
) -> Result<(Option<Value>, Option<Vec<MemberRef>>), ScimError> {
    let Some(Value::Object(obj)) = value else {
        return Ok((value.cloned(), None));
    };
    let mut rest = Object::new();
    let mut found: Option<Vec<MemberRef>> = None;
    for (key, item) in obj {
        let is_members = parse_patch_path(key).ok().is_some_and(|p| {
            p.filter.is_none()
                && p.target_sub().is_none()
                && members_target(schema, members, &p).is_some()
        });
        if !is_members {
            rest.insert(key.clone(), item.clone());
            continue;
        }
        let refs = if item.is_null() {
            Vec::new()
        } else {
            member_refs(members, item)?
        };
        found.get_or_insert_with(Vec::new).extend(refs);
    }
    let rest = (!rest.is_empty() || found.is_none()).then_some(Value::Object(rest));
    Ok((rest, found.map(|refs| dedup_by(refs, |m| m.value.clone()))))
}

/// The members of a member list (or single member): each element's
/// `value` (as a string), `type` and `display`.
fn member_refs(members: &AttributeDef, value: &Value) -> Result<Vec<MemberRef>, ScimError> {
    let mut refs = Vec::new();
    for (index, element) in elements(Some(value.clone())).into_iter().enumerate() {
        let checked =
            schema::validate_value(members, &element).map_err(ScimError::invalid_value)?;
        let has_id = checked
            .as_object()
            .and_then(|o| member(o, "value"))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty());
        if !has_id {
            return Err(ScimError::invalid_value(
                "members: each member needs a \"value\" with the member's id",
            ));
        }
        refs.push(member_ref(index, &checked)?);
    }
    Ok(dedup_by(refs, |m| m.value.clone()))
}

/// The ids of `value eq "…"` or an `or`-chain of those; `None` for any other filter.
fn listed_ids(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Or(l, r) => {
            let mut ids = listed_ids(l)?;
            ids.extend(listed_ids(r)?);
            Some(dedup(ids))
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Value::String(id),
        } if path.uri.is_none() && path.sub.is_none() && path.matches_name("value") => {
            Some(vec![id.clone()])
        }
        _ => None,
    }
}

/// Drops repeated ids, keeping the first occurrence.
fn dedup(ids: Vec<String>) -> Vec<String> {
    dedup_by(ids, String::clone)
}

/// Drops items whose key was seen before, keeping the first occurrence.
fn dedup_by<T>(items: Vec<T>, key: impl Fn(&T) -> String) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    items.into_iter().filter(|i| seen.insert(key(i))).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::patch::{PATCH_OP_SCHEMA, PatchOptions, parse_patch};

    fn split(ops: Value) -> Result<(Vec<PatchOperation>, Vec<MemberChange>), ScimError> {
        let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops});
        let ops = parse_patch(&body, &PatchOptions::default())?;
        split_member_ops(ops, &ResourceSchema::group(Vec::new()))
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn refs(list: &[&str]) -> Vec<MemberRef> {
        list.iter()
            .map(|s| MemberRef {
                value: (*s).to_owned(),
                r#type: None,
                display: None,
            })
            .collect()
    }

    #[test]
    fn turns_member_operations_into_changes() {
        use MemberChange::*;
        let rows: Vec<(Value, Vec<MemberChange>)> = vec![
            (
                json!({"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b", "display": "B", "type": "user"}]}),
                vec![Add(vec![
                    refs(&["a"]).remove(0),
                    MemberRef {
                        value: "b".to_owned(),
                        r#type: Some("User".to_owned()),
                        display: Some("B".to_owned()),
                    },
                ])],
            ),
            (
                json!({"op": "Add", "path": "Members", "value": {"value": "a"}}),
                vec![Add(refs(&["a"]))],
            ),
            (
                json!({"op": "replace", "path": "members", "value": [{"value": "a"}, {"value": "a"}]}),
                vec![Replace(refs(&["a"]))],
            ),
            (
                json!({"op": "replace", "path": "members", "value": []}),
                vec![Replace(Vec::new())],
            ),
            (
                json!({"op": "remove", "path": "members[value eq \"a\"]"}),
                vec![Remove(ids(&["a"]))],
            ),
            (
                json!({"op": "remove", "path": "members[value eq \"a\" or value eq \"b\"]"}),
                vec![Remove(ids(&["a", "b"]))],
            ),
            (
                json!({"op": "Remove", "path": "members", "value": [{"value": "id1"}]}),
                vec![Remove(ids(&["id1"]))],
            ),
            (json!({"op": "remove", "path": "members"}), vec![RemoveAll]),
            (
                json!({"op": "add", "value": {"members": [{"value": "a"}]}}),
                vec![Add(refs(&["a"]))],
            ),
            (
                json!({"op": "replace", "value": {"MEMBERS": [{"value": "a"}]}}),
                vec![Replace(refs(&["a"]))],
            ),
            (
                json!({"op": "add", "path": "members", "value": [42]}),
                vec![Add(refs(&["42"]))],
            ),
            (
                json!({"op": "remove", "path": "members", "value": []}),
                vec![],
            ),
            (json!({"op": "add", "value": {"members": null}}), vec![]),
        ];
        for (op, expected) in rows {
            let (rest, changes) = split(json!([op])).unwrap_or_else(|e| panic!("{op}: {e}"));
            assert!(rest.is_empty(), "{op}: {rest:?}");
            assert_eq!(changes, expected, "{op}");
        }
        let (_, changes) =
            split(json!([{"op": "remove", "path": "members[type eq \"Group\"]"}])).expect("valid");
        let filter: Filter = "type eq \"Group\"".parse().expect("valid filter");
        assert_eq!(changes, [RemoveWhere(filter)]);
    }

    #[test]
    fn keeps_other_operations_in_order() {
        let ops = json!([
            {"op": "replace", "value": {"id": "g1", "displayName": "New", "members": [{"value": "a"}]}},
            {"op": "remove", "path": "members[value eq \"b\"]"},
            {"op": "replace", "path": "displayName", "value": "Newer"},
            {"op": "add", "path": "members", "value": [{"value": "c"}]},
        ]);
        let (rest, changes) = split(ops).expect("valid");
        let rest: Vec<_> = rest
            .iter()
            .map(|o| (o.path.as_ref().map(ToString::to_string), o.value.clone()))
            .collect();
        assert_eq!(
            rest,
            [
                (None, Some(json!({"id": "g1", "displayName": "New"}))),
                (Some("displayName".to_owned()), Some(json!("Newer"))),
            ]
        );
        use MemberChange::*;
        assert_eq!(
            changes,
            [
                Replace(refs(&["a"])),
                Remove(ids(&["b"])),
                Add(refs(&["c"]))
            ]
        );
    }

    #[test]
    fn rejects_bad_member_operations() {
        let rows = [
            (
                json!({"op": "add", "path": "members", "value": [{"display": "x"}]}),
                ScimType::InvalidValue,
            ),
            (
                json!({"op": "add", "path": "members", "value": [{"value": ""}]}),
                ScimType::InvalidValue,
            ),
            (
                json!({"op": "remove", "path": "members", "value": [{"type": "User"}]}),
                ScimType::InvalidValue,
            ),
            (
                json!({"op": "replace", "path": "members[value eq \"a\"].display", "value": "x"}),
                ScimType::Mutability,
            ),
            (
                json!({"op": "replace", "path": "members[value eq \"a\"]", "value": {"value": "b"}}),
                ScimType::InvalidPath,
            ),
        ];
        for (op, expected) in rows {
            let err = split(json!([op])).expect_err("invalid");
            assert_eq!(err.scim_type, Some(expected), "{op}");
        }
    }

    #[test]
    fn users_pass_through() {
        let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "remove", "path": "emails"}]});
        let ops = parse_patch(&body, &PatchOptions::default()).expect("valid");
        let (rest, changes) =
            split_member_ops(ops.clone(), &ResourceSchema::user(Vec::new())).expect("valid");
        assert_eq!((rest, changes), (ops, Vec::new()));
    }
}
