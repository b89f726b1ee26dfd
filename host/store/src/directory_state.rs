//! The directory-state service: every change to users, groups and
//! memberships, written together with the events that describe it in one
//! transaction. SCIM ingress and pull sync both write through here.
//!
//! A batch ([`Store::apply_changes`]) is all-or-nothing: if any change fails
//! (unknown id, conflict, invalid input), nothing of the batch is stored and
//! no event is emitted.

use rollcall_core::Timestamp;
use rollcall_core::diff::previous_attributes;
use rollcall_core::directory::{Directory, DirectoryState};
use rollcall_core::directory_group::{DirectoryGroup, GroupInput};
use rollcall_core::directory_user::{DirectoryUser, UserInput};
use rollcall_core::event::{EventType, NewEvent};
use rollcall_core::ids::{IdKind, new_id};
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;
use sqlx::types::Json;

use crate::backend::{Store, Tx};
use crate::directories::fetch_in_tx;
use crate::error::StoreError;
use crate::events;
use crate::rows::{GROUP_COLUMNS, GroupRow, USER_COLUMNS, UserRow};

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
    /// Update the user with this Rollcall id (its `idp_id` may change).
    UpdateUser {
        id: String,
        input: UserInput,
    },
    /// Delete the user; its memberships go with it (`dsync.group.user_removed`
    /// for each, then `dsync.user.deleted`).
    DeleteUser(Ref),
    UpsertGroup(GroupInput),
    UpdateGroup {
        id: String,
        input: GroupInput,
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
}

impl Store {
    /// Applies `changes` to `directory_id` in one transaction with their events.
    pub async fn apply_changes(
        &self,
        directory_id: &str,
        changes: Vec<Change>,
    ) -> Result<Vec<Outcome>, StoreError> {
        let mut tx = self.begin().await?;
        let directory = fetch_in_tx(&mut tx, directory_id).await?;
        if directory.state == DirectoryState::Deleting {
            return Err(StoreError::NotFound("directory"));
        }
        let mut writer = Writer {
            tx: &mut tx,
            directory: &directory,
            events: Vec::new(),
            now: Timestamp::now(),
        };
        let mut outcomes = Vec::with_capacity(changes.len());
        for change in changes {
            outcomes.push(writer.apply(change).await?);
        }
        let pending = std::mem::take(&mut writer.events);
        events::append(&mut tx, pending).await?;
        tx.commit().await?;
        Ok(outcomes)
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

struct Writer<'a> {
    tx: &'a mut Tx,
    directory: &'a Directory,
    events: Vec<NewEvent>,
    now: Timestamp,
}

fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(e.to_string())
}

impl Writer<'_> {
    async fn apply(&mut self, change: Change) -> Result<Outcome, StoreError> {
        match change {
            Change::UpsertUser(input) => {
                let input = input.normalized().map_err(invalid)?;
                let existing = self.find_user(&Ref::IdpId(input.idp_id.clone())).await?;
                self.save_user(existing, input).await
            }
            Change::UpdateUser { id, input } => {
                let input = input.normalized().map_err(invalid)?;
                let existing = self
                    .find_user(&Ref::Id(id))
                    .await?
                    .ok_or(StoreError::NotFound("user"))?;
                self.save_user(Some(existing), input).await
            }
            Change::DeleteUser(user) => self.delete_user(&user).await,
            Change::UpsertGroup(input) => {
                let input = input.normalized().map_err(invalid)?;
                let existing = self.find_group(&Ref::IdpId(input.idp_id.clone())).await?;
                self.save_group(existing, input).await
            }
            Change::UpdateGroup { id, input } => {
                let input = input.normalized().map_err(invalid)?;
                let existing = self
                    .find_group(&Ref::Id(id))
                    .await?
                    .ok_or(StoreError::NotFound("group"))?;
                self.save_group(Some(existing), input).await
            }
            Change::DeleteGroup(group) => self.delete_group(&group).await,
            Change::AddMember { group, user } => self.membership(&group, &user, true).await,
            Change::RemoveMember { group, user } => self.membership(&group, &user, false).await,
        }
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
        Ok(on_tx!(&mut *self.tx, |conn| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(&self.directory.id)
                .bind(value)
                .fetch_optional(&mut *conn)
                .await?
        }))
    }

    async fn find_group(&mut self, group: &Ref) -> Result<Option<GroupRow>, StoreError> {
        let (column, value) = match group {
            Ref::Id(id) => ("id", id),
            Ref::IdpId(idp) => ("idp_id", idp),
        };
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM directory_groups WHERE directory_id = $1 AND {column} = $2"
        );
        Ok(on_tx!(&mut *self.tx, |conn| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(&self.directory.id)
                .bind(value)
                .fetch_optional(&mut *conn)
                .await?
        }))
    }

    async fn save_user(
        &mut self,
        existing: Option<UserRow>,
        input: UserInput,
    ) -> Result<Outcome, StoreError> {
        let hash = input.content_hash();
        let now = self.now.as_micros();
        let row: UserRow = match existing {
            Some(old) if old.content_hash == hash => {
                return Ok(Outcome::UserUnchanged(DirectoryUser::try_from(old)?));
            }
            Some(old) => {
                let before = DirectoryUser::try_from(old)?;
                let sql = format!(
                    "UPDATE directory_users SET idp_id = $2, email = $3, first_name = $4, \
                     last_name = $5, username = $6, state = $7, roles = $8, custom_attributes = $9, \
                     raw_attributes = $10, content_hash = $11, version = version + 1, updated_at = $12 \
                     WHERE id = $1 RETURNING {USER_COLUMNS}"
                );
                let row: UserRow = on_tx!(&mut *self.tx, |conn| {
                    sqlx::query_as(AssertSqlSafe(sql))
                        .bind(&before.id)
                        .bind(&input.idp_id)
                        .bind(&input.email)
                        .bind(&input.first_name)
                        .bind(&input.last_name)
                        .bind(&input.username)
                        .bind(input.state.as_str())
                        .bind(Json(&input.roles))
                        .bind(Json(&input.custom_attributes))
                        .bind(Json(&input.raw_attributes))
                        .bind(&hash[..])
                        .bind(now)
                        .fetch_one(&mut *conn)
                        .await?
                });
                let after = DirectoryUser::try_from(row)?;
                let mut data = after.event_data();
                let previous = previous_attributes(&before.event_data(), &data);
                if let Value::Object(map) = &mut data {
                    map.insert("previous_attributes".into(), Value::Object(previous));
                }
                self.emit(EventType::UserUpdated, data);
                return Ok(Outcome::UserUpdated(after));
            }
            None => {
                let sql = format!(
                    "INSERT INTO directory_users (id, directory_id, organization_id, idp_id, email, \
                     first_name, last_name, username, state, roles, custom_attributes, raw_attributes, \
                     content_hash, version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $14) \
                     RETURNING {USER_COLUMNS}"
                );
                on_tx!(&mut *self.tx, |conn| {
                    sqlx::query_as(AssertSqlSafe(sql))
                        .bind(new_id(IdKind::DirectoryUser))
                        .bind(&self.directory.id)
                        .bind(&self.directory.organization_id)
                        .bind(&input.idp_id)
                        .bind(&input.email)
                        .bind(&input.first_name)
                        .bind(&input.last_name)
                        .bind(&input.username)
                        .bind(input.state.as_str())
                        .bind(Json(&input.roles))
                        .bind(Json(&input.custom_attributes))
                        .bind(Json(&input.raw_attributes))
                        .bind(&hash[..])
                        .bind(now)
                        .fetch_one(&mut *conn)
                        .await?
                })
            }
        };
        let user = DirectoryUser::try_from(row)?;
        self.emit(EventType::UserCreated, user.event_data());
        Ok(Outcome::UserCreated(user))
    }

    async fn save_group(
        &mut self,
        existing: Option<GroupRow>,
        input: GroupInput,
    ) -> Result<Outcome, StoreError> {
        let hash = input.content_hash();
        let now = self.now.as_micros();
        match existing {
            Some(old) if old.content_hash == hash => {
                Ok(Outcome::GroupUnchanged(DirectoryGroup::from(old)))
            }
            Some(old) => {
                let before = DirectoryGroup::from(old);
                let sql = format!(
                    "UPDATE directory_groups SET idp_id = $2, name = $3, raw_attributes = $4, \
                     content_hash = $5, version = version + 1, updated_at = $6 \
                     WHERE id = $1 RETURNING {GROUP_COLUMNS}"
                );
                let row: GroupRow = on_tx!(&mut *self.tx, |conn| {
                    sqlx::query_as(AssertSqlSafe(sql))
                        .bind(&before.id)
                        .bind(&input.idp_id)
                        .bind(&input.name)
                        .bind(Json(&input.raw_attributes))
                        .bind(&hash[..])
                        .bind(now)
                        .fetch_one(&mut *conn)
                        .await?
                });
                let after = DirectoryGroup::from(row);
                let mut data = after.event_data();
                let previous = previous_attributes(&before.event_data(), &data);
                if let Value::Object(map) = &mut data {
                    map.insert("previous_attributes".into(), Value::Object(previous));
                }
                self.emit(EventType::GroupUpdated, data);
                Ok(Outcome::GroupUpdated(after))
            }
            None => {
                let sql = format!(
                    "INSERT INTO directory_groups (id, directory_id, organization_id, idp_id, name, \
                     raw_attributes, content_hash, version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8) RETURNING {GROUP_COLUMNS}"
                );
                let row: GroupRow = on_tx!(&mut *self.tx, |conn| {
                    sqlx::query_as(AssertSqlSafe(sql))
                        .bind(new_id(IdKind::DirectoryGroup))
                        .bind(&self.directory.id)
                        .bind(&self.directory.organization_id)
                        .bind(&input.idp_id)
                        .bind(&input.name)
                        .bind(Json(&input.raw_attributes))
                        .bind(&hash[..])
                        .bind(now)
                        .fetch_one(&mut *conn)
                        .await?
                });
                let group = DirectoryGroup::from(row);
                self.emit(EventType::GroupCreated, group.event_data());
                Ok(Outcome::GroupCreated(group))
            }
        }
    }

    async fn delete_user(&mut self, user: &Ref) -> Result<Outcome, StoreError> {
        let row = self
            .find_user(user)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        let user = DirectoryUser::try_from(row)?;
        let sql = format!(
            "SELECT {} FROM directory_groups g JOIN directory_memberships m ON m.group_id = g.id \
             WHERE m.user_id = $1 ORDER BY g.id",
            GROUP_COLUMNS
                .split(", ")
                .map(|c| format!("g.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let groups: Vec<GroupRow> = on_tx!(&mut *self.tx, |conn| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(&user.id)
                .fetch_all(&mut *conn)
                .await?
        });
        for group in groups {
            let group = DirectoryGroup::from(group);
            self.emit(
                EventType::GroupUserRemoved,
                self.membership_data(&user, &group),
            );
        }
        on_tx!(&mut *self.tx, |conn| {
            sqlx::query("DELETE FROM directory_memberships WHERE user_id = $1")
                .bind(&user.id)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM directory_users WHERE id = $1")
                .bind(&user.id)
                .execute(&mut *conn)
                .await?;
        });
        self.emit(EventType::UserDeleted, user.event_data());
        Ok(Outcome::UserDeleted(user))
    }

    async fn delete_group(&mut self, group: &Ref) -> Result<Outcome, StoreError> {
        let row = self
            .find_group(group)
            .await?
            .ok_or(StoreError::NotFound("group"))?;
        let group = DirectoryGroup::from(row);
        on_tx!(&mut *self.tx, |conn| {
            sqlx::query("DELETE FROM directory_memberships WHERE group_id = $1")
                .bind(&group.id)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM directory_groups WHERE id = $1")
                .bind(&group.id)
                .execute(&mut *conn)
                .await?;
        });
        self.emit(EventType::GroupDeleted, group.event_data());
        Ok(Outcome::GroupDeleted(group))
    }

    async fn membership(
        &mut self,
        group: &Ref,
        user: &Ref,
        add: bool,
    ) -> Result<Outcome, StoreError> {
        let group = DirectoryGroup::from(
            self.find_group(group)
                .await?
                .ok_or(StoreError::NotFound("group"))?,
        );
        let user = DirectoryUser::try_from(
            self.find_user(user)
                .await?
                .ok_or(StoreError::NotFound("user"))?,
        )?;
        let changed = on_tx!(&mut *self.tx, |conn| {
            if add {
                sqlx::query(
                    "INSERT INTO directory_memberships (group_id, user_id, directory_id, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(&group.id)
                .bind(&user.id)
                .bind(&self.directory.id)
                .bind(self.now.as_micros())
                .execute(&mut *conn)
                .await?
                .rows_affected()
            } else {
                sqlx::query(
                    "DELETE FROM directory_memberships WHERE group_id = $1 AND user_id = $2",
                )
                .bind(&group.id)
                .bind(&user.id)
                .execute(&mut *conn)
                .await?
                .rows_affected()
            }
        });
        if changed == 0 {
            return Ok(Outcome::MemberUnchanged);
        }
        let data = self.membership_data(&user, &group);
        if add {
            self.emit(EventType::GroupUserAdded, data);
            Ok(Outcome::MemberAdded)
        } else {
            self.emit(EventType::GroupUserRemoved, data);
            Ok(Outcome::MemberRemoved)
        }
    }

    fn membership_data(&self, user: &DirectoryUser, group: &DirectoryGroup) -> Value {
        json!({
            "directory_id": self.directory.id,
            "user": user.event_data(),
            "group": group.event_data(),
        })
    }
}
