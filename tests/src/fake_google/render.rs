//! The Directory API's JSON shapes and paging, rendered from the fake
//! directory on each request. Typed `Serialize` structs borrow from the
//! directory, so a 500-user page costs no intermediate JSON tree.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Value, json};

use super::{CUSTOMER_ID, Refusal, bad_request};
use crate::fake_directory::{FakeDirectory, FakeGroup, FakeUser};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Name<'a> {
    given_name: &'a str,
    family_name: &'a str,
    full_name: String,
}

#[derive(Serialize)]
struct Email<'a> {
    address: &'a str,
    primary: bool,
}

#[derive(Serialize)]
struct Typed<'a> {
    value: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Organization<'a> {
    title: &'a str,
    primary: bool,
    custom_type: &'static str,
    department: &'a str,
    cost_center: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct User<'a> {
    kind: &'static str,
    id: &'a str,
    etag: String,
    primary_email: &'a str,
    name: Name<'a>,
    is_admin: bool,
    is_delegated_admin: bool,
    last_login_time: &'static str,
    creation_time: &'static str,
    agreed_to_terms: bool,
    suspended: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    suspension_reason: Option<&'static str>,
    archived: bool,
    change_password_at_next_login: bool,
    ip_whitelisted: bool,
    emails: [Email<'a>; 1],
    external_ids: [Typed<'a>; 1],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    relations: Vec<Typed<'a>>,
    organizations: [Organization<'a>; 1],
    customer_id: &'static str,
    org_unit_path: &'static str,
    is_mailbox_setup: bool,
    is_enrolled_in2_sv: bool,
    is_enforced_in2_sv: bool,
    include_in_global_address_list: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_schemas: Option<Value>,
}

/// A list answer: `{"kind", "etag", "<field>": [...], "nextPageToken"}`,
/// the items array left out when empty (as Google does).
fn list_json<T: Serialize>(
    kind: &str,
    etag: String,
    field: &str,
    items: &[T],
    next: Option<String>,
) -> String {
    let mut out = json!({"kind": kind, "etag": etag}).to_string();
    out.pop();
    if !items.is_empty() {
        out.push_str(&format!(",\"{field}\":"));
        out.push_str(&serde_json::to_string(items).expect("serializable items"));
    }
    if let Some(token) = next {
        out.push_str(",\"nextPageToken\":");
        out.push_str(&Value::String(token).to_string());
    }
    out.push('}');
    out
}

fn user<'a>(d: &'a FakeDirectory, u: &'a FakeUser, full: bool) -> User<'a> {
    let manager = u
        .manager_id
        .as_ref()
        .and_then(|m| d.users.get(m))
        .map(|m| Typed {
            value: &m.email,
            kind: "manager",
        });
    User {
        kind: "admin#directory#user",
        id: &u.id,
        etag: format!("\"{}/{}\"", u.id, u.updated),
        primary_email: &u.email,
        name: Name {
            given_name: &u.given_name,
            family_name: &u.family_name,
            full_name: format!("{} {}", u.given_name, u.family_name),
        },
        is_admin: false,
        is_delegated_admin: false,
        last_login_time: "1970-01-01T00:00:00.000Z",
        creation_time: "2024-01-02T03:04:05.000Z",
        agreed_to_terms: true,
        suspended: u.suspended,
        suspension_reason: u.suspended.then_some("ADMIN"),
        archived: false,
        change_password_at_next_login: false,
        ip_whitelisted: false,
        emails: [Email {
            address: &u.email,
            primary: true,
        }],
        external_ids: [Typed {
            value: &u.employee_number,
            kind: "organization",
        }],
        relations: manager.into_iter().collect(),
        organizations: [Organization {
            title: &u.title,
            primary: true,
            custom_type: "",
            department: &u.department,
            cost_center: format!("CC-{}", u.department.len()),
        }],
        customer_id: CUSTOMER_ID,
        org_unit_path: "/",
        is_mailbox_setup: true,
        is_enrolled_in2_sv: false,
        is_enforced_in2_sv: false,
        include_in_global_address_list: true,
        custom_schemas: full.then(|| json!({"Employment": {"EmployeeNumber": u.employee_number}})),
    }
}

/// `maxResults` (default `default`, at most `max`) or Google's 400.
fn max_results(q: &HashMap<String, String>, default: usize, max: usize) -> Result<usize, Refusal> {
    match q.get("maxResults") {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(Box::new(bad_request(&format!(
                "Invalid value '{v}'. Values must be within the range: [1, {max}]"
            )))),
        },
    }
}

/// The id a page token stands for (the last id of the previous page).
fn after(q: &HashMap<String, String>) -> Result<Option<String>, Refusal> {
    let Some(token) = q.get("pageToken") else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("after:").map(str::to_owned))
        .map(Some)
        .ok_or_else(|| Box::new(bad_request("Invalid page token")))
}

fn token_after(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("after:{id}"))
}

/// One page of `map` after `after`, at most `n` entries passing `keep`,
/// and the next page token.
fn page_of<'a, V>(
    map: &'a BTreeMap<String, V>,
    after: Option<&str>,
    n: usize,
    keep: impl Fn(&V) -> bool,
) -> (Vec<&'a V>, Option<String>) {
    let start = match after {
        Some(id) => Bound::Excluded(id.to_owned()),
        None => Bound::Unbounded,
    };
    let mut range = map
        .range::<String, _>((start, Bound::Unbounded))
        .filter(|(_, v)| keep(v));
    let items: Vec<(&String, &V)> = range.by_ref().take(n).collect();
    let more = range.next().is_some();
    let next = items.last().filter(|_| more).map(|(id, _)| token_after(id));
    (items.into_iter().map(|(_, v)| v).collect(), next)
}

/// `customer=` or `domain=`: the emails' domain filter, or Google's 400.
fn owner(q: &HashMap<String, String>) -> Result<Option<String>, Refusal> {
    match (q.get("customer"), q.get("domain")) {
        (_, Some(domain)) if domain == "example.com" => Ok(Some(format!("@{domain}"))),
        (_, Some(_)) => Err(Box::new(bad_request("Domain not found."))),
        (Some(c), None) if c == "my_customer" || c == CUSTOMER_ID => Ok(None),
        (Some(_), None) => Err(Box::new(bad_request("Bad Request"))),
        (None, None) => Err(Box::new(bad_request(
            "Either customer or domain must be provided.",
        ))),
    }
}

pub(super) fn users_page(
    d: &FakeDirectory,
    q: &HashMap<String, String>,
) -> Result<String, Refusal> {
    let suffix = owner(q)?;
    let n = max_results(q, 100, 500)?;
    let full = match q.get("projection").map(String::as_str) {
        None | Some("basic") => false,
        Some("full") => true,
        Some(other) => {
            return Err(Box::new(bad_request(&format!(
                "Invalid value '{other}' for projection"
            ))));
        }
    };
    let after = after(q)?;
    let (users, next) = page_of(&d.users, after.as_deref(), n, |u: &FakeUser| {
        suffix.as_deref().is_none_or(|s| u.email.ends_with(s))
    });
    let items: Vec<User> = users.into_iter().map(|u| user(d, u, full)).collect();
    let etag = format!("\"users/{}\"", d.tick);
    Ok(list_json(
        "admin#directory#users",
        etag,
        "users",
        &items,
        next,
    ))
}

/// A group resource.
pub(super) fn group(d: &FakeDirectory, g: &FakeGroup) -> Value {
    let count = d.members.get(&g.id).map_or(0, |m| m.len());
    json!({"kind": "admin#directory#group", "id": g.id, "etag": format!("\"{}/{}\"", g.id, g.updated),
           "email": g.email, "name": g.name, "directMembersCount": count.to_string(),
           "description": g.description, "adminCreated": true})
}

pub(super) fn groups_page(
    d: &FakeDirectory,
    q: &HashMap<String, String>,
) -> Result<String, Refusal> {
    let suffix = owner(q)?;
    let n = max_results(q, 200, 200)?;
    let after = after(q)?;
    let (groups, next) = page_of(&d.groups, after.as_deref(), n, |g: &FakeGroup| {
        suffix.as_deref().is_none_or(|s| g.email.ends_with(s))
    });
    let items: Vec<Value> = groups.into_iter().map(|g| group(d, g)).collect();
    let etag = format!("\"groups/{}\"", d.tick);
    Ok(list_json(
        "admin#directory#groups",
        etag,
        "groups",
        &items,
        next,
    ))
}

/// The group whose id or email is `key`.
pub(super) fn group_by_key<'a>(d: &'a FakeDirectory, key: &str) -> Option<&'a FakeGroup> {
    d.groups.get(key).or_else(|| {
        d.groups
            .values()
            .find(|g| g.email.eq_ignore_ascii_case(key))
    })
}

#[derive(Serialize)]
struct Member<'a> {
    kind: &'static str,
    etag: String,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    role: &'static str,
    #[serde(rename = "type")]
    kind_of: &'static str,
    status: &'static str,
}

/// A page of a group's members; an id that is a group renders as a
/// member of type GROUP (nested group).
pub(super) fn members_page(
    d: &FakeDirectory,
    group: &str,
    q: &HashMap<String, String>,
) -> Result<String, Refusal> {
    let n = max_results(q, 200, 200)?;
    let after = after(q)?;
    let empty = Default::default();
    let set = d.members.get(group).unwrap_or(&empty);
    let start = match &after {
        Some(id) => Bound::Excluded(id.clone()),
        None => Bound::Unbounded,
    };
    let mut range = set.range::<String, _>((start, Bound::Unbounded));
    let ids: Vec<&String> = range.by_ref().take(n).collect();
    let next = ids
        .last()
        .filter(|_| range.next().is_some())
        .map(|id| token_after(id));
    let items: Vec<Member> = ids
        .into_iter()
        .map(|id| {
            let (email, kind_of) = match (d.users.get(id), d.groups.get(id)) {
                (Some(u), _) => (Some(u.email.as_str()), "USER"),
                (None, Some(g)) => (Some(g.email.as_str()), "GROUP"),
                (None, None) => (None, "USER"),
            };
            Member {
                kind: "admin#directory#member",
                etag: format!("\"{group}/{id}\""),
                id,
                email,
                role: "MEMBER",
                kind_of,
                status: "ACTIVE",
            }
        })
        .collect();
    let etag = format!("\"members/{}\"", d.tick);
    Ok(list_json(
        "admin#directory#members",
        etag,
        "members",
        &items,
        next,
    ))
}
