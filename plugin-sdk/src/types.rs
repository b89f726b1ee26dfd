//! The typed values plugins read and return: users, groups, memberships,
//! pages, changes, events, outcomes, and [`PluginError`] with its
//! constructors.

use serde_json::{Map, Value};

use crate::bindings::wit;

/// What a plugin says about itself.
///
/// ```
/// let info = rollcall_plugin_sdk::PluginInfo::new("my-connector", "0.1.0", "Reads the HR system");
/// assert_eq!(info.id, "my-connector");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    pub id: String,
    pub version: String,
    pub description: String,
}

impl PluginInfo {
    pub fn new(
        id: impl Into<String>,
        version: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        PluginInfo {
            id: id.into(),
            version: version.into(),
            description: description.into(),
        }
    }
}

/// Whether a user is active in the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserState {
    #[default]
    Active,
    Inactive,
}

/// A directory user as the provider knows it.
///
/// ```
/// use rollcall_plugin_sdk::{User, UserState};
/// let mut user = User::new("00u1").email("ada@example.com").name("Ada", "Lovelace");
/// user.state = UserState::Inactive;
/// assert_eq!(user.first_name.as_deref(), Some("Ada"));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct User {
    pub idp_id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub state: UserState,
    pub roles: Vec<String>,
    pub custom_attributes: Map<String, Value>,
    pub raw_attributes: Map<String, Value>,
}

impl User {
    /// An active user with only its provider id set.
    pub fn new(idp_id: impl Into<String>) -> Self {
        User {
            idp_id: idp_id.into(),
            ..Default::default()
        }
    }

    /// Sets the email address.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Sets first and last name.
    pub fn name(mut self, first: impl Into<String>, last: impl Into<String>) -> Self {
        self.first_name = Some(first.into());
        self.last_name = Some(last.into());
        self
    }
}

/// A directory group.
///
/// ```
/// let g = rollcall_plugin_sdk::Group::new("g1", "Engineering");
/// assert_eq!(g.name, "Engineering");
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    pub idp_id: String,
    pub name: String,
    pub raw_attributes: Map<String, Value>,
}

impl Group {
    pub fn new(idp_id: impl Into<String>, name: impl Into<String>) -> Self {
        Group {
            idp_id: idp_id.into(),
            name: name.into(),
            raw_attributes: Map::new(),
        }
    }
}

/// A user in a group, by provider ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub group_idp_id: String,
    pub user_idp_id: String,
}

/// Which page the host asks for: `cursor` is `None` for the first page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PageRequest {
    pub cursor: Option<String>,
    /// A hint; return fewer or more if the provider pages differently.
    pub limit: u32,
}

/// One page of results and the cursor of the next one.
///
/// ```
/// let page = rollcall_plugin_sdk::Page::last(vec![1, 2, 3]);
/// assert!(page.next_cursor.is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page with more to come.
    pub fn new(items: Vec<T>, next_cursor: Option<String>) -> Self {
        Page { items, next_cursor }
    }

    /// The final page.
    pub fn last(items: Vec<T>) -> Self {
        Page {
            items,
            next_cursor: None,
        }
    }

    /// No items at all.
    pub fn empty() -> Self {
        Page {
            items: Vec::new(),
            next_cursor: None,
        }
    }
}

/// One incremental change.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    UserUpserted(User),
    UserDeleted(String),
    GroupUpserted(Group),
    GroupDeleted(String),
    MemberAdded(Membership),
    MemberRemoved(Membership),
}

/// Changes since a checkpoint, and the checkpoint to use next time.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    pub checkpoint: String,
    /// Ask the host to call again at once.
    pub has_more: bool,
}

/// An event delivered to a lifecycle action.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    /// e.g. `dsync.user.updated`.
    pub event_type: String,
    pub organization_id: String,
    pub directory_id: Option<String>,
    pub created_at_micros: i64,
    /// The user/group/directory snapshot after the change.
    pub data: Value,
    /// Changed keys with their old values (`*.updated` only).
    pub previous_attributes: Option<Value>,
    /// The same on every delivery of this event to this installation.
    pub idempotency_key: String,
    /// 1 on the first delivery.
    pub attempt: u32,
}

/// What a lifecycle action did with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Completed(Option<String>),
    Skipped(String),
}

/// Why a call failed; the host acts on the kind (retry, back off, stop).
///
/// ```
/// use rollcall_plugin_sdk::PluginError;
/// let e = PluginError::rate_limited(30, "slow down");
/// assert_eq!(e.to_string(), "rate limited (retry after 30 s): slow down");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginError {
    InvalidConfig(String),
    Unauthorized(String),
    NotFound(String),
    RateLimited {
        retry_after_seconds: u32,
        message: String,
    },
    Transient(String),
    Permanent(String),
}

impl PluginError {
    pub fn invalid_config(m: impl Into<String>) -> Self {
        PluginError::InvalidConfig(m.into())
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        PluginError::Unauthorized(m.into())
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        PluginError::NotFound(m.into())
    }
    pub fn rate_limited(retry_after_seconds: u32, m: impl Into<String>) -> Self {
        PluginError::RateLimited {
            retry_after_seconds,
            message: m.into(),
        }
    }
    pub fn transient(m: impl Into<String>) -> Self {
        PluginError::Transient(m.into())
    }
    pub fn permanent(m: impl Into<String>) -> Self {
        PluginError::Permanent(m.into())
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginError::InvalidConfig(m) => write!(f, "invalid config: {m}"),
            PluginError::Unauthorized(m) => write!(f, "unauthorized: {m}"),
            PluginError::NotFound(m) => write!(f, "not found: {m}"),
            PluginError::RateLimited {
                retry_after_seconds,
                message,
            } => {
                write!(
                    f,
                    "rate limited (retry after {retry_after_seconds} s): {message}"
                )
            }
            PluginError::Transient(m) => write!(f, "transient: {m}"),
            PluginError::Permanent(m) => write!(f, "permanent: {m}"),
        }
    }
}

impl std::error::Error for PluginError {}

impl From<serde_json::Error> for PluginError {
    fn from(e: serde_json::Error) -> Self {
        PluginError::Permanent(format!("JSON: {e}"))
    }
}

// ---- conversions to and from the generated bindings ----

fn json_text(map: &Map<String, Value>) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".into())
}

impl From<PluginInfo> for wit::PluginInfo {
    fn from(i: PluginInfo) -> Self {
        wit::PluginInfo {
            id: i.id,
            version: i.version,
            description: i.description,
        }
    }
}

impl From<User> for wit::User {
    fn from(u: User) -> Self {
        wit::User {
            custom_attributes: json_text(&u.custom_attributes),
            raw_attributes: json_text(&u.raw_attributes),
            idp_id: u.idp_id,
            email: u.email,
            first_name: u.first_name,
            last_name: u.last_name,
            username: u.username,
            state: match u.state {
                UserState::Active => wit::UserState::Active,
                UserState::Inactive => wit::UserState::Inactive,
            },
            roles: u.roles,
        }
    }
}

impl From<Group> for wit::Group {
    fn from(g: Group) -> Self {
        wit::Group {
            raw_attributes: json_text(&g.raw_attributes),
            idp_id: g.idp_id,
            name: g.name,
        }
    }
}

impl From<Membership> for wit::Membership {
    fn from(m: Membership) -> Self {
        wit::Membership {
            group_idp_id: m.group_idp_id,
            user_idp_id: m.user_idp_id,
        }
    }
}

impl From<wit::PageRequest> for PageRequest {
    fn from(p: wit::PageRequest) -> Self {
        PageRequest {
            cursor: p.cursor,
            limit: p.limit,
        }
    }
}

impl From<Change> for wit::Change {
    fn from(c: Change) -> Self {
        match c {
            Change::UserUpserted(u) => wit::Change::UserUpserted(u.into()),
            Change::UserDeleted(id) => wit::Change::UserDeleted(id),
            Change::GroupUpserted(g) => wit::Change::GroupUpserted(g.into()),
            Change::GroupDeleted(id) => wit::Change::GroupDeleted(id),
            Change::MemberAdded(m) => wit::Change::MemberAdded(m.into()),
            Change::MemberRemoved(m) => wit::Change::MemberRemoved(m.into()),
        }
    }
}

impl From<wit::Event> for Event {
    fn from(e: wit::Event) -> Self {
        Event {
            id: e.id,
            event_type: e.event_type,
            organization_id: e.organization_id,
            directory_id: e.directory_id,
            created_at_micros: e.created_at,
            data: serde_json::from_str(&e.data).unwrap_or(Value::Null),
            previous_attributes: e
                .previous_attributes
                .and_then(|p| serde_json::from_str::<Value>(&p).ok()),
            idempotency_key: e.idempotency_key,
            attempt: e.attempt,
        }
    }
}

impl From<Outcome> for wit::Outcome {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Completed(d) => wit::Outcome::Completed(d),
            Outcome::Skipped(r) => wit::Outcome::Skipped(r),
        }
    }
}

impl From<PluginError> for wit::PluginError {
    fn from(e: PluginError) -> Self {
        match e {
            PluginError::InvalidConfig(m) => wit::PluginError::InvalidConfig(m),
            PluginError::Unauthorized(m) => wit::PluginError::Unauthorized(m),
            PluginError::NotFound(m) => wit::PluginError::NotFound(m),
            PluginError::RateLimited {
                retry_after_seconds,
                message,
            } => wit::PluginError::RateLimited(wit::RateLimit {
                retry_after_seconds,
                message,
            }),
            PluginError::Transient(m) => wit::PluginError::Transient(m),
            PluginError::Permanent(m) => wit::PluginError::Permanent(m),
        }
    }
}
