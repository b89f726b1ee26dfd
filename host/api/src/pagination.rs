//! Cursor lists: parsing `limit` / `before` / `after` / `order` and the
//! `{"object":"list","data":[…],"list_metadata":{…}}` envelope.

use rollcall_core::ids::{IdKind, check_id};
use rollcall_store::{MAX_LIMIT, Order, Page, PageRequest};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::extract::QueryPairs;

/// The query parameters every cursor list accepts.
pub const PAGE_PARAMS: [&str; 4] = ["limit", "before", "after", "order"];

/// Documentation of the cursor parameters (parsing is [`page_request`]).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageParams {
    /// Page size, 1 to 100 (default 10).
    limit: Option<u32>,
    /// Return objects before this id.
    before: Option<String>,
    /// Return objects after this id.
    after: Option<String>,
    /// `desc` (newest first, default) or `asc`.
    order: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListMetadata {
    /// Cursor for the previous page, if any.
    pub before: Option<String>,
    /// Cursor for the next page, if any.
    pub after: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListResponse<T: ToSchema> {
    #[schema(value_type = String, example = "list")]
    pub object: &'static str,
    pub data: Vec<T>,
    pub list_metadata: ListMetadata,
}

impl<T: ToSchema> From<Page<T>> for ListResponse<T> {
    fn from(page: Page<T>) -> Self {
        ListResponse {
            object: "list",
            data: page.data,
            list_metadata: ListMetadata {
                before: page.before,
                after: page.after,
            },
        }
    }
}

pub fn parse_limit(query: &QueryPairs) -> Result<u32, ApiError> {
    match query.one("limit")? {
        None => Ok(10),
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(format!(
                "limit must be an integer from 1 to {MAX_LIMIT}"
            ))),
        },
    }
}

/// Reads the cursor parameters; cursors must be ids of `kind`.
pub fn page_request(query: &QueryPairs, kind: IdKind) -> Result<PageRequest, ApiError> {
    let limit = parse_limit(query)?;
    let cursor = |name: &str| -> Result<Option<String>, ApiError> {
        match query.one(name)? {
            None | Some("") => Ok(None),
            Some(v) => {
                check_id(kind, v).map_err(|e| ApiError::invalid(format!("{name}: {e}")))?;
                Ok(Some(v.to_owned()))
            }
        }
    };
    let before = cursor("before")?;
    let after = cursor("after")?;
    if before.is_some() && after.is_some() {
        return Err(ApiError::invalid("use either before or after, not both"));
    }
    let order = match query.one("order")? {
        None | Some("desc") => Order::Desc,
        Some("asc") => Order::Asc,
        Some(_) => return Err(ApiError::invalid("order must be 'asc' or 'desc'")),
    };
    Ok(PageRequest {
        limit,
        before,
        after,
        order,
    })
}
