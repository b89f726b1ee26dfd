//! Google's user and group resources → normalized users and groups. The
//! resource is parsed once (into the JSON tree that becomes
//! `raw_attributes`); a typed view borrowing from it picks the fields the
//! mapping needs, without copying the tree.

use rollcall_plugin_sdk::{Group, PluginError, User, UserState};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserView<'a> {
    id: &'a str,
    primary_email: Option<&'a str>,
    name: Option<NameView<'a>>,
    suspended: Option<bool>,
    archived: Option<bool>,
    is_admin: Option<bool>,
    org_unit_path: Option<&'a str>,
    #[serde(default)]
    organizations: Vec<OrganizationView<'a>>,
    #[serde(default)]
    external_ids: Vec<TypedValue<'a>>,
    #[serde(default)]
    relations: Vec<TypedValue<'a>>,
    #[serde(default)]
    phones: Vec<PhoneView<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NameView<'a> {
    given_name: Option<&'a str>,
    family_name: Option<&'a str>,
    full_name: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrganizationView<'a> {
    primary: Option<bool>,
    name: Option<&'a str>,
    title: Option<&'a str>,
    department: Option<&'a str>,
    cost_center: Option<&'a str>,
    /// The admin console's "Employee type".
    description: Option<&'a str>,
}

/// An `externalIds` or `relations` entry.
#[derive(Deserialize)]
struct TypedValue<'a> {
    value: Option<&'a str>,
    #[serde(rename = "type")]
    kind: Option<&'a str>,
}

#[derive(Deserialize)]
struct PhoneView<'a> {
    value: Option<&'a str>,
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    primary: Option<bool>,
}

/// Sets `key` to a non-empty string.
fn set(attrs: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
        attrs.insert(key.to_owned(), Value::String(v.to_owned()));
    }
}

fn of_type<'a>(entries: &[TypedValue<'a>], kind: &str) -> Option<&'a str> {
    entries
        .iter()
        .find(|e| e.kind == Some(kind) && e.value.is_some_and(|v| !v.is_empty()))
        .and_then(|e| e.value)
}

/// One `users[]` entry of `users.list` as a normalized user.
pub fn user(resource: Value) -> Result<User, PluginError> {
    let mut user = {
        let view = UserView::deserialize(&resource).map_err(|e| {
            PluginError::permanent(format!("a listed user is not a Google user resource: {e}"))
        })?;
        user_of(&view)
    };
    user.raw_attributes = match resource {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    Ok(user)
}

fn user_of(view: &UserView<'_>) -> User {
    let mut user = User::new(view.id);
    user.email = view.primary_email.map(str::to_owned);
    user.username = user.email.clone();
    let name = view.name.as_ref();
    user.first_name = name.and_then(|n| n.given_name).map(str::to_owned);
    user.last_name = name.and_then(|n| n.family_name).map(str::to_owned);
    if view.suspended == Some(true) || view.archived == Some(true) {
        user.state = UserState::Inactive;
    }
    let attrs = &mut user.custom_attributes;
    set(attrs, "display_name", name.and_then(|n| n.full_name));
    let organization = view
        .organizations
        .iter()
        .find(|o| o.primary == Some(true))
        .or(view.organizations.first());
    if let Some(o) = organization {
        set(attrs, "job_title", o.title);
        set(attrs, "department", o.department);
        set(attrs, "cost_center", o.cost_center);
        set(attrs, "organization", o.name);
        set(attrs, "employee_type", o.description);
    }
    set(
        attrs,
        "employee_number",
        of_type(&view.external_ids, "organization"),
    );
    set(attrs, "manager_email", of_type(&view.relations, "manager"));
    set(attrs, "org_unit_path", view.org_unit_path);
    let phone = view
        .phones
        .iter()
        .find(|p| p.primary == Some(true))
        .or_else(|| view.phones.iter().find(|p| p.kind == Some("work")))
        .or(view.phones.first());
    set(attrs, "phone_number", phone.and_then(|p| p.value));
    attrs.insert(
        "is_admin".to_owned(),
        Value::Bool(view.is_admin == Some(true)),
    );
    user
}

/// One `groups[]` entry of `groups.list` (or a `groups.get` answer) as a
/// normalized group; the resource is kept as `raw_attributes`.
pub fn group(resource: Value) -> Result<Group, PluginError> {
    let Value::Object(map) = resource else {
        return Err(PluginError::permanent("a listed group is not an object"));
    };
    let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
    let id = text("id")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| PluginError::permanent("a listed group has no id"))?;
    let name = text("name")
        .filter(|n| !n.trim().is_empty())
        .or_else(|| text("email"))
        .unwrap_or_else(|| id.clone());
    Ok(Group {
        idp_id: id,
        name,
        raw_attributes: map,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ada() -> Value {
        json!({
            "kind": "admin#directory#user",
            "id": "104417818245012345678",
            "etag": "\"abc\"",
            "primaryEmail": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace", "fullName": "Ada Lovelace"},
            "isAdmin": true,
            "suspended": false,
            "archived": false,
            "orgUnitPath": "/Engineering",
            "organizations": [
                {"name": "Old Co", "title": "Intern", "primary": false},
                {"name": "Example Ltd", "title": "Engineer", "primary": true, "department": "R&D",
                 "costCenter": "CC-42", "description": "Full time", "customType": ""}
            ],
            "externalIds": [{"value": "X-1", "type": "custom", "customType": "badge"},
                            {"value": "E0042", "type": "organization"}],
            "relations": [{"value": "grace@example.com", "type": "manager"}],
            "phones": [{"value": "+1 555 0100", "type": "mobile"}, {"value": "+1 555 0199", "type": "work"}]
        })
    }

    #[test]
    fn a_google_user_maps_to_a_normalized_user() {
        let user = user(ada()).unwrap();
        assert_eq!(user.idp_id, "104417818245012345678");
        assert_eq!(user.email.as_deref(), Some("ada@example.com"));
        assert_eq!(user.username.as_deref(), Some("ada@example.com"));
        assert_eq!(user.first_name.as_deref(), Some("Ada"));
        assert_eq!(user.last_name.as_deref(), Some("Lovelace"));
        assert_eq!(user.state, UserState::Active);
        assert_eq!(
            Value::Object(user.custom_attributes),
            json!({"display_name": "Ada Lovelace", "job_title": "Engineer", "department": "R&D",
                   "cost_center": "CC-42", "organization": "Example Ltd", "employee_type": "Full time",
                   "employee_number": "E0042", "manager_email": "grace@example.com",
                   "org_unit_path": "/Engineering", "phone_number": "+1 555 0199", "is_admin": true})
        );
        assert_eq!(Value::Object(user.raw_attributes), ada());
    }

    #[test]
    fn suspended_or_archived_users_are_inactive_and_sparse_users_map() {
        for flag in ["suspended", "archived"] {
            let mut resource = ada();
            resource[flag] = json!(true);
            assert_eq!(user(resource).unwrap().state, UserState::Inactive, "{flag}");
        }
        let sparse = user(json!({"id": "1", "primaryEmail": "x@example.com"})).unwrap();
        assert_eq!(sparse.first_name, None);
        assert_eq!(
            Value::Object(sparse.custom_attributes),
            json!({"is_admin": false})
        );
        assert!(user(json!({"primaryEmail": "x@example.com"})).is_err());
        assert!(user(json!({"id": "1", "organizations": "nope"})).is_err());
    }

    #[test]
    fn groups_keep_their_resource() {
        let resource = json!({"kind": "admin#directory#group", "id": "03x", "email": "eng@example.com",
            "name": "Engineering", "description": "Builders", "directMembersCount": "3"});
        let g = group(resource.clone()).unwrap();
        assert_eq!((g.idp_id.as_str(), g.name.as_str()), ("03x", "Engineering"));
        assert_eq!(Value::Object(g.raw_attributes), resource);
        let unnamed = group(json!({"id": "03y", "email": "ops@example.com", "name": ""})).unwrap();
        assert_eq!(unnamed.name, "ops@example.com");
        assert!(group(json!({"name": "x"})).is_err());
    }
}
