//! The OpenAPI 3 document, generated from the handlers' annotations: every
//! route registered through [`api_router`] is documented, and nothing
//! undocumented is routed.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;
use crate::routes::{
    admin_keys, directories, directory_groups, directory_sync, directory_tokens, directory_users,
    events, lifecycle_executions, organizations, plugins, scim_admin, webhook_endpoints,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rollcall API",
        description = "Management, Directory and Events API of Rollcall, a self-hostable directory-sync service. Authenticate with `Authorization: Bearer <admin key>`.",
    ),
    modifiers(&AdminKeyAuth),
    security(("admin_key" = [])),
    tags(
        (name = "organizations", description = "Tenants: one per enterprise customer"),
        (name = "directories", description = "Connections to identity providers, and their SCIM tokens"),
        (name = "directory users", description = "Users synced from a directory"),
        (name = "directory groups", description = "Groups synced from a directory"),
        (name = "events", description = "The ordered event log"),
        (name = "admin keys", description = "Keys for this API"),
        (name = "plugins", description = "Plugin components and their installations"),
        (name = "webhooks", description = "Signed webhook delivery of events: endpoints, delivery log, redelivery and replay"),
    )
)]
struct ApiDoc;

struct AdminKeyAuth;

impl Modify for AdminKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An admin API key (rc_admin_…)"))
                    .build(),
            ),
        );
    }
}

pub(crate) fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(organizations::router())
        .merge(directories::router())
        .merge(directory_sync::router())
        .merge(directory_tokens::router())
        .merge(directory_users::router())
        .merge(directory_groups::router())
        .merge(events::router())
        .merge(admin_keys::router())
        .merge(scim_admin::router())
        .merge(plugins::router())
        .merge(webhook_endpoints::router())
        .merge(lifecycle_executions::router())
}

/// The OpenAPI document served at `/api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().into_openapi()
}
