//! The SCIM service provider: `/scim/v2/{directory_id}/…` (RFC 7643/7644)
//! and `/scim/v1/{directory_id}/…` (SCIM 1.1), authenticated by the
//! directory's bearer token. Every write goes through the store's
//! directory-state service, so SCIM changes and their events commit together.

pub mod body;
pub mod bulk;
pub mod context;
pub mod discovery;
pub mod groups;
pub mod handlers;
pub mod query;
pub mod rate_limit;
pub mod request_log;
pub mod resources;
pub mod respond;
pub mod search;
pub mod users;
pub mod v1;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};

use crate::AppState;
use crate::scim::context::SchemaCache;
use crate::scim::rate_limit::RateLimiter;
use crate::scim::request_log::RequestLog;

/// SCIM limits and switches (`ROLLCALL_SCIM_*`).
#[derive(Debug, Clone)]
pub struct ScimSettings {
    /// Requests per second per directory (0 = unlimited).
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    pub bulk_max_operations: usize,
    pub bulk_max_payload_bytes: usize,
    /// Request-log entries kept per directory (0 = no log).
    pub request_log_keep: i64,
}

impl Default for ScimSettings {
    fn default() -> Self {
        ScimSettings {
            rate_limit_per_second: 1_000,
            rate_limit_burst: 2_000,
            bulk_max_operations: 1000,
            bulk_max_payload_bytes: 1024 * 1024,
            request_log_keep: 200,
        }
    }
}

/// Process-wide SCIM state: schema cache, rate limiter, request log.
pub struct ScimState {
    pub schemas: SchemaCache,
    pub rate_limiter: RateLimiter,
    pub request_log: RequestLog,
}

impl ScimState {
    pub fn new(settings: &ScimSettings) -> Self {
        ScimState {
            schemas: SchemaCache::default(),
            rate_limiter: RateLimiter::new(
                settings.rate_limit_per_second,
                settings.rate_limit_burst,
            ),
            request_log: RequestLog::new(settings.request_log_keep),
        }
    }
}

fn v2_routes(state: &AppState) -> Router<AppState> {
    use handlers::{Groups, Users};
    Router::new()
        .route(
            "/scim/v2/{directory_id}/Users",
            get(handlers::list::<Users>).post(handlers::create::<Users>),
        )
        .route(
            "/scim/v2/{directory_id}/Users/.search",
            post(handlers::search::<Users>),
        )
        .route(
            "/scim/v2/{directory_id}/Users/{id}",
            get(handlers::get::<Users>)
                .put(handlers::replace::<Users>)
                .patch(handlers::patch::<Users>)
                .delete(handlers::delete::<Users>),
        )
        .route(
            "/scim/v2/{directory_id}/Groups",
            get(handlers::list::<Groups>).post(handlers::create::<Groups>),
        )
        .route(
            "/scim/v2/{directory_id}/Groups/.search",
            post(handlers::search::<Groups>),
        )
        .route(
            "/scim/v2/{directory_id}/Groups/{id}",
            get(handlers::get::<Groups>)
                .put(handlers::replace::<Groups>)
                .patch(handlers::patch::<Groups>)
                .delete(handlers::delete::<Groups>),
        )
        .route(
            "/scim/v2/{directory_id}/.search",
            post(search::root_search_handler),
        )
        .route(
            "/scim/v2/{directory_id}/Bulk",
            post(bulk::bulk_handler).layer(DefaultBodyLimit::max(
                state.config.scim.bulk_max_payload_bytes,
            )),
        )
        .route("/scim/v2/{directory_id}/Me", any(discovery::me_handler))
        .route(
            "/scim/v2/{directory_id}/ServiceProviderConfig",
            get(discovery::service_provider_config_handler),
        )
        .route(
            "/scim/v2/{directory_id}/ResourceTypes",
            get(discovery::resource_types_handler),
        )
        .route(
            "/scim/v2/{directory_id}/ResourceTypes/{id}",
            get(discovery::resource_type_handler),
        )
        .route(
            "/scim/v2/{directory_id}/Schemas",
            get(discovery::schemas_handler),
        )
        .route(
            "/scim/v2/{directory_id}/Schemas/{id}",
            get(discovery::schema_handler),
        )
}

/// Every SCIM route, with the request log around them.
pub fn router(state: &AppState) -> Router<AppState> {
    v2_routes(state)
        .merge(v1::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_log::record,
        ))
}
