//! Where a PATCH operation lands: resolving a path against the resource's
//! schemas, and turning a path-less value into one target per attribute.
//!
//! Resolution is case-insensitive and yields the schema's definitions, so
//! the apply step writes canonical spellings. A path naming a whole schema
//! (`urn:…:enterprise:2.0:User`) addresses that extension's attributes.

use serde_json::Value;

use super::error::ScimError;
use super::filter::Filter;
use super::patch_parse::path_error;
use super::path::{AttrPath, PatchPath, PathError, parse_patch_path};
use super::schema::{AttributeDef, Mutability, ResourceSchema, Schema};

/// One resolved attribute target.
#[derive(Debug, Clone)]
pub(crate) struct Target<'s> {
    /// The extension holding the attribute (its URN as the schema spells
    /// it); `None` for core and common attributes, which live at the top level.
    pub ext: Option<&'s str>,
    /// The top-level attribute.
    pub attr: &'s AttributeDef,
    /// The sub-attribute addressed (`givenName`, or `value` in `emails[…].value`).
    pub sub: Option<&'s AttributeDef>,
    /// The value filter selecting elements of a multi-valued attribute.
    pub filter: Option<Filter>,
}

impl Target<'_> {
    /// The attribute as a path, for filter evaluation (`urn:…:manager`, `emails`).
    pub fn parent_path(&self) -> AttrPath {
        let path = AttrPath::new(self.attr.name.clone());
        match self.ext {
            Some(urn) => path.with_uri(urn),
            None => path,
        }
    }

    /// `emails[type eq "work"].value`-style display for error messages.
    pub fn describe(&self) -> String {
        let mut text = self.parent_path().to_string();
        if let Some(filter) = &self.filter {
            text.push_str(&format!("[{filter}]"));
        }
        if let Some(sub) = self.sub {
            text.push('.');
            text.push_str(&sub.name);
        }
        text
    }

    /// Whether the attribute or the addressed sub-attribute is read-only.
    pub fn is_read_only(&self) -> bool {
        self.attr.mutability == Mutability::ReadOnly
            || self
                .sub
                .is_some_and(|s| s.mutability == Mutability::ReadOnly)
    }
}

/// What a path names.
#[derive(Debug, Clone)]
pub(crate) enum Resolved<'s> {
    /// An attribute, a sub-attribute or elements of one.
    Attr(Target<'s>),
    /// A whole extension: its attributes are the keys of the value.
    Extension(&'s Schema),
    /// The core schema: the resource's top level.
    Core,
}

/// One step of a path-less value, after expansion.
#[derive(Debug, Clone)]
pub(crate) enum Item<'s> {
    /// Set this target from this value.
    Attr(Target<'s>, Value),
    /// Unassign a whole extension (its URN key had a `null` value).
    ClearExtension(&'s Schema),
}

/// Resolves a PATCH path; `Ok(None)` when the schema has no such attribute.
pub(crate) fn resolve<'s>(
    schema: &'s ResourceSchema,
    path: &PatchPath,
) -> Result<Option<Resolved<'s>>, ScimError> {
    if let Some(whole) = whole_schema(schema, path) {
        return Ok(Some(whole));
    }
    let attr = &path.attr;
    let (Some(owner), Some(def)) = (
        schema.owner_urn(attr.uri.as_deref(), &attr.name),
        schema.find(attr.uri.as_deref(), &attr.name, None),
    ) else {
        return Ok(None);
    };
    let sub = match path.target_sub() {
        Some(name) => match def.sub_attribute(name) {
            Some(sub) => Some(sub),
            None => return Ok(None),
        },
        None => None,
    };
    if path.filter.is_some() && !def.multi_valued {
        return Err(ScimError::invalid_path(format!(
            "'{}' is single-valued: a value filter needs a multi-valued attribute",
            def.name
        )));
    }
    let ext = (!owner.eq_ignore_ascii_case(&schema.core.id)).then_some(owner);
    let filter = path.filter.clone();
    if let Some(filter) = &filter {
        check_filter(schema, ext, def, filter)?;
    }
    Ok(Some(Resolved::Attr(Target {
        ext,
        attr: def,
        sub,
        filter,
    })))
}

/// Rejects comparisons RFC 7644 forbids (ordering on booleans or binaries),
/// judged with the value filter's paths made absolute (`emails.primary`).
fn check_filter(
    schema: &ResourceSchema,
    ext: Option<&str>,
    attr: &AttributeDef,
    filter: &Filter,
) -> Result<(), ScimError> {
    let parent = AttrPath::new(attr.name.clone());
    let parent = match ext {
        Some(urn) => parent.with_uri(urn),
        None => parent,
    };
    let whole = Filter::ValuePath {
        attr: parent,
        filter: Box::new(filter.clone()),
    };
    whole
        .validate(schema)
        .map_err(|e| ScimError::invalid_filter(format!("invalid value filter in path: {e}")))
}

/// `urn:…:enterprise:2.0:User` parses as URI `urn:…:2.0` plus name `User`:
/// recognise a path that is exactly a schema URN.
fn whole_schema<'s>(schema: &'s ResourceSchema, path: &PatchPath) -> Option<Resolved<'s>> {
    let attr = &path.attr;
    if path.filter.is_some() || attr.sub.is_some() {
        return None;
    }
    let full = format!("{}:{}", attr.uri.as_deref()?, attr.name);
    if full.eq_ignore_ascii_case(&schema.core.id) {
        return Some(Resolved::Core);
    }
    schema.extension(&full).map(Resolved::Extension)
}

/// Expands a path-less value (or the value of a whole-schema path) into
/// targets. `scope` is the extension whose attributes the keys name, if any.
/// Skips `id`, `meta`, `schemas` and read-only targets; unknown keys are
/// dropped when `ignore_unknown`, else `invalidPath`.
pub(crate) fn expand<'s>(
    schema: &'s ResourceSchema,
    value: &Value,
    scope: Option<&'s Schema>,
    ignore_unknown: bool,
) -> Result<Vec<Item<'s>>, ScimError> {
    let Value::Object(obj) = value else {
        return Err(ScimError::invalid_syntax(
            "without a \"path\", \"value\" must be an object of attributes",
        ));
    };
    let mut items = Vec::new();
    for (key, item) in obj {
        expand_key(schema, key, item, scope, ignore_unknown, &mut items)?;
    }
    Ok(items)
}

fn expand_key<'s>(
    schema: &'s ResourceSchema,
    key: &str,
    value: &Value,
    scope: Option<&'s Schema>,
    ignore_unknown: bool,
    out: &mut Vec<Item<'s>>,
) -> Result<(), ScimError> {
    // Common attributes are no targets; an extension's object may carry
    // its own `schemas` (as SCIM libraries serialize extensions).
    let skipped: &[&str] = if scope.is_none() {
        &["schemas", "id", "meta"]
    } else {
        &["schemas"]
    };
    if skipped.iter().any(|k| k.eq_ignore_ascii_case(key)) {
        return Ok(());
    }
    let unknown = || {
        if ignore_unknown {
            Ok(())
        } else {
            Err(ScimError::invalid_path(format!(
                "unknown attribute '{}'",
                excerpt(key)
            )))
        }
    };
    let Some(path) = key_path(key, scope)? else {
        return unknown();
    };
    match resolve(schema, &path)? {
        None => unknown(),
        Some(Resolved::Attr(target)) if target.is_read_only() => Ok(()),
        Some(Resolved::Attr(target)) => {
            out.push(Item::Attr(target, value.clone()));
            Ok(())
        }
        Some(Resolved::Core) => nested(schema, value, None, ignore_unknown, out),
        Some(Resolved::Extension(ext)) if value.is_null() => {
            out.push(Item::ClearExtension(ext));
            Ok(())
        }
        Some(Resolved::Extension(ext)) => nested(schema, value, Some(ext), ignore_unknown, out),
    }
}

/// The keys of a schema-URN key's object value, expanded in that scope.
fn nested<'s>(
    schema: &'s ResourceSchema,
    value: &Value,
    scope: Option<&'s Schema>,
    ignore_unknown: bool,
    out: &mut Vec<Item<'s>>,
) -> Result<(), ScimError> {
    if !value.is_object() {
        return Err(ScimError::invalid_value(
            "a schema URN key needs an object of that schema's attributes",
        ));
    }
    out.extend(expand(schema, value, scope, ignore_unknown)?);
    Ok(())
}

/// A value key as a path: `name.givenName`, `urn:…:department`,
/// `emails[type eq "work"].value`; inside an extension object, plain names
/// are qualified with its URN. `Ok(None)` when the key is no valid path; a
/// malformed value filter in a key is `invalidFilter`.
fn key_path(key: &str, scope: Option<&Schema>) -> Result<Option<PatchPath>, ScimError> {
    let mut path = match parse_patch_path(key) {
        Ok(path) => path,
        Err(e @ PathError::Filter(_)) => return Err(path_error(e)),
        Err(_) => return Ok(None),
    };
    if let Some(ext) = scope.filter(|_| path.attr.uri.is_none()) {
        path.attr.uri = Some(ext.id.clone());
    }
    Ok(Some(path))
}

/// The first 60 characters, for messages.
fn excerpt(text: &str) -> String {
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::schema::ENTERPRISE_USER_SCHEMA as ENT;

    /// The targets of expanded items, for tests.
    fn keys(items: &[Item<'_>]) -> Vec<String> {
        items
            .iter()
            .map(|i| match i {
                Item::Attr(t, _) => t.describe(),
                Item::ClearExtension(s) => format!("clear {}", s.id),
            })
            .collect()
    }

    fn user() -> ResourceSchema {
        ResourceSchema::user(Vec::new())
    }

    fn target(path: &str) -> Result<Option<String>, ScimError> {
        let schema = user();
        let path = parse_patch_path(path).map_err(path_error)?;
        Ok(resolve(&schema, &path)?.map(|r| match r {
            Resolved::Attr(t) => format!("{}|{}", t.ext.unwrap_or("-"), t.describe()),
            Resolved::Extension(s) => format!("extension {}", s.id),
            Resolved::Core => "core".to_owned(),
        }))
    }

    #[test]
    fn resolves_paths_to_canonical_targets() {
        let rows = [
            ("USERNAME", "-|userName"),
            ("name.GivenName", "-|name.givenName"),
            (
                "Emails[Type eq \"work\"].VALUE",
                "-|emails[Type eq \"work\"].value",
            ),
            ("externalid", "-|externalId"),
            ("department", &format!("{ENT}|{ENT}:department")),
            (
                &format!("{ENT}:manager.value"),
                &format!("{ENT}|{ENT}:manager.value"),
            ),
            (ENT, &format!("extension {ENT}")),
            ("urn:ietf:params:scim:schemas:core:2.0:User", "core"),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:userName",
                "-|userName",
            ),
        ];
        for (path, expected) in rows {
            assert_eq!(target(path), Ok(Some(expected.to_owned())), "{path}");
        }
        for unknown in [
            "nope",
            "name.nope",
            "urn:x:y:userName",
            "emails[type eq \"w\"].nope",
        ] {
            assert_eq!(target(unknown), Ok(None), "{unknown}");
        }
        let err = target("userName[value eq \"x\"]").expect_err("single-valued");
        assert_eq!(err.scim_type, Some(ScimType::InvalidPath));
    }

    #[test]
    fn expands_pathless_values() {
        let schema = user();
        let value = json!({
            "id": "x", "meta": {}, "schemas": [], "groups": [],
            "Active": "False",
            "name.givenName": "X",
            format!("{ENT}:department"): "Y",
            ENT: {"manager": "m", "employeeNumber": "7"},
            "emails[type eq \"work\"].value": "a@b.c",
            "urn:ietf:params:scim:schemas:core:2.0:User": {"title": "T"},
        });
        let items = expand(&schema, &value, None, false).expect("expands");
        let mut got = keys(&items);
        got.sort();
        let mut expected = vec![
            "active".to_owned(),
            "emails[type eq \"work\"].value".to_owned(),
            format!("{ENT}:department"),
            format!("{ENT}:employeeNumber"),
            format!("{ENT}:manager"),
            "name.givenName".to_owned(),
            "title".to_owned(),
        ];
        expected.sort();
        assert_eq!(got, expected);
        let clear = expand(&schema, &json!({ENT: null}), None, false).expect("expands");
        assert_eq!(keys(&clear), [format!("clear {ENT}")]);
    }

    #[test]
    fn unknown_pathless_keys_fail_or_are_dropped() {
        let schema = user();
        let value = json!({"nickName": "n", "favouriteColour": "blue", "bad key": 1});
        let err = expand(&schema, &value, None, false).expect_err("unknown");
        assert_eq!(err.scim_type, Some(ScimType::InvalidPath));
        let items = expand(&schema, &value, None, true).expect("lenient");
        assert_eq!(keys(&items), ["nickName"]);
        let err = expand(&schema, &json!(["x"]), None, true).expect_err("not an object");
        assert_eq!(err.scim_type, Some(ScimType::InvalidSyntax));
    }
}
