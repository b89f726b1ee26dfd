//! Parsing a PATCH request body (RFC 7644 §3.5.2) into [`PatchOperation`]s.
//!
//! Keys (`schemas`, `Operations`, `op`, `path`, `value`) match in any case and
//! op names too; an empty or `null` `path` is no path. The shape is checked,
//! values are not: they are validated against the schema when applied.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::patch::{MAX_PATCH_OPERATIONS, PATCH_OP_SCHEMA, PatchOp, PatchOperation, PatchOptions};
use super::path::{PatchPath, PathError, parse_patch_path};

/// Parses a PatchOp request body (after dialect normalization).
///
/// Errors: `invalidSyntax` for a bad shape, a missing PatchOp schema URN
/// (unless [`PatchOptions::require_patch_schema`] is off), an unknown `op` or a
/// missing `value` on `add`/`replace`; `invalidPath` for an unparseable
/// `path`, `invalidFilter` for a bad value filter inside one; `tooMany` for
/// more than [`MAX_PATCH_OPERATIONS`] operations.
pub fn parse_patch(body: &Value, options: &PatchOptions) -> Result<Vec<PatchOperation>, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax(
            "a PATCH request body must be a JSON object",
        ));
    };
    check_schemas(body, options)?;
    let operations = match member(body, "Operations") {
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ScimError::invalid_syntax("\"Operations\" must be an array")),
        None => {
            return Err(ScimError::invalid_syntax(
                "a PATCH request needs an \"Operations\" array",
            ));
        }
    };
    if operations.len() > MAX_PATCH_OPERATIONS {
        let detail = format!(
            "{} operations in one PATCH request; the limit is {MAX_PATCH_OPERATIONS}",
            operations.len()
        );
        return Err(ScimError::bad_request(
            super::error::ScimType::TooMany,
            detail,
        ));
    }
    let parse = |(i, item): (usize, &Value)| {
        parse_operation(item).map_err(|mut e| {
            e.detail = format!("Operations[{i}]: {}", e.detail);
            e
        })
    };
    operations.iter().enumerate().map(parse).collect()
}

/// Case-insensitive object member lookup, exact spelling first.
pub(crate) fn member<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn check_schemas(body: &Map<String, Value>, options: &PatchOptions) -> Result<(), ScimError> {
    let listed = match member(body, "schemas") {
        Some(Value::Array(urns)) => urns
            .iter()
            .filter_map(Value::as_str)
            .any(|u| u.trim().eq_ignore_ascii_case(PATCH_OP_SCHEMA)),
        Some(Value::String(urn)) => urn.trim().eq_ignore_ascii_case(PATCH_OP_SCHEMA),
        _ => false,
    };
    if listed || !options.require_patch_schema {
        return Ok(());
    }
    Err(ScimError::invalid_syntax(format!(
        "\"schemas\" must list \"{PATCH_OP_SCHEMA}\""
    )))
}

fn parse_operation(item: &Value) -> Result<PatchOperation, ScimError> {
    let Value::Object(obj) = item else {
        return Err(ScimError::invalid_syntax(
            "each operation must be a JSON object",
        ));
    };
    let op = parse_op(member(obj, "op"))?;
    let path = parse_path(member(obj, "path"))?;
    let value = member(obj, "value").cloned();
    if value.is_none() && op != PatchOp::Remove {
        return Err(ScimError::invalid_syntax(format!(
            "\"{}\" needs a \"value\"",
            op.as_str()
        )));
    }
    Ok(PatchOperation { op, path, value })
}

fn parse_op(op: Option<&Value>) -> Result<PatchOp, ScimError> {
    match op {
        Some(Value::String(word)) => PatchOp::from_keyword(word).ok_or_else(|| {
            let word: String = word.chars().take(40).collect();
            ScimError::invalid_syntax(format!(
                "unknown op \"{word}\"; expected add, replace or remove"
            ))
        }),
        Some(_) => Err(ScimError::invalid_syntax("\"op\" must be a string")),
        None => Err(ScimError::invalid_syntax("an operation needs an \"op\"")),
    }
}

fn parse_path(path: Option<&Value>) -> Result<Option<PatchPath>, ScimError> {
    match path {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => parse_patch_path(text).map(Some).map_err(path_error),
        Some(_) => Err(ScimError::invalid_syntax("\"path\" must be a string")),
    }
}

/// A rejected path: `invalidFilter` when the value filter is at fault, else `invalidPath`.
pub(crate) fn path_error(err: PathError) -> ScimError {
    match err {
        PathError::Filter(e) => {
            ScimError::invalid_filter(format!("invalid value filter in path: {e}"))
        }
        other => ScimError::invalid_path(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::error::ScimType;

    fn strict() -> PatchOptions {
        PatchOptions::default()
    }

    fn body(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
    }

    fn err_type(value: &Value, options: &PatchOptions) -> Option<ScimType> {
        parse_patch(value, options).err().and_then(|e| e.scim_type)
    }

    #[test]
    fn parses_operations_in_any_case() {
        let value = json!({
            "SCHEMAS": [PATCH_OP_SCHEMA.to_uppercase()],
            "operations": [
                {"OP": "Replace", "Path": "userName", "VALUE": "a"},
                {"op": "ADD", "value": {"active": false}},
                {"op": "remove", "path": "emails[type eq \"work\"]"},
                {"op": "Remove", "path": "", "value": null},
            ]
        });
        let ops = parse_patch(&value, &strict()).expect("valid body");
        let ops: Vec<_> = ops
            .iter()
            .map(|o| (o.op, o.path.as_ref().map(ToString::to_string)))
            .collect();
        assert_eq!(
            ops,
            [
                (PatchOp::Replace, Some("userName".to_owned())),
                (PatchOp::Add, None),
                (PatchOp::Remove, Some("emails[type eq \"work\"]".to_owned())),
                (PatchOp::Remove, None),
            ]
        );
    }

    #[test]
    fn rejects_bad_bodies() {
        use ScimType::*;
        let rows: [(Value, ScimType); 12] = [
            (json!([]), InvalidSyntax),
            (json!({"Operations": []}), InvalidSyntax),
            (
                json!({"schemas": ["urn:x"], "Operations": []}),
                InvalidSyntax,
            ),
            (body(json!({})), InvalidSyntax),
            (json!({"schemas": [PATCH_OP_SCHEMA]}), InvalidSyntax),
            (
                body(json!([{"op": "add", "path": "userName"}])),
                InvalidSyntax,
            ),
            (
                body(json!([{"op": "move", "path": "userName", "value": 1}])),
                InvalidSyntax,
            ),
            (
                body(json!([{"path": "userName", "value": 1}])),
                InvalidSyntax,
            ),
            (body(json!([{"op": 1, "value": {}}])), InvalidSyntax),
            (body(json!(["remove"])), InvalidSyntax),
            (
                body(json!([{"op": "remove", "path": "emails[type eq]"}])),
                InvalidFilter,
            ),
            (
                body(json!([{"op": "remove", "path": "a.b.c"}])),
                InvalidPath,
            ),
        ];
        for (value, expected) in rows {
            assert_eq!(err_type(&value, &strict()), Some(expected), "{value}");
        }
        let path = body(json!([{"op": "remove", "path": 5}]));
        assert_eq!(err_type(&path, &strict()), Some(InvalidSyntax));
    }

    #[test]
    fn schema_urn_is_optional_when_lenient() {
        let lenient = PatchOptions {
            require_patch_schema: false,
            ..PatchOptions::default()
        };
        let value = json!({"Operations": [{"op": "remove", "path": "title"}]});
        assert_eq!(parse_patch(&value, &lenient).map(|o| o.len()), Ok(1));
        assert_eq!(err_type(&value, &strict()), Some(ScimType::InvalidSyntax));
        let empty = body(json!([]));
        assert_eq!(parse_patch(&empty, &strict()), Ok(Vec::new()));
    }

    #[test]
    fn limits_the_operation_count() {
        let op = json!({"op": "remove", "path": "title"});
        let at_limit = body(Value::Array(vec![op.clone(); MAX_PATCH_OPERATIONS]));
        assert_eq!(
            parse_patch(&at_limit, &strict()).map(|o| o.len()),
            Ok(MAX_PATCH_OPERATIONS)
        );
        let over = body(Value::Array(vec![op; MAX_PATCH_OPERATIONS + 1]));
        let err = parse_patch(&over, &strict()).expect_err("too many");
        assert_eq!((err.status, err.scim_type), (400, Some(ScimType::TooMany)));
    }
}
