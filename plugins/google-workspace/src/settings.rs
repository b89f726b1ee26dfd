//! The installation's config, checked: where the Admin SDK is, whose
//! directory (customer or domain), the optional group allow-list and the
//! users projection.

use rollcall_plugin_sdk::{PluginError, config};

/// Where the Admin SDK lives unless `api_base` says otherwise.
pub const DEFAULT_API_BASE: &str = "https://admin.googleapis.com";

/// `my_customer`: the customer of the administrator the token acts for.
pub const DEFAULT_CUSTOMER: &str = "my_customer";

/// Checked config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `{api_base}/admin/directory/v1`, no trailing `/`.
    pub directory: String,
    pub customer: String,
    pub domain: Option<String>,
    /// Group keys (emails or ids); empty = every group.
    pub group_allow_list: Vec<String>,
    /// `basic` or `full`.
    pub projection: String,
}

impl Settings {
    /// Reads and checks the config; every problem is `invalid-config`.
    pub fn load() -> Result<Settings, PluginError> {
        let api_base: String =
            config::get("api_base")?.unwrap_or_else(|| DEFAULT_API_BASE.to_owned());
        if !api_base.starts_with("https://") && !api_base.starts_with("http://") {
            return Err(PluginError::invalid_config(
                "config.api_base must start with https://",
            ));
        }
        let customer: String =
            config::get("customer")?.unwrap_or_else(|| DEFAULT_CUSTOMER.to_owned());
        let domain: Option<String> = config::get("domain")?;
        let group_allow_list: Vec<String> = config::get("group_allow_list")?.unwrap_or_default();
        let projection: String = config::get("projection")?.unwrap_or_else(|| "basic".to_owned());
        let settings = Settings {
            directory: format!("{}/admin/directory/v1", api_base.trim_end_matches('/')),
            customer: customer.trim().to_owned(),
            domain: domain.map(|d| d.trim().to_ascii_lowercase()),
            group_allow_list: group_allow_list
                .iter()
                .map(|g| g.trim().to_owned())
                .collect(),
            projection,
        };
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), PluginError> {
        let token = |v: &str| !v.is_empty() && !v.contains(|c: char| c.is_whitespace() || c == '/');
        if !token(&self.customer) {
            return Err(PluginError::invalid_config(
                "config.customer must be a customer id such as C01abc23d, or my_customer",
            ));
        }
        if let Some(domain) = &self.domain
            && (!token(domain) || !domain.contains('.'))
        {
            return Err(PluginError::invalid_config(format!(
                "config.domain '{domain}' is not a domain name"
            )));
        }
        if let Some(bad) = self.group_allow_list.iter().find(|g| !token(g)) {
            return Err(PluginError::invalid_config(format!(
                "config.group_allow_list: '{bad}' is not a group email or id"
            )));
        }
        if self.projection != "basic" && self.projection != "full" {
            return Err(PluginError::invalid_config(
                "config.projection must be basic or full",
            ));
        }
        Ok(())
    }

    /// The `customer=` or `domain=` query parameter of list calls.
    pub fn owner(&self) -> (&'static str, &str) {
        match &self.domain {
            Some(domain) => ("domain", domain),
            None => ("customer", &self.customer),
        }
    }
}

#[cfg(test)]
mod tests {
    use rollcall_plugin_sdk::testing;
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults_and_overrides() {
        testing::reset();
        testing::set_config(json!({}));
        let s = Settings::load().unwrap();
        assert_eq!(
            s.directory,
            "https://admin.googleapis.com/admin/directory/v1"
        );
        assert_eq!(s.owner(), ("customer", "my_customer"));
        assert!(s.group_allow_list.is_empty());
        testing::set_config(
            json!({"api_base": "http://127.0.0.1:9/", "customer": "C01x",
            "domain": "Example.COM", "group_allow_list": [" eng@example.com "], "projection": "full"}),
        );
        let s = Settings::load().unwrap();
        assert_eq!(s.directory, "http://127.0.0.1:9/admin/directory/v1");
        assert_eq!(s.owner(), ("domain", "example.com"));
        assert_eq!(s.group_allow_list, ["eng@example.com"]);
        assert_eq!(s.projection, "full");
    }

    #[test]
    fn bad_configs_are_invalid_config() {
        let cases = [
            (
                json!({"api_base": "admin.googleapis.com"}),
                "must start with https://",
            ),
            (json!({"customer": "my customer"}), "config.customer"),
            (json!({"domain": "localhost"}), "is not a domain name"),
            (
                json!({"group_allow_list": ["a b"]}),
                "config.group_allow_list",
            ),
            (
                json!({"group_allow_list": "eng@example.com"}),
                "config.group_allow_list",
            ),
            (json!({"projection": "custom"}), "config.projection"),
        ];
        for (config, expected) in cases {
            testing::reset();
            testing::set_config(config.clone());
            let err = Settings::load().unwrap_err();
            assert!(
                matches!(&err, PluginError::InvalidConfig(m) if m.contains(expected)),
                "{config}: {err}"
            );
        }
    }
}
