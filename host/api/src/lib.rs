//! Rollcall's HTTP surfaces on one axum [`Router`]: the management,
//! Directory and Events API under `/api/v1` (with its OpenAPI document),
//! `/healthz`, `/readyz` and `/metrics`.
//!
//! [`app`] builds the whole service from an [`AppState`], so tests drive it
//! with `tower::ServiceExt::oneshot` and no socket. Handlers never touch SQL:
//! they authorize, validate, call the store, and shape the answer.

pub mod auth;
pub mod error;
pub mod extract;
pub mod metrics;
mod openapi;
pub mod pagination;
pub mod routes;
pub mod scim;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rollcall_runtime::Runtime;
use rollcall_store::Store;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

pub use error::{ApiError, ErrorBody};
pub use metrics::Metrics;
pub use openapi::openapi;

/// Settings the HTTP layer needs.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Base URL clients reach this server at (used in SCIM endpoint URLs).
    pub public_url: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// SCIM limits.
    pub scim: scim::ScimSettings,
    /// Whether webhook endpoints may use `http://` URLs.
    pub webhooks_allow_http: bool,
}

/// What every handler shares. Cloned for every request by axum (state
/// extractors, middleware), so it is one `Arc`: one reference count to
/// bump instead of one per pool and cache.
#[derive(Clone)]
pub struct AppState(Arc<AppShared>);

impl std::ops::Deref for AppState {
    type Target = AppShared;

    fn deref(&self) -> &AppShared {
        &self.0
    }
}

pub struct AppShared {
    pub store: Store,
    pub config: Arc<ApiConfig>,
    pub metrics: Arc<Metrics>,
    pub scim: Arc<scim::ScimState>,
    /// The plugin runtime, built by the caller at start-up so a bad
    /// sandbox setting stops the process rather than a request.
    pub plugins: Arc<Runtime>,
}

impl AppState {
    pub fn new(store: Store, config: ApiConfig, plugins: Arc<Runtime>) -> Self {
        AppState(Arc::new(AppShared {
            store,
            plugins,
            scim: Arc::new(scim::ScimState::new(&config.scim)),
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
        }))
    }
}

/// The whole service.
pub fn app(state: AppState) -> Router {
    let (api, doc) = openapi::api_router().split_for_parts();
    let doc = Arc::new(doc);
    Router::new()
        .merge(api)
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .merge(routes::health::router())
        .merge(scim::router(&state))
        .route("/metrics", get(metrics::endpoint))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(on_response)
                .on_failure(()),
        )
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal().into_response()
        }))
        .with_state(state)
}

fn request_span(request: &Request) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        admin_key = tracing::field::Empty,
        organization_id = tracing::field::Empty,
        directory_id = tracing::field::Empty,
    )
}

fn on_response(response: &Response, latency: Duration, _span: &Span) {
    let status = response.status().as_u16();
    let ms = latency.as_secs_f64() * 1000.0;
    if response.status().is_server_error() && response.status() != StatusCode::NOT_IMPLEMENTED {
        tracing::error!(status, latency_ms = ms, "request failed");
    } else {
        tracing::info!(status, latency_ms = ms, "request");
    }
}

/// Under `/scim/` the answer is a SCIM error body of the path's protocol
/// version (RFC 7644 §3.12), elsewhere the API's error JSON.
fn fallback_error(
    uri: &Uri,
    status: StatusCode,
    code: &'static str,
    message: &'static str,
) -> Response {
    if uri.path().starts_with("/scim/") {
        let (version, _) = scim::context::route_parts(uri.path());
        let error = rollcall_core::scim::error::ScimError::new(status.as_u16(), None, message);
        return scim::respond::ScimFailure::new(error, version).into_response();
    }
    ApiError::new(status, code, message).into_response()
}

async fn not_found(uri: Uri) -> Response {
    fallback_error(&uri, StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

async fn method_not_allowed(uri: Uri) -> Response {
    fallback_error(
        &uri,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this endpoint",
    )
}
