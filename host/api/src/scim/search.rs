//! `POST /.search` at the root: one SearchRequest across Users and Groups.
//! Results are Users first, then Groups, and `startIndex`/`count` page
//! through that concatenation.

use crate::AppState;
use crate::scim::body::ScimBody;
use crate::scim::context::ScimContext;
use crate::scim::query::ListParams;
use crate::scim::resources::list_response;
use crate::scim::respond::{ScimReply, ScimResult};
use crate::scim::{groups, users};
use axum::extract::State;

pub async fn root_search_handler(
    State(state): State<AppState>,
    ctx: ScimContext,
    ScimBody(body): ScimBody,
) -> ScimResult {
    // Sorting is per resource type; across both it is not defined.
    let mut params = ListParams::from_search(None, &body).map_err(|e| ctx.fail(e))?;
    let (start, count) = (params.start_index, params.count);

    // Users: the requested window as far as it falls on users.
    let (user_total, mut resources) = users::search(&state, &ctx, &params)
        .await
        .map_err(|e| ctx.fail(e))?;
    // Groups: continue where users end.
    let skip_users = user_total.min(start - 1);
    let group_start = (start - 1 - skip_users) + 1;
    params.start_index = group_start;
    params.count = count.saturating_sub(resources.len() as u64);
    let (group_total, group_items) = groups::search(&state, &ctx, &params)
        .await
        .map_err(|e| ctx.fail(e))?;
    resources.extend(group_items);
    Ok(ScimReply::ok(list_response(
        user_total + group_total,
        start,
        resources,
    )))
}
