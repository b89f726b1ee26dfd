//! A fake Okta org for the `okta-api` connector: the management API's
//! users, groups, group members and System Log over a [`SharedDirectory`],
//! in Okta's JSON shapes, rendered page by page on request (so it serves a
//! 100k-user directory as cheaply as a small one).
//!
//! - Auth: `Authorization: SSWS <TOKEN>`, else 401 `E0000011`.
//! - Paging: `limit` and `after=<last id>`, `Link: <…>; rel="next"`.
//! - Filters: `lastUpdated gt "…"`, `status eq "…"` (users), `type eq "…"`
//!   (groups), `eventType eq "…"` (System Log), joined with `or`/`and`.
//!   Without a filter, `DEPROVISIONED` users are left out, as Okta does.
//! - Time: directory tick `t` happened at [`time_of`]`(t)`; the server's
//!   clock (`Date`) is one step after the newest change, plus whatever
//!   [`FakeOkta::advance_clock`] added. The System Log answers 400 for a
//!   `since` older than 90 days or than an expired change log.
//! - A built-in `Everyone` group (type `BUILT_IN`, every user) besides the
//!   directory's `OKTA_GROUP`s.
//! - Knobs: [`FakeOkta::throttle_next`] (429 with `X-Rate-Limit-*`),
//!   [`FakeOkta::fail_next`] (403, 404, 500 …), [`FakeOkta::set_status`]
//!   (an Okta status for a user), and request counters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use serde_json::{Value, json};

use crate::fake_directory::{FakeChange, FakeDirectory, FakeGroup, FakeUser, SharedDirectory};

/// The API token the fake accepts.
pub const TOKEN: &str = "00FakeOktaApiToken-abcdefghijklmnopqrstuv";
/// Time of tick 0: 2024-01-01T00:00:00Z.
pub const BASE_MS: i64 = 1_704_067_200_000;
/// Time between two ticks: longer than the connector's one-minute overlap,
/// so rounds of `changes` do not repeat the previous round's last change.
pub const TICK_MS: i64 = 120_000;
/// Seconds until `X-Rate-Limit-Reset` in a throttled answer.
pub const RESET_SECONDS: i64 = 17;
/// The `Everyone` group's id.
pub const EVERYONE: &str = "00gEveryone";
const RETENTION_MS: i64 = 90 * 86_400_000;

/// When directory tick `tick` happened, in ms since the epoch.
pub fn time_of(tick: u64) -> i64 {
    BASE_MS + tick as i64 * TICK_MS
}

/// `2024-01-01T00:00:00.000Z`.
pub fn iso(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

fn parse_iso(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
}

struct Inner {
    directory: SharedDirectory,
    base_url: String,
    advanced_ms: AtomicI64,
    /// Statuses answered for the next requests, in order.
    failures: Mutex<Vec<u16>>,
    statuses: Mutex<HashMap<String, String>>,
    seen: Mutex<Vec<Seen>>,
}

/// A running fake org.
pub struct FakeOkta {
    /// `http://127.0.0.1:<port>`: the connector's `org_url`.
    pub base_url: String,
    inner: Arc<Inner>,
}

impl FakeOkta {
    /// Serves `directory` on 127.0.0.1 (a random port).
    pub async fn start(directory: SharedDirectory) -> FakeOkta {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake okta");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let inner = Arc::new(Inner {
            directory,
            base_url: base_url.clone(),
            advanced_ms: AtomicI64::new(0),
            failures: Mutex::default(),
            statuses: Mutex::default(),
            seen: Mutex::default(),
        });
        let router = Router::new().fallback(handle).with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeOkta { base_url, inner }
    }

    /// The server's clock now (ms): one step after the newest change.
    pub fn now_ms(&self) -> i64 {
        self.inner.now_ms(&self.inner.directory.lock())
    }

    /// Moves the server's clock forward (e.g. 100 days to expire checkpoints).
    pub fn advance_clock(&self, by: Duration) {
        self.inner
            .advanced_ms
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    /// The next `n` requests answer 429 with `X-Rate-Limit-Reset` =
    /// now + [`RESET_SECONDS`].
    pub fn throttle_next(&self, n: usize) {
        self.fail_next(n, 429);
    }

    /// The next `n` requests answer `status` with Okta's error body.
    pub fn fail_next(&self, n: usize, status: u16) {
        lock(&self.inner.failures).extend(std::iter::repeat_n(status, n));
    }

    /// Gives a user an Okta status (`DEPROVISIONED`, `STAGED`, …) as a
    /// change of the directory (`suspended` follows the status).
    pub fn set_status(&self, user: &str, status: &str) {
        lock(&self.inner.statuses).insert(user.to_owned(), status.to_owned());
        self.inner.directory.lock().update_user(user, |u| {
            u.suspended = matches!(status, "SUSPENDED" | "DEPROVISIONED")
        });
    }

    /// Requests whose path starts with `prefix`.
    pub fn requests(&self, prefix: &str) -> usize {
        lock(&self.inner.seen)
            .iter()
            .filter(|s| s.path.starts_with(prefix))
            .count()
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.inner.seen).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    fn now_ms(&self, d: &FakeDirectory) -> i64 {
        time_of(d.tick) + TICK_MS + self.advanced_ms.load(Ordering::SeqCst)
    }

    fn status(&self, user: &FakeUser) -> String {
        lock(&self.statuses)
            .get(&user.id)
            .cloned()
            .unwrap_or_else(|| {
                if user.suspended {
                    "SUSPENDED"
                } else {
                    "ACTIVE"
                }
                .to_owned()
            })
    }
}

/// What a filter expression asks for.
#[derive(Debug, Default)]
struct Filter {
    updated_after: Option<i64>,
    statuses: Vec<String>,
    types: Vec<String>,
    event_types: Vec<String>,
}

/// Reads `attr op "value"` terms joined by `and`/`or` (parentheses
/// ignored): enough for the filters Okta's clients send.
fn parse_filter(text: &str) -> Result<Filter, String> {
    let mut filter = Filter::default();
    let parts: Vec<&str> = text.split('"').collect();
    if parts.len().is_multiple_of(2) {
        return Err("unbalanced quotes".into());
    }
    for pair in parts.chunks(2).filter(|c| c.len() == 2) {
        let words: Vec<&str> = pair[0]
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .filter(|w| !w.is_empty())
            .collect();
        let (attr, op) = match words[..] {
            [.., attr, op] => (attr, op),
            _ => return Err(format!("no attribute before \"{}\"", pair[1])),
        };
        let value = pair[1].to_owned();
        match (attr, op) {
            ("lastUpdated", "gt") => {
                filter.updated_after = Some(parse_iso(&value).ok_or("bad date")?)
            }
            ("status", "eq") => filter.statuses.push(value),
            ("type", "eq") => filter.types.push(value),
            ("eventType", "eq") => filter.event_types.push(value),
            _ => return Err(format!("unsupported filter term {attr} {op}")),
        }
    }
    Ok(filter)
}

fn error(status: StatusCode, code: &str, summary: &str, causes: &[&str]) -> Response {
    let causes: Vec<Value> = causes.iter().map(|c| json!({"errorSummary": c})).collect();
    let body = json!({
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": format!("oae{}", ulid::Ulid::new().to_string().to_lowercase()),
        "errorCauses": causes,
    });
    (status, axum::Json(body)).into_response()
}

fn failure(status: u16, now_ms: i64) -> Response {
    match status {
        429 => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "E0000047",
                "API call exceeded rate limit due to too many requests.",
                &[],
            );
            let h = r.headers_mut();
            h.insert("x-rate-limit-limit", HeaderValue::from_static("600"));
            h.insert("x-rate-limit-remaining", HeaderValue::from_static("0"));
            let reset = (now_ms / 1000 + RESET_SECONDS).to_string();
            h.insert("x-rate-limit-reset", HeaderValue::from_str(&reset).unwrap());
            r
        }
        403 => error(
            StatusCode::FORBIDDEN,
            "E0000006",
            "You do not have permission to perform the requested action",
            &[],
        ),
        404 => error(
            StatusCode::NOT_FOUND,
            "E0000007",
            "Not found: Resource not found: org (Org)",
            &[],
        ),
        other => error(
            StatusCode::from_u16(other).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "E0000009",
            "Internal Server Error",
            &[],
        ),
    }
}

async fn handle(State(inner): State<Arc<Inner>>, uri: Uri, headers: HeaderMap) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    lock(&inner.seen).push(Seen {
        path: path.clone(),
        query: query.clone(),
        authorization: authorization.clone(),
    });
    let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let directory = inner.directory.lock();
    let now = inner.now_ms(&directory);
    let queued = {
        let mut failures = lock(&inner.failures);
        (!failures.is_empty()).then(|| failures.remove(0))
    };
    let mut response = if let Some(status) = queued {
        failure(status, now)
    } else if authorization.as_deref() != Some(format!("SSWS {TOKEN}").as_str()) {
        error(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
            &[],
        )
    } else {
        let page = Pager {
            inner: &inner,
            directory: &directory,
            params: &params,
            path: &path,
            now,
        };
        page.route()
    };
    let date = DateTime::from_timestamp_millis(now)
        .map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default();
    response
        .headers_mut()
        .insert("date", HeaderValue::from_str(&date).unwrap());
    response
}

/// One authenticated request being answered.
struct Pager<'a> {
    inner: &'a Inner,
    directory: &'a FakeDirectory,
    params: &'a HashMap<String, String>,
    path: &'a str,
    now: i64,
}

impl Pager<'_> {
    fn route(&self) -> Response {
        let filter = match self.params.get("filter").map(|f| parse_filter(f)) {
            Some(Err(why)) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "E0000031",
                    "Invalid search criteria.",
                    &[&why],
                );
            }
            Some(Ok(f)) => f,
            None => Filter::default(),
        };
        let segments: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        match segments[..] {
            ["api", "v1", "users"] => self.users(&filter),
            ["api", "v1", "groups"] => self.groups(&filter),
            ["api", "v1", "groups", id] => match self.group(id) {
                Some(g) => axum::Json(g).into_response(),
                None => not_found(id),
            },
            ["api", "v1", "groups", id, "users"] => self.members(id),
            ["api", "v1", "logs"] => self.logs(&filter),
            _ => error(
                StatusCode::NOT_FOUND,
                "E0000022",
                "The endpoint does not support the provided HTTP method",
                &[],
            ),
        }
    }

    fn limit(&self, default: usize, max: usize) -> usize {
        self.params
            .get("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(default)
            .clamp(1, max)
    }

    /// A page of `items` (already past `after`) with Okta's `Link` headers.
    fn page(&self, mut items: Vec<(String, Value)>, limit: usize) -> Response {
        let more = items.len() > limit;
        items.truncate(limit);
        let mut query: Vec<(String, String)> = self
            .params
            .iter()
            .filter(|(k, _)| k.as_str() != "after")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        query.sort();
        let link = |extra: Option<&str>| {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &query {
                q.append_pair(k, v);
            }
            if let Some(after) = extra {
                q.append_pair("after", after);
            }
            format!(
                "{}{}?{}",
                self.inner.base_url,
                self.path,
                q.finish().replace('+', "%20")
            )
        };
        let mut links = vec![format!("<{}>; rel=\"self\"", link(None))];
        if more && let Some((last, _)) = items.last() {
            links.push(format!("<{}>; rel=\"next\"", link(Some(last))));
        }
        let body: Vec<Value> = items.into_iter().map(|(_, v)| v).collect();
        let mut response = axum::Json(body).into_response();
        for l in links {
            response
                .headers_mut()
                .append("link", HeaderValue::from_str(&l).unwrap());
        }
        response
    }

    fn after(&self) -> Option<&str> {
        self.params.get("after").map(String::as_str)
    }

    fn users(&self, filter: &Filter) -> Response {
        let limit = self.limit(200, 200);
        let wanted = |u: &FakeUser| {
            let status = self.inner.status(u);
            let by_status = if filter.statuses.is_empty() {
                filter.updated_after.is_some() || status != "DEPROVISIONED"
            } else {
                filter.statuses.contains(&status)
            };
            by_status && filter.updated_after.is_none_or(|t| time_of(u.updated) > t)
        };
        let items = self
            .users_after()
            .filter(|u| wanted(u))
            .take(limit + 1)
            .map(|u| (u.id.clone(), self.user(u)))
            .collect();
        self.page(items, limit)
    }

    fn users_after(&self) -> Box<dyn Iterator<Item = &FakeUser> + '_> {
        use std::ops::Bound::{Excluded, Unbounded};
        match self.after() {
            Some(a) => Box::new(
                self.directory
                    .users
                    .range::<str, _>((Excluded(a), Unbounded))
                    .map(|(_, u)| u),
            ),
            None => Box::new(self.directory.users.values()),
        }
    }

    fn user(&self, u: &FakeUser) -> Value {
        let status = self.inner.status(u);
        let manager = u
            .manager_id
            .as_ref()
            .and_then(|m| self.directory.users.get(m))
            .map(|m| format!("{} {}", m.given_name, m.family_name));
        let base = &self.inner.base_url;
        json!({
            "id": u.id,
            "status": status,
            "created": iso(time_of(u.created)),
            "activated": if status == "STAGED" { Value::Null } else { iso(time_of(u.created)).into() },
            "statusChanged": iso(time_of(u.updated)),
            "lastLogin": iso(self.now - 1000),
            "lastUpdated": iso(time_of(u.updated)),
            "passwordChanged": iso(time_of(u.created)),
            "type": {"id": "oty1defaultusertype"},
            "profile": {
                "firstName": u.given_name,
                "lastName": u.family_name,
                "mobilePhone": null,
                "secondEmail": null,
                "login": u.email,
                "email": u.email,
                "displayName": format!("{} {}", u.given_name, u.family_name),
                "title": u.title,
                "department": u.department,
                "employeeNumber": u.employee_number,
                "userType": "Employee",
                "managerId": u.manager_id,
                "manager": manager,
            },
            "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
            "_links": {"self": {"href": format!("{base}/api/v1/users/{}", u.id)}},
        })
    }

    fn everyone(&self) -> Value {
        self.group_json(
            EVERYONE,
            "BUILT_IN",
            "Everyone",
            "All users in your organization",
            0,
        )
    }

    fn group_json(&self, id: &str, kind: &str, name: &str, description: &str, tick: u64) -> Value {
        json!({
            "id": id,
            "created": iso(time_of(0)),
            "lastUpdated": iso(time_of(tick)),
            "lastMembershipUpdated": iso(time_of(tick)),
            "objectClass": ["okta:user_group"],
            "type": kind,
            "profile": {"name": name, "description": description},
            "_links": {
                "users": {"href": format!("{}/api/v1/groups/{id}/users", self.inner.base_url)},
            },
        })
    }

    fn okta_group(&self, g: &FakeGroup) -> Value {
        let mut v = self.group_json(&g.id, "OKTA_GROUP", &g.name, &g.description, g.updated);
        v["created"] = iso(time_of(g.created)).into();
        v
    }

    fn group(&self, id: &str) -> Option<Value> {
        if id == EVERYONE {
            return Some(self.everyone());
        }
        self.directory.groups.get(id).map(|g| self.okta_group(g))
    }

    fn groups(&self, filter: &Filter) -> Response {
        let limit = self.limit(10_000, 10_000);
        let after = self.after().unwrap_or("");
        let typed = |t: &str| filter.types.is_empty() || filter.types.iter().any(|x| x == t);
        let updated = |tick: u64| filter.updated_after.is_none_or(|t| time_of(tick) > t);
        // Ids sort so that Everyone (`00g…`) comes before `g…`.
        let everyone = (typed("BUILT_IN") && updated(0) && EVERYONE > after)
            .then(|| (EVERYONE.to_owned(), self.everyone()));
        let items = everyone
            .into_iter()
            .chain(
                self.directory
                    .groups
                    .values()
                    .filter(|g| g.id.as_str() > after && typed("OKTA_GROUP") && updated(g.updated))
                    .map(|g| (g.id.clone(), self.okta_group(g))),
            )
            .take(limit + 1)
            .collect();
        self.page(items, limit)
    }

    fn members(&self, id: &str) -> Response {
        let limit = self.limit(1000, 1000);
        let after = self.after().unwrap_or("");
        let items: Vec<(String, Value)> = if id == EVERYONE {
            self.users_after()
                .take(limit + 1)
                .map(|u| (u.id.clone(), self.user(u)))
                .collect()
        } else {
            let Some(members) = self.directory.members.get(id) else {
                return not_found(id);
            };
            members
                .iter()
                .filter(|m| m.as_str() > after)
                .filter_map(|m| self.directory.users.get(m))
                .take(limit + 1)
                .map(|u| (u.id.clone(), self.user(u)))
                .collect()
        };
        self.page(items, limit)
    }

    fn logs(&self, filter: &Filter) -> Response {
        let limit = self.limit(100, 1000);
        let since = match self.params.get("since").map(|s| parse_iso(s)) {
            Some(None) => return bad_since("since is not an ISO 8601 date"),
            Some(Some(t)) => t,
            None => self.now - 7 * 86_400_000,
        };
        let until = match self.params.get("until").map(|s| parse_iso(s)) {
            Some(None) => return bad_since("until is not an ISO 8601 date"),
            Some(Some(t)) => t,
            None => i64::MAX,
        };
        let floor = self.directory.log_floor;
        if since < self.now - RETENTION_MS || (floor > 0 && since < time_of(floor)) {
            return bad_since("since: the date is outside the System Log's retention period");
        }
        let after: u64 = self
            .params
            .get("after")
            .and_then(|a| a.parse().ok())
            .unwrap_or(0);
        let items = self
            .directory
            .log
            .iter()
            .filter(|(tick, _)| *tick > after && (since..until).contains(&time_of(*tick)))
            .filter_map(|(tick, change)| {
                let event = self.event(*tick, change);
                let wanted = filter.event_types.is_empty()
                    || filter.event_types.iter().any(|t| event["eventType"] == *t);
                wanted.then(|| (tick.to_string(), event))
            })
            .take(limit + 1)
            .collect();
        self.page(items, limit)
    }

    fn event(&self, tick: u64, change: &FakeChange) -> Value {
        let user = |id: &str| {
            let u = self.directory.users.get(id);
            json!({"id": id, "type": "User",
                   "alternateId": u.map_or("unknown", |u| u.email.as_str()),
                   "displayName": u.map_or("unknown".to_owned(), |u| format!("{} {}", u.given_name, u.family_name)),
                   "detailEntry": null})
        };
        let group = |id: &str| {
            let name = self
                .directory
                .groups
                .get(id)
                .map_or("unknown", |g| g.name.as_str());
            json!({"id": id, "type": "UserGroup", "alternateId": "unknown",
                   "displayName": name, "detailEntry": null})
        };
        let created = |t: Option<u64>| t == Some(tick);
        let (event_type, message, target) = match change {
            FakeChange::User(id) if created(self.directory.users.get(id).map(|u| u.created)) => {
                ("user.lifecycle.create", "Create okta user", vec![user(id)])
            }
            FakeChange::User(id) => (
                "user.account.update_profile",
                "Update user profile for Okta",
                vec![user(id)],
            ),
            FakeChange::UserRemoved(id) => (
                "user.lifecycle.delete.initiated",
                "Delete Okta user",
                vec![user(id)],
            ),
            FakeChange::Group(id) if created(self.directory.groups.get(id).map(|g| g.created)) => (
                "group.lifecycle.create",
                "Create okta group",
                vec![group(id)],
            ),
            FakeChange::Group(id) => (
                "group.profile.update",
                "Update group profile",
                vec![group(id)],
            ),
            FakeChange::GroupRemoved(id) => (
                "group.lifecycle.delete",
                "Delete Okta group",
                vec![group(id)],
            ),
            FakeChange::MemberAdded { group: g, user: u } => (
                "group.user_membership.add",
                "Add user to group membership",
                vec![user(u), group(g)],
            ),
            FakeChange::MemberRemoved { group: g, user: u } => (
                "group.user_membership.remove",
                "Remove user from group membership",
                vec![user(u), group(g)],
            ),
        };
        json!({
            "uuid": format!("fa4e0000-0000-4000-8000-{tick:012}"),
            "published": iso(time_of(tick)),
            "eventType": event_type,
            "version": "0",
            "severity": "INFO",
            "legacyEventType": null,
            "displayMessage": message,
            "actor": {"id": "00uAdmin", "type": "User", "alternateId": "admin@example.com",
                      "displayName": "Okta Admin", "detailEntry": null},
            "client": {"userAgent": {"rawUserAgent": "okta-fake", "os": "Unknown", "browser": "UNKNOWN"},
                       "zone": "null", "device": "Unknown", "id": null, "ipAddress": "127.0.0.1",
                       "geographicalContext": null},
            "outcome": {"result": "SUCCESS", "reason": null},
            "target": target,
            "transaction": {"type": "WEB", "id": format!("tx{tick}"), "detail": {}},
            "debugContext": {"debugData": {}},
            "authenticationContext": {"authenticationProvider": null, "credentialProvider": null,
                                      "credentialType": null, "issuer": null, "interface": null,
                                      "authenticationStep": 0, "externalSessionId": "trs-fake"},
            "securityContext": {},
        })
    }
}

fn not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "E0000007",
        &format!("Not found: Resource not found: {id} (UserGroup)"),
        &[],
    )
}

fn bad_since(cause: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "E0000001",
        "Api validation failed: since",
        &[cause],
    )
}
