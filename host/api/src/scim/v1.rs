//! SCIM 1.1 at `/scim/v1/{directory_id}/…` for `generic-scim-v1` and
//! `okta-scim-v1` directories: the same handlers and store as 2.0; bodies,
//! PATCH semantics (`operation: "delete"`, `meta.attributes`) and errors are
//! translated at the edge (see [`crate::scim::handlers`]).

use axum::Router;
use axum::routing::{any, get};

use crate::AppState;
use crate::scim::discovery;
use crate::scim::handlers::{self, Groups, Users};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/scim/v1/{directory_id}/Users",
            get(handlers::list::<Users>).post(handlers::create::<Users>),
        )
        .route(
            "/scim/v1/{directory_id}/Users/{id}",
            get(handlers::get::<Users>)
                .put(handlers::replace::<Users>)
                .patch(handlers::patch::<Users>)
                .delete(handlers::delete::<Users>),
        )
        .route(
            "/scim/v1/{directory_id}/Groups",
            get(handlers::list::<Groups>).post(handlers::create::<Groups>),
        )
        .route(
            "/scim/v1/{directory_id}/Groups/{id}",
            get(handlers::get::<Groups>)
                .put(handlers::replace::<Groups>)
                .patch(handlers::patch::<Groups>)
                .delete(handlers::delete::<Groups>),
        )
        .route(
            "/scim/v1/{directory_id}/ServiceProviderConfigs",
            get(discovery::service_provider_config_handler),
        )
        .route(
            "/scim/v1/{directory_id}/Schemas",
            get(discovery::schemas_handler),
        )
        .route(
            "/scim/v1/{directory_id}/Bulk",
            any(discovery::v1_bulk_handler),
        )
}
