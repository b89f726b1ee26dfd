//! `static-directory`: a connector whose directory is its configuration.
//!
//! Config: `{"users": [{"id", "email", "first_name", "last_name",
//! "username", "active", "roles", "attributes"}], "groups": [{"id",
//! "name", "members": [user ids]}]}`. Pages are offsets into those lists.
//! Pushed SCIM users keep the enterprise extension's `department`,
//! `costCenter` and `manager` as custom attributes.

use rollcall_plugin_sdk::*;
use serde::Deserialize;
use serde_json::{Map, Value};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[derive(Deserialize)]
struct StaticUser {
    id: String,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    username: Option<String>,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    attributes: Map<String, Value>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct StaticGroup {
    id: String,
    name: String,
    #[serde(default)]
    members: Vec<String>,
}

fn load<T: for<'de> Deserialize<'de>>(key: &str) -> Result<Vec<T>, PluginError> {
    Ok(config::get::<Vec<T>>(key)?.unwrap_or_default())
}

/// Slices `items` at the offset in `page.cursor`.
fn paged<T: Clone>(items: &[T], page: &PageRequest) -> Result<Page<T>, PluginError> {
    let start: usize = match &page.cursor {
        None => 0,
        Some(c) => c
            .parse()
            .map_err(|_| PluginError::permanent(format!("bad cursor '{c}'")))?,
    };
    let limit = page.limit.clamp(1, 1000) as usize;
    let end = (start + limit).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok(Page::new(
        items.get(start..end).unwrap_or_default().to_vec(),
        next,
    ))
}

fn to_user(u: StaticUser) -> User {
    User {
        idp_id: u.id,
        email: u.email,
        first_name: u.first_name,
        last_name: u.last_name,
        username: u.username,
        state: if u.active {
            UserState::Active
        } else {
            UserState::Inactive
        },
        roles: u.roles,
        custom_attributes: u.attributes,
        raw_attributes: Map::new(),
    }
}

pub struct StaticDirectory;

impl Connector for StaticDirectory {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "static-directory",
            env!("CARGO_PKG_VERSION"),
            "Users and groups from configuration",
        )
    }

    fn validate_config() -> Result<(), PluginError> {
        let users: Vec<StaticUser> = load("users")?;
        let groups: Vec<StaticGroup> = load("groups")?;
        for g in &groups {
            if let Some(m) = g
                .members
                .iter()
                .find(|m| !users.iter().any(|u| &u.id == *m))
            {
                return Err(PluginError::invalid_config(format!(
                    "group '{}' lists unknown member '{m}'",
                    g.id
                )));
            }
        }
        Ok(())
    }

    fn list_users(page: PageRequest) -> Result<Page<User>, PluginError> {
        let users: Vec<User> = load::<StaticUser>("users")?
            .into_iter()
            .map(to_user)
            .collect();
        paged(&users, &page)
    }

    fn list_groups(page: PageRequest) -> Result<Page<Group>, PluginError> {
        let groups: Vec<Group> = load::<StaticGroup>("groups")?
            .into_iter()
            .map(|g| Group::new(g.id, g.name))
            .collect();
        paged(&groups, &page)
    }

    fn list_members(
        group_idp_id: &str,
        page: PageRequest,
    ) -> Result<Page<Membership>, PluginError> {
        let group = load::<StaticGroup>("groups")?
            .into_iter()
            .find(|g| g.id == group_idp_id)
            .ok_or_else(|| PluginError::not_found(format!("group '{group_idp_id}'")))?;
        let members: Vec<Membership> = group
            .members
            .into_iter()
            .map(|u| Membership {
                group_idp_id: group.id.clone(),
                user_idp_id: u,
            })
            .collect();
        paged(&members, &page)
    }

    fn map_scim_user(resource: &Value) -> Result<Option<User>, PluginError> {
        let Some(id) = resource
            .get("id")
            .or_else(|| resource.get("externalId"))
            .and_then(Value::as_str)
        else {
            return Ok(None);
        };
        let mut user = User::new(id);
        user.username = resource
            .get("userName")
            .and_then(Value::as_str)
            .map(str::to_owned);
        user.email = resource
            .pointer("/emails/0/value")
            .and_then(Value::as_str)
            .map(str::to_owned);
        user.first_name = resource
            .pointer("/name/givenName")
            .and_then(Value::as_str)
            .map(str::to_owned);
        user.last_name = resource
            .pointer("/name/familyName")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if resource.get("active") == Some(&Value::Bool(false)) {
            user.state = UserState::Inactive;
        }
        if let Some(ext) = resource.get(ENTERPRISE).and_then(Value::as_object) {
            for key in ["department", "costCenter", "manager"] {
                if let Some(v) = ext.get(key) {
                    user.custom_attributes.insert(key.to_owned(), v.clone());
                }
            }
        }
        Ok(Some(user))
    }
}

export_connector!(StaticDirectory);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn setup() {
        testing::reset();
        testing::set_config(json!({
            "users": [{"id": "u1", "email": "a@example.com"}, {"id": "u2", "active": false}, {"id": "u3"}],
            "groups": [{"id": "g1", "name": "Eng", "members": ["u1", "u3"]}]
        }));
    }

    #[test]
    fn pages_through_users_and_members() {
        setup();
        let first = StaticDirectory::list_users(PageRequest {
            cursor: None,
            limit: 2,
        })
        .unwrap();
        assert_eq!(first.items.len(), 2);
        assert_eq!(first.items[1].state, UserState::Inactive);
        let rest = StaticDirectory::list_users(PageRequest {
            cursor: first.next_cursor,
            limit: 2,
        })
        .unwrap();
        assert_eq!(rest.items[0].idp_id, "u3");
        assert!(rest.next_cursor.is_none());
        let members = StaticDirectory::list_members(
            "g1",
            PageRequest {
                cursor: None,
                limit: 10,
            },
        )
        .unwrap();
        assert_eq!(members.items.len(), 2);
        assert!(StaticDirectory::validate_config().is_ok());
    }

    #[test]
    fn unknown_members_are_a_config_error() {
        testing::reset();
        testing::set_config(
            json!({"users": [], "groups": [{"id": "g", "name": "G", "members": ["x"]}]}),
        );
        assert_eq!(
            StaticDirectory::validate_config().unwrap_err(),
            PluginError::invalid_config("group 'g' lists unknown member 'x'")
        );
    }

    #[test]
    fn scim_enterprise_attributes_become_custom_attributes() {
        let user = StaticDirectory::map_scim_user(&json!({
            "id": "s1", "userName": "ada", "active": false,
            ENTERPRISE: {"department": "R&D"}
        }))
        .unwrap()
        .unwrap();
        assert_eq!(user.custom_attributes["department"], "R&D");
        assert_eq!(user.state, UserState::Inactive);
    }
}
