//! Provider dialects of SCIM: which identity provider is talking, and how
//! its requests are rewritten into RFC 7644 form before the core sees them.
//!
//! The dialect comes from the directory's type, refined by the request
//! fingerprint ([`detect`]). It supplies [`PatchOptions`] for the PATCH
//! engine and rewrites bodies ([`Dialect::normalize_patch`],
//! [`Dialect::normalize_resource`]). The rewrites are lossless and safe for
//! every client; shapes whose meaning needs the schema (dotted and
//! URN-qualified path-less keys, `remove` on `members` with a value list,
//! filtered paths on absent elements) are understood by the PATCH engine
//! itself, so they need no rewriting here.

use serde_json::{Map, Value};

use super::patch::PatchOptions;
use super::path::parse_patch_path;
use super::schema::{AttrType, AttributeDef, ResourceSchema};

/// The SCIM client dialect of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Any RFC 7643/7644 client; strict about PATCH bodies, lenient on values.
    Generic,
    /// Microsoft Entra ID (Azure AD) provisioning.
    EntraId {
        /// Whether the tenant URL carries Entra's `aadOptscim062020` flag,
        /// which opts the tenant into Entra's RFC-compliant request shapes.
        /// Both generations of shapes are accepted either way.
        optscim062020: bool,
    },
    /// Okta provisioning.
    Okta,
    /// OneLogin provisioning.
    OneLogin,
    /// JumpCloud provisioning.
    JumpCloud,
    /// Rippling provisioning.
    Rippling,
    /// PingFederate SCIM provisioning.
    PingFederate,
}

/// Name of Entra's compliance flag on the tenant URL's query string.
const ENTRA_FLAG: &str = "aadOptscim062020";

/// User-Agent fragments (lowercase) that identify a provider.
const USER_AGENTS: [(&str, Dialect); 9] = [
    // Entra ID's provisioning service sends "Microsoft Azure AD SCIM provisioning …".
    (
        "azure ad scim",
        Dialect::EntraId {
            optscim062020: false,
        },
    ),
    (
        "azure active directory",
        Dialect::EntraId {
            optscim062020: false,
        },
    ),
    (
        "microsoft entra",
        Dialect::EntraId {
            optscim062020: false,
        },
    ),
    // Okta's documented requests carry "Okta SCIM Client 1.0.0".
    ("okta scim", Dialect::Okta),
    ("onelogin", Dialect::OneLogin),
    ("jumpcloud", Dialect::JumpCloud),
    ("rippling", Dialect::Rippling),
    // PingFederate itself sends a stock "Apache-HttpClient" agent, too
    // generic to match on; only explicit Ping names count.
    ("pingfederate", Dialect::PingFederate),
    ("ping identity", Dialect::PingFederate),
];

/// Picks the dialect of a request. The directory type decides
/// (`azure-scim-v2`, `okta-scim-v2`, `okta-scim-v1`, `onelogin-scim-v2`,
/// `jumpcloud-scim-v2`, `rippling-scim-v2`, `pingfederate-scim-v2`); a
/// generic (or unknown) type is refined by the `User-Agent` (matched
/// case-insensitively by substring) and by Entra's `aadOptscim062020` flag
/// in `query`, which only Entra ID sends.
pub fn detect(directory_type: &str, user_agent: Option<&str>, query: Option<&str>) -> Dialect {
    let flag = entra_flag(query);
    let from_type = match directory_type.trim().to_ascii_lowercase().as_str() {
        "azure-scim-v2" => Dialect::EntraId {
            optscim062020: false,
        },
        "okta-scim-v2" | "okta-scim-v1" => Dialect::Okta,
        "onelogin-scim-v2" => Dialect::OneLogin,
        "jumpcloud-scim-v2" => Dialect::JumpCloud,
        "rippling-scim-v2" => Dialect::Rippling,
        "pingfederate-scim-v2" => Dialect::PingFederate,
        _ => Dialect::Generic,
    };
    let dialect = match from_type {
        Dialect::Generic if flag.is_some() => Dialect::EntraId {
            optscim062020: false,
        },
        Dialect::Generic => user_agent
            .and_then(from_user_agent)
            .unwrap_or(Dialect::Generic),
        other => other,
    };
    match dialect {
        Dialect::EntraId { .. } => Dialect::EntraId {
            optscim062020: flag.unwrap_or(false),
        },
        other => other,
    }
}

fn from_user_agent(user_agent: &str) -> Option<Dialect> {
    let ua = user_agent.to_ascii_lowercase();
    USER_AGENTS
        .iter()
        .find(|(fragment, _)| ua.contains(fragment))
        .map(|&(_, dialect)| dialect)
}

/// The `aadOptscim062020` query parameter: `Some(true)` when present (bare
/// or with any value but `false`/`0`), `Some(false)` when explicitly off.
fn entra_flag(query: Option<&str>) -> Option<bool> {
    let query = query?.trim_start_matches('?');
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        name.trim().eq_ignore_ascii_case(ENTRA_FLAG).then(|| {
            let value = value.trim();
            !(value.eq_ignore_ascii_case("false") || value == "0")
        })
    })
}

impl Dialect {
    /// A stable lowercase name, for logs and the request log.
    pub fn as_str(&self) -> &'static str {
        match self {
            Dialect::Generic => "generic",
            Dialect::EntraId { .. } => "entra-id",
            Dialect::Okta => "okta",
            Dialect::OneLogin => "onelogin",
            Dialect::JumpCloud => "jumpcloud",
            Dialect::Rippling => "rippling",
            Dialect::PingFederate => "pingfederate",
        }
    }

    /// The PATCH engine switches for this dialect. Generic clients get RFC
    /// behaviour; known providers may omit the PatchOp schema URN and have
    /// unmapped attributes in path-less values dropped rather than rejected
    /// (a 400 makes Entra and Okta give up on the whole user).
    pub fn patch_options(&self) -> PatchOptions {
        match self {
            Dialect::Generic => PatchOptions::default(),
            Dialect::EntraId { .. } => PatchOptions {
                require_patch_schema: false,
                ignore_unknown_attributes: true,
                // Entra updates `emails[type eq "work"].value` even when the user has no work email yet.
                create_on_unmatched_filter: true,
            },
            _ => PatchOptions {
                require_patch_schema: false,
                ignore_unknown_attributes: true,
                create_on_unmatched_filter: false,
            },
        }
    }

    /// Rewrites a PATCH body into RFC form before [`super::patch::parse_patch`]:
    /// member names spelled canonically (`Operations`, `op`, `path`, `value`),
    /// op names lowercased (Entra ID sends `Replace`, `Add`, `Remove`), and
    /// `"True"`/`"False"` strings for `active` and `primary` turned into
    /// booleans (Entra ID's default `active` mapping produces strings).
    /// Anything unknown passes through unchanged.
    pub fn normalize_patch(&self, body: Value) -> Value {
        let Value::Object(mut body) = body else {
            return body;
        };
        rename_ci(&mut body, "schemas");
        rename_ci(&mut body, "Operations");
        if let Some(Value::Array(ops)) = body.get_mut("Operations") {
            for op in ops.iter_mut() {
                if let Value::Object(op) = op {
                    normalize_operation(op);
                }
            }
        }
        Value::Object(body)
    }

    /// Rewrites a POST/PUT resource body: `schemas` keeps only this
    /// resource's schema URNs, spelled canonically (Entra ID lists extra
    /// URNs such as custom-extension ones the directory does not define) and
    /// gains the URN of any extension object the body carries; `"True"` /
    /// `"False"` strings become booleans for boolean attributes (Entra ID).
    /// Everything else, e.g. Okta's `password`, passes through for the
    /// resource layer.
    pub fn normalize_resource(&self, body: Value, schema: &ResourceSchema) -> Value {
        let Value::Object(mut body) = body else {
            return body;
        };
        rename_ci(&mut body, "schemas");
        fix_schemas(&mut body, schema);
        fix_booleans(&mut body, schema);
        Value::Object(body)
    }
}

/// Renames a member spelled in another case to `key` (unless `key` exists).
fn rename_ci(obj: &mut Map<String, Value>, key: &str) {
    if obj.contains_key(key) {
        return;
    }
    let other = obj.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned();
    if let Some(value) = other.and_then(|k| obj.remove(&k)) {
        obj.insert(key.to_owned(), value);
    }
}

fn normalize_operation(op: &mut Map<String, Value>) {
    for key in ["op", "path", "value"] {
        rename_ci(op, key);
    }
    if let Some(Value::String(name)) = op.get_mut("op") {
        let lower = name.trim().to_ascii_lowercase();
        if ["add", "replace", "remove"].contains(&lower.as_str()) {
            *name = lower;
        }
    }
    let path = op.get("path").and_then(Value::as_str).map(str::to_owned);
    match (path, op.get_mut("value")) {
        (Some(path), Some(value)) if names_boolean(&path) => fix_bool(value),
        (None, Some(Value::Object(value))) => {
            for (key, item) in value.iter_mut() {
                if names_boolean(key) {
                    fix_bool(item);
                }
            }
        }
        _ => {}
    }
}

/// Whether a path names the core `active` attribute or a `primary` sub-attribute.
fn names_boolean(path: &str) -> bool {
    let Ok(path) = parse_patch_path(path) else {
        return false;
    };
    match path.target_sub() {
        Some(sub) => sub.eq_ignore_ascii_case("primary"),
        None => path.attr.is_core_schema() && path.attr.matches_name("active"),
    }
}

/// `"True"`/`"false"` (any case, trimmed) → a JSON boolean; else unchanged.
fn fix_bool(value: &mut Value) {
    let parsed = match value.as_str().map(str::trim) {
        Some(s) if s.eq_ignore_ascii_case("true") => true,
        Some(s) if s.eq_ignore_ascii_case("false") => false,
        _ => return,
    };
    *value = Value::Bool(parsed);
}

/// Keeps known schema URNs (canonical spelling, once each) and lists
/// extensions whose objects are present.
fn fix_schemas(body: &mut Map<String, Value>, schema: &ResourceSchema) {
    let Some(Value::Array(listed)) = body.get("schemas") else {
        return;
    };
    let known = schema.all_schema_urns();
    let canonical = |v: &Value| {
        let urn = v.as_str()?.trim();
        known.iter().find(|k| k.eq_ignore_ascii_case(urn)).copied()
    };
    let mut urns: Vec<&str> = Vec::new();
    let present = schema.extensions.iter().map(|e| e.id.as_str());
    let present = present.filter(|urn| {
        body.iter()
            .any(|(k, v)| k.eq_ignore_ascii_case(urn) && v.is_object())
    });
    for urn in listed.iter().filter_map(canonical).chain(present) {
        if !urns.contains(&urn) {
            urns.push(urn);
        }
    }
    let urns = urns
        .into_iter()
        .map(|u| Value::String(u.to_owned()))
        .collect();
    body.insert("schemas".to_owned(), Value::Array(urns));
}

/// Turns boolean strings into booleans for boolean attributes and
/// sub-attributes, at the top level and inside extension objects.
fn fix_booleans(body: &mut Map<String, Value>, schema: &ResourceSchema) {
    for (key, value) in body.iter_mut() {
        if let Some(ext) = schema.extension(key) {
            if let Value::Object(inner) = value {
                for (name, item) in inner.iter_mut() {
                    if let Some(attr) = ext.attribute(name) {
                        fix_attribute(attr, item);
                    }
                }
            }
        } else if let Some(attr) = schema.find(None, key, None) {
            fix_attribute(attr, value);
        }
    }
}

fn fix_attribute(attr: &AttributeDef, value: &mut Value) {
    match (attr.attr_type, value) {
        (AttrType::Boolean, Value::Array(items)) => items.iter_mut().for_each(fix_bool),
        (AttrType::Boolean, value) => fix_bool(value),
        (AttrType::Complex, Value::Array(items)) => {
            items.iter_mut().for_each(|item| fix_subs(attr, item));
        }
        (AttrType::Complex, value) => fix_subs(attr, value),
        _ => {}
    }
}

fn fix_subs(attr: &AttributeDef, value: &mut Value) {
    if let Value::Object(obj) = value {
        for (name, item) in obj.iter_mut() {
            if let Some(sub) = attr.sub_attribute(name) {
                fix_attribute(sub, item);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::patch::PATCH_OP_SCHEMA as PATCH_SCHEMA;
    use crate::scim::schema::ENTERPRISE_USER_SCHEMA as ENT;

    const ENTRA: Dialect = Dialect::EntraId {
        optscim062020: false,
    };
    const ENTRA_FLAGGED: Dialect = Dialect::EntraId {
        optscim062020: true,
    };

    #[test]
    fn detects_dialects() {
        let aad = Some("Microsoft Azure AD SCIM provisioning 1.0.0");
        let okta = Some("Okta SCIM Client 1.0.0");
        let rows: [(&str, Option<&str>, Option<&str>, Dialect); 17] = [
            ("azure-scim-v2", None, None, ENTRA),
            (
                "azure-scim-v2",
                aad,
                Some("aadOptscim062020"),
                ENTRA_FLAGGED,
            ),
            (
                "AZURE-SCIM-V2",
                None,
                Some("?x=1&AADOPTSCIM062020=true"),
                ENTRA_FLAGGED,
            ),
            ("azure-scim-v2", None, Some("aadOptscim062020=false"), ENTRA),
            ("generic-scim-v2", aad, None, ENTRA),
            (
                "generic-scim-v2",
                None,
                Some("aadOptscim062020"),
                ENTRA_FLAGGED,
            ),
            ("generic-scim-v1", okta, None, Dialect::Okta),
            (
                "generic-scim-v2",
                Some("OneLogin SCIM"),
                None,
                Dialect::OneLogin,
            ),
            (
                "generic-scim-v2",
                Some("JumpCloud-SCIM/2.0"),
                None,
                Dialect::JumpCloud,
            ),
            (
                "generic-scim-v2",
                Some("Apache-HttpClient/4.5"),
                None,
                Dialect::Generic,
            ),
            ("generic-scim-v2", Some("curl/8.0"), None, Dialect::Generic),
            ("okta-scim-v2", aad, None, Dialect::Okta),
            ("okta-scim-v1", None, None, Dialect::Okta),
            ("onelogin-scim-v2", None, None, Dialect::OneLogin),
            ("jumpcloud-scim-v2", None, None, Dialect::JumpCloud),
            ("rippling-scim-v2", None, None, Dialect::Rippling),
            ("pingfederate-scim-v2", None, None, Dialect::PingFederate),
        ];
        for (ty, ua, query, expected) in rows {
            assert_eq!(detect(ty, ua, query), expected, "{ty} {ua:?} {query:?}");
        }
        assert_eq!(detect("csv", None, None), Dialect::Generic);
    }

    #[test]
    fn options_follow_the_dialect() {
        let generic = Dialect::Generic.patch_options();
        assert!(generic.require_patch_schema && !generic.ignore_unknown_attributes);
        assert!(!generic.create_on_unmatched_filter);
        let entra = ENTRA.patch_options();
        assert!(!entra.require_patch_schema && entra.create_on_unmatched_filter);
        assert!(!Dialect::Okta.patch_options().create_on_unmatched_filter);
        assert_eq!(ENTRA_FLAGGED.as_str(), "entra-id");
    }

    #[test]
    fn normalizes_patch_bodies() {
        let rows = [
            (
                json!({"SCHEMAS": [PATCH_SCHEMA], "operations": [{"Op": "Replace", "Path": "active", "Value": "False"}]}),
                json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": false}]}),
            ),
            (
                json!({"Operations": [{"op": "Replace", "value": {"active": "True", "displayName": "True"}}]}),
                json!({"Operations": [{"op": "replace", "value": {"active": true, "displayName": "True"}}]}),
            ),
            (
                json!({"Operations": [{"op": "Add", "path": "emails[type eq \"work\"].primary", "value": "TRUE"}]}),
                json!({"Operations": [{"op": "add", "path": "emails[type eq \"work\"].primary", "value": true}]}),
            ),
            (
                json!({"Operations": [{"op": "Remove", "path": "members", "value": [{"value": "id1"}]}]}),
                json!({"Operations": [{"op": "remove", "path": "members", "value": [{"value": "id1"}]}]}),
            ),
            (
                json!({"Operations": [{"op": "Move", "path": format!("{ENT}:active"), "value": "False"}]}),
                json!({"Operations": [{"op": "Move", "path": format!("{ENT}:active"), "value": "False"}]}),
            ),
            (
                json!(["not", "an", "object"]),
                json!(["not", "an", "object"]),
            ),
        ];
        for (input, expected) in rows {
            assert_eq!(ENTRA.normalize_patch(input.clone()), expected, "{input}");
        }
    }

    #[test]
    fn normalizes_resource_bodies() {
        let schema = ResourceSchema::user(Vec::new());
        let input = json!({
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:user",
                "urn:ietf:params:scim:schemas:extension:CustomExtension:2.0:User",
            ],
            "userName": "a@b.c",
            "active": "False",
            "emails": [{"value": "a@b.c", "primary": "true"}],
            ENT: {"department": "True"},
            "password": "secret",
        });
        let expected = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
            "userName": "a@b.c",
            "active": false,
            "emails": [{"value": "a@b.c", "primary": true}],
            ENT: {"department": "True"},
            "password": "secret",
        });
        assert_eq!(Dialect::Okta.normalize_resource(input, &schema), expected);
        let bad = json!({"schemas": "x", "active": "maybe"});
        assert_eq!(ENTRA.normalize_resource(bad.clone(), &schema), bad);
    }
}
