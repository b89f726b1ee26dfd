//! Value helpers for the PATCH engine: schema coercion of operation values,
//! case-insensitive object access that writes canonical keys, and the
//! multi-valued element rules (matching, containment, one `primary`).

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{CompareOp, Filter};
use super::patch_target::Target;
use super::schema::{self, AttrType, AttributeDef, Mutability, ResourceSchema};

/// A JSON object.
pub(crate) type Object = Map<String, Value>;

/// Case-insensitive member lookup, exact spelling first.
pub(crate) fn get_ci<'m>(map: &'m Object, key: &str) -> Option<&'m Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Sets (or with `None` removes) `key`, dropping members spelled differently.
pub(crate) fn set_ci(map: &mut Object, key: &str, value: Option<Value>) {
    map.retain(|k, _| k == key || !k.eq_ignore_ascii_case(key));
    match value {
        Some(v) => map.insert(key.to_owned(), v),
        None => map.remove(key),
    };
}

/// `Some(value)` unless it is unassigned: `null`, `[]` or `{}` (RFC 7643 §2.5).
pub(crate) fn assigned(value: Value) -> Option<Value> {
    match &value {
        Value::Null => None,
        Value::Array(items) if items.is_empty() => None,
        Value::Object(map) if map.is_empty() => None,
        _ => Some(value),
    }
}

/// The elements of a multi-valued attribute's current value.
pub(crate) fn elements(old: Option<Value>) -> Vec<Value> {
    match old {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(single) => vec![single],
    }
}

/// A one-element array given for a single value is that element.
fn unwrap_single(value: &Value) -> &Value {
    match value {
        Value::Array(items) if items.len() == 1 => &items[0],
        other => other,
    }
}

fn invalid(err: String) -> ScimError {
    ScimError::invalid_value(err)
}

/// A whole multi-valued attribute value, coerced; read-only sub-attributes dropped.
pub(crate) fn coerce_multi(attr: &AttributeDef, value: &Value) -> Result<Vec<Value>, ScimError> {
    let coerced = schema::validate_multi(attr, value).map_err(invalid)?;
    let items = elements(Some(coerced));
    Ok(items
        .into_iter()
        .map(|v| strip_read_only(attr, v))
        .collect())
}

/// One value (or one element of a multi-valued attribute), coerced.
pub(crate) fn coerce_one(attr: &AttributeDef, value: &Value) -> Result<Value, ScimError> {
    let coerced = schema::validate_value(attr, unwrap_single(value)).map_err(invalid)?;
    Ok(strip_read_only(attr, coerced))
}

/// A sub-attribute value, coerced; errors name `attr.sub`.
pub(crate) fn coerce_sub(
    attr: &AttributeDef,
    sub: &AttributeDef,
    value: &Value,
) -> Result<Value, ScimError> {
    let value = if sub.multi_valued {
        value
    } else {
        unwrap_single(value)
    };
    schema::validate_attribute(sub, value).map_err(|e| invalid(format!("{}.{e}", attr.name)))
}

/// Read-only sub-attributes in input are ignored (RFC 7643 §2.2).
fn strip_read_only(attr: &AttributeDef, value: Value) -> Value {
    let Value::Object(mut obj) = value else {
        return value;
    };
    obj.retain(|k, _| {
        attr.sub_attribute(k)
            .is_none_or(|s| s.mutability != Mutability::ReadOnly)
    });
    Value::Object(obj)
}

/// Sets one sub-attribute of a complex value (`null` removes it); an
/// immutable sub-attribute that already has a different value is `mutability`.
pub(crate) fn set_sub(obj: &mut Object, sub: &AttributeDef, value: Value) -> Result<(), ScimError> {
    let old = get_ci(obj, &sub.name).filter(|v| !v.is_null());
    if sub.mutability == Mutability::Immutable && old.is_some_and(|o| *o != value) {
        return Err(ScimError::mutability(format!(
            "'{}' is immutable and already set",
            sub.name
        )));
    }
    set_ci(obj, &sub.name, assigned(value));
    Ok(())
}

/// Merges the sub-attributes of `value` into `obj`, one by one.
pub(crate) fn merge_subs(
    attr: &AttributeDef,
    obj: &mut Object,
    value: Object,
) -> Result<(), ScimError> {
    for (key, item) in value {
        match attr.sub_attribute(&key) {
            Some(sub) => set_sub(obj, sub, item)?,
            None => set_ci(obj, &key, assigned(item)),
        }
    }
    Ok(())
}

/// An element as an object; a non-object element becomes an empty one.
pub(crate) fn into_object(element: Value) -> Object {
    match element {
        Value::Object(obj) => obj,
        _ => Object::new(),
    }
}

/// Indices of the elements the target's value filter selects.
pub(crate) fn matching(
    elements: &[Value],
    target: &Target<'_>,
    schema: &ResourceSchema,
) -> Vec<usize> {
    let Some(filter) = &target.filter else {
        return (0..elements.len()).collect();
    };
    let parent = target.parent_path();
    let selects = |e: &Value| match e {
        Value::Object(_) => filter.matches_within(&parent, e, schema),
        scalar => {
            let wrapped = Value::Object(Object::from_iter([("value".to_owned(), scalar.clone())]));
            filter.matches_within(&parent, &wrapped, schema)
        }
    };
    (0..elements.len())
        .filter(|&i| selects(&elements[i]))
        .collect()
}

/// The element a filter describes, when it is a conjunction of `eq`
/// comparisons on sub-attributes of a complex attribute
/// (`type eq "work" and primary eq true` → `{"type": "work", "primary": true}`).
pub(crate) fn element_from_filter(attr: &AttributeDef, filter: &Filter) -> Option<Object> {
    if attr.attr_type != AttrType::Complex {
        return None;
    }
    let mut out = Object::new();
    collect_eq(attr, filter, &mut out)?;
    Some(out)
}

fn collect_eq(attr: &AttributeDef, filter: &Filter, out: &mut Object) -> Option<()> {
    match filter {
        Filter::And(l, r) => {
            collect_eq(attr, l, out)?;
            collect_eq(attr, r, out)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.uri.is_none() && path.sub.is_none() => {
            let sub = attr.sub_attribute(&path.name)?;
            let value = schema::validate_attribute(sub, value)
                .ok()
                .filter(|v| !v.is_null())?;
            out.insert(sub.name.clone(), value);
            Some(())
        }
        _ => None,
    }
}

/// Whether `existing` already holds everything `new` says (equal, or an
/// object whose members include all of `new`'s).
pub(crate) fn contains(existing: &Value, new: &Value) -> bool {
    match (existing, new) {
        (Value::Object(e), Value::Object(n)) => n.iter().all(|(k, v)| get_ci(e, k) == Some(v)),
        _ => existing == new,
    }
}

/// Appends the elements of `new` that `items` does not already contain;
/// returns the indices written.
pub(crate) fn append_unique(items: &mut Vec<Value>, new: Vec<Value>) -> Vec<usize> {
    let mut written = Vec::new();
    for item in new {
        if !items.iter().any(|e| contains(e, &item)) {
            items.push(item);
            written.push(items.len() - 1);
        }
    }
    written
}

fn is_primary(value: &Value) -> bool {
    value.as_object().is_some_and(is_primary_member)
}

fn is_primary_member(obj: &Object) -> bool {
    get_ci(obj, "primary") == Some(&Value::Bool(true))
}

/// At most one element may be primary (RFC 7643 §2.4): when one of the
/// `written` elements is primary, every other one stops being; two written
/// primaries are `invalidValue`.
pub(crate) fn one_primary(
    attr: &AttributeDef,
    elements: &mut [Value],
    written: &[usize],
) -> Result<(), ScimError> {
    let primaries = written
        .iter()
        .filter(|&&i| is_primary(&elements[i]))
        .count();
    if primaries > 1 {
        return Err(ScimError::invalid_value(format!(
            "{}: at most one value may have \"primary\": true",
            attr.name
        )));
    }
    if primaries == 1 {
        for (i, element) in elements.iter_mut().enumerate() {
            if !written.contains(&i)
                && let Value::Object(obj) = element
                && is_primary_member(obj)
            {
                set_ci(obj, "primary", Some(Value::Bool(false)));
            }
        }
    }
    Ok(())
}

/// Whether `element` is one of `given` (a list or a single value): by the
/// `value` sub-attribute when the given item has one (case-sensitive), else
/// by equality.
pub(crate) fn listed(element: &Value, given: &[Value]) -> bool {
    let own = element.as_object().and_then(|o| get_ci(o, "value"));
    given
        .iter()
        .any(|g| match g.as_object().and_then(|o| get_ci(o, "value")) {
            Some(v) => own == Some(v),
            None if g.is_object() => element == g,
            None => own == Some(g) || element == g,
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::filter::parse_filter;

    fn emails() -> AttributeDef {
        schema::user_schema()
            .attribute("emails")
            .cloned()
            .expect("emails")
    }

    #[test]
    fn builds_elements_from_eq_filters() {
        let attr = emails();
        let rows = [
            ("type eq \"work\"", Some(json!({"type": "work"}))),
            (
                "Type eq \"work\" and primary eq \"True\"",
                Some(json!({"type": "work", "primary": true})),
            ),
            ("type eq \"work\" or type eq \"home\"", None),
            ("type ne \"work\"", None),
            ("nope eq \"x\"", None),
            ("type eq null", None),
        ];
        for (text, expected) in rows {
            let filter = parse_filter(text).expect("valid filter");
            let got = element_from_filter(&attr, &filter).map(Value::Object);
            assert_eq!(got, expected, "{text}");
        }
    }

    #[test]
    fn keeps_one_primary() {
        let attr = emails();
        let mut items = vec![
            json!({"value": "a", "primary": true}),
            json!({"value": "b", "primary": true}),
        ];
        one_primary(&attr, &mut items, &[1]).expect("one written primary");
        assert_eq!(
            items,
            [
                json!({"value": "a", "primary": false}),
                json!({"value": "b", "primary": true})
            ]
        );
        let ok = one_primary(&attr, &mut items.clone(), &[0, 1]);
        assert!(ok.is_ok(), "only b is primary now");
        items[0]["primary"] = json!(true);
        let err = one_primary(&attr, &mut items, &[0, 1]).expect_err("two written primaries");
        assert_eq!(
            err.scim_type,
            Some(crate::scim::error::ScimType::InvalidValue)
        );
    }

    #[test]
    fn compares_containment_and_listing() {
        let stored = json!({"value": "x", "display": "X"});
        assert!(contains(&stored, &json!({"Value": "x"})));
        assert!(!contains(&stored, &json!({"value": "x", "display": "Y"})));
        assert!(listed(&stored, &[json!({"value": "x"})]));
        assert!(!listed(&stored, &[json!({"value": "X"})]), "case-sensitive");
        assert!(listed(&json!("tag"), &[json!("tag")]));
        assert!(listed(&stored, &[json!("x")]));
    }

    #[test]
    fn set_ci_rewrites_spelling() {
        let mut obj = into_object(json!({"USERNAME": "a", "other": 1}));
        set_ci(&mut obj, "userName", Some(json!("b")));
        assert_eq!(Value::Object(obj), json!({"userName": "b", "other": 1}));
        assert!(into_object(json!("x")).is_empty());
    }
}
