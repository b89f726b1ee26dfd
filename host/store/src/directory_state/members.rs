//! Writing memberships: add, remove, and set-exactly, each changed
//! membership with its `dsync.group.user_added` / `user_removed` event;
//! and the labels SCIM clients give members (`members[].display`).

use std::collections::{HashMap, HashSet};

use super::{Outcome, Ref, Writer};
use crate::direct::DirectRow;
use crate::error::StoreError;
use crate::rows::{USER_COLUMNS, UserRow, qualified};
use crate::sql::{Arg, Sql};
use rollcall_core::directory_group::DirectoryGroup;
use rollcall_core::directory_user::DirectoryUser;
use rollcall_core::event::EventType;
use serde_json::{Value, json};

/// A membership's stored label.
#[derive(sqlx::FromRow)]
struct LabelRow {
    user_id: String,
    display: Option<String>,
}

impl DirectRow for LabelRow {
    fn from_direct(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(LabelRow {
            user_id: row.get("user_id")?,
            display: row.get("display")?,
        })
    }
}

impl Writer<'_> {
    async fn resolve_group(&mut self, group: &Ref) -> Result<DirectoryGroup, StoreError> {
        Ok(DirectoryGroup::from(
            self.find_group(group)
                .await?
                .ok_or(StoreError::NotFound("group"))?,
        ))
    }

    async fn resolve_user(&mut self, user: &Ref) -> Result<DirectoryUser, StoreError> {
        DirectoryUser::try_from(
            self.find_user(user)
                .await?
                .ok_or(StoreError::NotFound("user"))?,
        )
    }

    pub(super) async fn membership(
        &mut self,
        group: &Ref,
        user: &Ref,
        add: bool,
    ) -> Result<Outcome, StoreError> {
        let group = self.resolve_group(group).await?;
        let user = self.resolve_user(user).await?;
        let changed = if add {
            self.insert_membership(&group.id, &user.id).await?
        } else {
            self.delete_membership(&group.id, &user.id).await?
        };
        if !changed {
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

    pub(super) async fn set_members(
        &mut self,
        group: &Ref,
        users: &[Ref],
    ) -> Result<Outcome, StoreError> {
        let group = self.resolve_group(group).await?;
        let mut wanted = Vec::with_capacity(users.len());
        let mut wanted_ids = HashSet::new();
        for user in users {
            let u = self.resolve_user(user).await?;
            if wanted_ids.insert(u.id.clone()) {
                wanted.push(u);
            }
        }
        let sql = format!(
            "SELECT {} FROM directory_users u JOIN directory_memberships m ON m.user_id = u.id \
             WHERE m.group_id = $1 ORDER BY u.id",
            qualified(USER_COLUMNS, "u")
        );
        let current: Vec<UserRow> = self
            .tx
            .fetch_all(&sql, vec![Arg::Text(group.id.clone())])
            .await?;
        let mut removed = 0;
        let mut current_ids = HashSet::new();
        for row in current {
            let user = DirectoryUser::try_from(row)?;
            current_ids.insert(user.id.clone());
            if !wanted_ids.contains(&user.id) {
                self.delete_membership(&group.id, &user.id).await?;
                let data = self.membership_data(&user, &group);
                self.emit(EventType::GroupUserRemoved, data);
                removed += 1;
            }
        }
        let mut added = 0;
        for user in wanted {
            if !current_ids.contains(&user.id) {
                self.insert_membership(&group.id, &user.id).await?;
                let data = self.membership_data(&user, &group);
                self.emit(EventType::GroupUserAdded, data);
                added += 1;
            }
        }
        Ok(Outcome::MembersSet { added, removed })
    }

    pub(super) async fn label_members(
        &mut self,
        group: &Ref,
        labels: &[(String, Option<String>)],
    ) -> Result<Outcome, StoreError> {
        let group = self.resolve_group(group).await?;
        let mut changed = 0;
        // Only labels that differ from the stored ones are written, so a
        // repeated full-member-list PUT costs one read per 500 members.
        for chunk in labels.chunks(500) {
            let mut sql = Sql::new("SELECT user_id, display FROM directory_memberships WHERE ");
            let g = sql.arg(Arg::Text(group.id.clone()));
            let list = sql.tuple(chunk.iter().map(|(u, _)| Arg::Text(u.clone())));
            sql.push(&format!("group_id = {g} AND user_id IN {list}"));
            let text = self.tx.text(&sql);
            let stored: Vec<LabelRow> = self.tx.fetch_all(&text, sql.args).await?;
            let stored: HashMap<String, Option<String>> =
                stored.into_iter().map(|r| (r.user_id, r.display)).collect();
            for (user_id, label) in chunk {
                if stored.get(user_id).is_none_or(|s| s == label) {
                    continue;
                }
                self.tx
                    .execute(
                        "UPDATE directory_memberships SET display = $3 \
                         WHERE group_id = $1 AND user_id = $2",
                        vec![
                            Arg::Text(group.id.clone()),
                            Arg::Text(user_id.clone()),
                            Arg::OptText(label.clone()),
                        ],
                    )
                    .await?;
                changed += 1;
            }
        }
        if changed > 0 {
            // The group's representation changed: a new version for its ETag.
            self.tx
                .execute(
                    "UPDATE directory_groups SET version = version + 1, updated_at = $2 \
                     WHERE id = $1",
                    vec![Arg::Text(group.id.clone()), Arg::Int(self.now.as_micros())],
                )
                .await?;
        }
        Ok(Outcome::MembersLabelled(changed))
    }

    /// A membership change is a change of both the group (its members) and
    /// the user (its groups): bump their versions and `updated_at`, so ETags
    /// and `meta.lastModified` see it. The membership events describe it.
    async fn touch(&mut self, group_id: &str, user_id: &str) -> Result<(), StoreError> {
        let now = self.now.as_micros();
        self.tx
            .execute(
                "UPDATE directory_groups SET version = version + 1, updated_at = $2 WHERE id = $1",
                vec![Arg::Text(group_id.to_owned()), Arg::Int(now)],
            )
            .await?;
        self.tx
            .execute(
                "UPDATE directory_users SET version = version + 1, updated_at = $2 WHERE id = $1",
                vec![Arg::Text(user_id.to_owned()), Arg::Int(now)],
            )
            .await?;
        Ok(())
    }

    async fn insert_membership(
        &mut self,
        group_id: &str,
        user_id: &str,
    ) -> Result<bool, StoreError> {
        let args = vec![
            Arg::Text(group_id.to_owned()),
            Arg::Text(user_id.to_owned()),
            self.dir_arg(),
            Arg::Int(self.now.as_micros()),
        ];
        let n = self
            .tx
            .execute(
                "INSERT INTO directory_memberships (group_id, user_id, directory_id, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                args,
            )
            .await?;
        if n > 0 {
            self.touch(group_id, user_id).await?;
        }
        Ok(n > 0)
    }

    async fn delete_membership(
        &mut self,
        group_id: &str,
        user_id: &str,
    ) -> Result<bool, StoreError> {
        let n = self
            .tx
            .execute(
                "DELETE FROM directory_memberships WHERE group_id = $1 AND user_id = $2",
                vec![
                    Arg::Text(group_id.to_owned()),
                    Arg::Text(user_id.to_owned()),
                ],
            )
            .await?;
        if n > 0 {
            self.touch(group_id, user_id).await?;
        }
        Ok(n > 0)
    }

    pub(super) fn membership_data(&self, user: &DirectoryUser, group: &DirectoryGroup) -> Value {
        json!({
            "directory_id": self.directory.id,
            "user": user.event_data(),
            "group": group.event_data(),
        })
    }
}
