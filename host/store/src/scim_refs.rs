//! The cross-references SCIM renders: a user's groups, a group's members,
//! and which of a set of user ids exist in a directory.

use std::collections::{HashMap, HashSet};

use sqlx::AssertSqlSafe;

use crate::backend::Store;
use crate::error::StoreError;
use crate::sql::{Arg, Sql};

/// Longest id list one query takes (the SQLite parameter limit is far above).
const CHUNK: usize = 500;

/// `(id, display)` of a referenced object.
pub type RefPair = (String, String);

impl Store {
    /// For each user id: the groups it belongs to, as `(group id, name)`.
    pub async fn scim_user_groups(
        &self,
        user_ids: &[String],
    ) -> Result<HashMap<String, Vec<RefPair>>, StoreError> {
        self.pairs(
            "SELECT m.user_id, g.id, g.name FROM directory_memberships m \
             JOIN directory_groups g ON g.id = m.group_id WHERE m.user_id IN (",
            ") ORDER BY g.id",
            user_ids,
        )
        .await
    }

    /// For each group id: its members, as `(user id, display)` where display
    /// is the label the SCIM client gave the member, else the username, else
    /// the email.
    pub async fn scim_group_members(
        &self,
        group_ids: &[String],
    ) -> Result<HashMap<String, Vec<RefPair>>, StoreError> {
        self.pairs(
            "SELECT m.group_id, u.id, COALESCE(m.display, u.username, u.email, u.idp_id) \
             FROM directory_memberships m \
             JOIN directory_users u ON u.id = m.user_id WHERE m.group_id IN (",
            ") ORDER BY u.id",
            group_ids,
        )
        .await
    }

    /// Which of `ids` are users of `directory_id`.
    pub async fn scim_existing_users(
        &self,
        directory_id: &str,
        ids: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let mut found = HashSet::new();
        for chunk in ids.chunks(CHUNK) {
            let mut sql =
                Sql::new("SELECT id FROM directory_users WHERE directory_id = $1 AND id IN (");
            sql.args.push(Arg::Text(directory_id.to_owned()));
            let ps: Vec<String> = chunk
                .iter()
                .map(|i| sql.arg(Arg::Text(i.clone())))
                .collect();
            sql.push(&ps.join(", "));
            sql.push(")");
            let rows: Vec<String> = on_read!(self, |pool| {
                bind_args!(sqlx::query_scalar(AssertSqlSafe(sql.text)), sql.args)
                    .fetch_all(pool)
                    .await?
            });
            found.extend(rows);
        }
        Ok(found)
    }

    async fn pairs(
        &self,
        head: &str,
        tail: &str,
        keys: &[String],
    ) -> Result<HashMap<String, Vec<RefPair>>, StoreError> {
        let mut out: HashMap<String, Vec<RefPair>> = HashMap::new();
        for chunk in keys.chunks(CHUNK) {
            let mut sql = Sql::new(head);
            let ps: Vec<String> = chunk
                .iter()
                .map(|i| sql.arg(Arg::Text(i.clone())))
                .collect();
            sql.push(&ps.join(", "));
            sql.push(tail);
            let rows: Vec<(String, String, String)> = on_read!(self, |pool| {
                bind_args!(sqlx::query_as(AssertSqlSafe(sql.text)), sql.args)
                    .fetch_all(pool)
                    .await?
            });
            for (key, id, display) in rows {
                out.entry(key).or_default().push((id, display));
            }
        }
        Ok(out)
    }
}
