//! The directory-state service: every change to users, groups and
//! memberships, written together with the events that describe it in one
//! transaction. SCIM ingress and pull sync both write through here.
//!
//! A batch ([`Store::apply_changes`]) is all-or-nothing: if any change fails
//! (unknown id, conflict, invalid input, stale version), nothing of the batch
//! is stored and no event is emitted. A change that alters nothing (same
//! content hash, membership already as asked) writes nothing and emits
//! nothing.

mod groups;
mod members;
mod sync;
mod users;

pub use sync::{SyncChange, SyncPage};

use rollcall_core::Timestamp;
use rollcall_core::directory::{Directory, DirectoryState};
use rollcall_core::directory_group::{DirectoryGroup, GroupInput};
use rollcall_core::directory_user::{DirectoryUser, UserInput};
use rollcall_core::event::{EventType, NewEvent};
use serde_json::Value;

use crate::backend::{Store, Tx};
use crate::directories::fetch_in_tx;
use crate::error::StoreError;
use crate::rows::{GROUP_COLUMNS, GroupRow, USER_COLUMNS, UserRow};
use crate::sql::Arg;

/// How a change names a user or group: by Rollcall id or by the provider's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    Id(String),
    IdpId(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Create or update the user with this `idp_id`.
    UpsertUser(UserInput),
    /// Create a user; fails with a conflict if its `idp_id` or username is
    /// taken. `id` may be chosen by the caller (SCIM assigns it first).
    CreateUser {
        id: Option<String>,
        input: UserInput,
    },
    /// Update the user with this Rollcall id (its `idp_id` may change).
    /// With `expected_version`, fails with [`StoreError::VersionMismatch`]
    /// if the stored version differs.
    UpdateUser {
        id: String,
        input: UserInput,
        expected_version: Option<i64>,
    },
    /// Delete the user; its memberships go with it (`dsync.group.user_removed`
    /// for each, then `dsync.user.deleted`).
    DeleteUser(Ref),
    UpsertGroup(GroupInput),
    CreateGroup {
        id: Option<String>,
        input: GroupInput,
    },
    UpdateGroup {
        id: String,
        input: GroupInput,
        expected_version: Option<i64>,
    },
    /// Delete the group (`dsync.group.deleted`); memberships go with it.
    DeleteGroup(Ref),
    AddMember {
        group: Ref,
        user: Ref,
    },
    RemoveMember {
        group: Ref,
        user: Ref,
    },
    /// Make the group's members exactly `users` (adds and removes the
    /// difference, each with its event).
    SetMembers {
        group: Ref,
        users: Vec<Ref>,
    },
    /// Record how the client labelled members of the group (SCIM
    /// `members[].display`): `(user id, label)`; `None` forgets a label, so
    /// the member's own name is shown. Users who are not members are
    /// skipped. No event: the membership itself does not change.
    LabelMembers {
        group: Ref,
        labels: Vec<(String, Option<String>)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    UserCreated(DirectoryUser),
    UserUpdated(DirectoryUser),
    UserUnchanged(DirectoryUser),
    UserDeleted(DirectoryUser),
    GroupCreated(DirectoryGroup),
    GroupUpdated(DirectoryGroup),
    GroupUnchanged(DirectoryGroup),
    GroupDeleted(DirectoryGroup),
    MemberAdded,
    MemberRemoved,
    /// The membership already was as asked.
    MemberUnchanged,
    /// `SetMembers`: how many were added and removed.
    MembersSet {
        added: usize,
        removed: usize,
    },
    /// `LabelMembers`: how many labels changed.
    MembersLabelled(usize),
}

impl Store {
    /// Applies `changes` to `directory_id` atomically with their events.
    ///
    /// Concurrent calls are group-committed by the [`crate::write_batcher`]:
    /// each batch runs in its own savepoint inside one shared transaction,
    /// so one failing batch never affects another, and many small writes
    /// share one durable commit. The result is returned after the commit.
    pub async fn apply_changes(
        &self,
        directory_id: &str,
        changes: Vec<Change>,
    ) -> Result<Vec<Outcome>, StoreError> {
        self.batcher.submit(self, directory_id, changes).await
    }

    /// Convenience for one change.
    pub async fn apply_change(
        &self,
        directory_id: &str,
        change: Change,
    ) -> Result<Outcome, StoreError> {
        let mut outcomes = self.apply_changes(directory_id, vec![change]).await?;
        outcomes
            .pop()
            .ok_or_else(|| StoreError::Internal("no outcome".into()))
    }
}

/// One batch in progress: the transaction, the directory, and the events
/// to append before commit.
struct Writer<'a> {
    tx: &'a mut Tx,
    directory: &'a Directory,
    events: Vec<NewEvent>,
    now: Timestamp,
}

fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(e.to_string())
}

/// A JSON column's value as a statement argument.
fn json_arg(value: &impl serde::Serialize) -> Result<Arg, StoreError> {
    serde_json::to_value(value)
        .map(Arg::Json)
        .map_err(|e| StoreError::Internal(format!("cannot encode a JSON column: {e}")))
}

fn check_version(expected: Option<i64>, actual: i64) -> Result<(), StoreError> {
    match expected {
        Some(v) if v != actual => Err(StoreError::VersionMismatch {
            expected: v,
            actual,
        }),
        _ => Ok(()),
    }
}

/// The directory a batch writes to, read inside `tx`; a directory being
/// deleted is not found.
pub(crate) async fn writable_directory(
    tx: &mut Tx,
    directory_id: &str,
) -> Result<Directory, StoreError> {
    let directory = fetch_in_tx(tx, directory_id).await?;
    if directory.state == DirectoryState::Deleting {
        return Err(StoreError::NotFound("directory"));
    }
    Ok(directory)
}

/// Runs one batch of changes inside `tx` (the caller owns the transaction
/// and any savepoint around it). Returns the outcomes and the events the
/// caller must append to the log before it commits.
pub(crate) async fn apply_in_tx(
    tx: &mut Tx,
    directory: &Directory,
    changes: Vec<Change>,
) -> Result<(Vec<Outcome>, Vec<NewEvent>), StoreError> {
    let mut writer = Writer {
        tx,
        directory,
        events: Vec::new(),
        now: Timestamp::now(),
    };
    let mut outcomes = Vec::with_capacity(changes.len());
    for change in changes {
        outcomes.push(writer.apply(change).await?);
    }
    Ok((outcomes, writer.events))
}

impl Writer<'_> {
    async fn apply(&mut self, change: Change) -> Result<Outcome, StoreError> {
        match change {
            Change::UpsertUser(input) => {
                let input = input.normalized().map_err(invalid)?;
                let existing = self.find_user(&Ref::IdpId(input.idp_id.clone())).await?;
                self.save_user(existing, None, input).await
            }
            Change::CreateUser { id, input } => {
                let input = input.normalized().map_err(invalid)?;
                self.save_user(None, id, input).await
            }
            Change::UpdateUser {
                id,
                input,
                expected_version,
            } => {
                let input = input.normalized().map_err(invalid)?;
                let existing = self
                    .find_user(&Ref::Id(id))
                    .await?
                    .ok_or(StoreError::NotFound("user"))?;
                check_version(expected_version, existing.version)?;
                self.save_user(Some(existing), None, input).await
            }
            Change::DeleteUser(user) => self.delete_user(&user).await,
            Change::UpsertGroup(input) => {
                let input = input.normalized().map_err(invalid)?;
                let existing = self.find_group(&Ref::IdpId(input.idp_id.clone())).await?;
                self.save_group(existing, None, input).await
            }
            Change::CreateGroup { id, input } => {
                let input = input.normalized().map_err(invalid)?;
                self.save_group(None, id, input).await
            }
            Change::UpdateGroup {
                id,
                input,
                expected_version,
            } => {
                let input = input.normalized().map_err(invalid)?;
                let existing = self
                    .find_group(&Ref::Id(id))
                    .await?
                    .ok_or(StoreError::NotFound("group"))?;
                check_version(expected_version, existing.version)?;
                self.save_group(Some(existing), None, input).await
            }
            Change::DeleteGroup(group) => self.delete_group(&group).await,
            Change::AddMember { group, user } => self.membership(&group, &user, true).await,
            Change::RemoveMember { group, user } => self.membership(&group, &user, false).await,
            Change::SetMembers { group, users } => self.set_members(&group, &users).await,
            Change::LabelMembers { group, labels } => self.label_members(&group, &labels).await,
        }
    }

    /// The directory id as a statement argument.
    fn dir_arg(&self) -> Arg {
        Arg::Text(self.directory.id.clone())
    }

    fn emit(&mut self, event: EventType, data: Value) {
        self.events.push(NewEvent {
            event,
            organization_id: self.directory.organization_id.clone(),
            directory_id: Some(self.directory.id.clone()),
            data,
        });
    }

    async fn find_user(&mut self, user: &Ref) -> Result<Option<UserRow>, StoreError> {
        let (column, value) = match user {
            Ref::Id(id) => ("id", id),
            Ref::IdpId(idp) => ("idp_id", idp),
        };
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM directory_users WHERE directory_id = $1 AND {column} = $2"
        );
        self.tx
            .fetch_optional(&sql, vec![self.dir_arg(), Arg::Text(value.clone())])
            .await
    }

    async fn find_group(&mut self, group: &Ref) -> Result<Option<GroupRow>, StoreError> {
        let (column, value) = match group {
            Ref::Id(id) => ("id", id),
            Ref::IdpId(idp) => ("idp_id", idp),
        };
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM directory_groups WHERE directory_id = $1 AND {column} = $2"
        );
        self.tx
            .fetch_optional(&sql, vec![self.dir_arg(), Arg::Text(value.clone())])
            .await
    }
}
