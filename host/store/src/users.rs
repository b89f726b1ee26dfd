//! Reading directory users: by id (with groups) and as cursor pages.

use std::collections::HashMap;

use rollcall_core::directory_group::DirectoryGroup;
use rollcall_core::directory_user::{DirectoryUser, UserState};
use sqlx::AssertSqlSafe;

use crate::backend::Store;
use crate::error::StoreError;
use crate::page::{Page, PageRequest};
use crate::rows::{GROUP_COLUMNS, GroupRow, USER_COLUMNS, UserRow, qualified};
use crate::sql::{Arg, Sql};

/// Filters for listing users. At least one of `directory_id` / `group_id`
/// is expected by the API; `organization_id` confines a scoped caller.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub directory_id: Option<String>,
    pub group_id: Option<String>,
    pub state: Option<UserState>,
    pub organization_id: Option<String>,
}

impl Store {
    /// One user with the groups it belongs to.
    pub async fn get_user(&self, id: &str) -> Result<Option<DirectoryUser>, StoreError> {
        let row: Option<UserRow> = on_read!(self, |pool| {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {USER_COLUMNS} FROM directory_users WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        let Some(row) = row else { return Ok(None) };
        let mut user = DirectoryUser::try_from(row)?;
        let mut groups = self.groups_of_users(&[user.id.clone()]).await?;
        user.groups = Some(groups.remove(&user.id).unwrap_or_default());
        Ok(Some(user))
    }

    /// A page of users, each with its groups (one extra query per page).
    pub async fn list_users(
        &self,
        filter: &UserFilter,
        page: &PageRequest,
    ) -> Result<Page<DirectoryUser>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {} FROM directory_users u",
            qualified(USER_COLUMNS, "u")
        ));
        if let Some(group) = &filter.group_id {
            let p = sql.arg(Arg::Text(group.clone()));
            sql.push(&format!(
                " JOIN directory_memberships m ON m.user_id = u.id AND m.group_id = {p}"
            ));
        }
        sql.push(" WHERE 1=1");
        if let Some(dir) = &filter.directory_id {
            sql.and("u.directory_id", "=", Arg::Text(dir.clone()));
        }
        if let Some(state) = filter.state {
            sql.and("u.state", "=", Arg::Text(state.as_str().to_owned()));
        }
        if let Some(org) = &filter.organization_id {
            sql.and("u.organization_id", "=", Arg::Text(org.clone()));
        }
        page.apply(&mut sql, "u.id");
        let rows: Vec<UserRow> = on_read!(self, |pool| {
            bind_args!(sqlx::query_as(AssertSqlSafe(sql.text)), sql.args)
                .fetch_all(pool)
                .await?
        });
        let page = page.finish(rows, |r| &r.id);
        let ids: Vec<String> = page.data.iter().map(|r| r.id.clone()).collect();
        let mut groups = self.groups_of_users(&ids).await?;
        let mut data = Vec::with_capacity(page.data.len());
        for row in page.data {
            let mut user = DirectoryUser::try_from(row)?;
            user.groups = Some(groups.remove(&user.id).unwrap_or_default());
            data.push(user);
        }
        Ok(Page {
            data,
            before: page.before,
            after: page.after,
        })
    }

    /// Groups of each of `user_ids`, in one query.
    async fn groups_of_users(
        &self,
        user_ids: &[String],
    ) -> Result<HashMap<String, Vec<DirectoryGroup>>, StoreError> {
        let mut out: HashMap<String, Vec<DirectoryGroup>> = HashMap::new();
        if user_ids.is_empty() {
            return Ok(out);
        }
        let mut sql = Sql::new(&format!(
            "SELECT m.user_id AS member_id, {} FROM directory_memberships m \
             JOIN directory_groups g ON g.id = m.group_id WHERE m.user_id IN (",
            qualified(GROUP_COLUMNS, "g")
        ));
        let placeholders: Vec<String> = user_ids
            .iter()
            .map(|id| sql.arg(Arg::Text(id.clone())))
            .collect();
        sql.push(&placeholders.join(", "));
        sql.push(") ORDER BY g.id");
        let rows: Vec<MemberGroupRow> = on_read!(self, |pool| {
            bind_args!(sqlx::query_as(AssertSqlSafe(sql.text)), sql.args)
                .fetch_all(pool)
                .await?
        });
        for row in rows {
            out.entry(row.member_id)
                .or_default()
                .push(DirectoryGroup::from(row.group));
        }
        Ok(out)
    }
}

#[derive(sqlx::FromRow)]
struct MemberGroupRow {
    member_id: String,
    #[sqlx(flatten)]
    group: GroupRow,
}
