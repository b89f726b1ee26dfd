//! Cursor pagination the way WorkOS clients expect it: `limit`, `before`,
//! `after` (object ids) and `order` (`desc` by default, newest first).
//!
//! Ids are ULIDs, so id order is creation order and a cursor is simply the id
//! of the last (or first) object seen. A page asks for `limit + 1` rows to know
//! whether there is more, and never counts the table.

use crate::sql::{Arg, Sql};

pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub before: Option<String>,
    pub after: Option<String>,
    pub order: Order,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: DEFAULT_LIMIT,
            before: None,
            after: None,
            order: Order::Desc,
        }
    }
}

/// One page and the cursors to its neighbours.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            before: self.before,
            after: self.after,
        }
    }
}

impl PageRequest {
    fn backwards(&self) -> bool {
        self.before.is_some()
    }

    /// Appends the cursor condition and `ORDER BY … LIMIT …` for `column`.
    pub(crate) fn apply(&self, sql: &mut Sql, column: &str) {
        let ascending_scan = matches!(
            (self.order, self.backwards()),
            (Order::Asc, false) | (Order::Desc, true)
        );
        if let Some(cursor) = self.after.as_ref().or(self.before.as_ref()) {
            let op = if ascending_scan { ">" } else { "<" };
            sql.and(column, op, Arg::Text(cursor.clone()));
        }
        let dir = if ascending_scan { "ASC" } else { "DESC" };
        // A literal (see `sql.rs`).
        let limit = i64::from(self.limit) + 1;
        sql.push(&format!(" ORDER BY {column} {dir} LIMIT {limit}"));
    }

    /// Turns the `limit + 1` rows of [`apply`](Self::apply) into a page.
    pub(crate) fn finish<T>(&self, mut rows: Vec<T>, id: impl Fn(&T) -> &str) -> Page<T> {
        let has_more = rows.len() > self.limit as usize;
        rows.truncate(self.limit as usize);
        if self.backwards() {
            rows.reverse();
            Page {
                before: if has_more {
                    rows.first().map(|r| id(r).to_owned())
                } else {
                    None
                },
                after: rows.last().map(|r| id(r).to_owned()),
                data: rows,
            }
        } else {
            Page {
                before: if self.after.is_some() {
                    rows.first().map(|r| id(r).to_owned())
                } else {
                    None
                },
                after: if has_more {
                    rows.last().map(|r| id(r).to_owned())
                } else {
                    None
                },
                data: rows,
            }
        }
    }
}
