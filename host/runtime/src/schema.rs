//! Configuration schemas: the JSON Schema subset a plugin may use for its
//! `config_schema`, checked at install, and validation of an installation's
//! config against it when the plugin is bound.
//!
//! Supported keywords: `type`, `properties`, `required`,
//! `additionalProperties` (boolean or schema), `items`, `enum`, `const`,
//! `minLength`, `maxLength`, `minimum`, `maximum`, `minItems`, `maxItems`,
//! and the annotations `title`, `description`, `default`, `examples`,
//! `format`, `$schema`, `$id`. Any other keyword is refused at install, so a
//! constraint is never silently ignored.

use serde_json::{Map, Value};

const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "default",
    "examples",
    "format",
    "$schema",
    "$id",
];
const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
];
const TYPES: &[&str] = &[
    "object", "array", "string", "number", "integer", "boolean", "null",
];

/// Checks that `schema` only uses supported keywords, well-formed.
pub fn check_schema(schema: &Value) -> Result<(), String> {
    check_at(schema, "#")
}

fn check_at(schema: &Value, at: &str) -> Result<(), String> {
    let Value::Object(map) = schema else {
        return match schema {
            Value::Bool(_) => Ok(()),
            _ => Err(format!("{at}: a schema must be an object or a boolean")),
        };
    };
    for (key, value) in map {
        if ANNOTATIONS.contains(&key.as_str()) {
            continue;
        }
        if !KEYWORDS.contains(&key.as_str()) {
            return Err(format!(
                "{at}: keyword '{key}' is not supported (see docs/plugins/reference.md)"
            ));
        }
        match key.as_str() {
            "type" => {
                let names: Vec<&Value> = match value {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                for n in names {
                    if !n.as_str().is_some_and(|s| TYPES.contains(&s)) {
                        return Err(format!("{at}/type: unknown type {n}"));
                    }
                }
            }
            "properties" => {
                let props = value
                    .as_object()
                    .ok_or(format!("{at}/properties: must be an object"))?;
                for (name, sub) in props {
                    check_at(sub, &format!("{at}/properties/{name}"))?;
                }
            }
            "additionalProperties" | "items" => check_at(value, &format!("{at}/{key}"))?,
            "required" => {
                let ok = value
                    .as_array()
                    .is_some_and(|a| a.iter().all(Value::is_string));
                if !ok {
                    return Err(format!("{at}/required: must be a list of property names"));
                }
            }
            "enum" if !value.is_array() => {
                return Err(format!("{at}/enum: must be a list"));
            }
            "minimum" | "maximum" if !value.is_number() => {
                return Err(format!("{at}/{key}: must be a number"));
            }
            "minLength" | "maxLength" | "minItems" | "maxItems" if !value.is_u64() => {
                return Err(format!("{at}/{key}: must be a non-negative integer"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Validates `value` against `schema`; every problem is one message
/// starting with the JSON path of the offending value.
pub fn validate(schema: &Value, value: &Value) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    validate_at(schema, value, "config", &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}

fn validate_at(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let map = match schema {
        Value::Bool(true) => return,
        Value::Bool(false) => {
            errors.push(format!("{at}: is not allowed"));
            return;
        }
        Value::Object(map) => map,
        _ => return,
    };
    if let Some(t) = map.get("type") {
        let names: Vec<&str> = match t {
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect(),
        };
        if !names.iter().any(|n| type_matches(n, value)) {
            errors.push(format!("{at}: expected {}", names.join(" or ")));
            return;
        }
    }
    if let Some(Value::Array(allowed)) = map.get("enum")
        && !allowed.contains(value)
    {
        errors.push(format!(
            "{at}: must be one of {}",
            Value::Array(allowed.clone())
        ));
    }
    if let Some(c) = map.get("const")
        && c != value
    {
        errors.push(format!("{at}: must be {c}"));
    }
    match value {
        Value::String(s) => check_bounds(
            map,
            "minLength",
            "maxLength",
            s.chars().count(),
            "characters",
            at,
            errors,
        ),
        Value::Array(items) => {
            check_bounds(
                map,
                "minItems",
                "maxItems",
                items.len(),
                "items",
                at,
                errors,
            );
            if let Some(item_schema) = map.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate_at(item_schema, item, &format!("{at}[{i}]"), errors);
                }
            }
        }
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            if let Some(min) = map.get("minimum").and_then(Value::as_f64)
                && f < min
            {
                errors.push(format!("{at}: must be at least {min}"));
            }
            if let Some(max) = map.get("maximum").and_then(Value::as_f64)
                && f > max
            {
                errors.push(format!("{at}: must be at most {max}"));
            }
        }
        Value::Object(object) => validate_object(map, object, at, errors),
        _ => {}
    }
}

fn check_bounds(
    map: &Map<String, Value>,
    min_key: &str,
    max_key: &str,
    len: usize,
    unit: &str,
    at: &str,
    errors: &mut Vec<String>,
) {
    if let Some(min) = map.get(min_key).and_then(Value::as_u64)
        && (len as u64) < min
    {
        errors.push(format!("{at}: must have at least {min} {unit}"));
    }
    if let Some(max) = map.get(max_key).and_then(Value::as_u64)
        && (len as u64) > max
    {
        errors.push(format!("{at}: must have at most {max} {unit}"));
    }
}

fn validate_object(
    map: &Map<String, Value>,
    object: &Map<String, Value>,
    at: &str,
    errors: &mut Vec<String>,
) {
    let props = map.get("properties").and_then(Value::as_object);
    if let Some(Value::Array(required)) = map.get("required") {
        for name in required.iter().filter_map(Value::as_str) {
            if !object.contains_key(name) {
                errors.push(format!("{at}.{name}: is required"));
            }
        }
    }
    for (key, v) in object {
        let path = format!("{at}.{key}");
        match props.and_then(|p| p.get(key)) {
            Some(sub) => validate_at(sub, v, &path, errors),
            None => {
                if let Some(extra) = map.get("additionalProperties") {
                    validate_at(extra, v, &path, errors);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["url"],
            "additionalProperties": false,
            "properties": {
                "url": {"type": "string", "minLength": 8},
                "retries": {"type": "integer", "minimum": 0, "maximum": 5},
                "mode": {"enum": ["fast", "safe"]},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2}
            }
        })
    }

    #[test]
    fn valid_config_passes_and_problems_name_their_path() {
        check_schema(&schema()).unwrap();
        validate(
            &schema(),
            &json!({"url": "https://x.example", "retries": 2}),
        )
        .unwrap();
        let errors = validate(
            &schema(),
            &json!({"retries": 9, "mode": "slow", "tags": ["a", 1, "c"], "extra": true}),
        )
        .unwrap_err();
        assert_eq!(
            errors,
            vec![
                "config.url: is required",
                "config.extra: is not allowed",
                "config.mode: must be one of [\"fast\",\"safe\"]",
                "config.retries: must be at most 5",
                "config.tags: must have at most 2 items",
                "config.tags[1]: expected string",
            ]
        );
        assert_eq!(
            validate(&schema(), &json!([])).unwrap_err(),
            vec!["config: expected object"]
        );
    }

    #[test]
    fn unsupported_keywords_are_refused_at_install() {
        let err = check_schema(&json!({"type": "object", "properties": {"a": {"pattern": "^x"}}}))
            .unwrap_err();
        assert_eq!(
            err,
            "#/properties/a: keyword 'pattern' is not supported (see docs/plugins/reference.md)"
        );
        assert!(check_schema(&json!({"type": "objekt"})).is_err());
        assert!(check_schema(&json!(3)).is_err());
    }
}
