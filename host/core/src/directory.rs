//! Directories: one connection to one identity provider for one organization.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::Timestamp;

/// How data reaches a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingress {
    /// The provider pushes SCIM to our endpoint.
    ScimPush,
    /// We pull the provider's API with a connector plugin.
    Pull,
    /// Users/groups arrive as CSV uploads.
    Upload,
}

/// The provider behind a directory (DESIGN.md, "Directory types").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DirectoryType {
    GenericScimV2,
    GenericScimV1,
    AzureScimV2,
    OktaScimV2,
    OktaScimV1,
    OneloginScimV2,
    JumpcloudScimV2,
    RipplingScimV2,
    PingfederateScimV2,
    GoogleWorkspace,
    AzureGraph,
    OktaApi,
    Ldap,
    Workday,
    Bamboohr,
    Csv,
    /// `plugin:<plugin-id>`: any installed connector plugin. Holds the full
    /// text, prefix included, so that `as_str` can borrow it.
    Plugin(String),
}

const NAMED: &[(&str, DirectoryType)] = &[
    ("generic-scim-v2", DirectoryType::GenericScimV2),
    ("generic-scim-v1", DirectoryType::GenericScimV1),
    ("azure-scim-v2", DirectoryType::AzureScimV2),
    ("okta-scim-v2", DirectoryType::OktaScimV2),
    ("okta-scim-v1", DirectoryType::OktaScimV1),
    ("onelogin-scim-v2", DirectoryType::OneloginScimV2),
    ("jumpcloud-scim-v2", DirectoryType::JumpcloudScimV2),
    ("rippling-scim-v2", DirectoryType::RipplingScimV2),
    ("pingfederate-scim-v2", DirectoryType::PingfederateScimV2),
    ("google-workspace", DirectoryType::GoogleWorkspace),
    ("azure-graph", DirectoryType::AzureGraph),
    ("okta-api", DirectoryType::OktaApi),
    ("ldap", DirectoryType::Ldap),
    ("workday", DirectoryType::Workday),
    ("bamboohr", DirectoryType::Bamboohr),
    ("csv", DirectoryType::Csv),
];

impl DirectoryType {
    /// Every named type, for help texts and error messages.
    pub fn names() -> impl Iterator<Item = &'static str> {
        NAMED
            .iter()
            .map(|(name, _)| *name)
            .chain(["plugin:<plugin-id>"])
    }

    pub fn as_str(&self) -> &str {
        match self {
            DirectoryType::Plugin(full) => full,
            other => NAMED
                .iter()
                .find(|(_, t)| t == other)
                .map(|(name, _)| *name)
                .unwrap_or("unknown"),
        }
    }

    pub fn ingress(&self) -> Ingress {
        use DirectoryType::*;
        match self {
            GenericScimV2 | GenericScimV1 | AzureScimV2 | OktaScimV2 | OktaScimV1
            | OneloginScimV2 | JumpcloudScimV2 | RipplingScimV2 | PingfederateScimV2 => {
                Ingress::ScimPush
            }
            Csv => Ingress::Upload,
            GoogleWorkspace | AzureGraph | OktaApi | Ldap | Workday | Bamboohr | Plugin(_) => {
                Ingress::Pull
            }
        }
    }

    /// The state a new directory of this type starts in: push and upload
    /// directories are ready at once; pull directories are `validating` until
    /// their connector has proved the credentials.
    pub fn initial_state(&self) -> DirectoryState {
        match self.ingress() {
            Ingress::ScimPush | Ingress::Upload => DirectoryState::Active,
            Ingress::Pull => DirectoryState::Validating,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown directory type '{0}'")]
pub struct UnknownDirectoryType(pub String);

impl FromStr for DirectoryType {
    type Err = UnknownDirectoryType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some((_, t)) = NAMED.iter().find(|(name, _)| *name == s) {
            return Ok(t.clone());
        }
        if let Some(plugin) = s.strip_prefix("plugin:") {
            let valid = !plugin.is_empty()
                && plugin.len() <= 128
                && plugin
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if valid {
                return Ok(DirectoryType::Plugin(s.to_owned()));
            }
        }
        Err(UnknownDirectoryType(s.chars().take(80).collect()))
    }
}

impl fmt::Display for DirectoryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DirectoryType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DirectoryType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(|e: UnknownDirectoryType| {
            serde::de::Error::custom(format!(
                "{e}; expected one of {}",
                DirectoryType::names().collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

impl utoipa::PartialSchema for DirectoryType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(format!(
                "Provider type: {}",
                DirectoryType::names().collect::<Vec<_>>().join(", ")
            )))
            .into()
    }
}

impl utoipa::ToSchema for DirectoryType {}

/// Lifecycle state of a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DirectoryState {
    Active,
    Inactive,
    Validating,
    InvalidCredentials,
    Deleting,
}

impl DirectoryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DirectoryState::Active => "active",
            DirectoryState::Inactive => "inactive",
            DirectoryState::Validating => "validating",
            DirectoryState::InvalidCredentials => "invalid_credentials",
            DirectoryState::Deleting => "deleting",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Directory {
    #[schema(value_type = String, example = "directory")]
    pub object: &'static str,
    pub id: String,
    pub organization_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub directory_type: DirectoryType,
    pub state: DirectoryState,
    pub domain: Option<String>,
    /// Provider settings (non-secret).
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// Names of the stored secrets; their values are never returned.
    pub secret_names: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Directory {
    pub const OBJECT: &'static str = "directory";
}

/// Limits on directory input.
pub const MAX_SETTINGS_BYTES: usize = 64 * 1024;
pub const MAX_SECRETS_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDirectory {
    pub organization_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub directory_type: DirectoryType,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// Provider credentials, stored encrypted; write-only.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub secrets: Map<String, Value>,
}

/// A partial update; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectoryUpdate {
    pub name: Option<String>,
    /// Only `active` and `inactive` may be set by hand.
    pub state: Option<DirectoryState>,
    #[serde(default, with = "crate::organization::double_option")]
    #[schema(value_type = Option<String>)]
    pub domain: Option<Option<String>>,
    /// Replaces the settings object.
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Map<String, Value>>,
    /// Merged into the stored secrets; a key set to `null` removes that secret.
    #[schema(value_type = Option<Object>)]
    pub secrets: Option<Map<String, Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip_and_reject_unknown() {
        for name in NAMED.iter().map(|(n, _)| *n) {
            let t: DirectoryType = name.parse().unwrap();
            assert_eq!(t.as_str(), name);
        }
        let p: DirectoryType = "plugin:acme-hr".parse().unwrap();
        assert_eq!(p.as_str(), "plugin:acme-hr");
        assert_eq!(p.ingress(), Ingress::Pull);
        assert!("plugin:".parse::<DirectoryType>().is_err());
        assert!("plugin:a b".parse::<DirectoryType>().is_err());
        assert!("okta".parse::<DirectoryType>().is_err());
        let err = serde_json::from_str::<DirectoryType>("\"okta\"").unwrap_err();
        assert!(err.to_string().contains("okta-scim-v2"), "{err}");
    }

    #[test]
    fn initial_state_by_ingress() {
        assert_eq!(
            DirectoryType::OktaScimV2.initial_state(),
            DirectoryState::Active
        );
        assert_eq!(
            DirectoryType::GoogleWorkspace.initial_state(),
            DirectoryState::Validating
        );
        assert_eq!(
            DirectoryState::parse("invalid_credentials"),
            Some(DirectoryState::InvalidCredentials)
        );
        assert_eq!(DirectoryState::parse("nope"), None);
    }
}
