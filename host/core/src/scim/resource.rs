//! Ingesting client-supplied SCIM resources (RFC 7643 §2–§4, RFC 7644 §3.3
//! and §3.5.1): the POST / PUT body of a User or Group, already normalized by
//! the provider dialect layer, becomes the canonical resource Rollcall stores.
//!
//! What [`ingest`] guarantees about the stored form:
//!
//! - attribute and sub-attribute names carry the schema's spelling
//!   (`USERNAME` → `userName`), extension objects are keyed by their
//!   canonical URN, and `schemas` lists the core URN plus exactly the
//!   extensions whose object is present;
//! - values are coerced and checked by [`validate_attribute`] (`"True"` →
//!   `true`), unassigned values (`null`, `[]`, `{}`) are absent;
//! - nothing read-only (`id`, `meta`, `groups`, `manager.displayName`) and
//!   nothing write-only (`password`) is kept; nothing unknown is kept either —
//!   unknown names are reported as warnings instead (lenient input);
//! - group `members` are not part of the stored resource: they are returned
//!   as [`MemberRef`]s for the membership table.
//!
//! Every rejection is a [`ScimError`]: a body that is not an object or a
//! `schemas` without the core URN is `invalidSyntax`, a changed immutable
//! value is `mutability`, everything else is `invalidValue` naming the
//! attribute path.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::error::ScimError;
use super::schema::{
    AttributeDef, GROUP_SCHEMA, Mutability, ResourceSchema, Schema, USER_SCHEMA, validate_attribute,
};

/// Most elements accepted in one multi-valued attribute. Group `members` are
/// exempt: their limit is the caller's.
pub const MAX_MULTI_VALUES: usize = 1000;
/// Longest string accepted anywhere in an attribute value, in bytes.
pub const MAX_STRING_BYTES: usize = 64 * 1024;

/// The two SCIM resource types Rollcall serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// The core schema URN of this resource type.
    pub fn core_urn(self) -> &'static str {
        match self {
            ResourceKind::User => USER_SCHEMA,
            ResourceKind::Group => GROUP_SCHEMA,
        }
    }

    /// The resource type name, as in `meta.resourceType`.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }
}

/// One group member as a client named it: the member resource's id and,
/// when given, its type (`User` / `Group`, canonical capitalization) and
/// the client's label for it (`display`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    pub value: String,
    pub r#type: Option<String>,
    pub display: Option<String>,
}

/// The outcome of [`ingest`].
#[derive(Debug, Clone, PartialEq)]
pub struct Ingested {
    /// The canonical resource to store (no `id`, `meta` or group `members`).
    pub resource: Value,
    /// Group members: `None` when the body has no `members` attribute,
    /// `Some(vec![])` when it is explicitly empty (`[]` or `null`).
    /// Duplicate values are dropped (first wins). Always `None` for users.
    pub members: Option<Vec<MemberRef>>,
    /// Whether the body carried a `password`. It is never stored.
    pub password_present: bool,
    /// Human-readable notes about ignored unknown attributes and extensions.
    pub warnings: Vec<String>,
}

/// Validates and normalizes a POST or PUT body into the stored form (see the
/// module docs).
///
/// `existing` is the stored resource a PUT replaces. An immutable attribute
/// already set there must keep its value (else 400 `mutability`); when the
/// body omits it, the existing value is carried over. `schemas` may be
/// missing (the core URN is assumed) but, when present, must name the core
/// schema of `schema`.
pub fn ingest(
    kind: ResourceKind,
    body: &Value,
    schema: &ResourceSchema,
    existing: Option<&Value>,
) -> Result<Ingested, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
    check_schemas(get_ci(obj, "schemas"), &schema.core.id)?;
    let mut run = Run::new(kind, schema);
    for (key, value) in obj {
        run.top_level(key, value)?;
    }
    run.finish(existing.and_then(Value::as_object))
}

/// The stored resource's `userName`.
pub fn user_name(resource: &Value) -> Option<&str> {
    resource.get("userName")?.as_str()
}

/// The stored resource's `externalId`.
pub fn external_id(resource: &Value) -> Option<&str> {
    resource.get("externalId")?.as_str()
}

/// The stored resource's `displayName`.
pub fn display_name(resource: &Value) -> Option<&str> {
    resource.get("displayName")?.as_str()
}

/// Every `emails[].value` of the stored resource, in order.
pub fn email_values(resource: &Value) -> Vec<String> {
    let emails = resource.get("emails").and_then(Value::as_array);
    let values = emails.into_iter().flatten().filter_map(|e| e.get("value"));
    values
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// The value under `name`, matched exactly first, then ignoring ASCII case.
pub(crate) fn get_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| {
        let mut entries = map.iter();
        entries
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

/// `null`, `[]` and `{}` all mean "unassigned" (RFC 7643 §2.5).
pub(crate) fn is_unassigned(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// `urn:…:name` for extension attributes, `name` for core ones.
fn qualify(scope: Option<&str>, name: &str) -> String {
    match scope {
        Some(urn) => format!("{urn}:{name}"),
        None => name.to_owned(),
    }
}

/// `schemas` may be absent; present, it must be URN strings naming `core`
/// (a single string is accepted as a one-element list).
fn check_schemas(schemas: Option<&Value>, core: &str) -> Result<(), ScimError> {
    let malformed = || ScimError::invalid_syntax("\"schemas\" must be an array of URNs");
    let items: Vec<&Value> = match schemas {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single) => vec![single],
    };
    let mut names_core = false;
    for item in items {
        let urn = item.as_str().ok_or_else(malformed)?;
        names_core |= urn.eq_ignore_ascii_case(core);
    }
    if names_core {
        return Ok(());
    }
    Err(ScimError::invalid_syntax(format!(
        "\"schemas\" must contain {core}"
    )))
}

/// The state of one [`ingest`] call.
struct Run<'a> {
    kind: ResourceKind,
    schema: &'a ResourceSchema,
    out: Map<String, Value>,
    seen: HashSet<String>,
    members: Option<Vec<MemberRef>>,
    password_present: bool,
    warnings: Vec<String>,
}

impl<'a> Run<'a> {
    fn new(kind: ResourceKind, schema: &'a ResourceSchema) -> Self {
        Run {
            kind,
            schema,
            out: Map::new(),
            seen: HashSet::new(),
            members: None,
            password_present: false,
            warnings: Vec::new(),
        }
    }

    /// Dispatches one top-level key: members, an extension, a core or
    /// common attribute, or something unknown.
    fn top_level(&mut self, key: &str, value: &Value) -> Result<(), ScimError> {
        if key.eq_ignore_ascii_case("schemas") {
            return Ok(());
        }
        if self.kind == ResourceKind::Group && key.eq_ignore_ascii_case("members") {
            self.mark_seen("members")?;
            self.members = Some(member_refs(value)?);
            return Ok(());
        }
        if let Some(ext) = self.schema.extension(key) {
            self.mark_seen(&ext.id)?;
            if let Some(obj) = self.extension(ext, value)? {
                self.out.insert(ext.id.clone(), Value::Object(obj));
            }
            return Ok(());
        }
        let Some(attr) = self.schema.find(Some(&self.schema.core.id), key, None) else {
            self.warn_unknown(key);
            return Ok(());
        };
        self.mark_seen(&attr.name)?;
        if let Some(checked) = self.attribute(None, attr, value)? {
            self.out.insert(attr.name.clone(), checked);
        }
        Ok(())
    }

    /// Rejects a second spelling of the same top-level attribute.
    fn mark_seen(&mut self, canonical: &str) -> Result<(), ScimError> {
        if self.seen.insert(canonical.to_owned()) {
            return Ok(());
        }
        Err(ScimError::invalid_value(format!(
            "{canonical}: given more than once"
        )))
    }

    fn warn_unknown(&mut self, label: &str) {
        let what = if label
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        {
            "schema extension"
        } else {
            "attribute"
        };
        let warning = format!("unknown {what} {label:?} ignored");
        if !self.warnings.contains(&warning) {
            self.warnings.push(warning);
        }
    }

    /// Ingests one extension object; `None` when nothing of it remains.
    fn extension(
        &mut self,
        ext: &Schema,
        value: &Value,
    ) -> Result<Option<Map<String, Value>>, ScimError> {
        let obj = match value {
            Value::Null => return Ok(None),
            Value::Object(obj) => obj,
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "{}: expected an object",
                    ext.id
                )));
            }
        };
        let mut out = Map::new();
        for (key, item) in obj {
            let Some(attr) = ext.attribute(key) else {
                self.warn_unknown(&qualify(Some(&ext.id), key));
                continue;
            };
            if out.contains_key(&attr.name) {
                let label = qualify(Some(&ext.id), &attr.name);
                return Err(ScimError::invalid_value(format!(
                    "{label}: given more than once"
                )));
            }
            if let Some(checked) = self.attribute(Some(&ext.id), attr, item)? {
                out.insert(attr.name.clone(), checked);
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }

    /// Ingests one attribute value; `None` when it is not stored.
    fn attribute(
        &mut self,
        scope: Option<&str>,
        attr: &AttributeDef,
        value: &Value,
    ) -> Result<Option<Value>, ScimError> {
        match attr.mutability {
            Mutability::ReadOnly => return Ok(None),
            Mutability::WriteOnly => {
                let password = attr.name.eq_ignore_ascii_case("password");
                self.password_present |= password && !is_unassigned(value);
                return Ok(None);
            }
            Mutability::ReadWrite | Mutability::Immutable => {}
        }
        let label = qualify(scope, &attr.name);
        check_limits(&label, attr, value)?;
        let checked = validate_attribute(attr, value)
            .map_err(|e| ScimError::invalid_value(qualify(scope, &e)))?;
        self.clean(&label, attr, checked)
    }

    /// Drops unassigned values and, inside complex values, sub-attributes
    /// that are unknown, read-only or write-only.
    fn clean(
        &mut self,
        label: &str,
        attr: &AttributeDef,
        value: Value,
    ) -> Result<Option<Value>, ScimError> {
        let Value::Array(items) = value else {
            return self.clean_single(label, attr, value);
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(kept) = self.clean_single(label, attr, item)? {
                out.push(kept);
            }
        }
        Ok((!out.is_empty()).then_some(Value::Array(out)))
    }

    fn clean_single(
        &mut self,
        label: &str,
        attr: &AttributeDef,
        value: Value,
    ) -> Result<Option<Value>, ScimError> {
        match value {
            Value::Null => Ok(None),
            Value::Object(obj) => Ok(self.clean_complex(label, attr, obj)?.map(Value::Object)),
            scalar => Ok(Some(scalar)),
        }
    }

    fn clean_complex(
        &mut self,
        label: &str,
        attr: &AttributeDef,
        obj: Map<String, Value>,
    ) -> Result<Option<Map<String, Value>>, ScimError> {
        let mut out = Map::new();
        for (key, value) in obj {
            let Some(sub) = attr.sub_attribute(&key) else {
                self.warn_unknown(&format!("{label}.{key}"));
                continue;
            };
            if is_writable(sub) && !is_unassigned(&value) {
                out.insert(key, value);
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        let required = attr
            .sub_attributes
            .iter()
            .filter(|s| s.required && is_writable(s));
        if let Some(missing) = required.into_iter().find(|s| !out.contains_key(&s.name)) {
            let detail = format!("{label}.{} is required", missing.name);
            return Err(ScimError::invalid_value(detail));
        }
        Ok(Some(out))
    }

    /// Immutability, required attributes and `schemas`, then the result.
    fn finish(mut self, existing: Option<&Map<String, Value>>) -> Result<Ingested, ScimError> {
        if let Some(old) = existing {
            guard_immutable(self.schema, &mut self.out, old)?;
        }
        check_required(self.schema, &self.out)?;
        let schemas = present_schemas(self.schema, &self.out);
        self.out.insert("schemas".to_owned(), schemas);
        Ok(Ingested {
            resource: Value::Object(self.out),
            members: self.members,
            password_present: self.password_present,
            warnings: self.warnings,
        })
    }
}

fn is_writable(attr: &AttributeDef) -> bool {
    matches!(
        attr.mutability,
        Mutability::ReadWrite | Mutability::Immutable
    )
}

/// At most [`MAX_MULTI_VALUES`] elements and no string over
/// [`MAX_STRING_BYTES`], checked before any work is spent on the value.
fn check_limits(label: &str, attr: &AttributeDef, value: &Value) -> Result<(), ScimError> {
    if attr.multi_valued && value.as_array().is_some_and(|a| a.len() > MAX_MULTI_VALUES) {
        let detail = format!("{label}: at most {MAX_MULTI_VALUES} values are accepted");
        return Err(ScimError::invalid_value(detail));
    }
    if has_long_string(value) {
        let detail = format!("{label}: strings are limited to {MAX_STRING_BYTES} bytes");
        return Err(ScimError::invalid_value(detail));
    }
    Ok(())
}

fn has_long_string(value: &Value) -> bool {
    match value {
        Value::String(s) => s.len() > MAX_STRING_BYTES,
        Value::Array(items) => items.iter().any(has_long_string),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.len() > MAX_STRING_BYTES || has_long_string(v)),
        _ => false,
    }
}

/// Required, writable attributes must be present: those of the core schema
/// always, those of an extension when its object is present. Strings must
/// not be blank.
fn check_required(schema: &ResourceSchema, out: &Map<String, Value>) -> Result<(), ScimError> {
    check_required_in(None, &schema.core.attributes, out)?;
    for ext in &schema.extensions {
        if let Some(Value::Object(obj)) = out.get(&ext.id) {
            check_required_in(Some(&ext.id), &ext.attributes, obj)?;
        }
    }
    Ok(())
}

fn check_required_in(
    scope: Option<&str>,
    attrs: &[AttributeDef],
    values: &Map<String, Value>,
) -> Result<(), ScimError> {
    let present = |v: &Value| match v {
        Value::String(s) => !s.trim().is_empty(),
        other => !is_unassigned(other),
    };
    let required = attrs.iter().filter(|a| a.required && is_writable(a));
    match required
        .into_iter()
        .find(|a| !values.get(&a.name).is_some_and(present))
    {
        Some(missing) => Err(ScimError::invalid_value(format!(
            "{} is required",
            qualify(scope, &missing.name)
        ))),
        None => Ok(()),
    }
}

/// The core URN plus the URN of every extension present in `out`.
fn present_schemas(schema: &ResourceSchema, out: &Map<String, Value>) -> Value {
    let extensions = schema.extensions.iter().map(|e| e.id.as_str());
    let present = extensions.filter(|urn| out.contains_key(*urn));
    let urns = std::iter::once(schema.core.id.as_str()).chain(present);
    Value::Array(urns.map(|u| Value::String(u.to_owned())).collect())
}

/// Applies the PUT rule for immutable attributes (RFC 7644 §3.5.1) against
/// the stored resource `old`: top-level attributes of the core schema and of
/// every extension, and immutable sub-attributes of single-valued complex
/// attributes. (Group `members` never reach here.)
fn guard_immutable(
    schema: &ResourceSchema,
    out: &mut Map<String, Value>,
    old: &Map<String, Value>,
) -> Result<(), ScimError> {
    guard_scope(None, &schema.core.attributes, out, old)?;
    for ext in &schema.extensions {
        let Some(Value::Object(old_ext)) = get_ci(old, &ext.id) else {
            continue;
        };
        let mut new_ext = take_object(out, &ext.id);
        guard_scope(Some(&ext.id), &ext.attributes, &mut new_ext, old_ext)?;
        if !new_ext.is_empty() {
            out.insert(ext.id.clone(), Value::Object(new_ext));
        }
    }
    Ok(())
}

fn guard_scope(
    scope: Option<&str>,
    attrs: &[AttributeDef],
    new: &mut Map<String, Value>,
    old: &Map<String, Value>,
) -> Result<(), ScimError> {
    for attr in attrs {
        let label = qualify(scope, &attr.name);
        if attr.mutability == Mutability::Immutable {
            guard_value(&label, attr, new, old)?;
            continue;
        }
        let nested = attr
            .sub_attributes
            .iter()
            .filter(|s| s.mutability == Mutability::Immutable);
        let nested: Vec<&AttributeDef> = nested.collect();
        if nested.is_empty() || attr.multi_valued || !is_writable(attr) {
            continue;
        }
        let Some(Value::Object(old_sub)) = get_ci(old, &attr.name) else {
            continue;
        };
        let mut new_sub = take_object(new, &attr.name);
        for sub in nested {
            guard_value(&format!("{label}.{}", sub.name), sub, &mut new_sub, old_sub)?;
        }
        if !new_sub.is_empty() {
            new.insert(attr.name.clone(), Value::Object(new_sub));
        }
    }
    Ok(())
}

/// An already-set immutable value must be given unchanged, or is carried
/// over when omitted; unset, any value may be set.
fn guard_value(
    label: &str,
    attr: &AttributeDef,
    new: &mut Map<String, Value>,
    old: &Map<String, Value>,
) -> Result<(), ScimError> {
    let Some(before) = get_ci(old, &attr.name).filter(|v| !is_unassigned(v)) else {
        return Ok(());
    };
    if new
        .get(&attr.name)
        .is_some_and(|after| !same_value(attr, after, before))
    {
        let detail = format!("{label} is immutable and cannot be changed once set");
        return Err(ScimError::mutability(detail));
    }
    new.insert(attr.name.clone(), before.clone());
    Ok(())
}

fn same_value(attr: &AttributeDef, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if !attr.case_exact => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

/// Removes and returns the object under `key` (empty when absent).
fn take_object(map: &mut Map<String, Value>, key: &str) -> Map<String, Value> {
    match map.remove(key) {
        Some(Value::Object(obj)) => obj,
        _ => Map::new(),
    }
}

/// Parses a `members` value: an array (or one element) of `{"value",
/// "type"}` objects or bare ids; `null` is an empty list. Duplicate values
/// are dropped, the first one kept.
pub(crate) fn member_refs(value: &Value) -> Result<Vec<MemberRef>, ScimError> {
    let items: Vec<&Value> = match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().filter(|v| !v.is_null()).collect(),
        single => vec![single],
    };
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let member = member_ref(index, item)?;
        if seen.insert(member.value.clone()) {
            out.push(member);
        }
    }
    Ok(out)
}

/// Parses one `members` element; `index` only labels errors.
pub(crate) fn member_ref(index: usize, item: &Value) -> Result<MemberRef, ScimError> {
    let (value, kind, display) = match item {
        Value::Object(obj) => (
            get_ci(obj, "value"),
            get_ci(obj, "type"),
            get_ci(obj, "display"),
        ),
        scalar => (Some(scalar), None, None),
    };
    let label = format!("members[{index}]");
    let value = match value {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(ScimError::invalid_value(format!(
                "{label}.value is required"
            )));
        }
    };
    if value.len() > MAX_STRING_BYTES {
        let detail = format!("{label}.value is longer than {MAX_STRING_BYTES} bytes");
        return Err(ScimError::invalid_value(detail));
    }
    let r#type = match kind {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(canonical_member_type(t)),
        Some(_) => {
            return Err(ScimError::invalid_value(format!(
                "{label}.type must be a string"
            )));
        }
    };
    let display = match display {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) if d.len() > MAX_STRING_BYTES => {
            let detail = format!("{label}.display is longer than {MAX_STRING_BYTES} bytes");
            return Err(ScimError::invalid_value(detail));
        }
        Some(Value::String(d)) => Some(d.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            return Err(ScimError::invalid_value(format!(
                "{label}.display must be a string"
            )));
        }
    };
    Ok(MemberRef {
        value,
        r#type,
        display,
    })
}

/// `user` → `User`, `GROUP` → `Group`; anything else is kept as given.
fn canonical_member_type(text: &str) -> String {
    let trimmed = text.trim();
    ["User", "Group"]
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(trimmed))
        .unwrap_or(trimmed)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::schema::ENTERPRISE_USER_SCHEMA as ENT;

    const ACME: &str = "urn:acme:ext:1.0:User";

    fn acme() -> Schema {
        let def = json!({"id": ACME, "attributes": [
            {"name": "badgeId", "type": "integer", "mutability": "immutable"},
            {"name": "team"},
            {"name": "sponsor", "type": "complex", "subAttributes": [
                {"name": "value", "required": true},
                {"name": "since", "mutability": "immutable"}
            ]}
        ]});
        Schema::from_custom_json(&def).expect("valid custom schema")
    }

    fn users() -> ResourceSchema {
        ResourceSchema::user(vec![acme()])
    }

    fn user(body: Value) -> Result<Ingested, ScimError> {
        ingest(ResourceKind::User, &body, &users(), None)
    }

    fn group(body: Value) -> Result<Ingested, ScimError> {
        let schema = ResourceSchema::group(Vec::new());
        ingest(ResourceKind::Group, &body, &schema, None)
    }

    #[test]
    fn okta_user_post() {
        let body = json!({
            "schemas": [USER_SCHEMA],
            "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"primary": true, "value": "ada@example.com", "type": "work"}],
            "displayName": "Ada Lovelace",
            "locale": "en-US",
            "externalId": "00u1abc",
            "groups": [],
            "password": "hunter2",
            "active": true,
            "oktaCustomThing": "x"
        });
        let got = user(body).expect("valid Okta user");
        let want = json!({
            "schemas": [USER_SCHEMA],
            "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"primary": true, "value": "ada@example.com", "type": "work"}],
            "displayName": "Ada Lovelace",
            "locale": "en-US",
            "externalId": "00u1abc",
            "active": true
        });
        assert_eq!(got.resource, want);
        assert!(got.password_present);
        assert_eq!(got.members, None);
        assert_eq!(
            got.warnings,
            ["unknown attribute \"oktaCustomThing\" ignored"]
        );
    }

    #[test]
    fn entra_user_post() {
        let body = json!({
            "schemas": [USER_SCHEMA, ENT, "urn:ietf:params:scim:schemas:extension:CustomExtension:2.0:User"],
            "externalId": "6f0c1a52",
            "userName": "Test_User_ab6490ee@contoso.com",
            "active": "True",
            "displayName": "Test User",
            "emails": [{"primary": true, "type": "work", "value": "t@contoso.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "Test User", "familyName": "User", "givenName": "Test"},
            "roles": [],
            ENT: {"department": "Eng", "manager": {"value": "m-1", "displayName": "Boss"}}
        });
        let got = user(body).expect("valid Entra user");
        let r = &got.resource;
        assert_eq!(r["schemas"], json!([USER_SCHEMA, ENT]));
        assert_eq!(r["active"], json!(true));
        assert_eq!(r["name"]["formatted"], "Test User");
        assert_eq!(
            r[ENT],
            json!({"department": "Eng", "manager": {"value": "m-1"}})
        );
        assert!(r.get("meta").is_none() && r.get("roles").is_none());
        assert!(!got.password_present && got.warnings.is_empty());
    }

    #[test]
    fn names_resolve_case_insensitively() {
        let body = json!({
            "Schemas": [USER_SCHEMA.to_uppercase()],
            "USERNAME": "bob",
            "NAME": {"GIVENNAME": "Bob"},
            "Emails": [{"VALUE": "b@x.io", "Primary": "true"}],
            ENT.to_lowercase(): {"EMPLOYEENUMBER": 42},
            "urn:ACME:ext:1.0:User": {"BadgeId": "7"}
        });
        let got = user(body).expect("case-insensitive names");
        let want = json!({
            "schemas": [USER_SCHEMA, ENT, ACME],
            "userName": "bob",
            "name": {"givenName": "Bob"},
            "emails": [{"value": "b@x.io", "primary": true}],
            ENT: {"employeeNumber": "42"},
            ACME: {"badgeId": 7}
        });
        assert_eq!(got.resource, want);
    }

    #[test]
    fn read_only_and_unassigned_values_are_dropped_silently() {
        let body = json!({
            "userName": "u", "id": "x", "meta": {"version": "W/\"1\""},
            "groups": [{"value": "g"}], "nickName": null, "emails": [],
            "name": {"givenName": null}, ENT: {"manager": {"displayName": "Boss"}}
        });
        let got = user(body).expect("read-only fields ignored");
        assert_eq!(
            got.resource,
            json!({"schemas": [USER_SCHEMA], "userName": "u"})
        );
        assert!(got.warnings.is_empty(), "{:?}", got.warnings);
    }

    #[test]
    fn unknown_names_become_warnings() {
        let body = json!({
            "userName": "u", "name": {"givenName": "A", "nick": "x"},
            "urn:other:ext": {"a": 1}, ACME: {"team": "t", "shoe": 9}
        });
        let got = user(body).expect("unknown names ignored");
        assert_eq!(got.resource["name"], json!({"givenName": "A"}));
        assert_eq!(got.resource[ACME], json!({"team": "t"}));
        let want = [
            "unknown attribute \"name.nick\" ignored",
            "unknown schema extension \"urn:other:ext\" ignored",
            "unknown schema extension \"urn:acme:ext:1.0:User:shoe\" ignored",
        ];
        let mut warnings = got.warnings.clone();
        warnings.sort();
        let mut want = want.map(str::to_owned).to_vec();
        want.sort();
        assert_eq!(warnings, want);
    }

    #[rustfmt::skip]
    #[test]
    fn rejections() {
        use ScimType::*;
        let many: Vec<Value> = (0..1001).map(|i| json!({"value": format!("{i}@x.io")})).collect();
        let long = "x".repeat(MAX_STRING_BYTES + 1);
        let cases: Vec<(Result<Ingested, ScimError>, ScimType, &str)> = vec![
            (user(json!("x")), InvalidSyntax, "JSON object"),
            (user(json!({"schemas": [GROUP_SCHEMA], "userName": "u"})), InvalidSyntax, USER_SCHEMA),
            (user(json!({"schemas": [1], "userName": "u"})), InvalidSyntax, "array of URNs"),
            (user(json!({"name": {"givenName": "A"}})), InvalidValue, "userName is required"),
            (user(json!({"userName": "  "})), InvalidValue, "userName is required"),
            (user(json!({"userName": "u", "USERNAME": "v"})), InvalidValue, "more than once"),
            (user(json!({"userName": "u", "active": "yes"})), InvalidValue, "active: expected a boolean"),
            (user(json!({"userName": "u", "emails": [
                {"value": "a", "primary": true}, {"value": "b", "primary": "True"}]})),
                InvalidValue, "emails: at most one value may have \"primary\""),
            (user(json!({"userName": "u", "emails": many})), InvalidValue, "emails: at most 1000"),
            (user(json!({"userName": long})), InvalidValue, "userName: strings are limited"),
            (user(json!({"userName": "u", ENT: "x"})), InvalidValue, "enterprise:2.0:User: expected an object"),
            (user(json!({"userName": "u", ENT: {"manager": {"value": true}}})),
                InvalidValue, "enterprise:2.0:User:manager.value: expected a string"),
            (user(json!({"userName": "u", ACME: {"sponsor": {"since": "2020"}}})),
                InvalidValue, "User:sponsor.value is required"),
            (group(json!({"members": []})), InvalidValue, "displayName is required"),
            (group(json!({"displayName": "g", "members": [{"value": "a"}, {"display": "b"}]})),
                InvalidValue, "members[1].value is required"),
            (group(json!({"displayName": "g", "members": [{"value": "a", "type": 3}]})),
                InvalidValue, "members[0].type"),
        ];
        for (got, scim_type, needle) in cases {
            let err = got.expect_err(needle);
            assert_eq!((err.status, err.scim_type), (400, Some(scim_type)), "{err}");
            assert!(err.detail.contains(needle), "{err} lacks {needle:?}");
        }
    }

    #[test]
    fn immutable_attributes_keep_their_value() {
        let schema = users();
        let existing = json!({"userName": "u", ACME: {"badgeId": 7, "sponsor": {"value": "s", "since": "2020"}}});
        let put = |body: Value| ingest(ResourceKind::User, &body, &schema, Some(&existing));
        let changed = put(json!({"userName": "u", ACME: {"badgeId": 8}})).expect_err("changed");
        assert_eq!(changed.scim_type, Some(ScimType::Mutability));
        assert!(
            changed.detail.contains("urn:acme:ext:1.0:User:badgeId"),
            "{changed}"
        );
        let sub = put(json!({"userName": "u", ACME: {"sponsor": {"value": "s", "since": "2021"}}}));
        assert_eq!(
            sub.map_err(|e| e.scim_type),
            Err(Some(ScimType::Mutability))
        );
        let same =
            put(json!({"userName": "u", ACME: {"badgeId": "7", "team": "t"}})).expect("same");
        let want = json!({"badgeId": 7, "team": "t", "sponsor": {"since": "2020"}});
        assert_eq!(
            same.resource[ACME], want,
            "omitted immutable values carried over"
        );
        let omitted = put(json!({"userName": "u"})).expect("omitted");
        assert_eq!(omitted.resource["schemas"], json!([USER_SCHEMA, ACME]));
        assert_eq!(omitted.resource[ACME]["badgeId"], 7);
        let fresh = json!({"userName": "u", ACME: {"badgeId": 9}});
        let unset = ingest(
            ResourceKind::User,
            &fresh,
            &schema,
            Some(&json!({"userName": "u"})),
        );
        assert_eq!(
            unset.map(|i| i.resource[ACME]["badgeId"].clone()),
            Ok(json!(9))
        );
    }

    #[test]
    fn group_members_are_returned_separately() {
        let body = json!({
            "schemas": [GROUP_SCHEMA], "displayName": "Eng", "id": "x",
            "members": [
                {"value": "u1", "display": "Ada", "type": "user"},
                {"value": "g2", "type": "GROUP", "$ref": "https://h/Groups/g2"},
                "u3", {"value": "u1"}, null
            ]
        });
        let got = group(body).expect("valid group");
        assert_eq!(
            got.resource,
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng"})
        );
        let member = |v: &str, t: Option<&str>| MemberRef {
            value: v.to_owned(),
            r#type: t.map(str::to_owned),
            display: None,
        };
        let want = vec![
            MemberRef {
                display: Some("Ada".to_owned()),
                ..member("u1", Some("User"))
            },
            member("g2", Some("Group")),
            member("u3", None),
        ];
        assert_eq!(got.members, Some(want));
        let bad = json!({"displayName": "g", "members": [{"value": "u1", "display": [7]}]});
        assert!(group(bad).is_err(), "a display that is no string");
        let rows = [
            (json!({"displayName": "g"}), None),
            (json!({"displayName": "g", "members": []}), Some(0)),
            (json!({"displayName": "g", "members": null}), Some(0)),
        ];
        for (body, count) in rows {
            let members = group(body.clone()).expect("valid group").members;
            assert_eq!(members.map(|m| m.len()), count, "{body}");
        }
        let many: Vec<Value> = (0..1500)
            .map(|i| json!({"value": format!("u{i}")}))
            .collect();
        let big = group(json!({"displayName": "g", "members": many})).expect("no member cap");
        assert_eq!(big.members.map(|m| m.len()), Some(1500));
    }

    #[test]
    fn user_members_are_unknown() {
        let got = user(json!({"userName": "u", "members": [{"value": "x"}]})).expect("ok");
        assert_eq!(got.members, None);
        assert_eq!(got.warnings, ["unknown attribute \"members\" ignored"]);
    }

    #[test]
    fn helpers_read_the_stored_form() {
        let body = json!({"userName": "u", "externalId": "e", "displayName": "D",
            "emails": [{"value": "a@x.io"}, {"type": "home"}, {"value": "b@x.io"}]});
        let stored = user(body).expect("valid").resource;
        assert_eq!(user_name(&stored), Some("u"));
        assert_eq!(external_id(&stored), Some("e"));
        assert_eq!(display_name(&stored), Some("D"));
        assert_eq!(email_values(&stored), ["a@x.io", "b@x.io"]);
        assert_eq!(email_values(&json!({})), Vec::<String>::new());
    }
}
