//! Conversions between the generated WIT types and Rollcall's domain
//! types, in both directions. Guest output is checked here: JSON fields
//! must parse, ids must not be empty.

use rollcall_core::directory_group::GroupInput;
use rollcall_core::directory_user::{UserInput, UserState};
use serde_json::{Map, Value};

use crate::bindings::wit::types as w;
use crate::error::{InvokeError, PluginError};

/// What a plugin says about itself (`describe`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PluginInfo {
    pub id: String,
    pub version: String,
    pub description: String,
}

/// One page of a connector listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A user in a group, by provider ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub group_idp_id: String,
    pub user_idp_id: String,
}

/// One incremental change from `changes`.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    UserUpserted(UserInput),
    UserDeleted(String),
    GroupUpserted(GroupInput),
    GroupDeleted(String),
    MemberAdded(Membership),
    MemberRemoved(Membership),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    pub checkpoint: String,
    pub has_more: bool,
}

/// An event as a lifecycle action receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleEvent {
    pub id: String,
    pub event_type: String,
    pub organization_id: String,
    pub directory_id: Option<String>,
    pub created_at_micros: i64,
    pub data: Value,
    pub previous_attributes: Option<Value>,
    pub idempotency_key: String,
    pub attempt: u32,
}

/// What a lifecycle action did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    Completed(Option<String>),
    Skipped(String),
}

impl From<w::PluginError> for PluginError {
    fn from(e: w::PluginError) -> Self {
        match e {
            w::PluginError::InvalidConfig(m) => PluginError::InvalidConfig(m),
            w::PluginError::Unauthorized(m) => PluginError::Unauthorized(m),
            w::PluginError::NotFound(m) => PluginError::NotFound(m),
            w::PluginError::RateLimited(r) => PluginError::RateLimited {
                retry_after_seconds: r.retry_after_seconds,
                message: r.message,
            },
            w::PluginError::Transient(m) => PluginError::Transient(m),
            w::PluginError::Permanent(m) => PluginError::Permanent(m),
        }
    }
}

impl From<w::PluginInfo> for PluginInfo {
    fn from(i: w::PluginInfo) -> Self {
        PluginInfo {
            id: i.id,
            version: i.version,
            description: i.description,
        }
    }
}

impl From<w::Outcome> for Outcome {
    fn from(o: w::Outcome) -> Self {
        match o {
            w::Outcome::Completed(d) => Outcome::Completed(d),
            w::Outcome::Skipped(r) => Outcome::Skipped(r),
        }
    }
}

fn json_object(field: &str, text: &str) -> Result<Map<String, Value>, InvokeError> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(InvokeError::BadOutput(format!(
            "{field} is not a JSON object"
        ))),
    }
}

fn non_empty(field: &str, value: String) -> Result<String, InvokeError> {
    if value.trim().is_empty() {
        return Err(InvokeError::BadOutput(format!("{field} must not be empty")));
    }
    Ok(value)
}

pub(crate) fn user(u: w::User) -> Result<UserInput, InvokeError> {
    Ok(UserInput {
        idp_id: non_empty("user idp-id", u.idp_id)?,
        email: u.email,
        first_name: u.first_name,
        last_name: u.last_name,
        username: u.username,
        state: match u.state {
            w::UserState::Active => UserState::Active,
            w::UserState::Inactive => UserState::Inactive,
        },
        roles: u.roles,
        custom_attributes: json_object("custom-attributes", &u.custom_attributes)?,
        raw_attributes: json_object("raw-attributes", &u.raw_attributes)?,
    })
}

pub(crate) fn group(g: w::Group) -> Result<GroupInput, InvokeError> {
    Ok(GroupInput {
        idp_id: non_empty("group idp-id", g.idp_id)?,
        name: g.name,
        raw_attributes: json_object("raw-attributes", &g.raw_attributes)?,
    })
}

pub(crate) fn membership(m: w::Membership) -> Result<Membership, InvokeError> {
    Ok(Membership {
        group_idp_id: non_empty("group-idp-id", m.group_idp_id)?,
        user_idp_id: non_empty("user-idp-id", m.user_idp_id)?,
    })
}

pub(crate) fn change(c: w::Change) -> Result<Change, InvokeError> {
    Ok(match c {
        w::Change::UserUpserted(u) => Change::UserUpserted(user(u)?),
        w::Change::UserDeleted(id) => Change::UserDeleted(non_empty("user idp-id", id)?),
        w::Change::GroupUpserted(g) => Change::GroupUpserted(group(g)?),
        w::Change::GroupDeleted(id) => Change::GroupDeleted(non_empty("group idp-id", id)?),
        w::Change::MemberAdded(m) => Change::MemberAdded(membership(m)?),
        w::Change::MemberRemoved(m) => Change::MemberRemoved(membership(m)?),
    })
}

pub(crate) fn page_request(cursor: Option<String>, limit: u32) -> w::PageRequest {
    w::PageRequest { cursor, limit }
}

pub(crate) fn event(e: &LifecycleEvent) -> w::Event {
    w::Event {
        id: e.id.clone(),
        event_type: e.event_type.clone(),
        organization_id: e.organization_id.clone(),
        directory_id: e.directory_id.clone(),
        created_at: e.created_at_micros,
        data: e.data.to_string(),
        previous_attributes: e.previous_attributes.as_ref().map(Value::to_string),
        idempotency_key: e.idempotency_key.clone(),
        attempt: e.attempt,
    }
}

impl LifecycleEvent {
    /// The event as delivered for the `attempt`-th time to `installation_id`:
    /// `previous_attributes` is lifted out of `data` when present, and the
    /// idempotency key is stable per (event, installation).
    pub fn from_event(
        event: &rollcall_core::event::Event,
        installation_id: &str,
        attempt: u32,
    ) -> LifecycleEvent {
        let mut data = event.data.clone();
        let previous = data
            .as_object_mut()
            .and_then(|m| m.remove("previous_attributes"));
        LifecycleEvent {
            id: event.id.clone(),
            event_type: event.event.as_str().to_owned(),
            organization_id: event.organization_id.clone(),
            directory_id: event.directory_id.clone(),
            created_at_micros: event.created_at.as_micros(),
            data,
            previous_attributes: previous,
            idempotency_key: format!("{}:{installation_id}", event.id),
            attempt,
        }
    }
}
