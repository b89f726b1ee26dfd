//! The installation's config, checked: `api_base`, how to find the login
//! (`login_field` paths or a `login` template) and the event types acted on.

use event_template::{FieldPath, Template};
use rollcall_plugin_sdk::{PluginError, config};
use serde::Deserialize;

use crate::login::LoginSource;

/// Event types handled when config has no `events`.
pub const DEFAULT_EVENTS: &[&str] = &["dsync.user.deleted", "dsync.user.updated"];

/// Login paths tried when config has neither `login_field` nor `login`.
pub const DEFAULT_LOGIN_FIELDS: &[&str] = &["data.username", "data.email"];

/// `login_field`: one path or several tried in order.
#[derive(Deserialize)]
#[serde(untagged)]
enum LoginField {
    One(String),
    Several(Vec<String>),
}

/// Checked config.
#[derive(Debug)]
pub struct Settings {
    /// `api_base` without a trailing `/`.
    pub api_base: String,
    pub login: LoginSource,
    pub events: Vec<String>,
}

impl Settings {
    /// Reads and checks the config; every problem is `invalid-config`.
    pub fn load() -> Result<Settings, PluginError> {
        let api_base: String = config::require("api_base")?;
        if !api_base.starts_with("https://") && !api_base.starts_with("http://") {
            return Err(PluginError::invalid_config(
                "config.api_base must start with https://",
            ));
        }
        let events = config::get::<Vec<String>>("events")?
            .unwrap_or_else(|| DEFAULT_EVENTS.iter().map(|e| e.to_string()).collect());
        if events.is_empty() {
            return Err(PluginError::invalid_config(
                "config.events must list at least one event type",
            ));
        }
        Ok(Settings {
            api_base: api_base.trim_end_matches('/').to_owned(),
            login: login_source()?,
            events,
        })
    }
}

fn login_source() -> Result<LoginSource, PluginError> {
    let field: Option<LoginField> = config::get("login_field")?;
    let template: Option<String> = config::get("login")?;
    match (field, template) {
        (Some(_), Some(_)) => Err(PluginError::invalid_config(
            "config.login_field and config.login cannot both be set",
        )),
        (None, Some(text)) => Template::parse(&text)
            .map(LoginSource::Template)
            .map_err(|e| PluginError::invalid_config(format!("config.login: {e}"))),
        (field, None) => {
            let paths = match field {
                None => DEFAULT_LOGIN_FIELDS.iter().map(|p| p.to_string()).collect(),
                Some(LoginField::One(path)) => vec![path],
                Some(LoginField::Several(paths)) => paths,
            };
            if paths.is_empty() {
                return Err(PluginError::invalid_config(
                    "config.login_field must name at least one field",
                ));
            }
            paths
                .iter()
                .map(|p| FieldPath::parse(p))
                .collect::<Result<_, _>>()
                .map(LoginSource::Fields)
                .map_err(|e| PluginError::invalid_config(format!("config.login_field: {e}")))
        }
    }
}
