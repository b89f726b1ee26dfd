//! A fake Google Workspace Admin SDK for the `google-workspace` connector:
//! an axum server on 127.0.0.1:0 serving a [`SharedDirectory`] as the
//! Directory API v1 (`users.list`, `groups.list`, `groups.get`,
//! `members.list`, with Google's JSON shapes, `maxResults` caps and
//! `nextPageToken` paging) and a token endpoint (`POST /token`) for the
//! JWT-bearer grant (signature and claims checked) and the refresh-token
//! grant. API calls need `Authorization: Bearer <a token it issued>`;
//! anything else answers Google's 401 body.
//!
//! ```text
//! let fake = FakeGoogle::start(SharedDirectory::new(FakeDirectory::generate(100, 5, 300))).await;
//! config:      {"api_base": fake.base_url}
//! credentials: {"google": fake.jwt_credential()}   or fake.refresh_credential()
//! fake.throttle_next(2, Throttle::UserRateLimit);  fake.requests("users.list");
//! ```
//!
//! Pages are rendered on the fly from the directory; a page token is the
//! last id of the previous page (base64), resolved with a `BTreeMap`
//! range, so it serves the 100k-user benchmark too.

mod render;
mod token;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::fake_directory::SharedDirectory;

pub use token::{
    CLIENT_ID, CLIENT_SECRET, DELEGATED_SCOPES, REFRESH_TOKEN, SERVICE_ACCOUNT,
    SERVICE_ACCOUNT_KEY, SUBJECT,
};

/// The fake customer's id (besides `my_customer`).
pub const CUSTOMER_ID: &str = "C0fake123";

/// How a throttled request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// 403 `usageLimits` / `userRateLimitExceeded`, no `Retry-After`.
    UserRateLimit,
    /// 403 `quotaExceeded` with `Retry-After: n`.
    QuotaExceeded(u32),
    /// 429 `rateLimitExceeded` with `Retry-After: n`.
    TooManyRequests(u32),
}

#[derive(Default)]
struct Shared {
    /// Access tokens issued and still honoured.
    tokens: HashSet<String>,
    issued: u64,
    throttles: VecDeque<Throttle>,
    /// Requests per endpoint name (`users.list`, `token`, …).
    counters: BTreeMap<&'static str, usize>,
    /// Form fields of every token request.
    grants: Vec<Vec<(String, String)>>,
    refresh_revoked: bool,
}

pub(crate) struct FakeState {
    directory: SharedDirectory,
    token_url: String,
    shared: Mutex<Shared>,
}

impl FakeState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake.
pub struct FakeGoogle {
    /// The `api_base` to configure (`http://127.0.0.1:port`).
    pub base_url: String,
    /// `{base_url}/token`, the credentials' `token_url`.
    pub token_url: String,
    state: Arc<FakeState>,
}

impl FakeGoogle {
    pub async fn start(directory: SharedDirectory) -> FakeGoogle {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake Google");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let token_url = format!("{base_url}/token");
        let state = Arc::new(FakeState {
            directory,
            token_url: token_url.clone(),
            shared: Mutex::default(),
        });
        let app = Router::new()
            .route("/token", post(token::grant))
            .route("/admin/directory/v1/users", get(users))
            .route("/admin/directory/v1/groups", get(groups))
            .route("/admin/directory/v1/groups/{key}", get(group))
            .route("/admin/directory/v1/groups/{key}/members", get(members))
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeGoogle {
            base_url,
            token_url,
            state,
        }
    }

    /// A `jwt-bearer` credential (service account with domain-wide
    /// delegation, the three directory scopes, `subject` an administrator).
    pub fn jwt_credential(&self) -> Value {
        json!({"kind": "jwt-bearer", "token_url": self.token_url, "client_email": SERVICE_ACCOUNT,
               "private_key": SERVICE_ACCOUNT_KEY, "scope": DELEGATED_SCOPES.join(" "), "subject": SUBJECT})
    }

    /// An `oauth2-refresh-token` credential the token endpoint accepts.
    pub fn refresh_credential(&self) -> Value {
        json!({"kind": "oauth2-refresh-token", "token_url": self.token_url, "client_id": CLIENT_ID,
               "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN})
    }

    /// The next `n` directory requests (after authentication) are throttled.
    pub fn throttle_next(&self, n: usize, how: Throttle) {
        self.state
            .lock()
            .throttles
            .extend(std::iter::repeat_n(how, n));
    }

    /// Requests served so far by `endpoint`: `users.list`, `groups.list`,
    /// `groups.get`, `members.list` or `token` (refused ones included).
    pub fn requests(&self, endpoint: &str) -> usize {
        self.state
            .lock()
            .counters
            .get(endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// Form fields of every token request, in order.
    pub fn grants(&self) -> Vec<Vec<(String, String)>> {
        self.state.lock().grants.clone()
    }

    /// Forgets every issued access token: the API answers 401 until a new
    /// one is fetched.
    pub fn revoke_access_tokens(&self) {
        self.state.lock().tokens.clear();
    }

    /// The refresh token stops working (`invalid_grant`).
    pub fn revoke_refresh_token(&self) {
        self.state.lock().refresh_revoked = true;
    }
}

/// An error answer, boxed so `Result`s carrying it stay small.
pub(crate) type Refusal = Box<Response>;

/// A JSON answer with Google's content type.
fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
}

/// Google's error body.
fn google_error(status: StatusCode, domain: &str, reason: &str, message: &str) -> Response {
    let code = status.as_u16();
    let body = json!({"error": {"code": code, "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}]}});
    json_response(status, body.to_string())
}

pub(crate) fn bad_request(message: &str) -> Response {
    google_error(StatusCode::BAD_REQUEST, "global", "invalid", message)
}

fn not_found(what: &str) -> Response {
    google_error(
        StatusCode::NOT_FOUND,
        "global",
        "notFound",
        &format!("Resource Not Found: {what}"),
    )
}

/// Counts the request, then checks the token and the throttle switch.
fn admit(state: &FakeState, endpoint: &'static str, headers: &HeaderMap) -> Result<(), Refusal> {
    let mut shared = state.lock();
    *shared.counters.entry(endpoint).or_default() += 1;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !token.is_some_and(|t| shared.tokens.contains(t)) {
        return Err(Box::new(google_error(
            StatusCode::UNAUTHORIZED,
            "global",
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        )));
    }
    let throttled = match shared.throttles.pop_front() {
        None => return Ok(()),
        Some(Throttle::UserRateLimit) => google_error(
            StatusCode::FORBIDDEN,
            "usageLimits",
            "userRateLimitExceeded",
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'admin.googleapis.com'.",
        ),
        Some(Throttle::QuotaExceeded(seconds)) => with_retry_after(
            google_error(
                StatusCode::FORBIDDEN,
                "usageLimits",
                "quotaExceeded",
                "Quota exceeded.",
            ),
            seconds,
        ),
        Some(Throttle::TooManyRequests(seconds)) => with_retry_after(
            google_error(
                StatusCode::TOO_MANY_REQUESTS,
                "global",
                "rateLimitExceeded",
                "Resource has been exhausted (e.g. check quota).",
            ),
            seconds,
        ),
    };
    Err(Box::new(throttled))
}

fn with_retry_after(mut response: Response, seconds: u32) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

type Params = Query<HashMap<String, String>>;

async fn users(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    if let Err(refused) = admit(&state, "users.list", &headers) {
        return *refused;
    }
    let directory = state.directory.lock();
    match render::users_page(&directory, &q) {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(refused) => *refused,
    }
}

async fn groups(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    if let Err(refused) = admit(&state, "groups.list", &headers) {
        return *refused;
    }
    let directory = state.directory.lock();
    match render::groups_page(&directory, &q) {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(refused) => *refused,
    }
}

async fn group(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    if let Err(refused) = admit(&state, "groups.get", &headers) {
        return *refused;
    }
    let directory = state.directory.lock();
    match render::group_by_key(&directory, &key) {
        Some(group) => json_response(StatusCode::OK, render::group(&directory, group).to_string()),
        None => not_found("groupKey"),
    }
}

async fn members(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Query(q): Params,
) -> Response {
    if let Err(refused) = admit(&state, "members.list", &headers) {
        return *refused;
    }
    let directory = state.directory.lock();
    let Some(group) = render::group_by_key(&directory, &key) else {
        return not_found("groupKey");
    };
    let id = group.id.clone();
    match render::members_page(&directory, &id, &q) {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(refused) => *refused,
    }
}
