//! `/api/v1/events`: the event log in order, with a cursor (`after`) and
//! filters by type, organization, directory and time range.

use axum::Json;
use axum::extract::State;
use rollcall_core::Timestamp;
use rollcall_core::event::{Event, EventType};
use rollcall_core::ids::{IdKind, check_id};
use rollcall_store::EventFilter;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::QueryPairs;
use crate::pagination::parse_limit;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventListMetadata {
    /// Pass as `after` to continue; stays at the last event seen when
    /// nothing new has arrived, so a poller can keep asking.
    pub after: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    #[schema(value_type = String, example = "list")]
    pub object: &'static str,
    pub data: Vec<Event>,
    pub list_metadata: EventListMetadata,
}

const PARAMS: [&str; 7] = [
    "events",
    "organization_id",
    "directory_id",
    "range_start",
    "range_end",
    "after",
    "limit",
];

fn time_param(query: &QueryPairs, name: &str) -> ApiResult<Option<Timestamp>> {
    query
        .one(name)?
        .map(|raw| {
            Timestamp::parse_rfc3339(raw).ok_or_else(|| {
                ApiError::invalid(format!(
                    "{name} must be an RFC 3339 date-time such as 2026-01-31T12:00:00Z"
                ))
            })
        })
        .transpose()
}

/// List events oldest first. `events` takes a comma-separated list of types
/// (or repeats); `range_start` is inclusive, `range_end` exclusive.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(
        ("events" = Option<String>, Query, description = "Event types, comma-separated"),
        ("organization_id" = Option<String>, Query, description = "Only this organization"),
        ("directory_id" = Option<String>, Query, description = "Only this directory"),
        ("range_start" = Option<String>, Query, description = "RFC 3339, inclusive"),
        ("range_end" = Option<String>, Query, description = "RFC 3339, exclusive"),
        ("after" = Option<String>, Query, description = "Event id to continue after"),
        ("limit" = Option<u32>, Query, description = "1 to 100, default 10")),
    responses((status = 200, body = EventList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_events(
    State(state): State<AppState>,
    principal: Principal,
    query: QueryPairs,
) -> ApiResult<Json<EventList>> {
    query.only(&PARAMS)?;
    let mut types = Vec::new();
    for name in query.many("events") {
        types.push(EventType::parse(name).ok_or_else(|| {
            ApiError::invalid(format!(
                "events: unknown event type '{}'",
                name.chars().take(64).collect::<String>()
            ))
        })?);
    }
    let after = query.one("after")?.filter(|v| !v.is_empty());
    if let Some(a) = after {
        check_id(IdKind::Event, a).map_err(|e| ApiError::invalid(format!("after: {e}")))?;
    }
    let organization_id = match (query.one("organization_id")?, principal.organization()) {
        (Some(asked), _) => {
            principal.check_access(asked, "Organization")?;
            Some(asked.to_owned())
        }
        (None, own) => own.map(str::to_owned),
    };
    let filter = EventFilter {
        organization_id,
        directory_id: query.one("directory_id")?.map(str::to_owned),
        types,
        range_start: time_param(&query, "range_start")?,
        range_end: time_param(&query, "range_end")?,
        after: after.map(str::to_owned),
        limit: parse_limit(&query)?,
    };
    let data = state.store.list_events(&filter).await?;
    let next = data.last().map(|e| e.id.clone()).or(filter.after);
    Ok(Json(EventList {
        object: "list",
        data,
        list_metadata: EventListMetadata { after: next },
    }))
}
