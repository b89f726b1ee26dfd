//! Rendering stored SCIM resources for output: the RFC 7643 §2.2 `returned`
//! characteristic and the RFC 7644 §3.4.2.5 `attributes` /
//! `excludedAttributes` parameters.
//!
//! Output is strict: only attributes the schema defines are written, with
//! the schema's spelling; `id` and `schemas` are always present;
//! `returned: never` attributes (`password`) never are. `schemas` lists the
//! core URN and exactly the extensions whose object appears in the output.
//!
//! Selection works at sub-attribute granularity (`name.givenName`,
//! `emails.value`, `urn:…:enterprise:2.0:User:manager.value`), accepts a
//! whole extension URN (`urn:…:enterprise:2.0:User`), and resolves names
//! case-insensitively. When both `attributes` and `excludedAttributes` are
//! given, the selection of `attributes` is made first and the exclusions are
//! applied to it. Paths that name nothing in the schema select nothing.

use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::error::ScimError;
use super::path::{AttrPath, is_core_schema_uri, parse_attr_list};
use super::resource::{ResourceKind, get_ci};
use super::schema::{AttributeDef, ResourceSchema, Returned, common_attributes};

static COMMON_ATTRIBUTES: LazyLock<Vec<AttributeDef>> = LazyLock::new(common_attributes);

/// What the caller asked for with `attributes` / `excludedAttributes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    /// `attributes`: when non-empty, only these (plus always-returned ones).
    pub attributes: Vec<AttrPath>,
    /// `excludedAttributes`: removed from the default set.
    pub excluded: Vec<AttrPath>,
}

impl Projection {
    /// Parses the two query parameters (absent or blank = not given).
    ///
    /// A malformed list is 400 `invalidValue`: RFC 7644 Table 9 lists
    /// `invalidValue` for GET requests and reserves `invalidPath` for PATCH.
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Self, ScimError> {
        Ok(Projection {
            attributes: parse_list("attributes", attributes)?,
            excluded: parse_list("excludedAttributes", excluded)?,
        })
    }

    /// Whether group `members` would be left out of the output, so that the
    /// caller need not load them.
    pub fn excludes_members(&self) -> bool {
        !self.wants(&AttrPath::new("members"))
    }

    /// Whether an attribute at `path` that is returned by default would
    /// (at least in part) appear in the output.
    ///
    /// This check needs no schema, so it errs on the side of `true`: an
    /// unqualified name matches the same name under any extension URN and a
    /// core-URN-qualified one matches the unqualified name. [`render`] makes
    /// the exact, schema-aware decision.
    pub fn wants(&self, path: &AttrPath) -> bool {
        let selected =
            self.attributes.is_empty() || self.attributes.iter().any(|a| overlaps(a, path));
        selected && !self.excluded.iter().any(|e| covers(e, path))
    }
}

fn parse_list(param: &str, text: Option<&str>) -> Result<Vec<AttrPath>, ScimError> {
    match text {
        None => Ok(Vec::new()),
        Some(text) => {
            parse_attr_list(text).map_err(|e| ScimError::invalid_value(format!("{param}: {e}")))
        }
    }
}

/// Whether two paths may address the same schema: equal URIs, both core, or
/// one of them unqualified.
fn same_scope(a: &AttrPath, b: &AttrPath) -> bool {
    match (a.uri.as_deref(), b.uri.as_deref()) {
        (Some(x), Some(y)) => {
            x.eq_ignore_ascii_case(y) || (is_core_schema_uri(x) && is_core_schema_uri(y))
        }
        _ => true,
    }
}

/// Whether `listed` names a whole schema that `target` lives in (an
/// unqualified target lives in the core schema, as far as we can tell).
fn names_schema_of(listed: &AttrPath, target: &AttrPath) -> bool {
    let (Some(uri), None) = (listed.uri.as_deref(), listed.sub.as_deref()) else {
        return false;
    };
    let whole = format!("{uri}:{}", listed.name);
    match target.uri.as_deref() {
        Some(target_uri) => target_uri.eq_ignore_ascii_case(&whole),
        None => is_core_schema_uri(&whole),
    }
}

/// Whether `listed` takes in all of `target`.
fn covers(listed: &AttrPath, target: &AttrPath) -> bool {
    let same_attr = same_scope(listed, target) && listed.matches_name(&target.name);
    let sub_ok = listed.sub.is_none() || listed.matches_sub(target.sub.as_deref());
    (same_attr && sub_ok) || names_schema_of(listed, target)
}

/// Whether `listed` takes in all of `target` or a part of it.
fn overlaps(listed: &AttrPath, target: &AttrPath) -> bool {
    let part =
        target.sub.is_none() && same_scope(listed, target) && listed.matches_name(&target.name);
    part || covers(listed, target)
}

/// The server-maintained metadata of a resource (RFC 7643 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// `"User"` or `"Group"`.
    pub resource_type: &'static str,
    /// RFC 3339 date-time.
    pub created: String,
    /// RFC 3339 date-time.
    pub last_modified: String,
    /// The resource's URI.
    pub location: String,
    /// The weak entity tag, `W/"…"`.
    pub version: String,
}

impl Meta {
    /// The `meta` object; empty fields are left out.
    pub fn to_json(&self) -> Value {
        let fields = [
            ("resourceType", self.resource_type),
            ("created", &self.created),
            ("lastModified", &self.last_modified),
            ("location", &self.location),
            ("version", &self.version),
        ];
        let present = fields.into_iter().filter(|(_, v)| !v.is_empty());
        Value::Object(
            present
                .map(|(k, v)| (k.to_owned(), Value::from(v)))
                .collect(),
        )
    }
}

/// Builds the output resource: the stored attributes plus `id`, `meta` and,
/// for groups, `members` (elements shaped `{"value","$ref","display",
/// "type"}` by the caller; `None` leaves `members` out), filtered by the
/// `returned` characteristics and the projection (see the module docs).
pub fn render(
    kind: ResourceKind,
    stored: &Value,
    id: &str,
    meta: &Meta,
    members: Option<Vec<Value>>,
    schema: &ResourceSchema,
    projection: &Projection,
) -> Value {
    let empty = Map::new();
    let stored = stored.as_object().unwrap_or(&empty);
    let mut extras = Map::new();
    extras.insert("id".to_owned(), Value::from(id));
    extras.insert("meta".to_owned(), meta.to_json());
    if let Some(members) = members {
        extras.insert("members".to_owned(), Value::Array(members));
    }
    let lookup = |name: &str| {
        let owned_by_caller = kind == ResourceKind::Group && name == "members";
        extras
            .get(name)
            .or_else(|| (!owned_by_caller).then(|| get_ci(stored, name)).flatten())
    };
    let selection = Selection::resolve(schema, projection);
    let core = schema.core.id.as_str();
    let attrs = schema
        .core
        .attributes
        .iter()
        .chain(COMMON_ATTRIBUTES.iter());
    let mut out = selection.scope(core, attrs, lookup);
    let mut schemas = vec![Value::from(core)];
    for ext in &schema.extensions {
        let Some(Value::Object(obj)) = get_ci(stored, &ext.id) else {
            continue;
        };
        let rendered = selection.scope(&ext.id, ext.attributes.iter(), |n| get_ci(obj, n));
        if !rendered.is_empty() {
            schemas.push(Value::from(ext.id.as_str()));
            out.insert(ext.id.clone(), Value::Object(rendered));
        }
    }
    out.insert("schemas".to_owned(), Value::Array(schemas));
    Value::Object(out)
}

/// A projection path resolved against the schema, canonical spelling.
#[derive(Debug)]
struct Selector {
    /// The owning schema URN (the core URN for core and common attributes).
    urn: String,
    /// `None`: the whole schema.
    name: Option<String>,
    sub: Option<String>,
}

impl Selector {
    fn resolve(schema: &ResourceSchema, path: &AttrPath) -> Option<Selector> {
        if let (Some(uri), None) = (&path.uri, &path.sub) {
            let whole = format!("{uri}:{}", path.name);
            let urns = schema.all_schema_urns();
            if let Some(urn) = urns.into_iter().find(|u| u.eq_ignore_ascii_case(&whole)) {
                let (urn, name, sub) = (urn.to_owned(), None, None);
                return Some(Selector { urn, name, sub });
            }
        }
        let uri = path.uri.as_deref();
        let urn = schema.owner_urn(uri, &path.name)?.to_owned();
        let attr = schema.find(uri, &path.name, None)?;
        let sub = match &path.sub {
            Some(sub) => Some(attr.sub_attribute(sub)?.name.clone()),
            None => None,
        };
        let name = Some(attr.name.clone());
        Some(Selector { urn, name, sub })
    }

    fn names_schema(&self, urn: &str) -> bool {
        self.urn == urn && self.name.is_none()
    }

    fn names_attr(&self, urn: &str, attr: &AttributeDef) -> bool {
        self.urn == urn && self.name.as_deref() == Some(attr.name.as_str())
    }

    /// The sub-attribute this selector names under `attr`, if any.
    fn sub_of(&self, urn: &str, attr: &AttributeDef) -> Option<&str> {
        self.names_attr(urn, attr)
            .then_some(self.sub.as_deref())
            .flatten()
    }
}

/// The resolved projection.
struct Selection {
    /// `None` when `attributes` was not given.
    listed: Option<Vec<Selector>>,
    excluded: Vec<Selector>,
}

/// How the sub-attributes of one selected attribute are chosen.
struct Rule<'s> {
    /// Every sub-attribute returned by default (else only `named` ones).
    all: bool,
    /// Sub-attributes named in `attributes`.
    named: Vec<&'s str>,
    /// Sub-attributes named in `excludedAttributes`.
    except: Vec<&'s str>,
}

impl Rule<'_> {
    fn keeps(&self, sub: &AttributeDef) -> bool {
        let named = self.named.contains(&sub.name.as_str());
        match sub.returned {
            Returned::Never => false,
            Returned::Always => true,
            _ if self.except.contains(&sub.name.as_str()) => false,
            Returned::Request => named,
            Returned::Default => self.all || named,
        }
    }
}

impl Selection {
    fn resolve(schema: &ResourceSchema, projection: &Projection) -> Self {
        let resolve_all = |paths: &[AttrPath]| -> Vec<Selector> {
            paths
                .iter()
                .filter_map(|p| Selector::resolve(schema, p))
                .collect()
        };
        let listed =
            (!projection.attributes.is_empty()).then(|| resolve_all(&projection.attributes));
        let excluded = resolve_all(&projection.excluded);
        Selection { listed, excluded }
    }

    /// Renders the attributes of one schema whose values `lookup` finds.
    fn scope<'a, 'v>(
        &self,
        urn: &str,
        attrs: impl Iterator<Item = &'a AttributeDef>,
        lookup: impl Fn(&str) -> Option<&'v Value>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        for attr in attrs {
            let rendered = lookup(&attr.name).and_then(|value| {
                let rule = self.rule(urn, attr)?;
                filter_value(attr, value, &rule)
            });
            if let Some(value) = rendered {
                out.insert(attr.name.clone(), value);
            }
        }
        out
    }

    /// Whether (and how) an attribute is output; `None` leaves it out.
    fn rule<'s>(&'s self, urn: &str, attr: &AttributeDef) -> Option<Rule<'s>> {
        let subs_named = |list: &'s [Selector]| -> Vec<&'s str> {
            list.iter().filter_map(|s| s.sub_of(urn, attr)).collect()
        };
        let except = subs_named(&self.excluded);
        let named = self.listed.as_deref().map(subs_named).unwrap_or_default();
        let rule = |all| {
            Some(Rule {
                all,
                named: named.clone(),
                except: except.clone(),
            })
        };
        match attr.returned {
            Returned::Never => return None,
            Returned::Always => return rule(true),
            Returned::Default | Returned::Request => {}
        }
        let excluded = self
            .excluded
            .iter()
            .any(|s| (s.names_attr(urn, attr) && s.sub.is_none()) || s.names_schema(urn));
        if excluded {
            return None;
        }
        let Some(listed) = &self.listed else {
            return (attr.returned == Returned::Default)
                .then(|| rule(true))
                .flatten();
        };
        let whole_attr = listed
            .iter()
            .any(|s| s.names_attr(urn, attr) && s.sub.is_none());
        let whole_schema =
            attr.returned == Returned::Default && listed.iter().any(|s| s.names_schema(urn));
        let has_always_sub = attr
            .sub_attributes
            .iter()
            .any(|s| s.returned == Returned::Always);
        match (whole_attr || whole_schema, named.is_empty()) {
            (true, _) => rule(true),
            (false, false) => rule(false),
            (false, true) if has_always_sub => rule(false),
            (false, true) => None,
        }
    }
}

/// Applies `rule` to the sub-attributes of a complex value (each element of
/// a multi-valued one); empty results are left out.
fn filter_value(attr: &AttributeDef, value: &Value, rule: &Rule) -> Option<Value> {
    if value.is_null() {
        return None;
    }
    if attr.sub_attributes.is_empty() {
        return Some(value.clone());
    }
    match value {
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .iter()
                .filter_map(|i| filter_object(attr, i, rule))
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => filter_object(attr, other, rule),
    }
}

fn filter_object(attr: &AttributeDef, value: &Value, rule: &Rule) -> Option<Value> {
    let obj = value.as_object()?;
    let mut out = Map::new();
    for sub in attr.sub_attributes.iter().filter(|s| rule.keeps(s)) {
        if let Some(v) = get_ci(obj, &sub.name).filter(|v| !v.is_null()) {
            out.insert(sub.name.clone(), v.clone());
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::schema::{ENTERPRISE_USER_SCHEMA as ENT, GROUP_SCHEMA, USER_SCHEMA};

    fn meta(resource_type: &'static str) -> Meta {
        Meta {
            resource_type,
            created: "2024-01-02T03:04:05Z".to_owned(),
            last_modified: "2024-01-03T03:04:05Z".to_owned(),
            location: "https://h/scim/v2/Users/u1".to_owned(),
            version: "W/\"3\"".to_owned(),
        }
    }

    fn stored_user() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENT],
            "userName": "ada",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@x.io", "type": "work", "primary": true}],
            "password": "stored by mistake",
            "stray": "not in the schema",
            ENT: {"department": "Eng", "manager": {"value": "m1"}}
        })
    }

    fn render_user(attributes: Option<&str>, excluded: Option<&str>) -> Value {
        let projection = Projection::parse(attributes, excluded).expect("valid lists");
        let schema = ResourceSchema::user(Vec::new());
        let meta = meta("User");
        render(
            ResourceKind::User,
            &stored_user(),
            "u1",
            &meta,
            None,
            &schema,
            &projection,
        )
    }

    #[test]
    fn default_output_is_everything_returned_by_default() {
        let got = render_user(None, None);
        let want = json!({
            "schemas": [USER_SCHEMA, ENT],
            "id": "u1",
            "userName": "ada",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@x.io", "type": "work", "primary": true}],
            "meta": {
                "resourceType": "User",
                "created": "2024-01-02T03:04:05Z",
                "lastModified": "2024-01-03T03:04:05Z",
                "location": "https://h/scim/v2/Users/u1",
                "version": "W/\"3\""
            },
            ENT: {"department": "Eng", "manager": {"value": "m1"}}
        });
        assert_eq!(got, want);
    }

    #[rustfmt::skip]
    #[test]
    fn projection_table() {
        let core = || json!([USER_SCHEMA]);
        let both = || json!([USER_SCHEMA, ENT]);
        let dept = format!("{ENT}:department");
        let manager_value = format!("{ENT}:Manager.VALUE");
        let whole_ext = ENT.to_owned();
        let drop_many = format!("id,meta,emails,name.familyName,{whole_ext}");
        let drop_manager = format!("{ENT}:manager,name");
        let cases: Vec<(Option<&str>, Option<&str>, Value)> = vec![
            (Some("userName"), None, json!({"id": "u1", "schemas": core(), "userName": "ada"})),
            (Some("USERNAME, meta.version"), None,
                json!({"id": "u1", "schemas": core(), "userName": "ada", "meta": {"version": "W/\"3\""}})),
            (Some("name.givenName"), None, json!({"id": "u1", "schemas": core(), "name": {"givenName": "Ada"}})),
            (Some("emails.value"), None, json!({"id": "u1", "schemas": core(), "emails": [{"value": "ada@x.io"}]})),
            (Some(&dept), None, json!({"id": "u1", "schemas": both(), ENT: {"department": "Eng"}})),
            (Some("department"), None, json!({"id": "u1", "schemas": both(), ENT: {"department": "Eng"}})),
            (Some(&manager_value), None, json!({"id": "u1", "schemas": both(), ENT: {"manager": {"value": "m1"}}})),
            (Some(&whole_ext), None,
                json!({"id": "u1", "schemas": both(), ENT: {"department": "Eng", "manager": {"value": "m1"}}})),
            (Some("password,stray,nope"), None, json!({"id": "u1", "schemas": core()})),
            (Some("userName,name"), Some("name.familyName"),
                json!({"id": "u1", "schemas": core(), "userName": "ada", "name": {"givenName": "Ada"}})),
            (None, Some(&drop_many),
                json!({"id": "u1", "schemas": core(), "userName": "ada", "name": {"givenName": "Ada"}})),
            (None, Some(&drop_manager), json!({"id": "u1", "schemas": both(), "userName": "ada",
                "emails": [{"value": "ada@x.io", "type": "work", "primary": true}],
                "meta": render_user(None, None)["meta"].clone(), ENT: {"department": "Eng"}})),
        ];
        for (attributes, excluded, want) in cases {
            assert_eq!(render_user(attributes, excluded), want, "{attributes:?} / {excluded:?}");
        }
    }

    #[test]
    fn password_is_never_returned() {
        for attributes in [
            None,
            Some("password"),
            Some("urn:ietf:params:scim:schemas:core:2.0:User"),
        ] {
            let got = render_user(attributes, None);
            assert!(got.get("password").is_none(), "{attributes:?}: {got}");
            assert!(got.get("stray").is_none(), "{attributes:?}: {got}");
        }
        let whole_core = render_user(Some(USER_SCHEMA), None);
        assert_eq!(whole_core["userName"], "ada");
        assert!(whole_core.get(ENT).is_none());
    }

    #[test]
    fn group_members_follow_the_projection() {
        let schema = ResourceSchema::group(Vec::new());
        let stored = json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng", "members": [{"value": "stale"}]});
        let member =
            json!({"value": "u1", "$ref": "https://h/Users/u1", "display": "Ada", "type": "User"});
        let run =
            |attributes: Option<&str>, excluded: Option<&str>, members: Option<Vec<Value>>| {
                let projection = Projection::parse(attributes, excluded).expect("valid");
                let meta = meta("Group");
                render(
                    ResourceKind::Group,
                    &stored,
                    "g1",
                    &meta,
                    members,
                    &schema,
                    &projection,
                )
            };
        let full = run(None, None, Some(vec![member.clone()]));
        assert_eq!(full["members"], json!([member]));
        assert_eq!(full["displayName"], "Eng");
        let excluded = run(None, Some("members"), Some(vec![member.clone()]));
        assert!(excluded.get("members").is_none());
        assert!(
            run(None, None, None).get("members").is_none(),
            "stored members ignored"
        );
        let whole_core = run(Some(GROUP_SCHEMA), None, Some(vec![member.clone()]));
        assert_eq!(whole_core["members"], json!([member]));
        let values = run(Some("members.value"), None, Some(vec![member]));
        assert_eq!(
            values,
            json!({"id": "g1", "schemas": [GROUP_SCHEMA], "members": [{"value": "u1"}]})
        );
    }

    #[test]
    fn excludes_members_and_wants() {
        let p = |a: Option<&str>, e: Option<&str>| Projection::parse(a, e).expect("valid");
        let rows = [
            (None, None, false),
            (None, Some("members"), true),
            (None, Some("MEMBERS"), true),
            (None, Some("members.display"), false),
            (Some("displayName"), None, true),
            (Some("members.value"), None, false),
            (
                Some("urn:ietf:params:scim:schemas:core:2.0:Group:members"),
                None,
                false,
            ),
            (Some(" , "), Some(""), false),
        ];
        for (a, e, excludes) in rows {
            assert_eq!(p(a, e).excludes_members(), excludes, "{a:?} / {e:?}");
        }
        let dept = AttrPath::new("department").with_uri(ENT);
        assert!(p(Some("department"), None).wants(&dept));
        assert!(!p(None, Some(ENT)).wants(&dept));
        assert!(p(None, Some(ENT)).wants(&AttrPath::new("userName")));
        assert!(
            !p(Some("name.givenName"), None).wants(&AttrPath::new("name").with_sub("familyName"))
        );
    }

    #[test]
    fn malformed_lists_are_invalid_values() {
        for (a, e) in [(Some("na me"), None), (None, Some("emails[type eq \"w\"]"))] {
            let err = Projection::parse(a, e).expect_err("malformed");
            assert_eq!(
                (err.status, err.scim_type),
                (400, Some(ScimType::InvalidValue))
            );
        }
    }
}
