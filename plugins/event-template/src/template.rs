//! Text templates with `{{path}}` placeholders, parsed once (so a bad
//! template is a config error) and rendered per event.

use std::fmt;

use rollcall_plugin_sdk::http;
use serde_json::Value;

use crate::FieldPath;

/// How substituted values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// As they are (bodies, headers).
    None,
    /// Percent-encoded, so a value stays one URL path segment or query
    /// component (`ada@example.com` → `ada%40example.com`).
    Url,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Field(FieldPath),
}

/// Why a template could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

/// Why a template could not be rendered for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// The path is absent or `null` in this event.
    Missing(FieldPath),
    /// The path holds an object or a list, which has no text form.
    NotText(FieldPath),
}

impl Template {
    /// Parses `text`; `{{` must be closed by `}}` around a field path.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| TemplateError(format!("unclosed '{{{{' in '{text}'")))?;
            let path = FieldPath::parse(&after[..close])
                .map_err(|e| TemplateError(format!("in '{text}': {e}")))?;
            parts.push(Part::Field(path));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// The literal text before the first placeholder.
    pub fn literal_prefix(&self) -> &str {
        match self.parts.first() {
            Some(Part::Literal(text)) => text,
            _ => "",
        }
    }

    /// The path when the template is exactly one placeholder (`"{{data}}"`),
    /// so a JSON body can take the value itself rather than its text.
    pub fn single_field(&self) -> Option<&FieldPath> {
        match self.parts.as_slice() {
            [Part::Field(path)] => Some(path),
            _ => None,
        }
    }

    /// The text for `context` (see [`crate::context`]).
    pub fn render(&self, context: &Value, escape: Escape) -> Result<String, RenderError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Field(path) => {
                    if path.lookup(context).is_none() {
                        return Err(RenderError::Missing(path.clone()));
                    }
                    let value = path
                        .text(context)
                        .ok_or_else(|| RenderError::NotText(path.clone()))?;
                    match escape {
                        Escape::None => out.push_str(&value),
                        Escape::Url => out.push_str(&http::encode(&value)),
                    }
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::Missing(path) => write!(f, "the event has no value at {path}"),
            RenderError::NotText(path) => {
                write!(f, "{path} is an object or a list, not a value for text")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context() -> Value {
        json!({
            "event": {"id": "event_1", "type": "dsync.user.updated"},
            "data": {"email": "ada+ops@example.com", "id": "directory_user_1",
                     "custom_attributes": {"employee_number": 42}, "roles": ["a"]},
        })
    }

    #[test]
    fn placeholders_render_escaped_for_urls_and_verbatim_elsewhere() {
        let t = Template::parse("https://a.example/u/{{ data.email }}/s?e={{event.id}}").unwrap();
        assert_eq!(t.literal_prefix(), "https://a.example/u/");
        assert_eq!(
            t.render(&context(), Escape::Url).unwrap(),
            "https://a.example/u/ada%2Bops%40example.com/s?e=event_1"
        );
        let t =
            Template::parse("#{{data.custom_attributes.employee_number}} {{event.type}}").unwrap();
        assert_eq!(
            t.render(&context(), Escape::None).unwrap(),
            "#42 dsync.user.updated"
        );
        assert_eq!(
            Template::parse("plain")
                .unwrap()
                .render(&context(), Escape::Url)
                .unwrap(),
            "plain"
        );
    }

    #[test]
    fn missing_and_structured_values_name_their_path() {
        let missing = Template::parse("{{data.username}}").unwrap();
        let err = missing.render(&context(), Escape::None).unwrap_err();
        assert_eq!(err.to_string(), "the event has no value at data.username");
        let list = Template::parse("x{{data.roles}}").unwrap();
        assert!(matches!(
            list.render(&context(), Escape::None),
            Err(RenderError::NotText(_))
        ));
        assert_eq!(
            missing.single_field().map(ToString::to_string).as_deref(),
            Some("data.username")
        );
        assert_eq!(list.single_field(), None);
    }

    #[test]
    fn malformed_templates_are_refused() {
        for bad in ["{{data.email", "a {{}} b", "{{data email}}"] {
            assert!(Template::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Template::parse("}} is fine").is_ok());
    }
}
