//! Database rows and their conversion into domain types. Wire formats stop
//! here: nothing above this module sees a row.

use rollcall_core::Timestamp;
use rollcall_core::directory::{Directory, DirectoryState, DirectoryType};
use rollcall_core::directory_group::DirectoryGroup;
use rollcall_core::directory_user::{DirectoryUser, RoleRef, UserState};
use rollcall_core::event::{Event, EventType};
use rollcall_core::organization::Organization;
use serde_json::{Map, Value};
use sqlx::types::Json;

use crate::direct::{DirectRow, json_column};
use crate::error::StoreError;

/// `a, b` → `alias.a, alias.b`, for joins.
pub(crate) fn qualified(columns: &str, alias: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Internal(format!("stored {what} '{value}' is not recognised"))
}

#[derive(sqlx::FromRow)]
pub(crate) struct OrganizationRow {
    pub id: String,
    pub name: String,
    pub external_id: Option<String>,
    pub domains: Json<Vec<String>>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<OrganizationRow> for Organization {
    fn from(r: OrganizationRow) -> Self {
        Organization {
            object: Organization::OBJECT,
            id: r.id,
            name: r.name,
            external_id: r.external_id,
            domains: r.domains.0,
            created_at: Timestamp::from_micros(r.created_at),
            updated_at: Timestamp::from_micros(r.updated_at),
        }
    }
}

pub(crate) const DIRECTORY_COLUMNS: &str = "id, organization_id, name, type, state, domain, settings, secret_names, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct DirectoryRow {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    #[sqlx(rename = "type")]
    pub directory_type: String,
    pub state: String,
    pub domain: Option<String>,
    pub settings: Json<Map<String, Value>>,
    pub secret_names: Json<Vec<String>>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<DirectoryRow> for Directory {
    type Error = StoreError;

    fn try_from(r: DirectoryRow) -> Result<Self, StoreError> {
        Ok(Directory {
            object: Directory::OBJECT,
            directory_type: r
                .directory_type
                .parse::<DirectoryType>()
                .map_err(|_| corrupt("directory type", &r.directory_type))?,
            state: DirectoryState::parse(&r.state).ok_or_else(|| corrupt("state", &r.state))?,
            id: r.id,
            organization_id: r.organization_id,
            name: r.name,
            domain: r.domain,
            settings: r.settings.0,
            secret_names: r.secret_names.0,
            created_at: Timestamp::from_micros(r.created_at),
            updated_at: Timestamp::from_micros(r.updated_at),
        })
    }
}

pub(crate) const USER_COLUMNS: &str = "id, directory_id, organization_id, idp_id, email, first_name, last_name, username, state, roles, custom_attributes, raw_attributes, content_hash, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: String,
    pub directory_id: String,
    pub organization_id: String,
    pub idp_id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub state: String,
    pub roles: Json<Vec<String>>,
    pub custom_attributes: Json<Map<String, Value>>,
    pub raw_attributes: Json<Map<String, Value>>,
    pub content_hash: Vec<u8>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<UserRow> for DirectoryUser {
    type Error = StoreError;

    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        let roles: Vec<RoleRef> = r.roles.0.into_iter().map(|slug| RoleRef { slug }).collect();
        Ok(DirectoryUser {
            object: DirectoryUser::OBJECT,
            state: UserState::parse(&r.state).ok_or_else(|| corrupt("user state", &r.state))?,
            id: r.id,
            idp_id: r.idp_id,
            directory_id: r.directory_id,
            organization_id: r.organization_id,
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            username: r.username,
            role: roles.first().cloned(),
            roles,
            custom_attributes: r.custom_attributes.0,
            raw_attributes: r.raw_attributes.0,
            groups: None,
            created_at: Timestamp::from_micros(r.created_at),
            updated_at: Timestamp::from_micros(r.updated_at),
            version: r.version,
        })
    }
}

pub(crate) const GROUP_COLUMNS: &str = "id, directory_id, organization_id, idp_id, name, raw_attributes, content_hash, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct GroupRow {
    pub id: String,
    pub directory_id: String,
    pub organization_id: String,
    pub idp_id: String,
    pub name: String,
    pub raw_attributes: Json<Map<String, Value>>,
    pub content_hash: Vec<u8>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<GroupRow> for DirectoryGroup {
    fn from(r: GroupRow) -> Self {
        DirectoryGroup {
            object: DirectoryGroup::OBJECT,
            id: r.id,
            idp_id: r.idp_id,
            directory_id: r.directory_id,
            organization_id: r.organization_id,
            name: r.name,
            raw_attributes: r.raw_attributes.0,
            created_at: Timestamp::from_micros(r.created_at),
            updated_at: Timestamp::from_micros(r.updated_at),
            version: r.version,
        }
    }
}

pub(crate) const EVENT_COLUMNS: &str =
    "seq, id, type, organization_id, directory_id, data, created_at";

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    pub seq: i64,
    pub id: String,
    #[sqlx(rename = "type")]
    pub event_type: String,
    pub organization_id: String,
    pub directory_id: Option<String>,
    pub data: Json<Value>,
    pub created_at: i64,
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;

    fn try_from(r: EventRow) -> Result<Self, StoreError> {
        Ok(Event {
            object: Event::OBJECT,
            event: EventType::parse(&r.event_type)
                .ok_or_else(|| corrupt("event type", &r.event_type))?,
            seq: r.seq,
            id: r.id,
            organization_id: r.organization_id,
            directory_id: r.directory_id,
            data: r.data.0,
            created_at: Timestamp::from_micros(r.created_at),
        })
    }
}

impl DirectRow for DirectoryRow {
    fn from_direct(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(DirectoryRow {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            name: row.get("name")?,
            directory_type: row.get("type")?,
            state: row.get("state")?,
            domain: row.get("domain")?,
            settings: json_column(row, "settings")?,
            secret_names: json_column(row, "secret_names")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

impl DirectRow for UserRow {
    fn from_direct(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(UserRow {
            id: row.get("id")?,
            directory_id: row.get("directory_id")?,
            organization_id: row.get("organization_id")?,
            idp_id: row.get("idp_id")?,
            email: row.get("email")?,
            first_name: row.get("first_name")?,
            last_name: row.get("last_name")?,
            username: row.get("username")?,
            state: row.get("state")?,
            roles: json_column(row, "roles")?,
            custom_attributes: json_column(row, "custom_attributes")?,
            raw_attributes: json_column(row, "raw_attributes")?,
            content_hash: row.get("content_hash")?,
            version: row.get("version")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

impl DirectRow for GroupRow {
    fn from_direct(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(GroupRow {
            id: row.get("id")?,
            directory_id: row.get("directory_id")?,
            organization_id: row.get("organization_id")?,
            idp_id: row.get("idp_id")?,
            name: row.get("name")?,
            raw_attributes: json_column(row, "raw_attributes")?,
            content_hash: row.get("content_hash")?,
            version: row.get("version")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}
