//! `config.actions`: each entry is checked once into an [`Action`] (event
//! types, condition, method, URL/body/header templates) so a mistake is an
//! `invalid-config` error naming `actions[i]`, never a failure mid-event.

use std::collections::BTreeMap;

use event_template::Template;
use rollcall_plugin_sdk::{PluginError, config};
use serde::Deserialize;
use serde_json::Value;

use crate::body::BodyTemplate;
use crate::condition::{Condition, WhenConfig};

/// One action as written in config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionConfig {
    on: Vec<String>,
    #[serde(default)]
    when: WhenConfig,
    method: Method,
    url: String,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    if_missing: IfMissing,
}

/// The HTTP methods an action may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// What to do when a template names a field the event lacks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IfMissing {
    /// A `permanent` error naming the field (the default).
    #[default]
    Fail,
    /// Skip this action and go on with the next.
    Skip,
}

/// A checked action.
#[derive(Debug)]
pub struct Action {
    on: Vec<String>,
    pub when: Condition,
    pub method: Method,
    pub url: Template,
    pub body: Option<BodyTemplate>,
    pub headers: Vec<(String, Template)>,
    pub if_missing: IfMissing,
}

/// The configured actions; `None` when config has no `actions` (the
/// default forwarding mode). `config.url` stays required: in this mode it
/// is the base that action URLs starting with `/` are relative to.
pub fn load() -> Result<Option<Vec<Action>>, PluginError> {
    let Some(configs) = config::get::<Vec<ActionConfig>>("actions")? else {
        return Ok(None);
    };
    crate::forward::validate()?;
    let base: String = config::require("url")?;
    if configs.is_empty() {
        return Err(PluginError::invalid_config(
            "config.actions must list at least one action",
        ));
    }
    if config::get::<Value>("events")?.is_some() {
        return Err(PluginError::invalid_config(
            "config.events cannot be combined with config.actions (give each action its own on)",
        ));
    }
    let actions = configs
        .into_iter()
        .enumerate()
        .map(|(i, c)| Action::compile(c, &base, &format!("actions[{i}]")))
        .collect::<Result<_, _>>()?;
    Ok(Some(actions))
}

impl Action {
    /// Checks one action; a `url` starting with `/` is relative to `base`.
    fn compile(config: ActionConfig, base: &str, at: &str) -> Result<Action, PluginError> {
        let invalid = |m: String| PluginError::invalid_config(format!("{at}.{m}"));
        if config.on.is_empty() || config.on.iter().any(|t| t.trim().is_empty()) {
            return Err(invalid("on: list at least one event type".into()));
        }
        let url = match config.url.starts_with('/') {
            true => format!("{}{}", base.trim_end_matches('/'), config.url),
            false => config.url,
        };
        let url = Template::parse(&url).map_err(|e| invalid(format!("url: {e}")))?;
        if !literal_origin(url.literal_prefix()) {
            return Err(invalid(
                "url: must be a path (/…) or start with a literal http(s)://host/ (placeholders only after it)"
                    .into(),
            ));
        }
        let headers = config
            .headers
            .into_iter()
            .map(|(name, value)| {
                if !valid_header_name(&name) {
                    return Err(invalid(format!("headers: '{name}' is not a header name")));
                }
                let value =
                    Template::parse(&value).map_err(|e| invalid(format!("headers.{name}: {e}")))?;
                Ok((name.to_ascii_lowercase(), value))
            })
            .collect::<Result<_, _>>()?;
        let body = config
            .body
            .as_ref()
            .map(BodyTemplate::parse)
            .transpose()
            .map_err(|e| invalid(format!("body: {e}")))?;
        Ok(Action {
            on: config.on,
            when: Condition::compile(config.when, at)?,
            method: config.method,
            url,
            body,
            headers,
            if_missing: config.if_missing,
        })
    }

    /// Whether the action is for `event_type` (`dsync.user.*` matches by prefix).
    pub fn is_for(&self, event_type: &str) -> bool {
        self.on.iter().any(|t| match t.strip_suffix('*') {
            Some(prefix) => event_type.starts_with(prefix),
            None => t == event_type,
        })
    }
}

/// `http(s)://host/…` or `http(s)://host` with no placeholder at all in
/// the scheme and host, so event data can never choose where a call goes.
fn literal_origin(prefix: &str) -> bool {
    let rest = prefix
        .strip_prefix("https://")
        .or_else(|| prefix.strip_prefix("http://"));
    rest.and_then(|r| r.find(['/', '?']))
        .is_some_and(|end| end > 0)
}

fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(action: Value) -> Result<Action, PluginError> {
        let config: ActionConfig = serde_json::from_value(action)
            .map_err(|e| PluginError::invalid_config(e.to_string()))?;
        Action::compile(config, "https://base.example.com/", "actions[0]")
    }

    #[test]
    fn actions_compile_and_match_event_types() {
        let action = compile(json!({
            "on": ["dsync.user.deleted", "dsync.group.*"],
            "method": "DELETE",
            "url": "https://app.example.com/api/users/{{data.email}}/sessions",
            "headers": {"X-Reason": "{{event.type}}"},
        }))
        .unwrap();
        assert!(action.is_for("dsync.user.deleted"));
        assert!(action.is_for("dsync.group.user_added"));
        assert!(!action.is_for("dsync.user.updated"));
        assert_eq!(action.method, Method::Delete);
        assert_eq!(action.headers[0].0, "x-reason");
        assert_eq!(action.if_missing, IfMissing::Fail);
    }

    #[test]
    fn bad_actions_are_config_errors_naming_the_field() {
        let base =
            json!({"on": ["dsync.user.updated"], "method": "POST", "url": "https://a.example/x"});
        let with = |key: &str, value: Value| {
            let mut action = base.clone();
            action[key] = value;
            compile(action).unwrap_err().to_string()
        };
        assert!(with("on", json!([])).contains("actions[0].on"));
        assert!(with("url", json!("https://{{data.host}}/x")).contains("actions[0].url"));
        assert!(with("url", json!("{{data.url}}")).contains("actions[0].url"));
        assert!(with("url", json!("ftp://a.example/")).contains("actions[0].url"));
        assert!(with("url", json!("a.example/x")).contains("actions[0].url"));
        assert!(with("url", json!("https://a.example/{{data")).contains("unclosed"));
        assert!(with("headers", json!({"bad name": "x"})).contains("actions[0].headers"));
        assert!(with("body", json!({"x": "{{}}"})).contains("actions[0].body"));
        assert!(with("method", json!("TRACE")).contains("unknown variant"));
        assert!(with("when", json!({"user_state": "gone"})).contains("unknown variant"));
        assert!(with("surprise", json!(1)).contains("unknown field"));
        assert!(compile(base).is_ok());
        let relative =
            compile(json!({"on": ["x"], "method": "GET", "url": "/users/{{data.id}}"})).unwrap();
        let context = json!({"data": {"id": "u 1"}});
        assert_eq!(
            relative
                .url
                .render(&context, event_template::Escape::Url)
                .unwrap(),
            "https://base.example.com/users/u%201"
        );
    }
}
