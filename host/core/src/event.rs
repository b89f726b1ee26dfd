//! The event log's vocabulary: event types and the event envelope.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "dsync.activated")]
    DirectoryActivated,
    #[serde(rename = "dsync.deactivated")]
    DirectoryDeactivated,
    #[serde(rename = "dsync.deleted")]
    DirectoryDeleted,
    #[serde(rename = "dsync.user.created")]
    UserCreated,
    #[serde(rename = "dsync.user.updated")]
    UserUpdated,
    #[serde(rename = "dsync.user.deleted")]
    UserDeleted,
    #[serde(rename = "dsync.group.created")]
    GroupCreated,
    #[serde(rename = "dsync.group.updated")]
    GroupUpdated,
    #[serde(rename = "dsync.group.deleted")]
    GroupDeleted,
    #[serde(rename = "dsync.group.user_added")]
    GroupUserAdded,
    #[serde(rename = "dsync.group.user_removed")]
    GroupUserRemoved,
    #[serde(rename = "dsync.token.created")]
    TokenCreated,
    #[serde(rename = "dsync.token.revoked")]
    TokenRevoked,
}

impl EventType {
    pub const ALL: [EventType; 13] = [
        EventType::DirectoryActivated,
        EventType::DirectoryDeactivated,
        EventType::DirectoryDeleted,
        EventType::UserCreated,
        EventType::UserUpdated,
        EventType::UserDeleted,
        EventType::GroupCreated,
        EventType::GroupUpdated,
        EventType::GroupDeleted,
        EventType::GroupUserAdded,
        EventType::GroupUserRemoved,
        EventType::TokenCreated,
        EventType::TokenRevoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::DirectoryActivated => "dsync.activated",
            EventType::DirectoryDeactivated => "dsync.deactivated",
            EventType::DirectoryDeleted => "dsync.deleted",
            EventType::UserCreated => "dsync.user.created",
            EventType::UserUpdated => "dsync.user.updated",
            EventType::UserDeleted => "dsync.user.deleted",
            EventType::GroupCreated => "dsync.group.created",
            EventType::GroupUpdated => "dsync.group.updated",
            EventType::GroupDeleted => "dsync.group.deleted",
            EventType::GroupUserAdded => "dsync.group.user_added",
            EventType::GroupUserRemoved => "dsync.group.user_removed",
            EventType::TokenCreated => "dsync.token.created",
            EventType::TokenRevoked => "dsync.token.revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event as stored and as the Events API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Event {
    #[schema(value_type = String, example = "event")]
    pub object: &'static str,
    pub id: String,
    pub event: EventType,
    #[schema(value_type = Object)]
    pub data: Value,
    pub created_at: Timestamp,
    pub directory_id: Option<String>,
    pub organization_id: String,
    /// Position in the log; total order of all events.
    #[serde(skip)]
    pub seq: i64,
}

impl Event {
    pub const OBJECT: &'static str = "event";
}

/// An event about to be appended to the log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event: EventType,
    pub organization_id: String,
    pub directory_id: Option<String>,
    pub data: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                Value::String(t.as_str().into())
            );
        }
        assert_eq!(EventType::parse("dsync.user.exploded"), None);
    }
}
