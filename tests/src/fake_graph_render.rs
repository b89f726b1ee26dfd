//! The fake Graph's answers ([`crate::fake_graph`]): directory records
//! rendered into Graph's `user` and `group` JSON, collection pages with
//! `$skiptoken` next links, and delta rounds over the change log.
//!
//! Skip tokens: `/users` and `/groups` pages use the last id served;
//! delta rounds use `i.<to>.<last id>` (initial round, ending in
//! `$deltatoken=<to>`) and `d.<from>.<to>.<offset>` (the changes after
//! tick `from` up to `to`).

use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::fake_directory::{FakeChange, FakeDirectory, FakeGroup, FakeUser};
use crate::fake_graph::{Shared, graph_error};

const USER_TYPE: &str = "#microsoft.graph.user";
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 999;

/// What the handlers need of a request.
pub(crate) struct Request {
    pub query: Vec<(String, String)>,
    /// From `Prefer: odata.maxpagesize=N`.
    pub max_page_size: Option<usize>,
}

impl Request {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn select(&self) -> Option<HashSet<&str>> {
        self.param("$select")
            .map(|s| s.split(',').map(str::trim).collect())
    }

    fn selects(&self, property: &str) -> bool {
        self.select().is_some_and(|s| s.contains(property))
    }

    fn page_size(&self) -> usize {
        self.param("$top")
            .and_then(|t| t.parse().ok())
            .or(self.max_page_size)
            .unwrap_or(DEFAULT_PAGE)
            .clamp(1, MAX_PAGE)
    }

    /// A link to `path` with this request's query, the paging tokens
    /// replaced by `token`.
    fn link(&self, base: &str, path: &str, token: (&str, String)) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.query {
            if !k.eq_ignore_ascii_case("$skiptoken") && !k.eq_ignore_ascii_case("$deltatoken") {
                query.append_pair(k, v);
            }
        }
        query.append_pair(token.0, &token.1);
        format!("{base}/{path}?{}", query.finish())
    }
}

fn ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn not_found(id: &str) -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

fn local_part(email: &str) -> &str {
    email.split('@').next().unwrap_or(email)
}

fn retain_selected(mut m: Map<String, Value>, request: &Request) -> Map<String, Value> {
    if let Some(select) = request.select() {
        m.retain(|k, _| k == "id" || select.contains(k.as_str()));
    }
    m
}

/// A user as Graph renders it; `delta` renders the manager as `manager@delta`.
fn user_object(u: &FakeUser, request: &Request, delta: bool) -> Value {
    let json = json!({
        "id": u.id, "userPrincipalName": u.email, "mail": u.email, "givenName": u.given_name,
        "surname": u.family_name, "displayName": format!("{} {}", u.given_name, u.family_name),
        "accountEnabled": !u.suspended, "jobTitle": u.title, "department": u.department,
        "employeeId": u.employee_number, "employeeType": "Employee",
        "employeeOrgData": {"division": format!("{} Division", u.department), "costCenter": format!("CC-{}", u.department)},
        "companyName": "Contoso", "officeLocation": null, "preferredLanguage": "en-US",
        "onPremisesSamAccountName": local_part(&u.email),
    });
    let Value::Object(m) = json else {
        unreachable!()
    };
    let mut m = retain_selected(m, request);
    let manager = u
        .manager_id
        .as_ref()
        .map(|id| json!({"@odata.type": USER_TYPE, "id": id}));
    if delta && request.selects("manager") {
        m.insert(
            "manager@delta".into(),
            Value::Array(manager.into_iter().collect()),
        );
    } else if !delta
        && request
            .param("$expand")
            .is_some_and(|e| e.starts_with("manager"))
        && let Some(manager) = manager
    {
        m.insert("manager".into(), manager);
    }
    Value::Object(m)
}

fn group_object(g: &FakeGroup, request: &Request) -> Map<String, Value> {
    let description = (!g.description.is_empty()).then_some(g.description.as_str());
    let json = json!({
        "id": g.id, "displayName": g.name, "description": description, "mail": g.email,
        "mailNickname": local_part(&g.email), "mailEnabled": true, "securityEnabled": true, "groupTypes": [],
    });
    let Value::Object(m) = json else {
        unreachable!()
    };
    retain_selected(m, request)
}

fn member_ref(id: &str) -> Value {
    json!({"@odata.type": USER_TYPE, "id": id})
}

fn page(
    shared: &Shared,
    collection: &str,
    value: Vec<Value>,
    link: Option<(&str, String)>,
) -> Response {
    let mut body = json!({"@odata.context": format!("{}/$metadata#{collection}", shared.base), "value": value});
    if let Some((kind, url)) = link {
        body[kind] = Value::String(url);
    }
    ok(body)
}

/// Up to `n` entries of `map` after the `$skiptoken` id, and the next link.
fn sorted_page<'a, T>(
    shared: &Shared,
    request: &Request,
    path: &str,
    map: &'a BTreeMap<String, T>,
) -> (Vec<&'a T>, Option<(&'static str, String)>) {
    let n = request.page_size();
    let skip = request.param("$skiptoken").map(str::to_owned);
    let bound = skip.as_ref().map_or(Bound::Unbounded, Bound::Excluded);
    let mut items: Vec<(&String, &T)> = map
        .range::<String, _>((bound, Bound::Unbounded))
        .take(n + 1)
        .collect();
    let more = items.len() > n;
    items.truncate(n);
    let next = match items.last() {
        Some((last, _)) if more => Some((
            "@odata.nextLink",
            request.link(&shared.base, path, ("$skiptoken", (*last).clone())),
        )),
        _ => None,
    };
    (items.into_iter().map(|(_, v)| v).collect(), next)
}

pub(crate) fn list_users(shared: &Shared, request: &Request) -> Response {
    let d = shared.directory.lock();
    let (users, next) = sorted_page(shared, request, "users", &d.users);
    let value = users
        .into_iter()
        .map(|u| user_object(u, request, false))
        .collect();
    page(shared, "users", value, next)
}

pub(crate) fn get_user(shared: &Shared, request: &Request, id: &str) -> Response {
    let d = shared.directory.lock();
    match d.users.get(id) {
        Some(u) => ok(user_object(u, request, false)),
        None => not_found(id),
    }
}

pub(crate) fn list_groups(shared: &Shared, request: &Request) -> Response {
    let d = shared.directory.lock();
    let (groups, next) = sorted_page(shared, request, "groups", &d.groups);
    let value = groups
        .into_iter()
        .map(|g| Value::Object(group_object(g, request)))
        .collect();
    page(shared, "groups", value, next)
}

pub(crate) fn get_group(shared: &Shared, request: &Request, id: &str) -> Response {
    let d = shared.directory.lock();
    match d.groups.get(id) {
        Some(g) => ok(Value::Object(group_object(g, request))),
        None => not_found(id),
    }
}

pub(crate) fn members(shared: &Shared, request: &Request, group: &str) -> Response {
    let d = shared.directory.lock();
    let Some(members) = d
        .members
        .get(group)
        .filter(|_| d.groups.contains_key(group))
    else {
        return not_found(group);
    };
    let n = request.page_size();
    let skip = request.param("$skiptoken").map(str::to_owned);
    let bound = skip.as_ref().map_or(Bound::Unbounded, Bound::Excluded);
    let mut items: Vec<&String> = members
        .range::<String, _>((bound, Bound::Unbounded))
        .take(n + 1)
        .collect();
    let more = items.len() > n;
    items.truncate(n);
    let value = items.iter().map(|id| member_ref(id)).collect();
    let path = format!("groups/{group}/members/microsoft.graph.user");
    let next = more.then(|| {
        (
            "@odata.nextLink",
            request.link(
                &shared.base,
                &path,
                (
                    "$skiptoken",
                    items.last().map(|s| (*s).clone()).unwrap_or_default(),
                ),
            ),
        )
    });
    page(shared, "directoryObjects", value, next)
}

/// Where a delta request stands.
enum Round {
    Latest,
    Initial { to: u64, after: Option<String> },
    Changes { from: u64, to: u64, offset: usize },
}

fn round(request: &Request, tick: u64) -> Option<Round> {
    if let Some(token) = request.param("$deltatoken") {
        if token == "latest" {
            return Some(Round::Latest);
        }
        return Some(Round::Changes {
            from: token.parse().ok()?,
            to: tick,
            offset: 0,
        });
    }
    let Some(skip) = request.param("$skiptoken") else {
        return Some(Round::Initial {
            to: tick,
            after: None,
        });
    };
    let parts: Vec<&str> = skip.splitn(4, '.').collect();
    match parts.as_slice() {
        ["i", to, after] => Some(Round::Initial {
            to: to.parse().ok()?,
            after: Some((*after).to_owned()),
        }),
        ["d", from, to, offset] => Some(Round::Changes {
            from: from.parse().ok()?,
            to: to.parse().ok()?,
            offset: offset.parse().ok()?,
        }),
        _ => None,
    }
}

fn expired() -> Response {
    graph_error(
        StatusCode::GONE,
        "syncStateNotFound",
        "The sync state generation is not found; the delta token has expired. Restart with a full synchronization.",
    )
}

/// Log entries in `(from, to]`, or `None` when `from` has expired.
fn window(d: &FakeDirectory, from: u64, to: u64) -> Option<Vec<FakeChange>> {
    let changes = d.changes_after(from)?;
    Some(
        changes
            .into_iter()
            .take_while(|(t, _)| *t <= to)
            .map(|(_, c)| c)
            .collect(),
    )
}

fn distinct(ids: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    ids.filter(|id| seen.insert(id.clone())).collect()
}

/// One delta page: `render(directory, id)` per changed id of the window.
fn delta_page(
    shared: &Shared,
    request: &Request,
    collection: &str,
    initial_ids: impl Fn(&FakeDirectory, Option<&String>, usize) -> (Vec<String>, bool),
    changed_ids: impl Fn(&[FakeChange]) -> Vec<String>,
    render: impl Fn(&FakeDirectory, &str, Option<&[FakeChange]>, u64) -> Value,
) -> Response {
    let d = shared.directory.lock();
    let n = request
        .max_page_size
        .unwrap_or(DEFAULT_PAGE)
        .clamp(1, MAX_PAGE);
    let path = format!("{collection}/delta");
    let delta_link = |to: u64| {
        Some((
            "@odata.deltaLink",
            request.link(&shared.base, &path, ("$deltatoken", to.to_string())),
        ))
    };
    match round(request, d.tick) {
        None => graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The delta token is malformed.",
        ),
        Some(Round::Latest) => page(shared, collection, Vec::new(), delta_link(d.tick)),
        Some(Round::Initial { to, after }) => {
            let (ids, more) = initial_ids(&d, after.as_ref(), n);
            let value = ids.iter().map(|id| render(&d, id, None, 0)).collect();
            let link = match (more, ids.last()) {
                (true, Some(last)) => Some((
                    "@odata.nextLink",
                    request.link(
                        &shared.base,
                        &path,
                        ("$skiptoken", format!("i.{to}.{last}")),
                    ),
                )),
                _ => delta_link(to),
            };
            page(shared, collection, value, link)
        }
        Some(Round::Changes { from, to, offset }) => {
            let Some(changes) = window(&d, from, to) else {
                return expired();
            };
            let ids = changed_ids(&changes);
            let end = (offset + n).min(ids.len());
            let value = ids
                .get(offset..end)
                .unwrap_or_default()
                .iter()
                .map(|id| render(&d, id, Some(&changes), from))
                .collect();
            let link = if end < ids.len() {
                Some((
                    "@odata.nextLink",
                    request.link(
                        &shared.base,
                        &path,
                        ("$skiptoken", format!("d.{from}.{to}.{end}")),
                    ),
                ))
            } else {
                delta_link(to)
            };
            page(shared, collection, value, link)
        }
    }
}

pub(crate) fn users_delta(shared: &Shared, request: &Request) -> Response {
    let partial = shared.partial_updates();
    delta_page(
        shared,
        request,
        "users",
        |d, after, n| {
            let bound = after.map_or(Bound::Unbounded, Bound::Excluded);
            let mut ids: Vec<String> = d
                .users
                .range::<String, _>((bound, Bound::Unbounded))
                .take(n + 1)
                .map(|(id, _)| id.clone())
                .collect();
            let more = ids.len() > n;
            ids.truncate(n);
            (ids, more)
        },
        |changes| {
            distinct(changes.iter().filter_map(|c| match c {
                FakeChange::User(id) | FakeChange::UserRemoved(id) => Some(id.clone()),
                _ => None,
            }))
        },
        |d, id, _, from| match d.users.get(id) {
            Some(u) if partial && u.created <= from => json!({"id": u.id, "jobTitle": u.title}),
            Some(u) => user_object(u, request, true),
            None => json!({"@odata.type": USER_TYPE, "id": id, "@removed": {"reason": "changed"}}),
        },
    )
}

pub(crate) fn groups_delta(shared: &Shared, request: &Request) -> Response {
    let with_members = request.selects("members");
    delta_page(
        shared,
        request,
        "groups",
        |d, after, n| {
            let bound = after.map_or(Bound::Unbounded, Bound::Excluded);
            let mut ids: Vec<String> = d
                .groups
                .range::<String, _>((bound, Bound::Unbounded))
                .take(n + 1)
                .map(|(id, _)| id.clone())
                .collect();
            let more = ids.len() > n;
            ids.truncate(n);
            (ids, more)
        },
        |changes| {
            distinct(changes.iter().map(|c| match c {
                FakeChange::Group(id) | FakeChange::GroupRemoved(id) => id.clone(),
                FakeChange::MemberAdded { group, .. } | FakeChange::MemberRemoved { group, .. } => {
                    group.clone()
                }
                FakeChange::User(id) | FakeChange::UserRemoved(id) => format!("user:{id}"),
            }))
            .into_iter()
            .filter(|id| !id.starts_with("user:"))
            .collect()
        },
        |d, id, changes, _| {
            let Some(g) = d.groups.get(id) else {
                return json!({"@odata.type": "#microsoft.graph.group", "id": id, "@removed": {"reason": "changed"}});
            };
            let current = d.members.get(id);
            let is_member = |u: &str| current.is_some_and(|m| m.contains(u));
            let (mut obj, members) = match changes {
                None => (
                    group_object(g, request),
                    current
                        .into_iter()
                        .flatten()
                        .map(|u| member_ref(u))
                        .collect::<Vec<_>>(),
                ),
                Some(changes) => {
                    let renamed = changes
                        .iter()
                        .any(|c| matches!(c, FakeChange::Group(g) if g == id));
                    let obj = if renamed {
                        group_object(g, request)
                    } else {
                        Map::from_iter([("id".to_owned(), json!(id))])
                    };
                    let touched = distinct(changes.iter().filter_map(|c| match c {
                        FakeChange::MemberAdded { group, user }
                        | FakeChange::MemberRemoved { group, user }
                            if group == id =>
                        {
                            Some(user.clone())
                        }
                        _ => None,
                    }));
                    let members = touched
                        .iter()
                        .map(|u| if is_member(u) { member_ref(u) } else { json!({"@odata.type": USER_TYPE, "id": u, "@removed": {"reason": "deleted"}}) })
                        .collect();
                    (obj, members)
                }
            };
            if with_members && !members.is_empty() {
                obj.insert("members@delta".into(), Value::Array(members));
            }
            Value::Object(obj)
        },
    )
}
