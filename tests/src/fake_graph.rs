//! A fake Microsoft Graph (v1.0) and Entra ID token endpoint over a
//! [`SharedDirectory`], for the `azure-graph` connector's tests and
//! benchmark.
//!
//! - `POST /{TENANT}/oauth2/v2.0/token`: the client-credentials grant
//!   (form body; checks tenant, client id, secret and scope; answers
//!   `access_token` / `expires_in`, or Entra's `invalid_client` 401).
//! - Every API call needs `Authorization: Bearer <a token it issued>`,
//!   else 401 `InvalidAuthenticationToken` with Graph's error body.
//! - `/v1.0/users`, `/v1.0/users/{id}`, `/v1.0/groups`, `/v1.0/groups/{id}`,
//!   `/v1.0/groups/{id}/members/microsoft.graph.user`: `$select`, `$top`,
//!   `$expand=manager(...)`, `$skiptoken` paging with absolute
//!   `@odata.nextLink`s on [`FakeGraph::base_url`].
//! - `/v1.0/users/delta` and `/v1.0/groups/delta`: the initial round,
//!   `$deltatoken=latest`, `$deltatoken=<tick>` answering the directory's
//!   change log after that tick (`@removed`, `members@delta`, group
//!   objects with only `id` when only membership changed), and 410 Gone
//!   with `syncStateNotFound` once the tick is older than the log floor.
//!   `Prefer: odata.maxpagesize=N` sets delta page sizes (100 by default).
//! - Switches: [`FakeGraph::throttle_next`] (429 + `Retry-After`),
//!   [`FakeGraph::deny_next`] (403 `Authorization_RequestDenied`),
//!   [`FakeGraph::partial_updates`] (updated users arrive as `id` +
//!   `jobTitle`, as Graph may send only changed properties).
//! - Counters: [`FakeGraph::requests`] by path prefix, [`FakeGraph::seen`].
//!
//! Pages are rendered from the directory on every request, so it serves
//! 100k users without pre-rendering anything.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::fake_directory::SharedDirectory;
use crate::fake_graph_render as render;

/// The tenant in the token URL.
pub const TENANT: &str = "11111111-2222-3333-4444-555555555555";
pub const CLIENT_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
pub const CLIENT_SECRET: &str = "fake~graph~secret";
pub const SCOPE: &str = "https://graph.microsoft.com/.default";

/// One API request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub path: String,
    pub query: String,
    /// The `Prefer` header.
    pub prefer: Option<String>,
}

#[derive(Default)]
struct Switches {
    throttle: u32,
    retry_after: u32,
    deny: u32,
    partial_updates: bool,
}

pub(crate) struct Shared {
    pub(crate) directory: SharedDirectory,
    /// `http://127.0.0.1:port/v1.0`.
    pub(crate) base: String,
    switches: Mutex<Switches>,
    seen: Mutex<Vec<Seen>>,
    tokens: Mutex<HashSet<String>>,
    token_requests: Mutex<usize>,
}

impl Shared {
    pub(crate) fn partial_updates(&self) -> bool {
        self.switches.lock().unwrap().partial_updates
    }
}

/// The running fake.
#[derive(Clone)]
pub struct FakeGraph {
    /// The API root, to use as the connector's `api_base`.
    pub base_url: String,
    /// The client-credentials token endpoint.
    pub token_url: String,
    shared: Arc<Shared>,
}

impl FakeGraph {
    /// Serves `directory` on 127.0.0.1 (a free port).
    pub async fn start(directory: SharedDirectory) -> FakeGraph {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake graph");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared {
            directory,
            base: format!("http://{addr}/v1.0"),
            switches: Mutex::default(),
            seen: Mutex::default(),
            tokens: Mutex::default(),
            token_requests: Mutex::default(),
        });
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .fallback(api)
            .with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeGraph {
            base_url: shared.base.clone(),
            token_url: format!("http://{addr}/{TENANT}/oauth2/v2.0/token"),
            shared,
        }
    }

    /// The installation credential for this fake (`secret` as the client secret).
    pub fn credential(&self, secret: &str) -> Value {
        json!({"kind": "oauth2-client-credentials", "token_url": self.token_url,
            "client_id": CLIENT_ID, "client_secret": secret, "scope": SCOPE})
    }

    /// The next `n` authenticated API requests answer 429 with
    /// `Retry-After: retry_after`.
    pub fn throttle_next(&self, n: u32, retry_after: u32) {
        let mut s = self.shared.switches.lock().unwrap();
        s.throttle = n;
        s.retry_after = retry_after;
    }

    /// The next `n` authenticated API requests answer 403
    /// `Authorization_RequestDenied` (a missing permission).
    pub fn deny_next(&self, n: u32) {
        self.shared.switches.lock().unwrap().deny = n;
    }

    /// Updated (not new) users in delta pages carry only `id` and `jobTitle`.
    pub fn partial_updates(&self, on: bool) {
        self.shared.switches.lock().unwrap().partial_updates = on;
    }

    /// API requests whose path (after `/v1.0`) starts with `prefix`.
    pub fn requests(&self, prefix: &str) -> usize {
        let seen = self.shared.seen.lock().unwrap();
        seen.iter()
            .filter(|s| {
                s.path
                    .strip_prefix("/v1.0")
                    .is_some_and(|p| p.starts_with(prefix))
            })
            .count()
    }

    /// Every API request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Requests to the token endpoint.
    pub fn token_requests(&self) -> usize {
        *self.shared.token_requests.lock().unwrap()
    }
}

/// Graph's error body.
pub(crate) fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message,
        "innerError": {"date": "2024-01-01T00:00:00", "request-id": "00000000-0000-0000-0000-000000000000",
            "client-request-id": "00000000-0000-0000-0000-000000000000"}}});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Entra's OAuth error body.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description, "error_codes": [],
        "timestamp": "2024-01-01 00:00:00Z", "trace_id": "0", "correlation_id": "0"});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    *shared.token_requests.lock().unwrap() += 1;
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if tenant != TENANT {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("AADSTS90002: Tenant '{tenant}' not found."),
        );
    }
    if field("grant_type") != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    if field("client_id") != Some(CLIENT_ID) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "AADSTS700016: Application was not found in the directory.",
        );
    }
    if field("client_secret") != Some(CLIENT_SECRET) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    if field("scope") != Some(SCOPE) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS1002012: The provided value for scope is not valid.",
        );
    }
    let mut tokens = shared.tokens.lock().unwrap();
    let access_token = format!("fake-graph-token-{}", tokens.len() + 1);
    tokens.insert(access_token.clone());
    let body = json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": access_token});
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Auth, switches, then the route.
async fn api(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    let prefer = headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    shared.seen.lock().unwrap().push(Seen {
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        prefer: prefer.clone(),
    });
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let known = bearer.is_some_and(|t| shared.tokens.lock().unwrap().contains(t));
    if !known {
        let message = if bearer.is_none() {
            "Access token is empty."
        } else {
            "IDX14100: JWT is not well formed."
        };
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        );
    }
    {
        let mut s = shared.switches.lock().unwrap();
        if s.throttle > 0 {
            s.throttle -= 1;
            let mut r = graph_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests.",
            );
            r.headers_mut().insert("retry-after", s.retry_after.into());
            return r;
        }
        if s.deny > 0 {
            s.deny -= 1;
            return graph_error(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            );
        }
    }
    let query: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let request = render::Request {
        query,
        max_page_size: prefer
            .as_deref()
            .and_then(|p| p.trim().strip_prefix("odata.maxpagesize="))
            .and_then(|n| n.trim().parse().ok()),
    };
    let segments: Vec<&str> = uri.path().trim_start_matches("/v1.0/").split('/').collect();
    if !uri.path().starts_with("/v1.0/") {
        return graph_error(StatusCode::BAD_REQUEST, "BadRequest", "Invalid version.");
    }
    match segments.as_slice() {
        ["users"] => render::list_users(&shared, &request),
        ["users", "delta"] => render::users_delta(&shared, &request),
        ["users", id] => render::get_user(&shared, &request, id),
        ["groups"] => render::list_groups(&shared, &request),
        ["groups", "delta"] => render::groups_delta(&shared, &request),
        ["groups", id] => render::get_group(&shared, &request, id),
        ["groups", id, "members", "microsoft.graph.user"] => render::members(&shared, &request, id),
        _ => graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Resource not found for the segment.",
        ),
    }
}
