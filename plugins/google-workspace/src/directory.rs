//! The three list calls of the Directory API (`users.list`, `groups.list`,
//! `members.list`, plus `groups.get` for an allow-list) and their cursors.
//!
//! Cursors are self-contained, so a fresh instance resumes from one:
//! Google's `nextPageToken` after `t:`, or, for the groups of an
//! allow-list, the index of the next entry after `a:`. With an
//! allow-list, list-users filters
//! every users page by the direct members of the allowed groups; that set
//! is fetched once per instance and again by a fresh one.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use rollcall_plugin_sdk::{Group, Membership, Page, PageRequest, PluginError, User, http, log};
use serde::Deserialize;
use serde_json::Value;

use crate::api::{self, Answer, push_query};
use crate::mapping;
use crate::settings::Settings;

/// `maxResults` caps of the Directory API.
const MAX_USERS: u32 = 500;
const MAX_GROUPS: u32 = 200;
const MAX_MEMBERS: u32 = 200;
/// Allow-listed groups fetched (one `groups.get` each) per page.
const MAX_ALLOWED_GROUPS: u32 = 50;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsersPage {
    #[serde(default)]
    users: Vec<Value>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupsPage {
    #[serde(default)]
    groups: Vec<Value>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MembersPage {
    #[serde(default)]
    members: Vec<Member>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct Member {
    #[serde(default)]
    id: String,
    #[serde(rename = "type", default)]
    kind: String,
}

/// The page size to ask for: the host's hint, at most `max`.
fn page_size(limit: u32, max: u32) -> String {
    (if limit == 0 { max } else { limit.min(max) }).to_string()
}

/// Google's page token inside a `t:` cursor.
fn page_token(cursor: Option<&str>) -> Result<Option<&str>, PluginError> {
    match cursor {
        None => Ok(None),
        Some(c) => c.strip_prefix("t:").map(Some).ok_or_else(|| foreign(c)),
    }
}

fn foreign(cursor: &str) -> PluginError {
    PluginError::permanent(format!(
        "cursor '{}' was not made by this connector with this config",
        cursor.chars().take(40).collect::<String>()
    ))
}

fn next(token: Option<String>) -> Option<String> {
    token.filter(|t| !t.is_empty()).map(|t| format!("t:{t}"))
}

/// A 404 on a customer-wide list: the customer or domain is unknown.
fn unknown_owner(message: String) -> PluginError {
    PluginError::invalid_config(format!(
        "{message} (check config.customer and config.domain)"
    ))
}

/// One page of users (filtered by the allow-list, if any).
pub fn list_users(s: &Settings, page: &PageRequest) -> Result<Page<User>, PluginError> {
    let token = page_token(page.cursor.as_deref())?;
    let allowed = if s.group_allow_list.is_empty() {
        None
    } else {
        Some(allowed_members(s)?)
    };
    let mut url = format!("{}/users", s.directory);
    let (owner, value) = s.owner();
    push_query(&mut url, owner, value);
    push_query(&mut url, "maxResults", &page_size(page.limit, MAX_USERS));
    push_query(&mut url, "projection", &s.projection);
    if let Some(t) = token {
        push_query(&mut url, "pageToken", t);
    }
    let body: UsersPage = match api::get(&url)? {
        Answer::Found(response) => response.json()?,
        Answer::NotFound(message) => return Err(unknown_owner(message)),
    };
    let mut users = Vec::with_capacity(body.users.len());
    for resource in body.users {
        if let Some(allowed) = &allowed {
            let id = resource.get("id").and_then(Value::as_str).unwrap_or("");
            if !allowed.contains(id) {
                continue;
            }
        }
        users.push(mapping::user(resource)?);
    }
    Ok(Page::new(users, next(body.next_page_token)))
}

/// One page of groups: `groups.list`, or the allow-listed groups.
pub fn list_groups(s: &Settings, page: &PageRequest) -> Result<Page<Group>, PluginError> {
    if !s.group_allow_list.is_empty() {
        return allowed_groups(s, page);
    }
    let mut url = format!("{}/groups", s.directory);
    let (owner, value) = s.owner();
    push_query(&mut url, owner, value);
    push_query(&mut url, "maxResults", &page_size(page.limit, MAX_GROUPS));
    if let Some(t) = page_token(page.cursor.as_deref())? {
        push_query(&mut url, "pageToken", t);
    }
    let body: GroupsPage = match api::get(&url)? {
        Answer::Found(response) => response.json()?,
        Answer::NotFound(message) => return Err(unknown_owner(message)),
    };
    let groups = body
        .groups
        .into_iter()
        .map(mapping::group)
        .collect::<Result<_, _>>()?;
    Ok(Page::new(groups, next(body.next_page_token)))
}

/// The allow-listed groups from the cursor's index on, one `groups.get` each.
fn allowed_groups(s: &Settings, page: &PageRequest) -> Result<Page<Group>, PluginError> {
    let start = match page.cursor.as_deref() {
        None => 0,
        Some(c) => c
            .strip_prefix("a:")
            .and_then(|i| i.parse::<usize>().ok())
            .ok_or_else(|| foreign(c))?,
    };
    let count = page_size(page.limit, MAX_ALLOWED_GROUPS)
        .parse::<usize>()
        .unwrap_or(1);
    let keys = s.group_allow_list.iter().skip(start).take(count);
    let mut groups = Vec::new();
    for key in keys {
        let url = format!("{}/groups/{}", s.directory, http::encode(key));
        match api::get(&url)? {
            Answer::Found(response) => groups.push(mapping::group(response.json()?)?),
            Answer::NotFound(_) => return Err(no_such_group(key)),
        }
    }
    let end = start + count;
    let cursor = (end < s.group_allow_list.len()).then(|| format!("a:{end}"));
    Ok(Page::new(groups, cursor))
}

fn no_such_group(key: &str) -> PluginError {
    PluginError::invalid_config(format!(
        "config.group_allow_list: Google has no group '{key}'"
    ))
}

/// One page of a group's direct members of type USER (members of type
/// GROUP or CUSTOMER are not users and are skipped). A group deleted since
/// it was listed has no members.
pub fn list_members(
    s: &Settings,
    group: &str,
    page: &PageRequest,
) -> Result<Page<Membership>, PluginError> {
    let token = page_token(page.cursor.as_deref())?;
    let limit = page_size(page.limit, MAX_MEMBERS);
    let Some(MemberIds {
        ids,
        next: next_token,
    }) = members_page(s, group, token, &limit)?
    else {
        log::warn(&format!("group {group} is gone; no members listed"));
        return Ok(Page::empty());
    };
    let members = ids
        .into_iter()
        .map(|user| Membership {
            group_idp_id: group.to_owned(),
            user_idp_id: user,
        })
        .collect();
    Ok(Page::new(members, next(next_token)))
}

/// The user ids on one `members.list` page and Google's next token.
struct MemberIds {
    ids: Vec<String>,
    next: Option<String>,
}

/// One `members.list` page; `None` when Google has no such group.
fn members_page(
    s: &Settings,
    group_key: &str,
    token: Option<&str>,
    limit: &str,
) -> Result<Option<MemberIds>, PluginError> {
    let mut url = format!("{}/groups/{}/members", s.directory, http::encode(group_key));
    push_query(&mut url, "maxResults", limit);
    if let Some(t) = token {
        push_query(&mut url, "pageToken", t);
    }
    let body: MembersPage = match api::get(&url)? {
        Answer::Found(response) => response.json()?,
        Answer::NotFound(_) => return Ok(None),
    };
    let ids = body
        .members
        .into_iter()
        .filter(|m| m.kind == "USER" && !m.id.is_empty())
        .map(|m| m.id)
        .collect();
    Ok(Some(MemberIds {
        ids,
        next: body.next_page_token.filter(|t| !t.is_empty()),
    }))
}

thread_local! {
    /// The allow-listed groups' user ids, once per instance.
    static ALLOWED: RefCell<Option<Rc<HashSet<String>>>> = const { RefCell::new(None) };
}

/// Ids of the direct USER members of the allow-listed groups.
fn allowed_members(s: &Settings) -> Result<Rc<HashSet<String>>, PluginError> {
    if let Some(cached) = ALLOWED.with(|a| a.borrow().clone()) {
        return Ok(cached);
    }
    let limit = MAX_MEMBERS.to_string();
    let mut ids = HashSet::new();
    for key in &s.group_allow_list {
        let mut token: Option<String> = None;
        loop {
            let Some(page) = members_page(s, key, token.as_deref(), &limit)? else {
                return Err(no_such_group(key));
            };
            ids.extend(page.ids);
            match page.next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
    }
    let ids = Rc::new(ids);
    ALLOWED.with(|a| *a.borrow_mut() = Some(ids.clone()));
    Ok(ids)
}

/// Forgets the cached allow-list members (unit tests reuse one thread).
#[cfg(test)]
pub fn forget_allowed_members() {
    ALLOWED.with(|a| *a.borrow_mut() = None);
}
