//! `plugin.toml`: what a plugin is and what it asks for (id, version, kind,
//! WIT version, outbound hosts, capabilities, config schema, credential
//! slots, limits), parsed and checked with messages that name the field.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hosts::HostPattern;
use crate::policy::LimitRequest;
use crate::schema;

/// WIT versions of `rollcall:plugin` this host can run.
pub const SUPPORTED_WIT_VERSIONS: &[&str] = &["0.1.0"];

/// Name of the custom section the SDK embeds `plugin.toml` in.
pub const MANIFEST_SECTION: &str = "rollcall-plugin-manifest";

/// Which world a plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    Connector,
    Lifecycle,
}

impl PluginKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Connector => "connector",
            PluginKind::Lifecycle => "lifecycle",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "connector" => Some(PluginKind::Connector),
            "lifecycle" => Some(PluginKind::Lifecycle),
            _ => None,
        }
    }
}

/// What a plugin may ask for beyond the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    /// Read the installation's secrets through `secrets.get`.
    Secrets,
    /// Use the host-side `ldap` interface.
    Ldap,
}

/// How the host authenticates requests to a credential slot's hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialKind {
    Bearer,
    Basic,
    Oauth2ClientCredentials,
    Oauth2RefreshToken,
    JwtBearer,
    /// `Authorization: <scheme> <token>` (e.g. Okta's `SSWS`).
    Authorization,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Bearer => "bearer",
            CredentialKind::Basic => "basic",
            CredentialKind::Oauth2ClientCredentials => "oauth2-client-credentials",
            CredentialKind::Oauth2RefreshToken => "oauth2-refresh-token",
            CredentialKind::JwtBearer => "jwt-bearer",
            CredentialKind::Authorization => "authorization",
        }
    }
}

/// The kind a credential slot accepts, or several kinds of which the
/// installation binds one: `kind = "bearer"` or
/// `kind = ["jwt-bearer", "oauth2-refresh-token"]`. One kind is written
/// back as a string, so manifests stored before lists existed still read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SlotKind {
    One(CredentialKind),
    AnyOf(Vec<CredentialKind>),
}

impl SlotKind {
    /// Whether a credential of `kind` may fill the slot.
    pub fn accepts(&self, kind: CredentialKind) -> bool {
        match self {
            SlotKind::One(k) => *k == kind,
            SlotKind::AnyOf(kinds) => kinds.contains(&kind),
        }
    }

    /// `bearer`, or `jwt-bearer or oauth2-refresh-token`.
    pub fn describe(&self) -> String {
        match self {
            SlotKind::One(k) => k.as_str().to_owned(),
            SlotKind::AnyOf(kinds) => kinds
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }
}

/// A credential the installation must (or may) bind; the host injects it
/// into requests to `hosts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSlot {
    pub name: String,
    pub kind: SlotKind,
    pub hosts: Vec<String>,
    #[serde(default)]
    pub optional: bool,
}

/// A parsed and checked `plugin.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub version: String,
    pub kind: PluginKind,
    pub wit: String,
    pub description: String,
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// Outbound hosts the plugin may call (exact names or `*.suffix`,
    /// optionally `:port`). An installation must also grant them.
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub limits: LimitRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_schema: Option<Value>,
    #[serde(default)]
    pub credentials: Vec<CredentialSlot>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("plugin.toml: {0}")]
pub struct ManifestError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, ManifestError> {
    Err(ManifestError(message.into()))
}

/// `true` for `a-z`, digits and `-`, starting with a letter, 1 to 64 long.
pub fn is_valid_plugin_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_semver(v: &str) -> bool {
    let (core, pre) = v.split_once('-').map_or((v, None), |(c, p)| (c, Some(p)));
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.chars().all(|c| c.is_ascii_digit()))
        && pre.is_none_or(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        })
        && v.len() <= 64
}

impl Manifest {
    /// Parses TOML text and checks every field.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| ManifestError(e.message().to_owned()))?;
        manifest.check()?;
        Ok(manifest)
    }

    fn check(&self) -> Result<(), ManifestError> {
        if !is_valid_plugin_id(&self.id) {
            return err(format!(
                "id '{}' must be 1 to 64 characters of a-z, 0-9 and '-', starting with a letter",
                self.id.chars().take(80).collect::<String>()
            ));
        }
        if !is_semver(&self.version) {
            return err(format!(
                "version '{}' is not a semantic version like 1.2.3",
                self.version
            ));
        }
        if !SUPPORTED_WIT_VERSIONS.contains(&self.wit.as_str()) {
            return err(format!(
                "wit '{}' is not supported by this host (supported: {})",
                self.wit,
                SUPPORTED_WIT_VERSIONS.join(", ")
            ));
        }
        if self.description.trim().is_empty() || self.description.len() > 300 {
            return err("description must be 1 to 300 characters");
        }
        if self.hosts.len() > 64 {
            return err("hosts: at most 64 entries");
        }
        for host in &self.hosts {
            HostPattern::parse(host).map_err(|e| ManifestError(format!("hosts: {e}")))?;
        }
        if let Some(schema) = &self.config_schema {
            schema::check_schema(schema)
                .map_err(|e| ManifestError(format!("config_schema {e}")))?;
        }
        let mut names = std::collections::BTreeSet::new();
        for slot in &self.credentials {
            if !is_valid_plugin_id(&slot.name.replace('_', "-")) {
                return err(format!(
                    "credentials: name '{}' must be a-z, 0-9, '-' or '_'",
                    slot.name
                ));
            }
            if !names.insert(slot.name.clone()) {
                return err(format!("credentials: '{}' is declared twice", slot.name));
            }
            if matches!(&slot.kind, SlotKind::AnyOf(kinds) if kinds.is_empty()) {
                return err(format!(
                    "credentials.{}: kind must name at least one credential kind",
                    slot.name
                ));
            }
            if slot.hosts.is_empty() {
                return err(format!(
                    "credentials.{}: hosts must not be empty",
                    slot.name
                ));
            }
            for host in &slot.hosts {
                if !self.hosts.contains(host) {
                    return err(format!(
                        "credentials.{}: host '{host}' is not listed in hosts",
                        slot.name
                    ));
                }
            }
        }
        if self.kind == PluginKind::Lifecycle && self.capabilities.contains(&Capability::Ldap) {
            return err("capabilities: ldap is only available to connectors");
        }
        Ok(())
    }

    pub fn has(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }

    /// The manifest's config schema, or one that accepts any object.
    pub fn schema(&self) -> Value {
        self.config_schema
            .clone()
            .unwrap_or_else(|| serde_json::json!({"type": "object"}))
    }
}

/// The manifest embedded in a component by the SDK, if any.
pub fn embedded(wasm: &[u8]) -> Option<String> {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::CustomSection(section)) = payload
            && section.name() == MANIFEST_SECTION
        {
            return String::from_utf8(section.data().to_vec()).ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "http-action"
version = "0.1.0"
kind = "lifecycle"
wit = "0.1.0"
description = "Calls your API"
capabilities = ["secrets"]
hosts = ["api.example.com", "*.example.org"]

[limits]
memory_mib = 32

[config_schema]
type = "object"
required = ["base_url"]

[[credentials]]
name = "api"
kind = "oauth2-client-credentials"
hosts = ["api.example.com"]
"#;

    #[test]
    fn a_good_manifest_parses() {
        let m = Manifest::parse(GOOD).unwrap();
        assert_eq!(m.kind, PluginKind::Lifecycle);
        assert!(m.has(Capability::Secrets));
        assert_eq!(m.limits.memory_mib, Some(32));
        assert_eq!(
            m.credentials[0].kind,
            SlotKind::One(CredentialKind::Oauth2ClientCredentials)
        );
        assert_eq!(m.schema()["required"][0], "base_url");
    }

    #[test]
    fn a_slot_may_accept_several_kinds() {
        let text = GOOD.replace(
            "kind = \"oauth2-client-credentials\"",
            "kind = [\"jwt-bearer\", \"oauth2-refresh-token\"]",
        );
        let m = Manifest::parse(&text).unwrap();
        let kind = &m.credentials[0].kind;
        assert!(kind.accepts(CredentialKind::JwtBearer));
        assert!(kind.accepts(CredentialKind::Oauth2RefreshToken));
        assert!(!kind.accepts(CredentialKind::Bearer));
        assert_eq!(kind.describe(), "jwt-bearer or oauth2-refresh-token");
        // Stored as JSON and read back; one kind stays a string.
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(
            json["credentials"][0]["kind"],
            serde_json::json!(["jwt-bearer", "oauth2-refresh-token"])
        );
        assert_eq!(serde_json::from_value::<Manifest>(json).unwrap(), m);
        let one = serde_json::to_value(Manifest::parse(GOOD).unwrap()).unwrap();
        assert_eq!(one["credentials"][0]["kind"], "oauth2-client-credentials");
        let empty = GOOD.replace("kind = \"oauth2-client-credentials\"", "kind = []");
        assert_eq!(
            Manifest::parse(&empty).unwrap_err().to_string(),
            "plugin.toml: credentials.api: kind must name at least one credential kind"
        );
    }

    #[test]
    fn bad_manifests_name_the_field() {
        let cases = [
            (
                GOOD.replace("\"http-action\"", "\"Bad Id\""),
                "plugin.toml: id 'Bad Id' must be 1 to 64 characters of a-z, 0-9 and '-', starting with a letter",
            ),
            (
                GOOD.replace("version = \"0.1.0\"", "version = \"one\""),
                "plugin.toml: version 'one' is not a semantic version like 1.2.3",
            ),
            (
                GOOD.replace("wit = \"0.1.0\"", "wit = \"9.0.0\""),
                "plugin.toml: wit '9.0.0' is not supported by this host (supported: 0.1.0)",
            ),
            (
                GOOD.replace("kind = \"lifecycle\"", "kind = \"daemon\""),
                "plugin.toml: unknown variant `daemon`, expected `connector` or `lifecycle`",
            ),
            (
                GOOD.replace(
                    "hosts = [\"api.example.com\"]",
                    "hosts = [\"other.example.com\"]",
                ),
                "plugin.toml: credentials.api: host 'other.example.com' is not listed in hosts",
            ),
            (
                GOOD.replace("required = [\"base_url\"]", "pattern = \"x\""),
                "plugin.toml: config_schema #: keyword 'pattern' is not supported (see docs/plugins/reference.md)",
            ),
            (
                GOOD.replace("\"*.example.org\"", "\"http://x\""),
                "plugin.toml: hosts: 'http://x' is not a host name (write it without scheme or path)",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(Manifest::parse(&text).unwrap_err().to_string(), expected);
        }
    }
}
