//! JSON body templates: every string in the configured body is a
//! [`Template`]; a string that is exactly one placeholder (`"{{data}}"`)
//! takes the value itself, keeping its JSON type (number, object, list).
//! Object keys are not templated.

use event_template::{Escape, FieldPath, RenderError, Template, TemplateError};
use serde_json::{Map, Value};

/// A parsed JSON body template.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyTemplate {
    Constant(Value),
    Field(FieldPath),
    Text(Template),
    List(Vec<BodyTemplate>),
    Object(Vec<(String, BodyTemplate)>),
}

impl BodyTemplate {
    /// Parses every string of `value`.
    pub fn parse(value: &Value) -> Result<BodyTemplate, TemplateError> {
        Ok(match value {
            Value::String(text) => {
                let template = Template::parse(text)?;
                match template.single_field() {
                    Some(path) => BodyTemplate::Field(path.clone()),
                    None => BodyTemplate::Text(template),
                }
            }
            Value::Array(items) => BodyTemplate::List(
                items
                    .iter()
                    .map(BodyTemplate::parse)
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => BodyTemplate::Object(
                map.iter()
                    .map(|(k, v)| BodyTemplate::parse(v).map(|t| (k.clone(), t)))
                    .collect::<Result<_, _>>()?,
            ),
            other => BodyTemplate::Constant(other.clone()),
        })
    }

    /// The body for `context`.
    pub fn render(&self, context: &Value) -> Result<Value, RenderError> {
        Ok(match self {
            BodyTemplate::Constant(value) => value.clone(),
            BodyTemplate::Field(path) => path
                .lookup(context)
                .cloned()
                .ok_or_else(|| RenderError::Missing(path.clone()))?,
            BodyTemplate::Text(template) => Value::String(template.render(context, Escape::None)?),
            BodyTemplate::List(items) => Value::Array(
                items
                    .iter()
                    .map(|t| t.render(context))
                    .collect::<Result<_, _>>()?,
            ),
            BodyTemplate::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, t)| t.render(context).map(|v| (k.clone(), v)))
                    .collect::<Result<Map<_, _>, _>>()?,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_substitute_text_and_whole_values() {
        let template = BodyTemplate::parse(&json!({
            "user": "{{data.email}}",
            "note": "deactivated by {{event.type}}",
            "employee": "{{data.custom_attributes.employee_number}}",
            "roles": ["{{data.roles}}", 1, true, null],
        }))
        .unwrap();
        let context = json!({
            "event": {"type": "dsync.user.updated"},
            "data": {"email": "a@x", "roles": ["admin"], "custom_attributes": {"employee_number": 42}},
        });
        assert_eq!(
            template.render(&context).unwrap(),
            json!({
                "user": "a@x",
                "note": "deactivated by dsync.user.updated",
                "employee": 42,
                "roles": [["admin"], 1, true, null],
            })
        );
        let missing = BodyTemplate::parse(&json!({"x": ["{{data.nope}}"]})).unwrap();
        assert_eq!(
            missing.render(&context).unwrap_err().to_string(),
            "the event has no value at data.nope"
        );
        assert!(BodyTemplate::parse(&json!({"x": "{{data"})).is_err());
    }
}
