//! Writing users: create, update (with `previous_attributes`), delete, and
//! keeping their lookup keys (username, externalId, emails) current.

use super::{Outcome, Ref, Writer, json_arg};
use crate::error::StoreError;
use crate::rows::{GROUP_COLUMNS, GroupRow, USER_COLUMNS, UserRow, qualified};
use crate::sql::Arg;
use rollcall_core::directory_group::DirectoryGroup;
use rollcall_core::directory_user::{DirectoryUser, UserInput};
use rollcall_core::event::EventType;
use rollcall_core::ids::{IdKind, new_id};
use serde_json::Value;

impl Writer<'_> {
    /// Creates (`existing` = None) or updates a user; unchanged content
    /// writes nothing.
    pub(super) async fn save_user(
        &mut self,
        existing: Option<UserRow>,
        id: Option<String>,
        input: UserInput,
    ) -> Result<Outcome, StoreError> {
        let hash = input.content_hash();
        match existing {
            Some(old) if old.content_hash == hash => {
                Ok(Outcome::UserUnchanged(DirectoryUser::try_from(old)?))
            }
            Some(old) => {
                let before = DirectoryUser::try_from(old)?;
                let row = self.update_user_row(&before.id, &input, &hash).await?;
                let after = DirectoryUser::try_from(row)?;
                self.write_emails(&after.id, &input, true).await?;
                let mut data = after.event_data();
                let previous =
                    rollcall_core::diff::previous_attributes(&before.event_data(), &data);
                if let Value::Object(map) = &mut data {
                    map.insert("previous_attributes".into(), Value::Object(previous));
                }
                self.emit(EventType::UserUpdated, data);
                Ok(Outcome::UserUpdated(after))
            }
            None => {
                let id = id.unwrap_or_else(|| new_id(IdKind::DirectoryUser));
                let row = self.insert_user_row(&id, &input, &hash).await?;
                let user = DirectoryUser::try_from(row)?;
                self.write_emails(&user.id, &input, false).await?;
                self.emit(EventType::UserCreated, user.event_data());
                Ok(Outcome::UserCreated(user))
            }
        }
    }

    async fn insert_user_row(
        &mut self,
        id: &str,
        input: &UserInput,
        hash: &[u8; 32],
    ) -> Result<UserRow, StoreError> {
        let sql = format!(
            "INSERT INTO directory_users (id, directory_id, organization_id, idp_id, email, \
             first_name, last_name, username, state, roles, custom_attributes, raw_attributes, \
             content_hash, version, created_at, updated_at, username_key, external_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $14, $15, $16) \
             RETURNING {USER_COLUMNS}"
        );
        let mut args = vec![
            Arg::Text(id.to_owned()),
            self.dir_arg(),
            Arg::Text(self.directory.organization_id.clone()),
        ];
        self.push_user_args(&mut args, input, hash)?;
        self.tx.fetch_one(&sql, args).await
    }

    async fn update_user_row(
        &mut self,
        id: &str,
        input: &UserInput,
        hash: &[u8; 32],
    ) -> Result<UserRow, StoreError> {
        let sql = format!(
            "UPDATE directory_users SET idp_id = $2, email = $3, first_name = $4, \
             last_name = $5, username = $6, state = $7, roles = $8, custom_attributes = $9, \
             raw_attributes = $10, content_hash = $11, version = version + 1, updated_at = $12, \
             username_key = $13, external_id = $14 WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        let mut args = vec![Arg::Text(id.to_owned())];
        self.push_user_args(&mut args, input, hash)?;
        self.tx.fetch_one(&sql, args).await
    }

    /// The columns an insert and an update both write, in this order:
    /// idp_id, email, first_name, last_name, username, state, roles,
    /// custom_attributes, raw_attributes, content_hash, the time,
    /// username_key, external_id.
    fn push_user_args(
        &self,
        args: &mut Vec<Arg>,
        input: &UserInput,
        hash: &[u8; 32],
    ) -> Result<(), StoreError> {
        let keys = input.lookup_keys();
        args.extend([
            Arg::Text(input.idp_id.clone()),
            Arg::OptText(input.email.clone()),
            Arg::OptText(input.first_name.clone()),
            Arg::OptText(input.last_name.clone()),
            Arg::OptText(input.username.clone()),
            Arg::Text(input.state.as_str().to_owned()),
            json_arg(&input.roles)?,
            json_arg(&input.custom_attributes)?,
            json_arg(&input.raw_attributes)?,
            Arg::Blob(hash.to_vec()),
            Arg::Int(self.now.as_micros()),
            Arg::OptText(keys.username_key),
            Arg::OptText(keys.external_id),
        ]);
        Ok(())
    }

    /// Writes the user's email lookup rows, replacing older ones when
    /// `replace` (a new user has none).
    async fn write_emails(
        &mut self,
        user_id: &str,
        input: &UserInput,
        replace: bool,
    ) -> Result<(), StoreError> {
        let emails = input.lookup_keys().emails;
        if replace {
            self.tx
                .execute(
                    "DELETE FROM directory_user_emails WHERE user_id = $1",
                    vec![Arg::Text(user_id.to_owned())],
                )
                .await?;
        }
        for email in emails {
            let args = vec![
                Arg::Text(user_id.to_owned()),
                self.dir_arg(),
                Arg::Text(email),
            ];
            self.tx
                .execute(
                    "INSERT INTO directory_user_emails (user_id, directory_id, email_key) \
                     VALUES ($1, $2, $3)",
                    args,
                )
                .await?;
        }
        Ok(())
    }

    pub(super) async fn delete_user(&mut self, user: &Ref) -> Result<Outcome, StoreError> {
        let row = self
            .find_user(user)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        let user = DirectoryUser::try_from(row)?;
        let sql = format!(
            "SELECT {} FROM directory_groups g JOIN directory_memberships m ON m.group_id = g.id \
             WHERE m.user_id = $1 ORDER BY g.id",
            qualified(GROUP_COLUMNS, "g")
        );
        let groups: Vec<GroupRow> = self
            .tx
            .fetch_all(&sql, vec![Arg::Text(user.id.clone())])
            .await?;
        for group in groups {
            let group = DirectoryGroup::from(group);
            let data = self.membership_data(&user, &group);
            self.emit(EventType::GroupUserRemoved, data);
        }
        for statement in [
            "DELETE FROM directory_memberships WHERE user_id = $1",
            "DELETE FROM directory_user_emails WHERE user_id = $1",
            "DELETE FROM directory_users WHERE id = $1",
        ] {
            self.tx
                .execute(statement, vec![Arg::Text(user.id.clone())])
                .await?;
        }
        self.emit(EventType::UserDeleted, user.event_data());
        Ok(Outcome::UserDeleted(user))
    }
}
