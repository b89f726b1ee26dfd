//! Writing groups: create, update (with `previous_attributes`), delete.

use super::{Outcome, Ref, Writer, json_arg};
use crate::error::StoreError;
use crate::rows::{GROUP_COLUMNS, GroupRow};
use crate::sql::Arg;
use rollcall_core::directory_group::{DirectoryGroup, GroupInput};
use rollcall_core::event::EventType;
use rollcall_core::ids::{IdKind, new_id};
use serde_json::Value;

impl Writer<'_> {
    pub(super) async fn save_group(
        &mut self,
        existing: Option<GroupRow>,
        id: Option<String>,
        input: GroupInput,
    ) -> Result<Outcome, StoreError> {
        let hash = input.content_hash();
        let existing = match existing {
            Some(old) if old.content_hash == hash => {
                return Ok(Outcome::GroupUnchanged(DirectoryGroup::from(old)));
            }
            other => other,
        };
        // Written by both an insert and an update, in this order: idp_id,
        // name, raw_attributes, content_hash, the time, name_key, external_id.
        let (name_key, external_id) = input.lookup_keys();
        let written = [
            Arg::Text(input.idp_id.clone()),
            Arg::Text(input.name.clone()),
            json_arg(&input.raw_attributes)?,
            Arg::Blob(hash.to_vec()),
            Arg::Int(self.now.as_micros()),
            Arg::Text(name_key),
            Arg::OptText(external_id),
        ];
        match existing {
            Some(old) => {
                let before = DirectoryGroup::from(old);
                let sql = format!(
                    "UPDATE directory_groups SET idp_id = $2, name = $3, raw_attributes = $4, \
                     content_hash = $5, version = version + 1, updated_at = $6, name_key = $7, \
                     external_id = $8 WHERE id = $1 RETURNING {GROUP_COLUMNS}"
                );
                let mut args = vec![Arg::Text(before.id.clone())];
                args.extend(written);
                let row: GroupRow = self.tx.fetch_one(&sql, args).await?;
                let after = DirectoryGroup::from(row);
                let mut data = after.event_data();
                let previous =
                    rollcall_core::diff::previous_attributes(&before.event_data(), &data);
                if let Value::Object(map) = &mut data {
                    map.insert("previous_attributes".into(), Value::Object(previous));
                }
                self.emit(EventType::GroupUpdated, data);
                Ok(Outcome::GroupUpdated(after))
            }
            None => {
                let sql = format!(
                    "INSERT INTO directory_groups (id, directory_id, organization_id, idp_id, name, \
                     raw_attributes, content_hash, version, created_at, updated_at, name_key, \
                     external_id) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8, $9, $10) \
                     RETURNING {GROUP_COLUMNS}"
                );
                let mut args = vec![
                    Arg::Text(id.unwrap_or_else(|| new_id(IdKind::DirectoryGroup))),
                    self.dir_arg(),
                    Arg::Text(self.directory.organization_id.clone()),
                ];
                args.extend(written);
                let row: GroupRow = self.tx.fetch_one(&sql, args).await?;
                let group = DirectoryGroup::from(row);
                self.emit(EventType::GroupCreated, group.event_data());
                Ok(Outcome::GroupCreated(group))
            }
        }
    }

    pub(super) async fn delete_group(&mut self, group: &Ref) -> Result<Outcome, StoreError> {
        let row = self
            .find_group(group)
            .await?
            .ok_or(StoreError::NotFound("group"))?;
        let group = DirectoryGroup::from(row);
        for statement in [
            "DELETE FROM directory_memberships WHERE group_id = $1",
            "DELETE FROM directory_groups WHERE id = $1",
        ] {
            self.tx
                .execute(statement, vec![Arg::Text(group.id.clone())])
                .await?;
        }
        self.emit(EventType::GroupDeleted, group.event_data());
        Ok(Outcome::GroupDeleted(group))
    }
}
