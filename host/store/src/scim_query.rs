//! SCIM list queries (`GET /Users?filter=…&startIndex=…&count=…&sortBy=…`)
//! without loading a directory into memory.
//!
//! The caller (which knows SCIM) turns a filter into an optional indexed
//! [`Pushdown`] plus a predicate that evaluates the whole filter:
//! - a pushdown narrows candidates through an index (id, username, externalId,
//!   email, group name, member), and the predicate checks each candidate;
//! - no filter: `COUNT(*)` and `ORDER BY … LIMIT … OFFSET …` in SQL;
//! - a filter nothing can push down: the directory is streamed in keyset
//!   chunks, keeping only the requested window (and, when sorting, only sort
//!   keys and ids of matches).

use rollcall_core::directory_group::DirectoryGroup;
use rollcall_core::directory_user::DirectoryUser;
use sqlx::AssertSqlSafe;

use std::collections::HashMap;

use crate::backend::{Backend, BackendKind, Store};
use crate::direct::DirectRow;
use crate::error::StoreError;
use crate::rows::{GROUP_COLUMNS, GroupRow, USER_COLUMNS, UserRow, qualified};
use crate::scim_refs::RefPair;
use crate::sql::{Arg, Sql};

/// Rows read per round trip when a filter must be evaluated on every row.
const SCAN_CHUNK: i64 = 500;
/// Most candidates an indexed lookup may yield before it is treated as a scan.
const MAX_CANDIDATES: i64 = 10_000;

/// An indexed condition every match must satisfy (values already in the
/// form the index stores: lower-cased for case-insensitive keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushdown {
    Id(String),
    UsernameKey(String),
    ExternalId(String),
    EmailKey(String),
    GroupNameKey(String),
    /// Groups that have this user as a member.
    MemberUserId(String),
    /// Users that are members of this group.
    GroupId(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Id,
    Username,
    ExternalId,
    GroupName,
    Created,
    LastModified,
    /// Any other attribute: the caller computes each resource's key, and the
    /// directory is streamed (sort keys and ids only are kept).
    Computed,
}

impl SortKey {
    /// The ORDER BY expression; text keys sort NULL as '' on both backends.
    fn column(self) -> &'static str {
        match self {
            SortKey::Id => "t.id",
            SortKey::Username => "COALESCE(t.username_key, '')",
            SortKey::ExternalId => "COALESCE(t.external_id, '')",
            SortKey::GroupName => "COALESCE(t.name_key, '')",
            SortKey::Created => "t.created_at",
            SortKey::LastModified => "t.updated_at",
            SortKey::Computed => "t.id",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ScimQuery {
    /// 1-based index of the first result.
    pub start_index: u64,
    /// Page size (0 = only count).
    pub count: u64,
    pub sort: Option<SortKey>,
    pub descending: bool,
    pub pushdown: Option<Pushdown>,
    /// Whether a predicate must be evaluated (a filter was given).
    pub filtered: bool,
    /// Users only: read each returned user's groups in the same query
    /// where that is cheap (see [`ScimPage::user_groups`]).
    pub with_groups: bool,
}

#[derive(Debug, Clone)]
pub struct ScimPage<T> {
    pub total: u64,
    pub items: Vec<T>,
    /// With [`ScimQuery::with_groups`]: every returned user's groups as
    /// `(group id, name)`, when they could be read in the same query (a
    /// lookup by id, userName, externalId or email).
    /// `None` means the caller must ask [`Store::scim_user_groups`].
    pub user_groups: Option<HashMap<String, Vec<RefPair>>>,
}

/// A row and, when asked, its groups as a JSON array of `[id, name]` pairs.
struct WithGroups<R> {
    row: R,
    groups: Option<String>,
}

macro_rules! with_groups_from_row {
    ($row:ty) => {
        impl<'r, R: sqlx::FromRow<'r, $row>> sqlx::FromRow<'r, $row> for WithGroups<R> {
            fn from_row(row: &'r $row) -> Result<Self, sqlx::Error> {
                use sqlx::Row;
                Ok(WithGroups {
                    row: R::from_row(row)?,
                    groups: row.try_get("scim_groups")?,
                })
            }
        }
    };
}
with_groups_from_row!(sqlx::sqlite::SqliteRow);
with_groups_from_row!(sqlx::postgres::PgRow);

impl<R: DirectRow> DirectRow for WithGroups<R> {
    fn from_direct(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(WithGroups {
            row: R::from_direct(row)?,
            groups: row.get("scim_groups")?,
        })
    }
}

/// The `scim_groups` column: a user's groups, ordered by id.
fn groups_column(backend: BackendKind) -> &'static str {
    match backend {
        BackendKind::Sqlite => {
            ", (SELECT json_group_array(json_array(x.id, x.name)) FROM \
             (SELECT g.id, g.name FROM directory_memberships m JOIN directory_groups g \
             ON g.id = m.group_id WHERE m.user_id = t.id ORDER BY g.id) x) AS scim_groups"
        }
        BackendKind::Postgres => {
            ", (SELECT COALESCE(json_agg(json_build_array(g.id, g.name) ORDER BY g.id), '[]'::json)::text \
             FROM directory_memberships m JOIN directory_groups g ON g.id = m.group_id \
             WHERE m.user_id = t.id) AS scim_groups"
        }
    }
}

/// What the two resource kinds differ in.
trait Kind: Sized {
    const TABLE: &'static str;
    const COLUMNS: &'static str;
    /// Whether [`ScimQuery::with_groups`] applies (users).
    const HAS_GROUPS: bool;
    type Row: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + DirectRow
        + Send
        + Unpin;
    fn from_row(row: Self::Row) -> Result<Self, StoreError>;
    fn id(&self) -> &str;
    fn sort_value(&self, key: SortKey) -> String;
    fn pushdown_sql(p: &Pushdown, sql: &mut Sql) -> Result<(), StoreError>;
}

fn text_key(value: Option<&str>) -> String {
    value.unwrap_or("").to_owned()
}

impl Kind for DirectoryUser {
    const TABLE: &'static str = "directory_users";
    const COLUMNS: &'static str = USER_COLUMNS;
    const HAS_GROUPS: bool = true;
    type Row = UserRow;

    fn from_row(row: UserRow) -> Result<Self, StoreError> {
        DirectoryUser::try_from(row)
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn sort_value(&self, key: SortKey) -> String {
        match key {
            SortKey::Id => self.id.clone(),
            SortKey::Username => text_key(self.username.as_deref()).to_lowercase(),
            SortKey::ExternalId => text_key(
                self.raw_attributes
                    .get("externalId")
                    .and_then(|v| v.as_str()),
            ),
            SortKey::GroupName => String::new(),
            SortKey::Created => format!("{:020}", self.created_at.as_micros()),
            SortKey::LastModified => format!("{:020}", self.updated_at.as_micros()),
            SortKey::Computed => String::new(),
        }
    }
    fn pushdown_sql(p: &Pushdown, sql: &mut Sql) -> Result<(), StoreError> {
        match p {
            Pushdown::Id(v) => sql.and("t.id", "=", Arg::Text(v.clone())),
            Pushdown::UsernameKey(v) => sql.and("t.username_key", "=", Arg::Text(v.clone())),
            Pushdown::ExternalId(v) => sql.and("t.external_id", "=", Arg::Text(v.clone())),
            Pushdown::EmailKey(v) => {
                let p = sql.arg(Arg::Text(v.clone()));
                sql.push(&format!(
                    " AND t.id IN (SELECT e.user_id FROM directory_user_emails e \
                     WHERE e.directory_id = t.directory_id AND e.email_key = {p})"
                ))
            }
            Pushdown::GroupId(v) => {
                let p = sql.arg(Arg::Text(v.clone()));
                sql.push(&format!(
                    " AND t.id IN (SELECT m.user_id FROM directory_memberships m WHERE m.group_id = {p})"
                ))
            }
            Pushdown::GroupNameKey(_) | Pushdown::MemberUserId(_) => {
                return Err(StoreError::Internal("group pushdown on users".into()));
            }
        };
        Ok(())
    }
}

impl Kind for DirectoryGroup {
    const TABLE: &'static str = "directory_groups";
    const COLUMNS: &'static str = GROUP_COLUMNS;
    const HAS_GROUPS: bool = false;
    type Row = GroupRow;

    fn from_row(row: GroupRow) -> Result<Self, StoreError> {
        Ok(DirectoryGroup::from(row))
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn sort_value(&self, key: SortKey) -> String {
        match key {
            SortKey::Id => self.id.clone(),
            SortKey::GroupName => self.name.to_lowercase(),
            SortKey::ExternalId => text_key(
                self.raw_attributes
                    .get("externalId")
                    .and_then(|v| v.as_str()),
            ),
            SortKey::Username => String::new(),
            SortKey::Created => format!("{:020}", self.created_at.as_micros()),
            SortKey::LastModified => format!("{:020}", self.updated_at.as_micros()),
            SortKey::Computed => String::new(),
        }
    }
    fn pushdown_sql(p: &Pushdown, sql: &mut Sql) -> Result<(), StoreError> {
        match p {
            Pushdown::Id(v) => sql.and("t.id", "=", Arg::Text(v.clone())),
            Pushdown::GroupNameKey(v) => sql.and("t.name_key", "=", Arg::Text(v.clone())),
            Pushdown::ExternalId(v) => sql.and("t.external_id", "=", Arg::Text(v.clone())),
            Pushdown::MemberUserId(v) => {
                let p = sql.arg(Arg::Text(v.clone()));
                sql.push(&format!(
                    " AND t.id IN (SELECT m.group_id FROM directory_memberships m WHERE m.user_id = {p})"
                ))
            }
            _ => return Err(StoreError::Internal("user pushdown on groups".into())),
        };
        Ok(())
    }
}

impl Store {
    /// A page of a directory's users matching `query` and `matches`;
    /// `sort_by` computes keys for [`SortKey::Computed`].
    pub async fn scim_list_users(
        &self,
        directory_id: &str,
        query: &ScimQuery,
        matches: &(dyn Fn(&DirectoryUser) -> bool + Sync),
        sort_by: &(dyn Fn(&DirectoryUser) -> String + Sync),
    ) -> Result<ScimPage<DirectoryUser>, StoreError> {
        self.scim_list::<DirectoryUser>(directory_id, query, matches, sort_by)
            .await
    }

    /// A page of a directory's groups matching `query` and `matches`.
    pub async fn scim_list_groups(
        &self,
        directory_id: &str,
        query: &ScimQuery,
        matches: &(dyn Fn(&DirectoryGroup) -> bool + Sync),
        sort_by: &(dyn Fn(&DirectoryGroup) -> String + Sync),
    ) -> Result<ScimPage<DirectoryGroup>, StoreError> {
        self.scim_list::<DirectoryGroup>(directory_id, query, matches, sort_by)
            .await
    }

    async fn scim_list<K: Kind>(
        &self,
        directory_id: &str,
        query: &ScimQuery,
        matches: &(dyn Fn(&K) -> bool + Sync),
        sort_by: &(dyn Fn(&K) -> String + Sync),
    ) -> Result<ScimPage<K>, StoreError> {
        let key_of = |item: &K, key: SortKey| match key {
            SortKey::Computed => sort_by(item),
            k => item.sort_value(k),
        };
        if let Some(p) = &query.pushdown {
            // Identifying keys yield a handful of rows: their groups come along.
            let inline = K::HAS_GROUPS
                && query.with_groups
                && !matches!(p, Pushdown::GroupId(_) | Pushdown::MemberUserId(_));
            let mut sql = Sql::new(&format!(
                "SELECT {}{} FROM {} t WHERE t.directory_id = $1",
                qualified(K::COLUMNS, "t"),
                if inline {
                    groups_column(self.kind())
                } else {
                    ""
                },
                K::TABLE
            ));
            sql.args.push(Arg::Text(directory_id.to_owned()));
            K::pushdown_sql(p, &mut sql)?;
            let limit = MAX_CANDIDATES + 1;
            sql.push(&format!(" ORDER BY t.id LIMIT {limit}"));
            let rows = self.fetch_rows_with_groups::<K>(sql, inline).await?;
            if (rows.len() as i64) <= MAX_CANDIDATES {
                let mut found = Vec::new();
                let mut groups = inline.then(HashMap::new);
                for (row, row_groups) in rows {
                    let item = K::from_row(row)?;
                    if !query.filtered || matches(&item) {
                        if let (Some(map), Some(list)) = (&mut groups, row_groups) {
                            map.insert(item.id().to_owned(), list);
                        }
                        found.push(item);
                    }
                }
                let mut page = window_in_memory(found, query, &key_of);
                page.user_groups = groups;
                return Ok(page);
            }
        }
        if !query.filtered && query.sort != Some(SortKey::Computed) {
            return self.sql_window::<K>(directory_id, query).await;
        }
        let all = |_: &K| true;
        let matches: &(dyn Fn(&K) -> bool + Sync) = if query.filtered { matches } else { &all };
        self.scan::<K>(directory_id, query, matches, &key_of).await
    }

    /// Rows, each with its parsed `scim_groups` column when `inline`.
    async fn fetch_rows_with_groups<K: Kind>(
        &self,
        sql: Sql,
        inline: bool,
    ) -> Result<Vec<(K::Row, Option<Vec<RefPair>>)>, StoreError> {
        if !inline {
            let rows = self.fetch_rows::<K>(sql).await?;
            return Ok(rows.into_iter().map(|r| (r, None)).collect());
        }
        // A lookup by an identifying key: a few indexed rows, read on
        // this thread where SQLite allows it.
        let rows: Vec<WithGroups<K::Row>> = if let Backend::Sqlite {
            direct: Some(readers),
            ..
        } = &self.backend
        {
            readers.query(&sql.sqlite_text(), &sql.args)?
        } else {
            on_read!(self, |pool| {
                bind_args!(
                    sqlx::query_as::<_, WithGroups<K::Row>>(AssertSqlSafe(sql.text)),
                    sql.args
                )
                .fetch_all(pool)
                .await?
            })
        };
        rows.into_iter()
            .map(|r| {
                let groups = match r.groups.as_deref() {
                    None => Vec::new(),
                    Some(text) => serde_json::from_str(text)
                        .map_err(|e| StoreError::Internal(format!("unreadable group list: {e}")))?,
                };
                Ok((r.row, Some(groups)))
            })
            .collect()
    }

    async fn fetch_rows<K: Kind>(&self, sql: Sql) -> Result<Vec<K::Row>, StoreError> {
        Ok(on_read!(self, |pool| {
            bind_args!(
                sqlx::query_as::<_, K::Row>(AssertSqlSafe(sql.text)),
                sql.args
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// No filter: exact count and the page straight from SQL.
    async fn sql_window<K: Kind>(
        &self,
        directory_id: &str,
        query: &ScimQuery,
    ) -> Result<ScimPage<K>, StoreError> {
        let count_sql = format!("SELECT COUNT(*) FROM {} WHERE directory_id = $1", K::TABLE);
        let total: i64 = on_read!(self, |pool| {
            sqlx::query_scalar(AssertSqlSafe(count_sql))
                .bind(directory_id)
                .fetch_one(pool)
                .await?
        });
        if query.count == 0 {
            return Ok(ScimPage {
                total: total as u64,
                items: Vec::new(),
                user_groups: None,
            });
        }
        // Groups are not inlined here: both backends compute a select-list
        // subquery for every row OFFSET skips, so deep pages would pay it
        // thousands of times. The caller reads the page's groups in one query.
        let key = query.sort.unwrap_or(SortKey::Id);
        let dir = if query.descending { "DESC" } else { "ASC" };
        let mut sql = Sql::new(&format!(
            "SELECT {} FROM {} t WHERE t.directory_id = $1",
            qualified(K::COLUMNS, "t"),
            K::TABLE
        ));
        sql.args.push(Arg::Text(directory_id.to_owned()));
        let limit = query.count.min(i64::MAX as u64);
        let offset = (query.start_index.max(1) - 1).min(i64::MAX as u64);
        sql.push(&format!(
            " ORDER BY {} {dir}, t.id {dir} LIMIT {limit} OFFSET {offset}",
            key.column()
        ));
        let rows = self.fetch_rows::<K>(sql).await?;
        let items = rows
            .into_iter()
            .map(K::from_row)
            .collect::<Result<_, _>>()?;
        Ok(ScimPage {
            total: total as u64,
            items,
            user_groups: None,
        })
    }

    /// A filter with no usable index: stream the directory in id order.
    async fn scan<K: Kind>(
        &self,
        directory_id: &str,
        query: &ScimQuery,
        matches: &(dyn Fn(&K) -> bool + Sync),
        key_of: &(dyn Fn(&K, SortKey) -> String + Sync),
    ) -> Result<ScimPage<K>, StoreError> {
        let first = query.start_index.max(1) - 1;
        let mut total: u64 = 0;
        let mut window = Vec::new();
        let mut sort_keys: Vec<(String, String)> = Vec::new();
        let mut after = String::new();
        loop {
            let mut sql = Sql::new(&format!(
                "SELECT {} FROM {} t WHERE t.directory_id = $1 AND t.id > $2 ORDER BY t.id LIMIT {SCAN_CHUNK}",
                qualified(K::COLUMNS, "t"),
                K::TABLE
            ));
            sql.args.push(Arg::Text(directory_id.to_owned()));
            sql.args.push(Arg::Text(after.clone()));
            let rows = self.fetch_rows::<K>(sql).await?;
            let done = (rows.len() as i64) < SCAN_CHUNK;
            for row in rows {
                let item = K::from_row(row)?;
                after = item.id().to_owned();
                if !matches(&item) {
                    continue;
                }
                if let Some(key) = query.sort {
                    sort_keys.push((key_of(&item, key), item.id().to_owned()));
                } else if total >= first && (window.len() as u64) < query.count {
                    window.push(item);
                }
                total += 1;
            }
            if done {
                break;
            }
        }
        if query.sort.is_none() {
            return Ok(ScimPage {
                total,
                items: window,
                user_groups: None,
            });
        }
        sort_keys.sort();
        if query.descending {
            sort_keys.reverse();
        }
        let ids: Vec<String> = sort_keys
            .into_iter()
            .skip(first as usize)
            .take(query.count as usize)
            .map(|(_, id)| id)
            .collect();
        let items = self.fetch_by_ids::<K>(directory_id, &ids).await?;
        Ok(ScimPage {
            total,
            items,
            user_groups: None,
        })
    }

    /// Rows by id, in the order of `ids`.
    async fn fetch_by_ids<K: Kind>(
        &self,
        directory_id: &str,
        ids: &[String],
    ) -> Result<Vec<K>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(&format!(
            "SELECT {} FROM {} t WHERE t.directory_id = $1 AND t.id IN (",
            qualified(K::COLUMNS, "t"),
            K::TABLE
        ));
        sql.args.push(Arg::Text(directory_id.to_owned()));
        let placeholders: Vec<String> = ids
            .iter()
            .map(|id| sql.arg(Arg::Text(id.clone())))
            .collect();
        sql.push(&placeholders.join(", "));
        sql.push(")");
        let mut by_id: std::collections::HashMap<String, K> = std::collections::HashMap::new();
        for row in self.fetch_rows::<K>(sql).await? {
            let item = K::from_row(row)?;
            by_id.insert(item.id().to_owned(), item);
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }
}

/// Sorting and windowing of an already-small candidate set.
fn window_in_memory<K: Kind>(
    mut found: Vec<K>,
    query: &ScimQuery,
    key_of: &dyn Fn(&K, SortKey) -> String,
) -> ScimPage<K> {
    if let Some(key) = query.sort {
        found.sort_by_cached_key(|item| (key_of(item, key), item.id().to_owned()));
        if query.descending {
            found.reverse();
        }
    }
    let total = found.len() as u64;
    let items = found
        .into_iter()
        .skip((query.start_index.max(1) - 1) as usize)
        .take(query.count as usize)
        .collect();
    ScimPage {
        total,
        items,
        user_groups: None,
    }
}
