//! Organizations: the tenant that owns directories (one per enterprise customer).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Timestamp;

/// Longest organization name, external id or domain accepted.
pub const MAX_NAME_LEN: usize = 256;
/// Most domains one organization may list.
pub const MAX_DOMAINS: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Organization {
    #[schema(value_type = String, example = "organization")]
    pub object: &'static str,
    pub id: String,
    pub name: String,
    /// The application's own identifier for this customer, unique when set.
    pub external_id: Option<String>,
    pub domains: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Organization {
    pub const OBJECT: &'static str = "organization";
}

/// Checks a domain name loosely: labels of letters, digits and hyphens.
pub fn is_valid_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// What is needed to create an organization.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    pub name: String,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub domains: Vec<String>,
}

/// A partial update; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationUpdate {
    pub name: Option<String>,
    #[serde(default, with = "crate::organization::double_option")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
    pub domains: Option<Vec<String>>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_validation() {
        assert!(is_valid_domain("example.com"));
        assert!(is_valid_domain("a-b.example.co.uk"));
        assert!(!is_valid_domain("localhost"));
        assert!(!is_valid_domain("-bad.com"));
        assert!(!is_valid_domain("exa mple.com"));
        assert!(!is_valid_domain("a..b"));
    }

    #[test]
    fn update_distinguishes_null_from_absent() {
        let absent: OrganizationUpdate = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.external_id, None);
        let null: OrganizationUpdate = serde_json::from_str(r#"{"external_id":null}"#).unwrap();
        assert_eq!(null.external_id, Some(None));
        assert!(serde_json::from_str::<OrganizationUpdate>(r#"{"nmae":"x"}"#).is_err());
    }
}
