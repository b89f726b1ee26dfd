//! Okta users and groups → Rollcall's normalized users and groups.
//!
//! Statuses: `ACTIVE`, `PROVISIONED` (activated, password not yet set),
//! `RECOVERY`, `PASSWORD_EXPIRED` and `LOCKED_OUT` can (or soon will) sign
//! in and are active; `STAGED` (created, never activated), `SUSPENDED` and
//! `DEPROVISIONED` cannot and are inactive. Profile attributes become the
//! same custom attributes our SCIM mapping uses.

use rollcall_plugin_sdk::{Group, User, UserState};
use serde_json::{Map, Value};

use crate::settings::Settings;

/// Okta profile attribute → custom attribute key.
pub const PROFILE_ATTRIBUTES: &[(&str, &str)] = &[
    ("title", "job_title"),
    ("department", "department"),
    ("division", "division"),
    ("organization", "organization"),
    ("costCenter", "cost_center"),
    ("employeeNumber", "employee_number"),
    ("userType", "employee_type"),
    ("managerId", "manager_id"),
    ("manager", "manager_name"),
    ("displayName", "display_name"),
];

/// Fields of a user object left out of `raw_attributes`: hypermedia, and
/// `lastLogin`, which changes at every sign-in and would make every full
/// pass report the user as updated.
const VOLATILE: &[&str] = &["_links", "_embedded", "lastLogin"];

/// Whether an Okta user status counts as active.
pub fn state(status: &str) -> UserState {
    match status {
        "ACTIVE" | "PROVISIONED" | "RECOVERY" | "PASSWORD_EXPIRED" | "LOCKED_OUT" => {
            UserState::Active
        }
        _ => UserState::Inactive,
    }
}

fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The user's Okta status (`ACTIVE`, `DEPROVISIONED`, …).
pub fn status(user: &Map<String, Value>) -> &str {
    user.get("status").and_then(Value::as_str).unwrap_or("")
}

/// The user's id, `None` when the object has none.
pub fn user_id(user: &Map<String, Value>) -> Option<&str> {
    user.get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Maps one user object of `/api/v1/users`; `None` without an id.
pub fn user(settings: &Settings, mut raw: Map<String, Value>) -> Option<User> {
    let id = user_id(&raw)?.to_owned();
    for key in VOLATILE {
        raw.remove(*key);
    }
    let empty = Map::new();
    let profile = raw
        .get("profile")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut custom = Map::new();
    for (okta, ours) in PROFILE_ATTRIBUTES {
        if let Some(v) = profile.get(*okta).filter(|v| !v.is_null() && *v != "") {
            custom.insert((*ours).to_owned(), v.clone());
        }
    }
    for name in &settings.profile_attributes {
        if let Some(v) = profile.get(name).filter(|v| !v.is_null()) {
            custom.insert(name.clone(), v.clone());
        }
    }
    Some(User {
        idp_id: id,
        email: text(profile, "email"),
        first_name: text(profile, "firstName"),
        last_name: text(profile, "lastName"),
        username: text(profile, "login"),
        state: state(status(&raw)),
        roles: Vec::new(),
        custom_attributes: custom,
        raw_attributes: raw,
    })
}

/// Maps one group object of `/api/v1/groups`; `None` without an id.
/// `raw_attributes` keeps `type` and `profile` only: `lastMembershipUpdated`
/// moves with every membership change and is not about the group.
pub fn group(raw: Map<String, Value>) -> Option<Group> {
    let id = text(&raw, "id")?;
    let profile = raw.get("profile").cloned().unwrap_or(Value::Null);
    let name = profile
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(&id)
        .to_owned();
    let mut kept = Map::new();
    if let Some(t) = raw.get("type") {
        kept.insert("type".into(), t.clone());
    }
    if let Some(d) = profile.get("description").filter(|d| !d.is_null()) {
        kept.insert("description".into(), d.clone());
    }
    kept.insert("profile".into(), profile);
    Some(Group {
        idp_id: id,
        name,
        raw_attributes: kept,
    })
}
