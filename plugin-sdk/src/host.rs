//! Wrappers over the host imports: [`log`], [`config`], [`secrets`] and
//! [`state`]. Inside Rollcall they call the host; in native unit tests
//! (feature `testing`) they use the fakes in [`crate::testing`].

use crate::PluginError;

/// A host refusal, as the host imports report it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) enum HostFailure {
    Denied(String),
    QuotaExceeded(String),
    Invalid(String),
    Unavailable(String),
}

impl From<HostFailure> for PluginError {
    fn from(f: HostFailure) -> Self {
        match f {
            HostFailure::Denied(m) => PluginError::permanent(format!("denied by the host: {m}")),
            HostFailure::QuotaExceeded(m) => PluginError::permanent(m),
            HostFailure::Invalid(m) => PluginError::permanent(m),
            HostFailure::Unavailable(m) => PluginError::transient(m),
        }
    }
}

/// Log levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Logging into the host's logs, tagged with plugin and tenant. Lines are
/// truncated and rate-limited by the host.
///
/// ```
/// rollcall_plugin_sdk::log::info("synced 10 users");
/// ```
pub mod log {
    use super::Level;

    /// Writes one line at `level`.
    pub fn write(level: Level, message: &str) {
        crate::backend::log(level, message);
    }
    pub fn trace(message: &str) {
        write(Level::Trace, message)
    }
    pub fn debug(message: &str) {
        write(Level::Debug, message)
    }
    pub fn info(message: &str) {
        write(Level::Info, message)
    }
    pub fn warn(message: &str) {
        write(Level::Warn, message)
    }
    pub fn error(message: &str) {
        write(Level::Error, message)
    }
}

/// The installation's configuration (validated against the plugin's
/// `config_schema` when it was bound).
///
/// ```
/// # rollcall_plugin_sdk::testing::set_config(serde_json::json!({"base_url": "https://api.example.com"}));
/// let url: String = rollcall_plugin_sdk::config::require("base_url")?;
/// assert_eq!(url, "https://api.example.com");
/// # Ok::<(), rollcall_plugin_sdk::PluginError>(())
/// ```
pub mod config {
    use serde::de::DeserializeOwned;
    use serde_json::{Map, Value};

    use crate::PluginError;

    /// The whole configuration object.
    pub fn all() -> Map<String, Value> {
        match serde_json::from_str(&crate::backend::config_all()) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    /// One top-level key, deserialized; `None` when absent.
    pub fn get<T: DeserializeOwned>(key: &str) -> Result<Option<T>, PluginError> {
        match crate::backend::config_get(key) {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| PluginError::invalid_config(format!("config.{key}: {e}"))),
        }
    }

    /// One top-level key that must be present.
    pub fn require<T: DeserializeOwned>(key: &str) -> Result<T, PluginError> {
        get(key)?.ok_or_else(|| PluginError::invalid_config(format!("config.{key} is required")))
    }
}

/// The installation's secrets. Needs `capabilities = ["secrets"]` in
/// `plugin.toml`; prefer credentials the host injects into HTTP requests.
///
/// ```
/// # rollcall_plugin_sdk::testing::set_secret("api_key", "s3cret");
/// let key = rollcall_plugin_sdk::secrets::require("api_key")?;
/// assert_eq!(key, "s3cret");
/// # Ok::<(), rollcall_plugin_sdk::PluginError>(())
/// ```
pub mod secrets {
    use crate::PluginError;

    /// The secret, `None` when the installation has none by that name.
    pub fn get(name: &str) -> Result<Option<String>, PluginError> {
        Ok(crate::backend::secret(name)?)
    }

    /// A secret that must be present.
    pub fn require(name: &str) -> Result<String, PluginError> {
        get(name)?.ok_or_else(|| PluginError::invalid_config(format!("secret '{name}' is not set")))
    }
}

/// Small key-value state kept per installation, with quotas.
///
/// ```
/// use rollcall_plugin_sdk::state;
/// state::set("cursor", "abc")?;
/// assert_eq!(state::get("cursor")?.as_deref(), Some("abc"));
/// state::delete("cursor")?;
/// assert_eq!(state::get("cursor")?, None);
/// # Ok::<(), rollcall_plugin_sdk::PluginError>(())
/// ```
pub mod state {
    use crate::PluginError;

    pub fn get(key: &str) -> Result<Option<String>, PluginError> {
        Ok(crate::backend::state_get(key)?)
    }

    pub fn set(key: &str, value: &str) -> Result<(), PluginError> {
        Ok(crate::backend::state_set(key, value)?)
    }

    pub fn delete(key: &str) -> Result<(), PluginError> {
        Ok(crate::backend::state_delete(key)?)
    }

    /// Keys starting with `prefix`, sorted, at most `limit`.
    pub fn list_keys(prefix: &str, limit: u32) -> Result<Vec<String>, PluginError> {
        Ok(crate::backend::state_list(prefix, limit)?)
    }
}
