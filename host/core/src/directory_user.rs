//! Directory users: the normalized person record every provider maps into.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::Timestamp;
use crate::directory_group::DirectoryGroup;

/// Longest idp id, email, name, username or role slug accepted.
pub const MAX_FIELD_LEN: usize = 1024;
/// Largest `custom_attributes` + `raw_attributes`, serialized.
pub const MAX_ATTRIBUTES_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    Active,
    Inactive,
}

impl UserState {
    pub fn as_str(self) -> &'static str {
        match self {
            UserState::Active => "active",
            UserState::Inactive => "inactive",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(UserState::Active),
            "inactive" => Some(UserState::Inactive),
            _ => None,
        }
    }
}

/// A role as WorkOS shapes it: `{"slug": "admin"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoleRef {
    pub slug: String,
}

/// A stored directory user, in its Directory API shape.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DirectoryUser {
    #[schema(value_type = String, example = "directory_user")]
    pub object: &'static str,
    pub id: String,
    /// The user's id at the identity provider.
    pub idp_id: String,
    pub directory_id: String,
    pub organization_id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub state: UserState,
    /// The first of `roles`, if any.
    pub role: Option<RoleRef>,
    pub roles: Vec<RoleRef>,
    #[schema(value_type = Object)]
    pub custom_attributes: Map<String, Value>,
    #[schema(value_type = Object)]
    pub raw_attributes: Map<String, Value>,
    /// The groups the user belongs to (on single-user reads and lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<DirectoryGroup>>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Bumped on every stored change; used for ETags.
    #[serde(skip)]
    pub version: i64,
}

impl DirectoryUser {
    pub const OBJECT: &'static str = "directory_user";

    /// The event payload shape: the API object without `groups`.
    pub fn event_data(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.remove("groups");
        }
        value
    }
}

/// What a source (SCIM ingress, a connector) says a user looks like now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserInput {
    pub idp_id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub state: UserState,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub custom_attributes: Map<String, Value>,
    #[serde(default)]
    pub raw_attributes: Map<String, Value>,
}

/// Indexed lookup keys of a user (see [`UserInput::lookup_keys`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserLookupKeys {
    pub username_key: Option<String>,
    pub external_id: Option<String>,
    pub emails: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidInput {
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("{0} is longer than {1} characters")]
    TooLong(&'static str, usize),
    #[error("attributes are larger than {0} bytes")]
    AttributesTooLarge(usize),
}

pub(crate) fn check_len(field: &'static str, value: &str) -> Result<(), InvalidInput> {
    if value.len() > MAX_FIELD_LEN {
        return Err(InvalidInput::TooLong(field, MAX_FIELD_LEN));
    }
    Ok(())
}

/// Trims and turns blank strings into `None`.
fn clean(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl UserInput {
    /// Normalizes (trim, blank → absent, roles deduplicated) and checks limits.
    pub fn normalized(mut self) -> Result<Self, InvalidInput> {
        self.idp_id = self.idp_id.trim().to_owned();
        if self.idp_id.is_empty() {
            return Err(InvalidInput::Empty("idp_id"));
        }
        self.email = clean(self.email);
        self.first_name = clean(self.first_name);
        self.last_name = clean(self.last_name);
        self.username = clean(self.username);
        let mut roles = Vec::with_capacity(self.roles.len());
        for role in self.roles.drain(..) {
            let role = role.trim().to_owned();
            if !role.is_empty() && !roles.contains(&role) {
                roles.push(role);
            }
        }
        self.roles = roles;
        check_len("idp_id", &self.idp_id)?;
        for (field, value) in [
            ("email", &self.email),
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("username", &self.username),
        ] {
            if let Some(v) = value {
                check_len(field, v)?;
            }
        }
        for role in &self.roles {
            check_len("roles", role)?;
        }
        let size = serde_json::to_vec(&self.custom_attributes).map_or(0, |v| v.len())
            + serde_json::to_vec(&self.raw_attributes).map_or(0, |v| v.len());
        if size > MAX_ATTRIBUTES_BYTES {
            return Err(InvalidInput::AttributesTooLarge(MAX_ATTRIBUTES_BYTES));
        }
        Ok(self)
    }

    /// The keys lookups use: lower-cased `username`, the SCIM `externalId`
    /// (from `raw_attributes`), and every email address lower-cased (the
    /// normalized `email` plus SCIM `emails[].value`).
    pub fn lookup_keys(&self) -> UserLookupKeys {
        let mut emails: Vec<String> = Vec::new();
        let mut push = |e: &str| {
            let e = e.trim().to_lowercase();
            if !e.is_empty() && e.len() <= MAX_FIELD_LEN && !emails.contains(&e) {
                emails.push(e);
            }
        };
        if let Some(e) = &self.email {
            push(e);
        }
        if let Some(Value::Array(items)) = self.raw_attributes.get("emails") {
            for item in items {
                if let Some(v) = item.get("value").and_then(Value::as_str) {
                    push(v);
                }
            }
        }
        UserLookupKeys {
            username_key: self.username.as_deref().map(str::to_lowercase),
            external_id: self
                .raw_attributes
                .get("externalId")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            emails,
        }
    }

    /// SHA-256 over the canonical JSON of the input (object keys sorted), so
    /// an unchanged user is recognised without comparing field by field.
    pub fn content_hash(&self) -> [u8; 32] {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(&bytes).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input() -> UserInput {
        UserInput {
            idp_id: " 00u1 ".into(),
            email: Some(" ada@example.com ".into()),
            first_name: Some("".into()),
            last_name: Some("Lovelace".into()),
            username: None,
            state: UserState::Active,
            roles: vec!["admin".into(), " admin".into(), "".into()],
            custom_attributes: Map::new(),
            raw_attributes: Map::new(),
        }
    }

    #[test]
    fn normalizes_blank_and_whitespace() {
        let n = input().normalized().unwrap();
        assert_eq!(n.idp_id, "00u1");
        assert_eq!(n.email.as_deref(), Some("ada@example.com"));
        assert_eq!(n.first_name, None);
        assert_eq!(n.roles, vec!["admin".to_owned()]);
    }

    #[test]
    fn rejects_empty_id_and_oversized_values() {
        let mut i = input();
        i.idp_id = "  ".into();
        assert_eq!(i.normalized(), Err(InvalidInput::Empty("idp_id")));
        let mut i = input();
        i.email = Some("x".repeat(MAX_FIELD_LEN + 1));
        assert_eq!(
            i.normalized(),
            Err(InvalidInput::TooLong("email", MAX_FIELD_LEN))
        );
        let mut i = input();
        i.raw_attributes
            .insert("blob".into(), json!("x".repeat(MAX_ATTRIBUTES_BYTES)));
        assert!(matches!(
            i.normalized(),
            Err(InvalidInput::AttributesTooLarge(_))
        ));
    }

    #[test]
    fn lookup_keys_collect_username_external_id_and_emails() {
        let mut i = input().normalized().unwrap();
        i.username = Some("Ada@Acme.com".into());
        i.raw_attributes.insert("externalId".into(), json!("00u1"));
        i.raw_attributes.insert(
            "emails".into(),
            json!([{"value": "ADA@acme.com"}, {"value": "ada@home.org"}, {"type": "x"}]),
        );
        let keys = i.lookup_keys();
        assert_eq!(keys.username_key.as_deref(), Some("ada@acme.com"));
        assert_eq!(keys.external_id.as_deref(), Some("00u1"));
        assert_eq!(
            keys.emails,
            ["ada@example.com", "ada@acme.com", "ada@home.org"]
        );
    }

    #[test]
    fn content_hash_ignores_key_order_but_not_values() {
        let mut a = input().normalized().unwrap();
        a.custom_attributes.insert("b".into(), json!(1));
        a.custom_attributes.insert("a".into(), json!(2));
        let mut b = input().normalized().unwrap();
        b.custom_attributes.insert("a".into(), json!(2));
        b.custom_attributes.insert("b".into(), json!(1));
        assert_eq!(a.content_hash(), b.content_hash());
        b.custom_attributes.insert("a".into(), json!(3));
        assert_ne!(a.content_hash(), b.content_hash());
    }
}
