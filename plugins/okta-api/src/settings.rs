//! The installation's config, checked: the org URL, page size, which group
//! types to sync, whether deactivated users are kept, and extra profile
//! attributes to copy.

use rollcall_plugin_sdk::{PluginError, config};

/// Okta's group types, in the order the config lists them.
pub const GROUP_TYPES: &[&str] = &["OKTA_GROUP", "APP_GROUP", "BUILT_IN"];

/// Group types synced when the config names none: the `BUILT_IN`
/// `Everyone` group holds every user and says nothing a consumer needs.
pub const DEFAULT_GROUP_TYPES: &[&str] = &["OKTA_GROUP", "APP_GROUP"];

/// Checked config.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `https://example.okta.com`, without a trailing `/`.
    pub org_url: String,
    pub page_size: u32,
    pub group_types: Vec<String>,
    /// Keep `DEPROVISIONED` users as inactive (else they count as deleted).
    pub include_deprovisioned: bool,
    pub profile_attributes: Vec<String>,
}

impl Settings {
    /// Reads and checks the config; every problem is `invalid-config`.
    pub fn load() -> Result<Settings, PluginError> {
        let org_url = org_url(&config::require::<String>("org_url")?)?;
        let page_size = config::get::<u32>("page_size")?.unwrap_or(200);
        if !(1..=200).contains(&page_size) {
            return Err(PluginError::invalid_config(
                "config.page_size must be between 1 and 200",
            ));
        }
        let group_types = config::get::<Vec<String>>("group_types")?
            .unwrap_or_else(|| DEFAULT_GROUP_TYPES.iter().map(|t| t.to_string()).collect());
        if group_types.is_empty() {
            return Err(PluginError::invalid_config(
                "config.group_types must name at least one type",
            ));
        }
        if let Some(bad) = group_types
            .iter()
            .find(|t| !GROUP_TYPES.contains(&t.as_str()))
        {
            return Err(PluginError::invalid_config(format!(
                "config.group_types: '{bad}' is not one of {}",
                GROUP_TYPES.join(", ")
            )));
        }
        Ok(Settings {
            org_url,
            page_size,
            group_types,
            include_deprovisioned: config::get("include_deprovisioned")?.unwrap_or(true),
            profile_attributes: config::get("profile_attributes")?.unwrap_or_default(),
        })
    }

    /// Whether every group type is synced (no type filter needed).
    pub fn all_group_types(&self) -> bool {
        GROUP_TYPES
            .iter()
            .all(|t| self.group_types.iter().any(|g| g == t))
    }

    /// `type eq "OKTA_GROUP" or type eq "APP_GROUP"`, `None` for all types.
    pub fn group_type_filter(&self) -> Option<String> {
        (!self.all_group_types()).then(|| {
            self.group_types
                .iter()
                .map(|t| format!("type eq \"{t}\""))
                .collect::<Vec<_>>()
                .join(" or ")
        })
    }

    /// Whether `url` is on this org (so a cursor may be followed).
    pub fn owns(&self, url: &str) -> bool {
        url.strip_prefix(&self.org_url)
            .is_some_and(|rest| rest.starts_with("/api/v1/"))
    }
}

/// Checks the org URL: `https://host` (or plain http to loopback, for
/// tests and local fakes), no path, not the admin console's host.
pub fn org_url(raw: &str) -> Result<String, PluginError> {
    let url = raw.trim().trim_end_matches('/');
    let bad = |why: &str| PluginError::invalid_config(format!("config.org_url '{url}': {why}"));
    let (scheme, authority) = url
        .split_once("://")
        .ok_or_else(|| bad("must start with https://"))?;
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(bad(
            "must be the org's address only, e.g. https://example.okta.com",
        ));
    }
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host);
    let loopback = host == "127.0.0.1" || host == "localhost";
    match scheme {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(bad("must start with https://")),
    }
    if host
        .split('.')
        .next()
        .is_some_and(|l| l.ends_with("-admin"))
    {
        return Err(bad(
            "this is the admin console; use the org URL without -admin",
        ));
    }
    Ok(url.to_owned())
}
