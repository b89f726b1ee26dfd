//! Graph `user` and `group` objects → Rollcall users and groups. The
//! object arrives as a JSON map (it is kept whole as `raw_attributes`);
//! fields are read from it by name.

use rollcall_plugin_sdk::{Group, User, UserState};
use serde_json::{Map, Value};

use crate::settings::Settings;

/// Graph's `@odata.type` of users (in member lists and `members@delta`).
pub const USER_TYPE: &str = "#microsoft.graph.user";

fn text<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Guests invited from outside the tenant have a UPN like
/// `ada_example.com#EXT#@tenant.onmicrosoft.com`: not a mailbox.
fn upn_as_email(upn: &str) -> Option<&str> {
    (upn.contains('@') && !upn.contains("#EXT#")).then_some(upn)
}

/// The manager's id: `manager` when `$expand`ed (lists, single reads) or
/// the last entry of `manager@delta` (delta); `None` when absent.
fn manager_id(obj: &Map<String, Value>) -> Option<&str> {
    if let Some(m) = obj.get("manager").and_then(Value::as_object) {
        return text(m, "id");
    }
    let entries = obj.get("manager@delta")?.as_array()?;
    let last = entries.last()?.as_object()?;
    if last.contains_key("@removed") {
        return None;
    }
    text(last, "id")
}

/// Maps one user; `None` without an `id`.
pub fn user(obj: Map<String, Value>, settings: &Settings) -> Option<User> {
    let id = text(&obj, "id")?.to_owned();
    let upn = text(&obj, "userPrincipalName");
    let email = text(&obj, "mail").or_else(|| upn.and_then(upn_as_email));
    let mut custom = Map::new();
    let mut put = |key: &str, value: Option<&str>| {
        if let Some(v) = value {
            custom.insert(key.to_owned(), Value::String(v.to_owned()));
        }
    };
    put("job_title", text(&obj, "jobTitle"));
    put("department", text(&obj, "department"));
    put("employee_number", text(&obj, "employeeId"));
    put("employee_type", text(&obj, "employeeType"));
    put("organization", text(&obj, "companyName"));
    put("office_location", text(&obj, "officeLocation"));
    put("display_name", text(&obj, "displayName"));
    put("preferred_language", text(&obj, "preferredLanguage"));
    if let Some(org) = obj.get("employeeOrgData").and_then(Value::as_object) {
        put("cost_center", text(org, "costCenter"));
        put("division", text(org, "division"));
    }
    put("manager_id", manager_id(&obj));
    for name in &settings.extra_attributes {
        match obj.get(name) {
            None | Some(Value::Null) => {}
            Some(v) => {
                custom.insert(name.clone(), v.clone());
            }
        }
    }
    let state = match obj.get("accountEnabled") {
        Some(Value::Bool(false)) => UserState::Inactive,
        _ => UserState::Active,
    };
    Some(User {
        email: email.map(str::to_owned),
        first_name: text(&obj, "givenName").map(str::to_owned),
        last_name: text(&obj, "surname").map(str::to_owned),
        username: upn.map(str::to_owned),
        state,
        roles: Vec::new(),
        custom_attributes: custom,
        raw_attributes: obj,
        idp_id: id,
    })
}

/// Maps one group; `None` without an `id`. The name falls back to the
/// mail nickname, then the id (Graph requires `displayName`, but a
/// partial object may lack it).
pub fn group(obj: Map<String, Value>) -> Option<Group> {
    let id = text(&obj, "id")?.to_owned();
    let name = text(&obj, "displayName")
        .or_else(|| text(&obj, "mailNickname"))
        .unwrap_or(&id)
        .to_owned();
    Some(Group {
        idp_id: id,
        name,
        raw_attributes: obj,
    })
}

/// Whether a member entry (list or `members@delta`) is a user. Entries
/// without a type are taken as users (a `microsoft.graph.user` cast
/// returns only users).
pub fn is_user(member: &Map<String, Value>) -> bool {
    member
        .get("@odata.type")
        .and_then(Value::as_str)
        .is_none_or(|t| t == USER_TYPE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> Settings {
        Settings {
            api_base: "https://graph.microsoft.com/v1.0".into(),
            extra_attributes: vec!["onPremisesSamAccountName".into()],
            include_manager: true,
            page_size: 999,
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_full_user_maps_every_field() {
        let raw = obj(json!({
            "id": "6e7b768e", "userPrincipalName": "ada@contoso.com", "mail": "ada.lovelace@contoso.com",
            "givenName": "Ada", "surname": "Lovelace", "displayName": "Ada Lovelace",
            "accountEnabled": false, "jobTitle": "Engineer", "department": "R&D", "employeeId": "42",
            "employeeType": "Employee", "employeeOrgData": {"costCenter": "CC1", "division": "Labs"},
            "companyName": "Contoso", "officeLocation": "B1", "preferredLanguage": "en-GB",
            "onPremisesSamAccountName": "ada", "manager": {"@odata.type": USER_TYPE, "id": "m1"}
        }));
        let u = user(raw.clone(), &settings()).unwrap();
        assert_eq!(u.idp_id, "6e7b768e");
        assert_eq!(u.email.as_deref(), Some("ada.lovelace@contoso.com"));
        assert_eq!(u.username.as_deref(), Some("ada@contoso.com"));
        assert_eq!(
            (u.first_name.as_deref(), u.last_name.as_deref()),
            (Some("Ada"), Some("Lovelace"))
        );
        assert_eq!(u.state, UserState::Inactive);
        assert_eq!(
            Value::Object(u.custom_attributes),
            json!({"job_title": "Engineer", "department": "R&D", "employee_number": "42",
                "employee_type": "Employee", "organization": "Contoso", "office_location": "B1",
                "display_name": "Ada Lovelace", "preferred_language": "en-GB", "cost_center": "CC1",
                "division": "Labs", "manager_id": "m1", "onPremisesSamAccountName": "ada"})
        );
        assert_eq!(u.raw_attributes, raw);
    }

    #[test]
    fn email_falls_back_to_the_upn_unless_a_guest() {
        let u = user(
            obj(json!({"id": "1", "userPrincipalName": "bo@contoso.com", "mail": null})),
            &settings(),
        )
        .unwrap();
        assert_eq!(u.email.as_deref(), Some("bo@contoso.com"));
        assert_eq!(u.state, UserState::Active);
        let guest =
            json!({"id": "2", "userPrincipalName": "bo_gmail.com#EXT#@contoso.onmicrosoft.com"});
        assert_eq!(user(obj(guest), &settings()).unwrap().email, None);
        assert!(user(obj(json!({"mail": "x@y.z"})), &settings()).is_none());
    }

    #[test]
    fn manager_comes_from_expand_or_delta() {
        let delta = json!({"id": "1", "manager@delta": [{"@odata.type": USER_TYPE, "id": "m2"}]});
        let u = user(obj(delta), &settings()).unwrap();
        assert_eq!(u.custom_attributes["manager_id"], "m2");
        let removed =
            json!({"id": "1", "manager@delta": [{"id": "m2", "@removed": {"reason": "deleted"}}]});
        let u = user(obj(removed), &settings()).unwrap();
        assert!(!u.custom_attributes.contains_key("manager_id"));
    }

    #[test]
    fn groups_and_member_types() {
        let g = group(obj(
            json!({"id": "g1", "displayName": "Eng", "description": null}),
        ))
        .unwrap();
        assert_eq!((g.idp_id.as_str(), g.name.as_str()), ("g1", "Eng"));
        assert_eq!(group(obj(json!({"id": "g2"}))).unwrap().name, "g2");
        assert!(is_user(&obj(json!({"@odata.type": USER_TYPE, "id": "u"}))));
        assert!(is_user(&obj(json!({"id": "u"}))));
        assert!(!is_user(&obj(
            json!({"@odata.type": "#microsoft.graph.group", "id": "g"})
        )));
    }
}
