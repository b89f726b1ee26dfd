//! The installation's configuration and the Graph queries it implies:
//! which user and group properties are selected, the page size, and
//! whether links the plugin follows belong to the configured API root.

use rollcall_plugin_sdk::{PluginError, config};
use serde::Deserialize;

/// The global Graph v1.0 endpoint.
pub const DEFAULT_API_BASE: &str = "https://graph.microsoft.com/v1.0";
/// Graph's largest page for users and groups.
pub const MAX_PAGE_SIZE: u32 = 999;

/// User properties the mapping reads (besides `id`).
const USER_PROPERTIES: &[&str] = &[
    "userPrincipalName",
    "mail",
    "givenName",
    "surname",
    "displayName",
    "accountEnabled",
    "jobTitle",
    "department",
    "employeeId",
    "employeeType",
    "employeeOrgData",
    "companyName",
    "officeLocation",
    "preferredLanguage",
];

/// Group properties kept in `raw_attributes` (besides `id`).
pub const GROUP_PROPERTIES: &[&str] = &[
    "displayName",
    "description",
    "mail",
    "mailNickname",
    "mailEnabled",
    "securityEnabled",
    "groupTypes",
];

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    api_base: Option<String>,
    #[serde(default)]
    extra_attributes: Vec<String>,
    include_manager: Option<bool>,
    page_size: Option<u32>,
}

/// The checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The API root without a trailing slash.
    pub api_base: String,
    /// Extra user properties copied into `custom_attributes`.
    pub extra_attributes: Vec<String>,
    pub include_manager: bool,
    pub page_size: u32,
}

impl Settings {
    /// Reads and checks the installation's config.
    pub fn load() -> Result<Settings, PluginError> {
        let raw: Raw = serde_json::from_value(serde_json::Value::Object(config::all()))
            .map_err(|e| PluginError::invalid_config(format!("config: {e}")))?;
        Settings::from_raw(raw)
    }

    fn from_raw(raw: Raw) -> Result<Settings, PluginError> {
        let api_base = raw
            .api_base
            .unwrap_or_else(|| DEFAULT_API_BASE.to_owned())
            .trim()
            .trim_end_matches('/')
            .to_owned();
        let valid_base = (api_base.starts_with("https://") || api_base.starts_with("http://"))
            && !api_base.contains(['?', '#', ' ']);
        if !valid_base {
            return Err(PluginError::invalid_config(format!(
                "config.api_base: '{api_base}' is not an http(s) URL without query"
            )));
        }
        if let Some(bad) = raw.extra_attributes.iter().find(|a| !is_property_name(a)) {
            return Err(PluginError::invalid_config(format!(
                "config.extra_attributes: '{bad}' is not a Graph property name (letters, digits, '_')"
            )));
        }
        Ok(Settings {
            api_base,
            extra_attributes: raw.extra_attributes,
            include_manager: raw.include_manager.unwrap_or(true),
            page_size: raw
                .page_size
                .unwrap_or(MAX_PAGE_SIZE)
                .clamp(1, MAX_PAGE_SIZE),
        })
    }

    /// Every user property a complete user object carries (not `id`, not
    /// the manager).
    pub fn user_properties(&self) -> impl Iterator<Item = &str> {
        USER_PROPERTIES
            .iter()
            .copied()
            .chain(self.extra_attributes.iter().map(String::as_str))
    }

    /// `$select` for users: `id` and the mapped properties.
    pub fn user_select(&self) -> String {
        let mut s = String::from("id");
        for p in self.user_properties() {
            s.push(',');
            s.push_str(p);
        }
        s
    }

    /// `$select` for groups.
    pub fn group_select(&self) -> String {
        format!("id,{}", GROUP_PROPERTIES.join(","))
    }

    /// The query of one user read: `$select`, and the manager's id when
    /// configured (`/users` and `/users/{id}` support that `$expand`).
    pub fn user_query(&self) -> String {
        let mut q = format!("$select={}", self.user_select());
        if self.include_manager {
            q.push_str("&$expand=manager($select=id)");
        }
        q
    }

    /// Whether `link` (a next or delta link) is under the configured API
    /// root: the plugin never follows a link to another host or path.
    pub fn owns(&self, link: &str) -> bool {
        link.strip_prefix(&self.api_base)
            .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('?'))
    }
}

fn is_property_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: serde_json::Value) -> Result<Settings, PluginError> {
        Settings::from_raw(serde_json::from_value(json).unwrap())
    }

    #[test]
    fn defaults_and_checks() {
        let s = settings(serde_json::json!({})).unwrap();
        assert_eq!(s.api_base, DEFAULT_API_BASE);
        assert_eq!(s.page_size, 999);
        assert!(s.include_manager);
        let s = settings(
            serde_json::json!({"api_base": "http://127.0.0.1:9/v1.0/", "page_size": 5000,
            "extra_attributes": ["extension_abc_costCode"], "include_manager": false}),
        )
        .unwrap();
        assert_eq!(s.api_base, "http://127.0.0.1:9/v1.0");
        assert_eq!(s.page_size, 999);
        assert!(
            s.user_select()
                .ends_with(",preferredLanguage,extension_abc_costCode")
        );
        assert!(!s.user_query().contains("$expand"));
        assert!(matches!(
            settings(serde_json::json!({"extra_attributes": ["a,b"]})),
            Err(PluginError::InvalidConfig(_))
        ));
        assert!(matches!(
            settings(serde_json::json!({"api_base": "graph.microsoft.com"})),
            Err(PluginError::InvalidConfig(_))
        ));
    }

    #[test]
    fn only_links_under_the_api_base_are_followed() {
        let s = settings(serde_json::json!({})).unwrap();
        assert!(s.owns("https://graph.microsoft.com/v1.0/users?$skiptoken=x"));
        assert!(s.owns("https://graph.microsoft.com/v1.0/users/delta?$deltatoken=y"));
        assert!(!s.owns("https://graph.microsoft.com/v1.0.evil.example/users"));
        assert!(!s.owns("https://graph.microsoft.com/beta/users"));
        assert!(!s.owns("https://evil.example/v1.0/users"));
    }
}
