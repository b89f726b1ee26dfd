//! `/api/v1/webhook_endpoints`: an organization's webhook endpoints
//! (create answers the signing secret once), enable/disable, secret
//! rotation with a grace period, and the delivery log with redelivery of
//! one event and replay from an event on.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rollcall_core::event::EventType;
use rollcall_core::ids::IdKind;
use rollcall_store::{
    DeliveryState, NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint, WebhookEndpointUpdate,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, QueryPairs};
use crate::pagination::{ListResponse, PAGE_PARAMS, PageParams, page_request};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(enable_endpoint))
        .routes(routes!(disable_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(redeliver))
        .routes(routes!(replay))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    pub organization_id: String,
    /// Where to POST events: https (http only when the operator allows it).
    pub url: String,
    #[serde(default)]
    pub description: String,
    /// Event types to deliver; omit or leave empty for every type.
    #[serde(default)]
    pub events: Vec<EventType>,
    /// Events per request (1 to 100; default 1). Above 1, a request body
    /// is `{"object":"list","data":[event, …]}`.
    #[serde(default)]
    pub batch_size: Option<u32>,
    /// Most requests per second to this endpoint (default: no limit).
    #[serde(default)]
    pub rate_limit: Option<u32>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub description: Option<String>,
    pub events: Option<Vec<EventType>>,
    pub batch_size: Option<u32>,
    /// A number sets the limit; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub rate_limit: Option<Option<u32>>,
}

/// `Some(value)` when the field is present (even as `null`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(d).map(Some)
}

/// An endpoint with its signing secret: shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// The signing secret (`whsec_…`). Store it now; it cannot be shown again.
    pub secret: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the old secret keeps signing (as a second signature), in
    /// seconds: 0 (default) to 30 days.
    #[serde(default)]
    pub grace_period_seconds: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// Deliver this event and every later one the endpoint wants again.
    pub from_event_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayResult {
    #[schema(value_type = String, example = "webhook_replay")]
    pub object: &'static str,
    /// Deliveries scheduled.
    pub scheduled: u64,
}

/// Loads an endpoint the caller may see (404 otherwise).
async fn load(state: &AppState, principal: &Principal, id: &str) -> ApiResult<WebhookEndpoint> {
    let endpoint = state
        .store
        .get_webhook_endpoint(id)
        .await?
        .filter(|e| principal.can_access(&e.organization_id))
        .ok_or_else(|| ApiError::not_found("Webhook endpoint"))?;
    tracing::Span::current().record("organization_id", endpoint.organization_id.as_str());
    Ok(endpoint)
}

/// List webhook endpoints, optionally of one organization.
#[utoipa::path(get, path = "/api/v1/webhook_endpoints", tag = "webhooks",
    params(PageParams, ("organization_id" = Option<String>, Query, description = "Only this organization's endpoints")),
    responses((status = 200, body = ListResponse<WebhookEndpoint>), (status = 400, body = ErrorBody)))]
async fn list_endpoints(
    State(state): State<AppState>,
    principal: Principal,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<WebhookEndpoint>>> {
    query.only(&[&PAGE_PARAMS[..], &["organization_id"]].concat())?;
    let page = page_request(&query, IdKind::WebhookEndpoint)?;
    let org = match (query.one("organization_id")?, principal.organization()) {
        (Some(asked), _) => {
            principal.check_access(asked, "Organization")?;
            Some(asked)
        }
        (None, own) => own,
    };
    Ok(Json(
        state.store.list_webhook_endpoints(org, &page).await?.into(),
    ))
}

/// Create a webhook endpoint. The response carries the signing secret,
/// which is never shown again. New endpoints receive events created from
/// now on (earlier ones can be replayed).
#[utoipa::path(post, path = "/api/v1/webhook_endpoints", tag = "webhooks",
    request_body = NewEndpoint,
    responses((status = 201, body = EndpointWithSecret), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(new): ApiJson<NewEndpoint>,
) -> ApiResult<(StatusCode, Json<EndpointWithSecret>)> {
    principal.check_access(&new.organization_id, "Organization")?;
    let (endpoint, secret) = state
        .store
        .create_webhook_endpoint(&NewWebhookEndpoint {
            organization_id: new.organization_id,
            url: new.url,
            description: new.description,
            events: new.events,
            batch_size: new.batch_size,
            rate_limit: new.rate_limit,
            allow_http: state.config.webhooks_allow_http,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointWithSecret { endpoint, secret }),
    ))
}

/// Get a webhook endpoint.
#[utoipa::path(get, path = "/api/v1/webhook_endpoints/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook endpoint id")),
    responses((status = 200, body = WebhookEndpoint), (status = 404, body = ErrorBody)))]
async fn get_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookEndpoint>> {
    Ok(Json(load(&state, &principal, &id).await?))
}

/// Update a webhook endpoint's URL, description, event filter, batch size
/// or rate limit. Fields left out stay as they are.
#[utoipa::path(patch, path = "/api/v1/webhook_endpoints/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook endpoint id")),
    request_body = EndpointChanges,
    responses((status = 200, body = WebhookEndpoint), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(changes): ApiJson<EndpointChanges>,
) -> ApiResult<Json<WebhookEndpoint>> {
    load(&state, &principal, &id).await?;
    let updated = state
        .store
        .update_webhook_endpoint(
            &id,
            &WebhookEndpointUpdate {
                url: changes.url,
                description: changes.description,
                events: changes.events,
                batch_size: changes.batch_size,
                rate_limit: changes.rate_limit,
                allow_http: state.config.webhooks_allow_http,
            },
        )
        .await?;
    Ok(Json(updated))
}

/// Delete a webhook endpoint and its delivery log.
#[utoipa::path(delete, path = "/api/v1/webhook_endpoints/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook endpoint id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    load(&state, &principal, &id).await?;
    state.store.delete_webhook_endpoint(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enable an endpoint. It receives events from now on; pending deliveries
/// resume; events of the disabled period can be replayed.
#[utoipa::path(post, path = "/api/v1/webhook_endpoints/{id}/enable", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook endpoint id")),
    responses((status = 200, body = WebhookEndpoint), (status = 404, body = ErrorBody)))]
async fn enable_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookEndpoint>> {
    load(&state, &principal, &id).await?;
    Ok(Json(
        state
            .store
            .set_webhook_endpoint_enabled(&id, true, None)
            .await?,
    ))
}

/// Disable an endpoint: nothing is sent to it until it is enabled again.
#[utoipa::path(post, path = "/api/v1/webhook_endpoints/{id}/disable", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook endpoint id")),
    responses((status = 200, body = WebhookEndpoint), (status = 404, body = ErrorBody)))]
async fn disable_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookEndpoint>> {
    load(&state, &principal, &id).await?;
    Ok(Json(
        state
            .store
            .set_webhook_endpoint_enabled(&id, false, Some("disabled through the API"))
            .await?,
    ))
}

/// Issue a new signing secret (shown once). With a grace period, requests
/// carry two signatures (new and old) until it ends.
#[utoipa::path(post, path = "/api/v1/webhook_endpoints/{id}/rotate_secret", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook endpoint id")),
    request_body = RotateSecret,
    responses((status = 200, body = EndpointWithSecret), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rotate_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RotateSecret>,
) -> ApiResult<Json<EndpointWithSecret>> {
    load(&state, &principal, &id).await?;
    let (endpoint, secret) = state
        .store
        .rotate_webhook_secret(&id, body.grace_period_seconds.unwrap_or(0))
        .await?;
    Ok(Json(EndpointWithSecret { endpoint, secret }))
}

/// The endpoint's delivery log, newest event first: state, attempts,
/// last status, latency and error. Cursors are event ids.
#[utoipa::path(get, path = "/api/v1/webhook_endpoints/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook endpoint id"), PageParams,
        ("state" = Option<String>, Query, description = "pending, delivered or dead")),
    responses((status = 200, body = ListResponse<WebhookDelivery>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<WebhookDelivery>>> {
    query.only(&[&PAGE_PARAMS[..], &["state"]].concat())?;
    load(&state, &principal, &id).await?;
    let page = page_request(&query, IdKind::Event)?;
    let wanted = match query.one("state")? {
        None => None,
        Some(s) => Some(
            DeliveryState::parse(s)
                .ok_or_else(|| ApiError::invalid("state must be pending, delivered or dead"))?,
        ),
    };
    Ok(Json(
        state
            .store
            .list_webhook_deliveries(&id, wanted, &page)
            .await?
            .into(),
    ))
}

/// One delivery with every attempt (status, latency, response excerpt).
#[utoipa::path(get, path = "/api/v1/webhook_endpoints/{id}/deliveries/{event_id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook endpoint id"), ("event_id" = String, Path, description = "Event id")),
    responses((status = 200, body = WebhookDelivery), (status = 404, body = ErrorBody)))]
async fn get_delivery(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, event_id)): Path<(String, String)>,
) -> ApiResult<Json<WebhookDelivery>> {
    load(&state, &principal, &id).await?;
    let delivery = state
        .store
        .get_webhook_delivery(&id, &event_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Webhook delivery"))?;
    Ok(Json(delivery))
}

/// Deliver one event to the endpoint again, now, whatever happened to it
/// before (a dead-lettered delivery gets a fresh retry schedule).
#[utoipa::path(post, path = "/api/v1/webhook_endpoints/{id}/deliveries/{event_id}/redeliver", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook endpoint id"), ("event_id" = String, Path, description = "Event id")),
    responses((status = 202, body = WebhookDelivery), (status = 404, body = ErrorBody)))]
async fn redeliver(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, event_id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<WebhookDelivery>)> {
    load(&state, &principal, &id).await?;
    let delivery = state.store.redeliver_webhook_event(&id, &event_id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}

/// Deliver every event the endpoint wants from `from_event_id` on again
/// (after an outage, or the events of a disabled period).
#[utoipa::path(post, path = "/api/v1/webhook_endpoints/{id}/replay", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook endpoint id")),
    request_body = Replay,
    responses((status = 202, body = ReplayResult), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn replay(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Replay>,
) -> ApiResult<(StatusCode, Json<ReplayResult>)> {
    load(&state, &principal, &id).await?;
    let scheduled = state
        .store
        .replay_webhook_events(&id, &body.from_event_id)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ReplayResult {
            object: "webhook_replay",
            scheduled,
        }),
    ))
}
