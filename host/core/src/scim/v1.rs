//! SCIM 1.1 (draft-scim-core-schema-01, draft-scim-api-01) on top of the
//! 2.0 engine: `/scim/v1/…` requests are translated into 2.0-shaped bodies,
//! and 2.0 resources back into the 1.1 shape.
//!
//! The two versions differ, for what Rollcall serves, in:
//!
//! - schema URNs: one core URN `urn:scim:schemas:core:1.0` for Users and
//!   Groups, and the enterprise extension
//!   `urn:scim:schemas:extension:enterprise:1.0` (its object, like in 2.0,
//!   sits under its URN key); other (custom) URNs pass unchanged;
//! - the enterprise `manager` is `{managerId, displayName}` instead of
//!   `{value, $ref, displayName}`; 1.1 has no `$ref` sub-attributes and no
//!   `meta.resourceType`;
//! - PATCH is a partial resource: multi-valued elements carrying
//!   `"operation": "delete"` are removed, `meta.attributes` names
//!   attributes to clear, everything else is merged;
//! - errors are `{"Errors":[{"description","code"}]}`, list responses and
//!   the `/ServiceProviderConfigs` document have their own shapes.

use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::path::AttrPath;
use super::resource::{MemberRef, ResourceKind, get_ci, member_ref};
use super::schema::ENTERPRISE_USER_SCHEMA;

/// The SCIM 1.1 core schema URN (Users and Groups alike).
pub const V1_CORE_SCHEMA: &str = "urn:scim:schemas:core:1.0";
/// The SCIM 1.1 enterprise User extension URN.
pub const V1_ENTERPRISE: &str = "urn:scim:schemas:extension:enterprise:1.0";

/// A 1.1 PATCH translated into 2.0 terms. Apply in this order: clear
/// `remove_attributes` (and all members when `clear_members`), then the
/// element `removals` and `members_remove`, then merge `merge` and add
/// `members_add` — the 1.1 rule that removals precede additions.
#[derive(Debug, Clone, PartialEq)]
pub struct V1Patch {
    /// 2.0 attribute paths to clear (`meta.attributes`), e.g. `nickName`,
    /// `name.familyName`, `urn:…:enterprise:2.0:User:department`. For
    /// groups, `members` is reported as `clear_members` instead.
    pub remove_attributes: Vec<String>,
    /// `(attribute, element)` pairs: elements of multi-valued attributes
    /// marked `"operation": "delete"`, without that marker. Match an
    /// element by its `value` when it has one, else by the whole element.
    /// Extension attributes are named `urn:…:attr`.
    pub removals: Vec<(String, Value)>,
    /// The partial 2.0 resource to merge (add / replace). It has no
    /// `meta`, no deleted elements and, for groups, no `members`.
    pub merge: Value,
    /// Groups: members to add.
    pub members_add: Vec<MemberRef>,
    /// Groups: member values to remove.
    pub members_remove: Vec<String>,
    /// Groups: `members` was named in `meta.attributes`.
    pub clear_members: bool,
}

/// Translates a 1.1 POST / PUT body into a 2.0-shaped body for
/// [`super::resource::ingest`]. `meta` is dropped: it is read-only, and its
/// `attributes` list is meaningless for a PUT, which clears every omitted
/// attribute anyway. Elements marked `"operation": "delete"` are dropped.
pub fn resource_from_v1(kind: ResourceKind, body: &Value) -> Result<Value, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
    let mut out = translate_in(kind, obj);
    for_each_array(&mut out, &mut |_, items| {
        split_deletes(items);
    });
    Ok(Value::Object(out))
}

/// Translates a rendered 2.0 resource into the 1.1 shape.
pub fn resource_to_v1(kind: ResourceKind, v2: &Value) -> Value {
    let Some(obj) = v2.as_object() else {
        return v2.clone();
    };
    let mut out = Map::new();
    for (key, value) in obj {
        let (key, value) = match key.as_str() {
            "schemas" => (key.clone(), schemas_to_v1(kind, value)),
            "meta" => (key.clone(), without_keys(value, &["resourceType"])),
            k if k.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA) => {
                (V1_ENTERPRISE.to_owned(), enterprise_to_v1(value))
            }
            _ => (key.clone(), without_refs(value)),
        };
        out.insert(key, value);
    }
    Value::Object(out)
}

/// Translates a 1.1 PATCH body (see [`V1Patch`]).
pub fn patch_from_v1(kind: ResourceKind, body: &Value) -> Result<V1Patch, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
    let mut patch = V1Patch {
        remove_attributes: Vec::new(),
        removals: Vec::new(),
        merge: Value::Null,
        members_add: Vec::new(),
        members_remove: Vec::new(),
        clear_members: false,
    };
    for name in meta_attributes(obj)? {
        if kind == ResourceKind::Group && name.eq_ignore_ascii_case("members") {
            patch.clear_members = true;
        } else {
            patch.remove_attributes.push(name);
        }
    }
    let mut merge = translate_in(kind, obj);
    if kind == ResourceKind::Group
        && let Some(members) = remove_ci(&mut merge, "members")
    {
        member_changes(&members, &mut patch)?;
    }
    let mut removals = Vec::new();
    for_each_array(&mut merge, &mut |name, items| {
        let deleted = split_deletes(items);
        removals.extend(deleted.into_iter().map(|e| (name.to_owned(), e)));
    });
    patch.removals = removals;
    prune_empty(&mut merge);
    patch.merge = Value::Object(merge);
    Ok(patch)
}

/// The 1.1 error body.
pub fn error_to_v1(err: &ScimError) -> Value {
    json!({
        "Errors": [{
            "description": err.detail,
            "code": err.status.to_string(),
        }]
    })
}

/// The 1.1 list response; `start` is the 1-based index of the first item.
pub fn list_to_v1(total: u64, start: u64, items: Vec<Value>) -> Value {
    json!({
        "schemas": [V1_CORE_SCHEMA],
        "totalResults": total,
        "itemsPerPage": items.len(),
        "startIndex": start,
        "Resources": items,
    })
}

/// The 1.1 `/ServiceProviderConfigs` document. PATCH, sort and ETags are
/// supported, password changes and XML are not; `bulk` is
/// `(maxOperations, maxPayloadSize)` when supported.
pub fn service_provider_configs_v1(
    base_url: &str,
    max_results: usize,
    bulk: Option<(usize, usize)>,
) -> Value {
    let (max_operations, max_payload_size) = bulk.unwrap_or((0, 0));
    let supported = |flag: bool| json!({ "supported": flag });
    let location = format!("{}/ServiceProviderConfigs", base_url.trim_end_matches('/'));
    json!({
        "schemas": [V1_CORE_SCHEMA],
        "patch": supported(true),
        "bulk": {
            "supported": bulk.is_some(),
            "maxOperations": max_operations,
            "maxPayloadSize": max_payload_size,
        },
        "filter": { "supported": true, "maxResults": max_results },
        "changePassword": supported(false),
        "sort": supported(true),
        "etag": supported(true),
        "xmlDataFormat": supported(false),
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token in the Authorization header.",
            "specUrl": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": { "location": location },
    })
}

// ---------------------------------------------------------------------------
// 1.1 → 2.0
// ---------------------------------------------------------------------------

/// URN and enterprise translation of a 1.1 body; `meta` dropped.
fn translate_in(kind: ResourceKind, obj: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("meta") {
            continue;
        }
        let (key, value) = if key.eq_ignore_ascii_case("schemas") {
            ("schemas".to_owned(), schemas_from_v1(kind, value))
        } else if key.eq_ignore_ascii_case(V1_ENTERPRISE) {
            (ENTERPRISE_USER_SCHEMA.to_owned(), enterprise_from_v1(value))
        } else {
            (key.clone(), value.clone())
        };
        out.insert(key, value);
    }
    out
}

fn urn_from_v1(kind: ResourceKind, urn: &str) -> String {
    if urn.eq_ignore_ascii_case(V1_CORE_SCHEMA) {
        kind.core_urn().to_owned()
    } else if urn.eq_ignore_ascii_case(V1_ENTERPRISE) {
        ENTERPRISE_USER_SCHEMA.to_owned()
    } else {
        urn.to_owned()
    }
}

fn schemas_from_v1(kind: ResourceKind, value: &Value) -> Value {
    map_urns(value, |urn| urn_from_v1(kind, urn))
}

/// Maps every string of a `schemas` array, dropping duplicates; other
/// shapes are returned unchanged for the 2.0 layer to judge.
fn map_urns(value: &Value, map: impl Fn(&str) -> String) -> Value {
    let Some(items) = value.as_array() else {
        return value.clone();
    };
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for item in items {
        let mapped = item
            .as_str()
            .map_or_else(|| item.clone(), |u| Value::from(map(u)));
        if !out.contains(&mapped) {
            out.push(mapped);
        }
    }
    Value::Array(out)
}

/// `manager.managerId` → `manager.value`.
fn enterprise_from_v1(value: &Value) -> Value {
    rename_manager_key(value, "managerId", "value")
}

fn rename_manager_key(value: &Value, from: &str, to: &str) -> Value {
    let mut ext = value.clone();
    let manager = ext
        .as_object_mut()
        .and_then(|e| {
            e.iter_mut()
                .find(|(k, _)| k.eq_ignore_ascii_case("manager"))
        })
        .and_then(|(_, m)| m.as_object_mut());
    if let Some(manager) = manager
        && let Some(id) = remove_ci(manager, from)
    {
        manager.insert(to.to_owned(), id);
    }
    ext
}

/// Removes `name` (any case) from `map`, returning its value.
fn remove_ci(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = map.keys().find(|k| k.eq_ignore_ascii_case(name))?.clone();
    map.remove(&key)
}

/// Calls `f(label, items)` for every array at the top level and inside
/// extension objects (labelled `urn:…:name`).
fn for_each_array(obj: &mut Map<String, Value>, f: &mut dyn FnMut(&str, &mut Vec<Value>)) {
    for (key, value) in obj.iter_mut() {
        match value {
            Value::Array(items) if key != "schemas" => f(key, items),
            Value::Object(ext) if is_urn(key) => {
                for (name, inner) in ext.iter_mut() {
                    if let Value::Array(items) = inner {
                        f(&format!("{key}:{name}"), items);
                    }
                }
            }
            _ => {}
        }
    }
}

fn is_urn(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

/// Takes the elements marked `"operation": "delete"` out of `items` and
/// returns them; strips the `operation` marker from every element.
fn split_deletes(items: &mut Vec<Value>) -> Vec<Value> {
    let mut deleted = Vec::new();
    let mut kept = Vec::with_capacity(items.len());
    for mut item in items.drain(..) {
        let operation = item.as_object_mut().and_then(|e| remove_ci(e, "operation"));
        let is_delete = operation
            .as_ref()
            .and_then(Value::as_str)
            .is_some_and(|op| op.trim().eq_ignore_ascii_case("delete"));
        if is_delete {
            deleted.push(item);
        } else {
            kept.push(item);
        }
    }
    *items = kept;
    deleted
}

/// Drops arrays and extension objects left empty by [`split_deletes`].
fn prune_empty(obj: &mut Map<String, Value>) {
    for value in obj.values_mut() {
        if let Value::Object(ext) = value {
            ext.retain(|_, v| !matches!(v, Value::Array(a) if a.is_empty()));
        }
    }
    obj.retain(|key, v| match v {
        Value::Array(a) => key == "schemas" || !a.is_empty(),
        Value::Object(o) => !(is_urn(key) && o.is_empty()),
        _ => true,
    });
}

/// Sorts `members` elements into additions and removals.
fn member_changes(members: &Value, patch: &mut V1Patch) -> Result<(), ScimError> {
    let mut items = match members {
        Value::Null => return Ok(()),
        Value::Array(items) => items.clone(),
        single => vec![single.clone()],
    };
    let deleted = split_deletes(&mut items);
    for (index, item) in deleted.iter().enumerate() {
        patch.members_remove.push(member_ref(index, item)?.value);
    }
    for (index, item) in items.iter().filter(|i| !i.is_null()).enumerate() {
        patch.members_add.push(member_ref(index, item)?);
    }
    Ok(())
}

/// `meta.attributes`, translated to 2.0 paths and checked as such.
fn meta_attributes(obj: &Map<String, Value>) -> Result<Vec<String>, ScimError> {
    let meta = get_ci(obj, "meta").and_then(Value::as_object);
    let Some(list) = meta.and_then(|m| get_ci(m, "attributes")) else {
        return Ok(Vec::new());
    };
    let malformed =
        || ScimError::invalid_syntax("meta.attributes must be an array of attribute names");
    let names = match list {
        Value::Null => return Ok(Vec::new()),
        Value::Array(names) => names,
        _ => return Err(malformed()),
    };
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let path = path_from_v1(name.as_str().ok_or_else(malformed)?);
        AttrPath::parse(&path)
            .map_err(|e| ScimError::invalid_path(format!("meta.attributes: {e}")))?;
        out.push(path);
    }
    Ok(out)
}

/// `urn:scim:schemas:core:1.0:x` → `x`; the 1.1 enterprise prefix → the 2.0
/// one, with `manager.managerId` → `manager.value`.
fn path_from_v1(name: &str) -> String {
    let name = name.trim();
    let strip = |prefix: &str| {
        let head = name.get(..prefix.len() + 1)?;
        head.eq_ignore_ascii_case(&format!("{prefix}:"))
            .then(|| &name[prefix.len() + 1..])
    };
    if let Some(rest) = strip(V1_CORE_SCHEMA) {
        return rest.to_owned();
    }
    let Some(rest) = strip(V1_ENTERPRISE) else {
        return name.to_owned();
    };
    let rest = if rest.eq_ignore_ascii_case("manager.managerId") {
        "manager.value"
    } else {
        rest
    };
    format!("{ENTERPRISE_USER_SCHEMA}:{rest}")
}

// ---------------------------------------------------------------------------
// 2.0 → 1.1
// ---------------------------------------------------------------------------

fn schemas_to_v1(kind: ResourceKind, value: &Value) -> Value {
    let mapped = map_urns(value, |urn| {
        if urn.eq_ignore_ascii_case(kind.core_urn()) {
            V1_CORE_SCHEMA.to_owned()
        } else if urn.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA) {
            V1_ENTERPRISE.to_owned()
        } else {
            urn.to_owned()
        }
    });
    let mut urns = vec![Value::from(V1_CORE_SCHEMA)];
    let rest = mapped.as_array().into_iter().flatten();
    urns.extend(rest.filter(|u| u.as_str() != Some(V1_CORE_SCHEMA)).cloned());
    Value::Array(urns)
}

/// `manager.value` → `manager.managerId`, `$ref` dropped.
fn enterprise_to_v1(value: &Value) -> Value {
    let renamed = rename_manager_key(value, "value", "managerId");
    let Value::Object(mut ext) = renamed else {
        return renamed;
    };
    if let Some(manager) = ext.get_mut("manager") {
        *manager = without_keys(manager, &["$ref"]);
    }
    Value::Object(ext)
}

/// Drops `$ref` from the elements of a multi-valued attribute.
fn without_refs(value: &Value) -> Value {
    match value {
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| without_keys(i, &["$ref"])).collect())
        }
        other => other.clone(),
    }
}

fn without_keys(value: &Value, keys: &[&str]) -> Value {
    match value {
        Value::Object(obj) => {
            let kept = obj.iter().filter(|(k, _)| !keys.contains(&k.as_str()));
            Value::Object(kept.map(|(k, v)| (k.clone(), v.clone())).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::render::{Meta, Projection, render};
    use crate::scim::resource::ingest;
    use crate::scim::schema::{GROUP_SCHEMA, ResourceSchema, USER_SCHEMA};

    fn meta(resource_type: &'static str, id: &str) -> Meta {
        Meta {
            resource_type,
            created: "2024-01-02T03:04:05Z".to_owned(),
            last_modified: "2024-01-02T03:04:05Z".to_owned(),
            location: format!("https://h/scim/v1/{resource_type}s/{id}"),
            version: "W/\"1\"".to_owned(),
        }
    }

    #[test]
    fn user_body_translates_to_2_0() {
        let body = json!({
            "schemas": [V1_CORE_SCHEMA, V1_ENTERPRISE],
            "userName": "ada",
            "meta": {"attributes": ["nickName"], "created": "x"},
            "emails": [{"value": "a@x.io", "primary": true}, {"value": "old@x.io", "operation": "delete"}],
            V1_ENTERPRISE: {"department": "Eng", "manager": {"managerId": "m1", "displayName": "Boss"}}
        });
        let got = resource_from_v1(ResourceKind::User, &body).expect("valid 1.1 body");
        let want = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "ada",
            "emails": [{"value": "a@x.io", "primary": true}],
            ENTERPRISE_USER_SCHEMA: {"department": "Eng", "manager": {"value": "m1", "displayName": "Boss"}}
        });
        assert_eq!(got, want);
        let group = resource_from_v1(ResourceKind::Group, &json!({"schemas": [V1_CORE_SCHEMA]}));
        assert_eq!(
            group.map(|g| g["schemas"].clone()),
            Ok(json!([GROUP_SCHEMA]))
        );
        let err = resource_from_v1(ResourceKind::User, &json!([1])).expect_err("not an object");
        assert_eq!(err.scim_type, Some(ScimType::InvalidSyntax));
    }

    #[test]
    fn user_round_trip() {
        let body = json!({
            "schemas": [V1_CORE_SCHEMA, V1_ENTERPRISE],
            "userName": "ada", "active": true,
            "emails": [{"value": "a@x.io", "type": "work", "primary": true}],
            V1_ENTERPRISE: {"employeeNumber": "42", "manager": {"managerId": "m1"}}
        });
        let schema = ResourceSchema::user(Vec::new());
        let v2 = resource_from_v1(ResourceKind::User, &body).expect("translates");
        let stored = ingest(ResourceKind::User, &v2, &schema, None)
            .expect("valid")
            .resource;
        let meta = meta("User", "u1");
        let projection = Projection::default();
        let mut rendered = render(
            ResourceKind::User,
            &stored,
            "u1",
            &meta,
            None,
            &schema,
            &projection,
        );
        rendered[ENTERPRISE_USER_SCHEMA]["manager"]["$ref"] = json!("https://h/Users/m1");
        let got = resource_to_v1(ResourceKind::User, &rendered);
        let mut want = body;
        want["id"] = json!("u1");
        want["meta"] = json!({
            "created": "2024-01-02T03:04:05Z", "lastModified": "2024-01-02T03:04:05Z",
            "location": "https://h/scim/v1/Users/u1", "version": "W/\"1\""
        });
        assert_eq!(got, want);
    }

    #[test]
    fn group_round_trip() {
        let body = json!({"schemas": [V1_CORE_SCHEMA], "displayName": "Eng",
            "members": [{"value": "u1", "display": "Ada"}]});
        let schema = ResourceSchema::group(Vec::new());
        let v2 = resource_from_v1(ResourceKind::Group, &body).expect("translates");
        let ingested = ingest(ResourceKind::Group, &v2, &schema, None).expect("valid");
        let members = ingested.members.unwrap_or_default();
        assert_eq!(
            members.iter().map(|m| m.value.as_str()).collect::<Vec<_>>(),
            ["u1"]
        );
        let element =
            json!({"value": "u1", "$ref": "https://h/Users/u1", "display": "Ada", "type": "User"});
        let meta = meta("Group", "g1");
        let projection = Projection::default();
        let rendered = render(
            ResourceKind::Group,
            &ingested.resource,
            "g1",
            &meta,
            Some(vec![element]),
            &schema,
            &projection,
        );
        let got = resource_to_v1(ResourceKind::Group, &rendered);
        assert_eq!(got["schemas"], json!([V1_CORE_SCHEMA]));
        assert_eq!(
            got["members"],
            json!([{"value": "u1", "display": "Ada", "type": "User"}])
        );
        assert_eq!(got["displayName"], "Eng");
        assert!(got["meta"].get("resourceType").is_none());
    }

    #[test]
    fn user_patch() {
        let body = json!({
            "schemas": [V1_CORE_SCHEMA],
            "meta": {"attributes": ["nickName", "urn:scim:schemas:core:1.0:title",
                "urn:scim:schemas:extension:enterprise:1.0:manager.managerId"]},
            "displayName": "Ada L",
            "emails": [{"value": "old@x.io", "operation": "Delete"}],
            "phoneNumbers": [{"value": "555", "type": "work"}, {"value": "000", "operation": "delete"}]
        });
        let got = patch_from_v1(ResourceKind::User, &body).expect("valid patch");
        let manager = format!("{ENTERPRISE_USER_SCHEMA}:manager.value");
        assert_eq!(
            got.remove_attributes,
            ["nickName", "title", manager.as_str()]
        );
        let removals = vec![
            ("emails".to_owned(), json!({"value": "old@x.io"})),
            ("phoneNumbers".to_owned(), json!({"value": "000"})),
        ];
        assert_eq!(got.removals, removals);
        let merge = json!({"schemas": [USER_SCHEMA], "displayName": "Ada L",
            "phoneNumbers": [{"value": "555", "type": "work"}]});
        assert_eq!(got.merge, merge);
        assert!(got.members_add.is_empty() && got.members_remove.is_empty() && !got.clear_members);
    }

    #[test]
    fn group_patch() {
        let body = json!({
            "schemas": [V1_CORE_SCHEMA],
            "displayName": "Eng 2",
            "meta": {"attributes": ["members"]},
            "members": [{"value": "u1", "operation": "delete"}, {"value": "u2", "type": "user"}, "u3"]
        });
        let got = patch_from_v1(ResourceKind::Group, &body).expect("valid patch");
        assert!(got.clear_members && got.remove_attributes.is_empty());
        assert_eq!(got.members_remove, ["u1"]);
        let added: Vec<(&str, Option<&str>)> = got
            .members_add
            .iter()
            .map(|m| (m.value.as_str(), m.r#type.as_deref()))
            .collect();
        assert_eq!(added, [("u2", Some("User")), ("u3", None)]);
        assert_eq!(
            got.merge,
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng 2"})
        );
        assert!(got.removals.is_empty());
    }

    #[test]
    fn patch_rejections() {
        use ScimType::*;
        let cases = [
            (ResourceKind::User, json!("x"), InvalidSyntax),
            (
                ResourceKind::User,
                json!({"meta": {"attributes": "nickName"}}),
                InvalidSyntax,
            ),
            (
                ResourceKind::User,
                json!({"meta": {"attributes": [1]}}),
                InvalidSyntax,
            ),
            (
                ResourceKind::User,
                json!({"meta": {"attributes": ["a b"]}}),
                InvalidPath,
            ),
            (
                ResourceKind::Group,
                json!({"members": [{"operation": "delete"}]}),
                InvalidValue,
            ),
        ];
        for (kind, body, scim_type) in cases {
            let err = patch_from_v1(kind, &body).expect_err("rejected");
            assert_eq!(
                (err.status, err.scim_type),
                (400, Some(scim_type)),
                "{body}"
            );
        }
    }

    #[test]
    fn error_list_and_config_documents() {
        let err = ScimError::not_found("no such user");
        let want = json!({"Errors": [{"description": "no such user", "code": "404"}]});
        assert_eq!(error_to_v1(&err), want);
        let list = list_to_v1(7, 3, vec![json!({"id": "a"}), json!({"id": "b"})]);
        let want = json!({"schemas": [V1_CORE_SCHEMA], "totalResults": 7, "itemsPerPage": 2,
            "startIndex": 3, "Resources": [{"id": "a"}, {"id": "b"}]});
        assert_eq!(list, want);
        let doc = service_provider_configs_v1("https://h/scim/v1/", 200, Some((100, 1_048_576)));
        assert_eq!(doc["schemas"], json!([V1_CORE_SCHEMA]));
        assert_eq!(doc["filter"], json!({"supported": true, "maxResults": 200}));
        let bulk = json!({"supported": true, "maxOperations": 100, "maxPayloadSize": 1_048_576});
        assert_eq!(doc["bulk"], bulk);
        assert_eq!(
            doc["meta"]["location"],
            "https://h/scim/v1/ServiceProviderConfigs"
        );
        let no_bulk = service_provider_configs_v1("https://h", 50, None);
        assert_eq!(no_bulk["bulk"]["supported"], false);
    }
}
