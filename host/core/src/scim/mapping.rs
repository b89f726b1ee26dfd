//! The built-in mapping from stored SCIM resources to Rollcall's normalized
//! directory users and groups (used unless a directory binds a connector
//! plugin whose `map-scim-user` / `map-scim-group` replaces it).
//!
//! The input is a resource in the stored form [`super::resource::ingest`]
//! produces; names are nevertheless looked up case-insensitively so that
//! older or hand-made resources map the same way. Blank strings map to
//! absent fields (as [`UserInput::normalized`] would make them anyway).

use serde_json::{Map, Value};

use super::resource::{get_ci, is_unassigned};
use super::schema::ENTERPRISE_USER_SCHEMA;
use crate::directory_group::GroupInput;
use crate::directory_user::{UserInput, UserState};

/// `custom_attributes` key ← core User attribute.
const CORE_CUSTOM: [(&str, &str); 7] = [
    ("job_title", "title"),
    ("employee_type", "userType"),
    ("display_name", "displayName"),
    ("locale", "locale"),
    ("timezone", "timezone"),
    ("preferred_language", "preferredLanguage"),
    ("nick_name", "nickName"),
];

/// `custom_attributes` key ← enterprise extension attribute.
const ENTERPRISE_CUSTOM: [(&str, &str); 5] = [
    ("department", "department"),
    ("division", "division"),
    ("organization", "organization"),
    ("cost_center", "costCenter"),
    ("employee_number", "employeeNumber"),
];

/// Maps a stored User resource to the normalized user.
///
/// - `idp_id`: non-blank `externalId`, else `scim_id`;
/// - `email`: the primary email, else the first of type `work`, else the
///   first email, else `userName` when it looks like an address (`@` not
///   first, a `.` somewhere after it);
/// - `first_name` / `last_name`: `name.givenName` / `name.familyName`;
/// - `username`: `userName`; `state`: inactive only for `active` `false`
///   (or the string `"false"` in any case);
/// - `roles`: each `roles[].value`, or its `display` when it has no value;
/// - `custom_attributes`: see [`custom_attributes`];
/// - `raw_attributes`: the whole resource without `password`.
pub fn user_input(resource: &Value, scim_id: &str) -> UserInput {
    let empty = Map::new();
    let obj = resource.as_object().unwrap_or(&empty);
    let name = get_ci(obj, "name").and_then(Value::as_object);
    UserInput {
        idp_id: idp_id(obj, scim_id),
        email: email(obj),
        first_name: name.and_then(|n| text(n, "givenName")),
        last_name: name.and_then(|n| text(n, "familyName")),
        username: text(obj, "userName"),
        state: state(obj),
        roles: roles(obj),
        custom_attributes: custom_attributes(obj),
        raw_attributes: without(obj, "password"),
    }
}

/// Maps a stored Group resource: `idp_id` is the non-blank `externalId` or
/// `scim_id`, `name` the `displayName` (empty when missing, which
/// [`GroupInput::normalized`] rejects), `raw_attributes` the resource
/// without `members`.
pub fn group_input(resource: &Value, scim_id: &str) -> GroupInput {
    let empty = Map::new();
    let obj = resource.as_object().unwrap_or(&empty);
    GroupInput {
        idp_id: idp_id(obj, scim_id),
        name: text(obj, "displayName").unwrap_or_default(),
        raw_attributes: without(obj, "members"),
    }
}

/// A non-blank string attribute.
fn text(obj: &Map<String, Value>, name: &str) -> Option<String> {
    let value = get_ci(obj, name)?.as_str()?;
    (!value.trim().is_empty()).then(|| value.to_owned())
}

fn idp_id(obj: &Map<String, Value>, scim_id: &str) -> String {
    text(obj, "externalId").unwrap_or_else(|| scim_id.to_owned())
}

fn is_true(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn email(obj: &Map<String, Value>) -> Option<String> {
    let list = get_ci(obj, "emails").and_then(Value::as_array);
    let emails: Vec<&Map<String, Value>> = list
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter(|e| text(e, "value").is_some())
        .collect();
    let is_work = |e: &&&Map<String, Value>| {
        let kind = get_ci(e, "type").and_then(Value::as_str);
        kind.is_some_and(|t| t.trim().eq_ignore_ascii_case("work"))
    };
    let chosen = emails
        .iter()
        .find(|e| is_true(get_ci(e, "primary")))
        .or_else(|| emails.iter().find(is_work))
        .or_else(|| emails.first());
    match chosen {
        Some(e) => text(e, "value"),
        None => text(obj, "userName").filter(|u| looks_like_email(u)),
    }
}

/// `local@domain.tld`-ish: an `@` that is not first, a `.` after it.
fn looks_like_email(text: &str) -> bool {
    text.find('@')
        .is_some_and(|at| at > 0 && text[at + 1..].contains('.'))
}

fn state(obj: &Map<String, Value>) -> UserState {
    let inactive = match get_ci(obj, "active") {
        Some(Value::Bool(active)) => !active,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("false"),
        _ => false,
    };
    if inactive {
        UserState::Inactive
    } else {
        UserState::Active
    }
}

fn roles(obj: &Map<String, Value>) -> Vec<String> {
    let list = get_ci(obj, "roles").and_then(Value::as_array);
    let role = |item: &Value| match item {
        Value::Object(role) => text(role, "value").or_else(|| text(role, "display")),
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    };
    list.into_iter().flatten().filter_map(role).collect()
}

/// The `custom_attributes` of a user:
///
/// - from the core schema: `job_title` (`title`), `employee_type`
///   (`userType`), `display_name`, `locale`, `timezone`,
///   `preferred_language`, `nick_name`;
/// - from the enterprise extension: `department`, `division`,
///   `organization`, `cost_center`, `employee_number`, `manager_id`
///   (`manager.value`) and `manager_name` (`manager.displayName`);
/// - every attribute of every other extension object, under its own name.
///
/// Collisions: the core and enterprise keys above always win over custom
/// extension attributes; between custom extensions, the one whose URN sorts
/// first (byte order) wins.
pub fn custom_attributes(obj: &Map<String, Value>) -> Map<String, Value> {
    let mut out = custom_extension_attributes(obj);
    let mut set = |key: &str, value: Option<&Value>| {
        if let Some(value) = value.filter(|v| !is_unassigned(v)) {
            out.insert(key.to_owned(), value.clone());
        }
    };
    for (key, name) in CORE_CUSTOM {
        set(key, get_ci(obj, name));
    }
    let Some(enterprise) = get_ci(obj, ENTERPRISE_USER_SCHEMA).and_then(Value::as_object) else {
        return out;
    };
    for (key, name) in ENTERPRISE_CUSTOM {
        set(key, get_ci(enterprise, name));
    }
    let manager = get_ci(enterprise, "manager").and_then(Value::as_object);
    set("manager_id", manager.and_then(|m| get_ci(m, "value")));
    set(
        "manager_name",
        manager.and_then(|m| get_ci(m, "displayName")),
    );
    out
}

/// Attributes of extension objects other than the enterprise one, flattened.
fn custom_extension_attributes(obj: &Map<String, Value>) -> Map<String, Value> {
    let is_custom = |key: &str| {
        key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
            && !key.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA)
    };
    let mut extensions: Vec<(&String, &Map<String, Value>)> = obj
        .iter()
        .filter(|(key, _)| is_custom(key))
        .filter_map(|(key, value)| Some((key, value.as_object()?)))
        .collect();
    extensions.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Map::new();
    for (_, attributes) in extensions {
        for (name, value) in attributes {
            if !is_unassigned(value) && !out.contains_key(name) {
                out.insert(name.clone(), value.clone());
            }
        }
    }
    out
}

/// A copy of `obj` without the key `name` (any case).
fn without(obj: &Map<String, Value>, name: &str) -> Map<String, Value> {
    let kept = obj
        .iter()
        .filter(|(key, _)| !key.eq_ignore_ascii_case(name));
    kept.map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[rustfmt::skip]
    #[test]
    fn email_choice() {
        let rows: Vec<(Value, Option<&str>)> = vec![
            (json!({"emails": [{"value": "h@x.io", "type": "home"}, {"value": "p@x.io", "primary": true},
                {"value": "w@x.io", "type": "work"}]}), Some("p@x.io")),
            (json!({"emails": [{"value": "h@x.io", "type": "home"}, {"value": "p@x.io", "primary": "True"}]}),
                Some("p@x.io")),
            (json!({"emails": [{"value": "h@x.io", "type": "home"}, {"value": "w@x.io", "type": "Work"}]}),
                Some("w@x.io")),
            (json!({"emails": [{"value": "h@x.io", "type": "home"}, {"value": "o@x.io"}]}), Some("h@x.io")),
            (json!({"emails": [{"value": "", "primary": true}, {"value": "o@x.io"}]}), Some("o@x.io")),
            (json!({"emails": [], "userName": "ada@x.io"}), Some("ada@x.io")),
            (json!({"userName": "ada@localhost"}), None),
            (json!({"userName": "@x.io"}), None),
            (json!({"userName": "ada"}), None),
            (json!({}), None),
        ];
        for (resource, want) in rows {
            assert_eq!(user_input(&resource, "s1").email.as_deref(), want, "{resource}");
        }
    }

    #[test]
    fn state_from_active() {
        let rows = [
            (json!(true), UserState::Active),
            (json!(false), UserState::Inactive),
            (json!("False"), UserState::Inactive),
            (json!("false"), UserState::Inactive),
            (json!("True"), UserState::Active),
            (Value::Null, UserState::Active),
        ];
        for (active, want) in rows {
            let resource = json!({"userName": "u", "active": active});
            assert_eq!(user_input(&resource, "s1").state, want, "{active}");
        }
        assert_eq!(user_input(&json!({}), "s1").state, UserState::Active);
    }

    #[test]
    fn idp_id_falls_back_to_the_scim_id() {
        let rows = [
            (json!({"externalId": "00u1"}), "00u1"),
            (json!({"externalId": "  "}), "s1"),
            (json!({"externalId": 5}), "s1"),
            (json!({}), "s1"),
        ];
        for (resource, want) in rows {
            assert_eq!(user_input(&resource, "s1").idp_id, want, "{resource}");
            assert_eq!(group_input(&resource, "s1").idp_id, want, "{resource}");
        }
    }

    #[test]
    fn names_roles_and_raw_attributes() {
        let resource = json!({
            "userName": "ada", "password": "x",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "roles": [{"value": "admin"}, {"display": "Viewer"}, {"type": "x"}, "editor"]
        });
        let got = user_input(&resource, "s1");
        assert_eq!(got.first_name.as_deref(), Some("Ada"));
        assert_eq!(got.last_name.as_deref(), Some("Lovelace"));
        assert_eq!(got.username.as_deref(), Some("ada"));
        assert_eq!(got.roles, ["admin", "Viewer", "editor"]);
        assert!(!got.raw_attributes.contains_key("password"));
        assert_eq!(got.raw_attributes["userName"], "ada");
    }

    #[test]
    fn custom_attributes_from_core_enterprise_and_custom_extensions() {
        let resource = json!({
            "userName": "ada", "title": "CTO", "userType": "Employee", "displayName": "Ada L",
            "locale": "en-GB", "timezone": "Europe/London", "preferredLanguage": "en",
            "nickName": "al",
            ENTERPRISE_USER_SCHEMA: {
                "department": "Eng", "division": "R&D", "organization": "Acme",
                "costCenter": "CC1", "employeeNumber": "42",
                "manager": {"value": "m1", "displayName": "Boss"}
            },
            "urn:b:ext": {"badge": "blue", "department": "shadowed", "job_title": "shadowed"},
            "urn:a:ext": {"badge": "red", "floor": 3, "empty": null}
        });
        let got = user_input(&resource, "s1").custom_attributes;
        let want = json!({
            "job_title": "CTO", "employee_type": "Employee", "display_name": "Ada L",
            "locale": "en-GB", "timezone": "Europe/London", "preferred_language": "en",
            "nick_name": "al", "department": "Eng", "division": "R&D", "organization": "Acme",
            "cost_center": "CC1", "employee_number": "42", "manager_id": "m1",
            "manager_name": "Boss", "badge": "red", "floor": 3
        });
        assert_eq!(Value::Object(got), want);
    }

    #[test]
    fn group_mapping() {
        let resource =
            json!({"displayName": "Eng", "externalId": "g-1", "members": [{"value": "u"}]});
        let got = group_input(&resource, "s1");
        assert_eq!((got.idp_id.as_str(), got.name.as_str()), ("g-1", "Eng"));
        assert_eq!(
            Value::Object(got.raw_attributes),
            json!({"displayName": "Eng", "externalId": "g-1"})
        );
        assert_eq!(group_input(&json!(null), "s1").name, "");
    }
}
