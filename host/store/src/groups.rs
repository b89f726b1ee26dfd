//! Reading directory groups: by id and as cursor pages.

use rollcall_core::directory_group::DirectoryGroup;
use sqlx::AssertSqlSafe;

use crate::backend::Store;
use crate::error::StoreError;
use crate::page::{Page, PageRequest};
use crate::rows::{GROUP_COLUMNS, GroupRow, qualified};
use crate::sql::{Arg, Sql};

#[derive(Debug, Clone, Default)]
pub struct GroupFilter {
    pub directory_id: Option<String>,
    /// Only groups this user belongs to.
    pub user_id: Option<String>,
    pub organization_id: Option<String>,
}

impl Store {
    pub async fn get_group(&self, id: &str) -> Result<Option<DirectoryGroup>, StoreError> {
        let row: Option<GroupRow> = on_read!(self, |pool| {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {GROUP_COLUMNS} FROM directory_groups WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(DirectoryGroup::from))
    }

    pub async fn list_groups(
        &self,
        filter: &GroupFilter,
        page: &PageRequest,
    ) -> Result<Page<DirectoryGroup>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {} FROM directory_groups g",
            qualified(GROUP_COLUMNS, "g")
        ));
        if let Some(user) = &filter.user_id {
            let p = sql.arg(Arg::Text(user.clone()));
            sql.push(&format!(
                " JOIN directory_memberships m ON m.group_id = g.id AND m.user_id = {p}"
            ));
        }
        sql.push(" WHERE 1=1");
        if let Some(dir) = &filter.directory_id {
            sql.and("g.directory_id", "=", Arg::Text(dir.clone()));
        }
        if let Some(org) = &filter.organization_id {
            sql.and("g.organization_id", "=", Arg::Text(org.clone()));
        }
        page.apply(&mut sql, "g.id");
        let rows: Vec<GroupRow> = on_read!(self, |pool| {
            bind_args!(sqlx::query_as(AssertSqlSafe(sql.text)), sql.args)
                .fetch_all(pool)
                .await?
        });
        Ok(page.finish(rows, |r| &r.id).map(DirectoryGroup::from))
    }
}
