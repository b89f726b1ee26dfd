//! Finding the user's login on the API from the event: the first of the
//! configured field paths that holds a non-empty value, or a template.

use event_template::{Escape, FieldPath, Template};
use serde_json::Value;

/// Where the login comes from.
#[derive(Debug)]
pub enum LoginSource {
    /// Field paths, tried in order.
    Fields(Vec<FieldPath>),
    /// A template such as `{{data.custom_attributes.github_login}}`.
    Template(Template),
}

impl LoginSource {
    /// The login for `context` (see [`event_template::context`]), or why
    /// there is none.
    pub fn resolve(&self, context: &Value) -> Result<String, String> {
        let login = match self {
            LoginSource::Fields(paths) => paths
                .iter()
                .filter_map(|p| p.text(context))
                .find(|v| !v.trim().is_empty())
                .ok_or_else(|| {
                    let names: Vec<String> = paths.iter().map(ToString::to_string).collect();
                    format!("none of {} is set", names.join(", "))
                })?,
            LoginSource::Template(template) => template
                .render(context, Escape::None)
                .map_err(|e| e.to_string())?,
        };
        let login = login.trim().to_owned();
        if login.is_empty() {
            return Err("the login is empty".into());
        }
        Ok(login)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(paths: &[&str]) -> LoginSource {
        LoginSource::Fields(paths.iter().map(|p| FieldPath::parse(p).unwrap()).collect())
    }

    #[test]
    fn the_first_set_field_or_the_template_gives_the_login() {
        let context = json!({"data": {"username": "", "email": "ada@example.com",
                                      "custom_attributes": {"gh": "ada-l"}}});
        let source = fields(&["data.username", "data.email"]);
        assert_eq!(source.resolve(&context).as_deref(), Ok("ada@example.com"));
        let template =
            LoginSource::Template(Template::parse("{{data.custom_attributes.gh}}").unwrap());
        assert_eq!(template.resolve(&context).as_deref(), Ok("ada-l"));
    }

    #[test]
    fn no_login_says_why() {
        let context = json!({"data": {"username": null}});
        assert_eq!(
            fields(&["data.username", "data.email"]).resolve(&context),
            Err("none of data.username, data.email is set".into())
        );
        let template =
            LoginSource::Template(Template::parse("{{data.custom_attributes.gh}}").unwrap());
        assert_eq!(
            template.resolve(&context),
            Err("the event has no value at data.custom_attributes.gh".into())
        );
    }
}
