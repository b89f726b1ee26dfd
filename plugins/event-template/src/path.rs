//! Dotted field paths (`data.custom_attributes.employee_number`,
//! `data.roles.0`) and their lookup in a JSON value.

use std::fmt;

use serde_json::Value;

/// A non-empty dotted path; a numeric segment also indexes lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    segments: Vec<String>,
}

impl FieldPath {
    /// Parses `a.b.c`; every segment must be non-empty and free of
    /// whitespace and braces.
    pub fn parse(text: &str) -> Result<FieldPath, String> {
        let text = text.trim();
        let segments: Vec<String> = text.split('.').map(str::to_owned).collect();
        let bad = |s: &String| {
            s.is_empty() || s.chars().any(|c| c.is_whitespace() || c == '{' || c == '}')
        };
        if text.is_empty() || segments.iter().any(bad) {
            return Err(format!(
                "'{text}' is not a field path (expected e.g. data.email)"
            ));
        }
        Ok(FieldPath { segments })
    }

    /// The value at this path, `None` when absent or `null`.
    pub fn lookup<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        let found = self
            .segments
            .iter()
            .try_fold(root, |value, segment| match value {
                Value::Object(map) => map.get(segment),
                Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            })?;
        (!found.is_null()).then_some(found)
    }

    /// The value at this path as text: strings as they are, numbers and
    /// booleans printed; `None` when absent, `null`, an object or a list.
    pub fn text(&self, root: &Value) -> Option<String> {
        match self.lookup(root)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segments.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_walk_objects_and_lists() {
        let root = json!({"data": {"email": "a@x", "roles": ["admin"], "n": 7, "gone": null}});
        let path = |p| FieldPath::parse(p).unwrap();
        assert_eq!(path("data.email").text(&root).as_deref(), Some("a@x"));
        assert_eq!(path(" data.roles.0 ").text(&root).as_deref(), Some("admin"));
        assert_eq!(path("data.n").text(&root).as_deref(), Some("7"));
        assert_eq!(path("data.gone").lookup(&root), None);
        assert_eq!(path("data.missing").lookup(&root), None);
        assert_eq!(path("data.email.deeper").lookup(&root), None);
        assert_eq!(path("data.roles").text(&root), None, "a list is not text");
        assert_eq!(path("data.roles.0").to_string(), "data.roles.0");
    }

    #[test]
    fn malformed_paths_are_refused() {
        for bad in [
            "",
            "data.",
            ".data",
            "data..email",
            "data.e mail",
            "data.{x}",
        ] {
            assert!(FieldPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}
