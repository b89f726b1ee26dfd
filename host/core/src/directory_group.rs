//! Directory groups and the group input a source provides.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::Timestamp;
use crate::directory_user::{InvalidInput, MAX_ATTRIBUTES_BYTES, check_len};

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DirectoryGroup {
    #[schema(value_type = String, example = "directory_group")]
    pub object: &'static str,
    pub id: String,
    /// The group's id at the identity provider.
    pub idp_id: String,
    pub directory_id: String,
    pub organization_id: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub raw_attributes: Map<String, Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(skip)]
    pub version: i64,
}

impl DirectoryGroup {
    pub const OBJECT: &'static str = "directory_group";

    pub fn event_data(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// What a source says a group looks like now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupInput {
    pub idp_id: String,
    pub name: String,
    #[serde(default)]
    pub raw_attributes: Map<String, Value>,
}

impl GroupInput {
    pub fn normalized(mut self) -> Result<Self, InvalidInput> {
        self.idp_id = self.idp_id.trim().to_owned();
        self.name = self.name.trim().to_owned();
        if self.idp_id.is_empty() {
            return Err(InvalidInput::Empty("idp_id"));
        }
        if self.name.is_empty() {
            return Err(InvalidInput::Empty("name"));
        }
        check_len("idp_id", &self.idp_id)?;
        check_len("name", &self.name)?;
        if serde_json::to_vec(&self.raw_attributes).map_or(0, |v| v.len()) > MAX_ATTRIBUTES_BYTES {
            return Err(InvalidInput::AttributesTooLarge(MAX_ATTRIBUTES_BYTES));
        }
        Ok(self)
    }

    /// Lower-cased `name` and the SCIM `externalId`, for indexed lookups.
    pub fn lookup_keys(&self) -> (String, Option<String>) {
        let external_id = self
            .raw_attributes
            .get("externalId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        (self.name.to_lowercase(), external_id)
    }

    pub fn content_hash(&self) -> [u8; 32] {
        Sha256::digest(serde_json::to_vec(self).unwrap_or_default()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_needs_id_and_name() {
        let g = GroupInput {
            idp_id: " g1 ".into(),
            name: " Engineering ".into(),
            raw_attributes: Map::new(),
        };
        let n = g.clone().normalized().unwrap();
        assert_eq!((n.idp_id.as_str(), n.name.as_str()), ("g1", "Engineering"));
        let mut bad = g;
        bad.name = " ".into();
        assert_eq!(bad.normalized(), Err(InvalidInput::Empty("name")));
    }
}
