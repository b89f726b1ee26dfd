//! Pull-sync reconciliation: one connector page at a time, compared with
//! what is stored by content hash, written with its events and the run's
//! new position in one transaction.
//!
//! The hot paths are set-based (a 100k-user first sync, a no-change
//! resync): one query finds which listed users exist and with which hash;
//! new users and new memberships are inserted with multi-row statements;
//! unchanged rows are only marked as seen in this full pass's generation.
//! Changed objects and removals go through the same [`Writer`] code as
//! every other change, so their events (`previous_attributes`, the
//! `user_removed` events of a deleted user) are identical.
//!
//! A full pass marks every user, group and membership it sees with the
//! run's generation; only after the pass is complete, `remove_unseen`
//! removes (or, by directory policy, deactivates) what carries an older
//! mark.

use std::collections::{HashMap, HashSet};

use rollcall_core::Timestamp;
use rollcall_core::directory::DirectoryState;
use rollcall_core::directory_group::{DirectoryGroup, GroupInput};
use rollcall_core::directory_user::{DirectoryUser, UserInput, UserState};
use rollcall_core::event::EventType;
use rollcall_core::ids::{IdKind, new_id};
use rollcall_core::sync_settings::RemovedUsersPolicy as RemovedUsers;
use sqlx::AssertSqlSafe;

use super::{Outcome, Ref, Writer};
use crate::backend::Store;
use crate::directories::fetch_in_tx;
use crate::error::StoreError;
use crate::events;
use crate::rows::{GROUP_COLUMNS, GroupRow, USER_COLUMNS, UserRow};
use crate::sql::{Arg, Sql};
use crate::sync_runs::{SyncRun, save_progress};

/// One incremental change, by provider ids.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncChange {
    UpsertUser(UserInput),
    DeleteUser(String),
    UpsertGroup(GroupInput),
    DeleteGroup(String),
    AddMember { group: String, user: String },
    RemoveMember { group: String, user: String },
}

/// One page from a connector.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncPage {
    Users(Vec<UserInput>),
    Groups(Vec<GroupInput>),
    Members {
        group_idp_id: String,
        user_idp_ids: Vec<String>,
    },
    Changes(Vec<SyncChange>),
    /// No data: only the run's new position (phase changes).
    Position,
}

/// Rows per multi-row statement (at most 17 arguments each).
const CHUNK: usize = 200;

impl Store {
    /// Writes pages and the run's position (already advanced by the
    /// caller past the last of them) in one transaction. Updates the run's
    /// counters. Fails without writing anything when the lease was lost.
    /// Several pages share a transaction (and, on SQLite, one fsync).
    pub async fn commit_sync_pages(
        &self,
        run: &mut SyncRun,
        owner: &str,
        pages: Vec<SyncPage>,
        removed: RemovedUsers,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let directory = fetch_in_tx(&mut tx, &run.directory_id).await?;
        if directory.state == DirectoryState::Deleting {
            return Err(StoreError::NotFound("directory"));
        }
        let mut writer = Writer {
            tx: &mut tx,
            directory: &directory,
            events: Vec::new(),
            now: Timestamp::now(),
        };
        // Consecutive members pages are reconciled as one batch.
        let mut members = Vec::new();
        for page in pages {
            if !matches!(page, SyncPage::Position) {
                run.pages += 1;
            }
            if let SyncPage::Members {
                group_idp_id,
                user_idp_ids,
            } = page
            {
                members.push((group_idp_id, user_idp_ids));
                continue;
            }
            writer
                .sync_members(run, std::mem::take(&mut members))
                .await?;
            match page {
                SyncPage::Users(users) => writer.sync_users(run, users).await?,
                SyncPage::Groups(groups) => writer.sync_groups(run, groups).await?,
                SyncPage::Changes(changes) => writer.sync_changes(run, changes, removed).await?,
                SyncPage::Members { .. } | SyncPage::Position => {}
            }
        }
        writer.sync_members(run, members).await?;
        let pending = std::mem::take(&mut writer.events);
        events::append_many(&mut tx, pending).await?;
        save_progress(&mut tx, run, owner).await?;
        tx.commit().await
    }

    /// Starts a full pass: a new generation for the directory's seen
    /// marks, stored with the run's position (`run` is advanced by the
    /// caller to the users phase).
    pub async fn begin_full_pass(&self, run: &mut SyncRun, owner: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let now = Timestamp::now().as_micros();
        let generation: i64 = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar(
                "INSERT INTO directory_sync (directory_id, generation, updated_at) \
                 VALUES ($1, 1, $2) ON CONFLICT (directory_id) DO UPDATE \
                 SET generation = directory_sync.generation + 1, updated_at = $2 \
                 RETURNING generation",
            )
            .bind(&run.directory_id)
            .bind(now)
            .fetch_one(&mut *conn)
            .await?
        });
        run.generation = Some(generation);
        save_progress(&mut tx, run, owner).await?;
        tx.commit().await
    }

    /// The next group seen in this full pass after `after` (idp-id order):
    /// the members phase walks them one by one.
    pub async fn next_member_group(
        &self,
        directory_id: &str,
        generation: i64,
        after: Option<&str>,
    ) -> Result<Option<String>, StoreError> {
        Ok(on_read!(self, |pool| {
            sqlx::query_scalar(
                "SELECT idp_id FROM directory_groups WHERE directory_id = $1 \
                 AND sync_generation = $2 AND idp_id > $3 ORDER BY idp_id LIMIT 1",
            )
            .bind(directory_id)
            .bind(generation)
            .bind(after.unwrap_or(""))
            .fetch_optional(pool)
            .await?
        }))
    }

    /// After a complete full pass: removes up to `batch` memberships, then
    /// groups, then users (delete or deactivate per `removed`) that this
    /// pass did not see, with their events and the run's counters, in one
    /// transaction. Answers `false` when nothing was left to remove.
    pub async fn remove_unseen(
        &self,
        run: &mut SyncRun,
        owner: &str,
        removed: RemovedUsers,
        batch: u32,
    ) -> Result<bool, StoreError> {
        let generation = run
            .generation
            .ok_or_else(|| StoreError::Internal("removal without a full pass".into()))?;
        let mut tx = self.begin().await?;
        let directory = fetch_in_tx(&mut tx, &run.directory_id).await?;
        let mut writer = Writer {
            tx: &mut tx,
            directory: &directory,
            events: Vec::new(),
            now: Timestamp::now(),
        };
        let did = writer
            .remove_unseen(run, generation, removed, i64::from(batch.max(1)))
            .await?;
        let pending = std::mem::take(&mut writer.events);
        events::append_many(&mut tx, pending).await?;
        save_progress(&mut tx, run, owner).await?;
        tx.commit().await?;
        Ok(did)
    }
}

/// A membership by (group id, user id).
type Pair = (String, String);

/// Appends `($a, $b), …` rows of (group id, user id) pairs.
fn push_pairs(sql: &mut Sql, pairs: &[(String, String)]) {
    for (i, (g, u)) in pairs.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        let row = sql.tuple([Arg::Text(g.clone()), Arg::Text(u.clone())]);
        sql.push(&row);
    }
}

fn note(run: &mut SyncRun, warning: String) {
    if run.warning.is_none() {
        run.warning = Some(warning);
    }
}

impl Writer<'_> {
    /// `(id, idp_id, content_hash)` of the listed users that exist.
    async fn user_hashes(
        &mut self,
        idp_ids: &[&str],
    ) -> Result<HashMap<String, (String, Vec<u8>)>, StoreError> {
        let mut out = HashMap::with_capacity(idp_ids.len());
        for chunk in idp_ids.chunks(500) {
            let mut sql = Sql::new("SELECT id, idp_id, content_hash FROM directory_users WHERE ");
            let d = sql.arg(Arg::Text(self.directory.id.clone()));
            let list = sql.tuple(chunk.iter().map(|s| Arg::Text((*s).to_owned())));
            sql.push(&format!("directory_id = {d} AND idp_id IN {list}"));
            let text = self.tx.text(&sql);
            let rows: Vec<(String, String, Vec<u8>)> = on_tx!(&mut *self.tx, |conn| {
                bind_args!(sqlx::query_as(AssertSqlSafe(text)), sql.args)
                    .fetch_all(&mut *conn)
                    .await?
            });
            for (id, idp, hash) in rows {
                out.insert(idp, (id, hash));
            }
        }
        Ok(out)
    }

    /// Which of these username keys are taken, and by which user id.
    async fn username_owners(
        &mut self,
        keys: &[String],
    ) -> Result<HashMap<String, String>, StoreError> {
        let mut out = HashMap::new();
        for chunk in keys.chunks(500) {
            let mut sql = Sql::new("SELECT username_key, id FROM directory_users WHERE ");
            let d = sql.arg(Arg::Text(self.directory.id.clone()));
            let list = sql.tuple(chunk.iter().map(|s| Arg::Text(s.clone())));
            sql.push(&format!("directory_id = {d} AND username_key IN {list}"));
            let text = self.tx.text(&sql);
            let rows: Vec<(String, String)> = on_tx!(&mut *self.tx, |conn| {
                bind_args!(sqlx::query_as(AssertSqlSafe(text)), sql.args)
                    .fetch_all(&mut *conn)
                    .await?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    /// Marks rows of `table` with ids `ids` as seen in `generation`.
    async fn mark_seen(
        &mut self,
        table: &str,
        ids: &[String],
        generation: Option<i64>,
    ) -> Result<(), StoreError> {
        let Some(generation) = generation else {
            return Ok(());
        };
        for chunk in ids.chunks(500) {
            let mut sql = Sql::new(&format!("UPDATE {table} SET sync_generation = "));
            let g = sql.arg(Arg::Int(generation));
            sql.push(&g);
            let list = sql.tuple(chunk.iter().map(|s| Arg::Text(s.clone())));
            sql.push(&format!(" WHERE id IN {list}"));
            let text = self.tx.text(&sql);
            on_tx!(&mut *self.tx, |conn| {
                bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args)
                    .execute(&mut *conn)
                    .await?;
            });
        }
        Ok(())
    }

    async fn sync_users(
        &mut self,
        run: &mut SyncRun,
        users: Vec<UserInput>,
    ) -> Result<(), StoreError> {
        // Normalize; the last copy of a repeated idp_id wins.
        let mut order: Vec<String> = Vec::with_capacity(users.len());
        let mut inputs: HashMap<String, UserInput> = HashMap::with_capacity(users.len());
        for user in users {
            match user.normalized() {
                Ok(u) => {
                    if !inputs.contains_key(&u.idp_id) {
                        order.push(u.idp_id.clone());
                    }
                    inputs.insert(u.idp_id.clone(), u);
                }
                Err(e) => {
                    run.counts.users_skipped += 1;
                    note(run, format!("a user was skipped: {e}"));
                }
            }
        }
        let idps: Vec<&str> = order.iter().map(String::as_str).collect();
        let existing = self.user_hashes(&idps).await?;
        let keys: Vec<(String, Option<String>)> = order
            .iter()
            .map(|idp| (idp.clone(), inputs[idp].lookup_keys().username_key))
            .collect();
        // Unchanged users keep their username: only the others are checked.
        let hashes: HashMap<String, [u8; 32]> = order
            .iter()
            .map(|idp| (idp.clone(), inputs[idp].content_hash()))
            .collect();
        let unchanged = |idp: &str| {
            existing
                .get(idp)
                .is_some_and(|(_, h)| h.as_slice() == hashes[idp].as_slice())
        };
        let wanted_keys: Vec<String> = keys
            .iter()
            .filter(|(idp, _)| !unchanged(idp))
            .filter_map(|(_, k)| k.clone())
            .collect();
        let owners = self.username_owners(&wanted_keys).await?;
        let mut claimed: HashSet<String> = HashSet::new();
        let mut seen_ids = Vec::with_capacity(order.len());
        let mut new_users = Vec::new();
        for (idp, key) in keys {
            let Some(input) = inputs.remove(&idp) else {
                continue;
            };
            let current = existing.get(&idp);
            if unchanged(&idp) {
                run.counts.users_unchanged += 1;
                if let Some(key) = key {
                    claimed.insert(key);
                }
                seen_ids.push(current.map(|(id, _)| id.clone()).unwrap_or_default());
                continue;
            }
            if let Some(key) = &key {
                let owner = owners.get(key);
                let taken_by_other = owner.is_some_and(|o| current.is_none_or(|(id, _)| id != o));
                if taken_by_other || !claimed.insert(key.clone()) {
                    run.counts.users_skipped += 1;
                    note(
                        run,
                        format!(
                            "user {idp} was skipped: its username is already taken in this directory"
                        ),
                    );
                    if let Some((id, _)) = current {
                        seen_ids.push(id.clone());
                    }
                    continue;
                }
            }
            match current {
                Some((id, hash)) if hash.as_slice() == input.content_hash().as_slice() => {
                    run.counts.users_unchanged += 1;
                    seen_ids.push(id.clone());
                }
                Some((id, _)) => {
                    let row = self.find_user(&Ref::Id(id.clone())).await?;
                    self.save_user(row, None, input).await?;
                    run.counts.users_updated += 1;
                    seen_ids.push(id.clone());
                }
                None => new_users.push(input),
            }
        }
        for chunk in new_users.chunks(CHUNK) {
            let created = self.insert_users(chunk, run.generation).await?;
            run.counts.users_created += created.len() as u64;
            for user in created {
                self.emit(EventType::UserCreated, user.event_data());
            }
        }
        self.mark_seen("directory_users", &seen_ids, run.generation)
            .await
    }

    /// Inserts new users with one statement (and their email keys with
    /// another); answers them as stored, in input order.
    async fn insert_users(
        &mut self,
        users: &[UserInput],
        generation: Option<i64>,
    ) -> Result<Vec<DirectoryUser>, StoreError> {
        let now = self.now.as_micros();
        let mut sql = Sql::new(
            "INSERT INTO directory_users (id, directory_id, organization_id, idp_id, email, \
             first_name, last_name, username, state, roles, custom_attributes, raw_attributes, \
             content_hash, version, created_at, updated_at, username_key, external_id, \
             sync_generation) VALUES ",
        );
        let mut emails = Vec::new();
        for (i, input) in users.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            let id = new_id(IdKind::DirectoryUser);
            let keys = input.lookup_keys();
            for email in keys.emails {
                emails.push((id.clone(), email));
            }
            let row = sql.tuple([
                Arg::Text(id),
                Arg::Text(self.directory.id.clone()),
                Arg::Text(self.directory.organization_id.clone()),
                Arg::Text(input.idp_id.clone()),
                Arg::OptText(input.email.clone()),
                Arg::OptText(input.first_name.clone()),
                Arg::OptText(input.last_name.clone()),
                Arg::OptText(input.username.clone()),
                Arg::Text(input.state.as_str().to_owned()),
                Arg::Json(serde_json::to_value(&input.roles).unwrap_or_default()),
                Arg::Json(serde_json::Value::Object(input.custom_attributes.clone())),
                Arg::Json(serde_json::Value::Object(input.raw_attributes.clone())),
                Arg::Blob(input.content_hash().to_vec()),
                Arg::Int(1),
                Arg::Int(now),
                Arg::Int(now),
                Arg::OptText(keys.username_key),
                Arg::OptText(keys.external_id),
                Arg::OptInt(generation),
            ]);
            sql.push(&row);
        }
        sql.push(&format!(" RETURNING {USER_COLUMNS}"));
        let text = self.tx.text(&sql);
        let rows: Vec<UserRow> = on_tx!(&mut *self.tx, |conn| {
            bind_args!(sqlx::query_as(AssertSqlSafe(text)), sql.args)
                .fetch_all(&mut *conn)
                .await?
        });
        for chunk in emails.chunks(300) {
            let mut sql = Sql::new(
                "INSERT INTO directory_user_emails (user_id, directory_id, email_key) VALUES ",
            );
            for (i, (user, email)) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                let row = sql.tuple([
                    Arg::Text(user.clone()),
                    Arg::Text(self.directory.id.clone()),
                    Arg::Text(email.clone()),
                ]);
                sql.push(&row);
            }
            sql.push(" ON CONFLICT DO NOTHING");
            let text = self.tx.text(&sql);
            on_tx!(&mut *self.tx, |conn| {
                bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args)
                    .execute(&mut *conn)
                    .await?;
            });
        }
        let mut by_idp: HashMap<String, DirectoryUser> = HashMap::with_capacity(rows.len());
        for row in rows {
            let user = DirectoryUser::try_from(row)?;
            by_idp.insert(user.idp_id.clone(), user);
        }
        Ok(users
            .iter()
            .filter_map(|u| by_idp.remove(&u.idp_id))
            .collect())
    }

    async fn sync_groups(
        &mut self,
        run: &mut SyncRun,
        groups: Vec<GroupInput>,
    ) -> Result<(), StoreError> {
        let mut seen = Vec::with_capacity(groups.len());
        let mut done: HashSet<String> = HashSet::new();
        for group in groups {
            let group = match group.normalized() {
                Ok(g) => g,
                Err(e) => {
                    note(run, format!("a group was skipped: {e}"));
                    continue;
                }
            };
            if !done.insert(group.idp_id.clone()) {
                continue;
            }
            let existing = self.find_group(&Ref::IdpId(group.idp_id.clone())).await?;
            match self.save_group(existing, None, group).await? {
                Outcome::GroupCreated(g) => {
                    run.counts.groups_created += 1;
                    seen.push(g.id);
                }
                Outcome::GroupUpdated(g) => {
                    run.counts.groups_updated += 1;
                    seen.push(g.id);
                }
                Outcome::GroupUnchanged(g) => {
                    run.counts.groups_unchanged += 1;
                    seen.push(g.id);
                }
                _ => {}
            }
        }
        self.mark_seen("directory_groups", &seen, run.generation)
            .await
    }

    /// Members pages of one or more groups, reconciled together: a few
    /// set-based statements per batch instead of several per page.
    async fn sync_members(
        &mut self,
        run: &mut SyncRun,
        pages: Vec<(String, Vec<String>)>,
    ) -> Result<(), StoreError> {
        if pages.is_empty() {
            return Ok(());
        }
        // The groups, by provider id.
        let mut group_idps: Vec<&str> = pages.iter().map(|(g, _)| g.as_str()).collect();
        group_idps.sort_unstable();
        group_idps.dedup();
        let mut groups: HashMap<String, DirectoryGroup> = HashMap::new();
        for chunk in group_idps.chunks(500) {
            let mut sql = Sql::new(&format!(
                "SELECT {GROUP_COLUMNS} FROM directory_groups WHERE "
            ));
            let d = sql.arg(Arg::Text(self.directory.id.clone()));
            let list = sql.tuple(chunk.iter().map(|s| Arg::Text((*s).to_owned())));
            sql.push(&format!("directory_id = {d} AND idp_id IN {list}"));
            let text = self.tx.text(&sql);
            let rows: Vec<GroupRow> = on_tx!(&mut *self.tx, |conn| {
                bind_args!(sqlx::query_as(AssertSqlSafe(text)), sql.args)
                    .fetch_all(&mut *conn)
                    .await?
            });
            for row in rows {
                let group = DirectoryGroup::from(row);
                groups.insert(group.idp_id.clone(), group);
            }
        }
        // The users, by provider id.
        let mut user_idps: Vec<&str> = pages
            .iter()
            .flat_map(|(_, users)| users.iter().map(String::as_str))
            .collect();
        user_idps.sort_unstable();
        user_idps.dedup();
        let users = self.user_hashes(&user_idps).await?;
        // Wanted (group id, user id) pairs, in page order, without repeats.
        let mut wanted: Vec<(String, String)> = Vec::new();
        let mut seen_pairs: HashSet<(String, String)> = HashSet::new();
        for (group_idp, members) in &pages {
            let Some(group) = groups.get(group_idp) else {
                // The group vanished since it was listed.
                run.counts.members_skipped += members.len() as u64;
                continue;
            };
            for idp in members {
                match users.get(idp) {
                    Some((user_id, _)) => {
                        let pair = (group.id.clone(), user_id.clone());
                        if seen_pairs.insert(pair.clone()) {
                            wanted.push(pair);
                        }
                    }
                    None => run.counts.members_skipped += 1,
                }
            }
        }
        // Which pairs exist already.
        let mut existing: HashSet<(String, String)> = HashSet::new();
        for chunk in wanted.chunks(250) {
            let mut sql = Sql::new(
                "SELECT group_id, user_id FROM directory_memberships WHERE (group_id, user_id) IN (VALUES ",
            );
            push_pairs(&mut sql, chunk);
            sql.push(")");
            let text = self.tx.text(&sql);
            let rows: Vec<(String, String)> = on_tx!(&mut *self.tx, |conn| {
                bind_args!(sqlx::query_as(AssertSqlSafe(text)), sql.args)
                    .fetch_all(&mut *conn)
                    .await?
            });
            existing.extend(rows);
        }
        let (kept, added): (Vec<Pair>, Vec<Pair>) =
            wanted.into_iter().partition(|p| existing.contains(p));
        run.counts.members_unchanged += kept.len() as u64;
        if let Some(generation) = run.generation {
            for chunk in kept.chunks(250) {
                let mut sql = Sql::new("UPDATE directory_memberships SET sync_generation = ");
                let g = sql.arg(Arg::Int(generation));
                sql.push(&g);
                sql.push(" WHERE (group_id, user_id) IN (VALUES ");
                push_pairs(&mut sql, chunk);
                sql.push(")");
                let text = self.tx.text(&sql);
                on_tx!(&mut *self.tx, |conn| {
                    bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args)
                        .execute(&mut *conn)
                        .await?;
                });
            }
        }
        if added.is_empty() {
            return Ok(());
        }
        let now = self.now.as_micros();
        for chunk in added.chunks(CHUNK) {
            let mut sql = Sql::new(
                "INSERT INTO directory_memberships (group_id, user_id, directory_id, created_at, \
                 sync_generation) VALUES ",
            );
            for (i, (g, u)) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                let row = sql.tuple([
                    Arg::Text(g.clone()),
                    Arg::Text(u.clone()),
                    Arg::Text(self.directory.id.clone()),
                    Arg::Int(now),
                    Arg::OptInt(run.generation),
                ]);
                sql.push(&row);
            }
            let text = self.tx.text(&sql);
            on_tx!(&mut *self.tx, |conn| {
                bind_args!(sqlx::query(AssertSqlSafe(text)), sql.args)
                    .execute(&mut *conn)
                    .await?;
            });
        }
        run.counts.members_added += added.len() as u64;
        // A membership change is a change of the user (its groups) and of
        // the group (its members): bump their versions once per batch so
        // ETags see it, and describe each membership with them.
        let mut user_ids: Vec<&str> = added.iter().map(|(_, u)| u.as_str()).collect();
        user_ids.sort_unstable();
        user_ids.dedup();
        let mut touched_users: HashMap<String, DirectoryUser> = HashMap::new();
        for chunk in user_ids.chunks(500) {
            for row in self
                .bump_versions::<UserRow>("directory_users", USER_COLUMNS, chunk, now)
                .await?
            {
                let user = DirectoryUser::try_from(row)?;
                touched_users.insert(user.id.clone(), user);
            }
        }
        let mut group_ids: Vec<&str> = added.iter().map(|(g, _)| g.as_str()).collect();
        group_ids.sort_unstable();
        group_ids.dedup();
        let mut touched_groups: HashMap<String, DirectoryGroup> = HashMap::new();
        for chunk in group_ids.chunks(500) {
            for row in self
                .bump_versions::<GroupRow>("directory_groups", GROUP_COLUMNS, chunk, now)
                .await?
            {
                let group = DirectoryGroup::from(row);
                touched_groups.insert(group.id.clone(), group);
            }
        }
        for (g, u) in &added {
            if let (Some(user), Some(group)) = (touched_users.get(u), touched_groups.get(g)) {
                let data = self.membership_data(user, group);
                self.emit(EventType::GroupUserAdded, data);
            }
        }
        Ok(())
    }

    /// `version + 1` and `updated_at` for these rows of `table`; answers
    /// them as stored.
    async fn bump_versions<R>(
        &mut self,
        table: &str,
        columns: &str,
        ids: &[&str],
        now: i64,
    ) -> Result<Vec<R>, StoreError>
    where
        R: Send
            + Unpin
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        let mut sql = Sql::new(&format!(
            "UPDATE {table} SET version = version + 1, updated_at = "
        ));
        let n = sql.arg(Arg::Int(now));
        sql.push(&n);
        let list = sql.tuple(ids.iter().map(|s| Arg::Text((*s).to_owned())));
        sql.push(&format!(" WHERE id IN {list} RETURNING {columns}"));
        let text = self.tx.text(&sql);
        Ok(on_tx!(&mut *self.tx, |conn| {
            bind_args!(sqlx::query_as(AssertSqlSafe(text)), sql.args)
                .fetch_all(&mut *conn)
                .await?
        }))
    }

    async fn sync_changes(
        &mut self,
        run: &mut SyncRun,
        changes: Vec<SyncChange>,
        removed: RemovedUsers,
    ) -> Result<(), StoreError> {
        for change in changes {
            match change {
                SyncChange::UpsertUser(input) => {
                    let input = match input.normalized() {
                        Ok(i) => i,
                        Err(e) => {
                            run.counts.users_skipped += 1;
                            note(run, format!("a user was skipped: {e}"));
                            continue;
                        }
                    };
                    let existing = self.find_user(&Ref::IdpId(input.idp_id.clone())).await?;
                    if let Some(key) = input.lookup_keys().username_key {
                        let owners = self.username_owners(std::slice::from_ref(&key)).await?;
                        if owners
                            .get(&key)
                            .is_some_and(|o| existing.as_ref().is_none_or(|e| &e.id != o))
                        {
                            run.counts.users_skipped += 1;
                            note(
                                run,
                                format!(
                                    "user {} was skipped: its username is already taken in this directory",
                                    input.idp_id
                                ),
                            );
                            continue;
                        }
                    }
                    match self.save_user(existing, None, input).await? {
                        Outcome::UserCreated(_) => run.counts.users_created += 1,
                        Outcome::UserUpdated(_) => run.counts.users_updated += 1,
                        _ => run.counts.users_unchanged += 1,
                    }
                }
                SyncChange::DeleteUser(idp) => {
                    self.remove_user(run, &Ref::IdpId(idp), removed).await?;
                }
                SyncChange::UpsertGroup(input) => {
                    let input = match input.normalized() {
                        Ok(i) => i,
                        Err(e) => {
                            note(run, format!("a group was skipped: {e}"));
                            continue;
                        }
                    };
                    let existing = self.find_group(&Ref::IdpId(input.idp_id.clone())).await?;
                    match self.save_group(existing, None, input).await? {
                        Outcome::GroupCreated(_) => run.counts.groups_created += 1,
                        Outcome::GroupUpdated(_) => run.counts.groups_updated += 1,
                        _ => run.counts.groups_unchanged += 1,
                    }
                }
                SyncChange::DeleteGroup(idp) => {
                    let group = Ref::IdpId(idp);
                    if self.find_group(&group).await?.is_some() {
                        self.delete_group(&group).await?;
                        run.counts.groups_deleted += 1;
                    }
                }
                SyncChange::AddMember { group, user } => {
                    self.change_member(run, group, user, true).await?;
                }
                SyncChange::RemoveMember { group, user } => {
                    self.change_member(run, group, user, false).await?;
                }
            }
        }
        Ok(())
    }

    async fn change_member(
        &mut self,
        run: &mut SyncRun,
        group: String,
        user: String,
        add: bool,
    ) -> Result<(), StoreError> {
        let group = Ref::IdpId(group);
        let user = Ref::IdpId(user);
        if self.find_group(&group).await?.is_none() || self.find_user(&user).await?.is_none() {
            run.counts.members_skipped += 1;
            return Ok(());
        }
        match self.membership(&group, &user, add).await? {
            Outcome::MemberAdded => run.counts.members_added += 1,
            Outcome::MemberRemoved => run.counts.members_removed += 1,
            _ => run.counts.members_unchanged += 1,
        }
        Ok(())
    }

    /// Deletes or deactivates one user; `false` when it does not exist.
    async fn remove_user(
        &mut self,
        run: &mut SyncRun,
        user: &Ref,
        removed: RemovedUsers,
    ) -> Result<bool, StoreError> {
        let Some(row) = self.find_user(user).await? else {
            return Ok(false);
        };
        match removed {
            RemovedUsers::Delete => {
                self.delete_user(&Ref::Id(row.id.clone())).await?;
                run.counts.users_deleted += 1;
            }
            RemovedUsers::Deactivate => {
                let current = DirectoryUser::try_from(row)?;
                if current.state != UserState::Inactive {
                    let input = UserInput {
                        idp_id: current.idp_id.clone(),
                        email: current.email.clone(),
                        first_name: current.first_name.clone(),
                        last_name: current.last_name.clone(),
                        username: current.username.clone(),
                        state: UserState::Inactive,
                        roles: current.roles.iter().map(|r| r.slug.clone()).collect(),
                        custom_attributes: current.custom_attributes.clone(),
                        raw_attributes: current.raw_attributes.clone(),
                    };
                    let row = self.find_user(&Ref::Id(current.id.clone())).await?;
                    self.save_user(row, None, input).await?;
                    run.counts.users_updated += 1;
                }
            }
        }
        Ok(true)
    }

    async fn remove_unseen(
        &mut self,
        run: &mut SyncRun,
        generation: i64,
        removed: RemovedUsers,
        batch: i64,
    ) -> Result<bool, StoreError> {
        let memberships: Vec<(String, String)> = on_tx!(&mut *self.tx, |conn| {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT m.group_id, m.user_id FROM directory_groups g \
                 JOIN directory_memberships m ON m.group_id = g.id \
                 WHERE g.directory_id = $1 AND (m.sync_generation IS NULL OR m.sync_generation < $2) \
                 LIMIT {batch}"
            )))
            .bind(&self.directory.id)
            .bind(generation)
            .fetch_all(&mut *conn)
            .await?
        });
        if !memberships.is_empty() {
            for (group, user) in memberships {
                if let Outcome::MemberRemoved = self
                    .membership(&Ref::Id(group), &Ref::Id(user), false)
                    .await?
                {
                    run.counts.members_removed += 1;
                }
            }
            return Ok(true);
        }
        let groups: Vec<GroupRow> = on_tx!(&mut *self.tx, |conn| {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {GROUP_COLUMNS} FROM directory_groups WHERE directory_id = $1 \
                 AND (sync_generation IS NULL OR sync_generation < $2) LIMIT {batch}"
            )))
            .bind(&self.directory.id)
            .bind(generation)
            .fetch_all(&mut *conn)
            .await?
        });
        if !groups.is_empty() {
            for group in groups {
                self.delete_group(&Ref::Id(group.id)).await?;
                run.counts.groups_deleted += 1;
            }
            return Ok(true);
        }
        let only_active = match removed {
            RemovedUsers::Delete => "",
            RemovedUsers::Deactivate => " AND state = 'active'",
        };
        let users: Vec<String> = on_tx!(&mut *self.tx, |conn| {
            sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT id FROM directory_users WHERE directory_id = $1 \
                 AND (sync_generation IS NULL OR sync_generation < $2){only_active} LIMIT {batch}"
            )))
            .bind(&self.directory.id)
            .bind(generation)
            .fetch_all(&mut *conn)
            .await?
        });
        if users.is_empty() {
            return Ok(false);
        }
        for id in users {
            self.remove_user(run, &Ref::Id(id), removed).await?;
        }
        Ok(true)
    }
}
