//! Incremental sync. A checkpoint is a time (`since`, by Okta's clock); a
//! round of `changes` reads, one page per call, (1) users with
//! `lastUpdated gt since` (profile and status changes, deactivations),
//! (2) groups with `lastUpdated gt since` (creations and renames), then
//! (3) the System Log from `since` to the round's start for membership
//! adds/removes and user/group deletions. The round's start is the
//! server's `Date` at its first request; the next checkpoint is that minus
//! a minute of overlap, so late log writes are not missed (replaying a
//! change is harmless: the host compares content). A checkpoint older than
//! the System Log's 90 days, or unreadable, is `not-found`: the host runs
//! a full pass.

use std::cell::RefCell;
use std::collections::HashMap;

use rollcall_plugin_sdk::http::{Response, encode};
use rollcall_plugin_sdk::{Change, ChangePage, Membership, PluginError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::mapping;
use crate::okta::{self, Missing};
use crate::settings::Settings;
use crate::time::iso_millis;

/// Overlap between rounds.
pub const OVERLAP_MS: i64 = 60_000;
/// How far back the System Log goes.
pub const RETENTION_MS: i64 = 90 * 86_400_000;
/// System Log events per request (Okta's maximum).
const LOG_PAGE: u32 = 1000;
/// System Log events a round reads.
pub const LOG_EVENTS: &[&str] = &[
    "group.user_membership.add",
    "group.user_membership.remove",
    "user.lifecycle.delete.initiated",
    "user.lifecycle.delete.completed",
    "group.lifecycle.delete",
];

/// What the host stores between calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub v: u32,
    /// Changes after this time (ms, server clock) are wanted.
    pub since: i64,
    /// A round in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<Round>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Round {
    /// The server's time when the round started.
    pub until: i64,
    pub phase: Phase,
    /// The next page of this phase; `None` = its first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Users,
    Groups,
    Logs,
}

impl Checkpoint {
    pub fn settled(since: i64) -> Checkpoint {
        Checkpoint {
            v: 1,
            since,
            round: None,
        }
    }

    pub fn parse(text: &str) -> Result<Checkpoint, PluginError> {
        serde_json::from_str::<Checkpoint>(text)
            .ok()
            .filter(|c| c.v == 1)
            .ok_or_else(|| {
                PluginError::not_found("unreadable Okta checkpoint; a full pass is needed")
            })
    }

    pub fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `changes(None)`: "from now on", by the server's clock.
pub fn start(settings: &Settings) -> Result<ChangePage, PluginError> {
    let url = format!("{}/api/v1/users?limit=1", settings.org_url);
    let now = server_now(&okta::get(&url, Missing::Org)?)?;
    Ok(ChangePage {
        changes: Vec::new(),
        checkpoint: Checkpoint::settled(now - OVERLAP_MS).text(),
        has_more: false,
    })
}

fn server_now(response: &Response) -> Result<i64, PluginError> {
    okta::server_millis(response)
        .ok_or_else(|| PluginError::transient("Okta answered without a usable Date header"))
}

/// The first page of `phase`.
fn first_url(settings: &Settings, phase: Phase, since: i64, until: i64) -> String {
    let org = &settings.org_url;
    let n = settings.page_size;
    let updated = format!("lastUpdated gt \"{}\"", iso_millis(since));
    match phase {
        Phase::Users => format!("{org}/api/v1/users?limit={n}&filter={}", encode(&updated)),
        Phase::Groups => {
            let filter = match settings.group_type_filter() {
                Some(types) => format!("{updated} and ({types})"),
                None => updated,
            };
            format!("{org}/api/v1/groups?limit={n}&filter={}", encode(&filter))
        }
        Phase::Logs => {
            let events: Vec<String> = LOG_EVENTS
                .iter()
                .map(|e| format!("eventType eq \"{e}\""))
                .collect();
            format!(
                "{org}/api/v1/logs?since={}&until={}&sortOrder=ASCENDING&limit={LOG_PAGE}&filter={}",
                encode(&iso_millis(since)),
                encode(&iso_millis(until)),
                encode(&events.join(" or "))
            )
        }
    }
}

/// One page of a round.
pub fn next(settings: &Settings, checkpoint: &str) -> Result<ChangePage, PluginError> {
    let cp = Checkpoint::parse(checkpoint)?;
    let (phase, url) = match &cp.round {
        None => (Phase::Users, first_url(settings, Phase::Users, cp.since, 0)),
        Some(r) => match &r.next {
            Some(next) => (r.phase, okta::cursor_url(settings, next)?.to_owned()),
            None => (r.phase, first_url(settings, r.phase, cp.since, r.until)),
        },
    };
    let response = fetch(phase, &url)?;
    let until = match &cp.round {
        Some(r) => r.until,
        None => {
            let now = server_now(&response)?;
            if now - cp.since > RETENTION_MS {
                return Err(PluginError::not_found(format!(
                    "the checkpoint ({}) is older than the System Log keeps (90 days); a full pass is needed",
                    iso_millis(cp.since)
                )));
            }
            now
        }
    };
    let (changes, more) = match phase {
        Phase::Users => (users(settings, &response)?, true),
        Phase::Groups => (groups(&response)?, true),
        Phase::Logs => {
            let (changes, seen) = logs(settings, &response)?;
            (changes, seen > 0)
        }
    };
    let next = if more {
        okta::next_link(settings, &response)?
    } else {
        None
    };
    let following = match (next, phase) {
        (Some(url), _) => Some((phase, Some(url))),
        (None, Phase::Users) => Some((Phase::Groups, None)),
        (None, Phase::Groups) => Some((Phase::Logs, None)),
        (None, Phase::Logs) => None,
    };
    let (checkpoint, has_more) = match following {
        Some((phase, next)) => (
            Checkpoint {
                v: 1,
                since: cp.since,
                round: Some(Round { until, phase, next }),
            },
            true,
        ),
        None => (Checkpoint::settled(cp.since.max(until - OVERLAP_MS)), false),
    };
    Ok(ChangePage {
        changes,
        checkpoint: checkpoint.text(),
        has_more,
    })
}

fn fetch(phase: Phase, url: &str) -> Result<Response, PluginError> {
    let response = rollcall_plugin_sdk::http::get(url)
        .header("accept", "application/json")
        .send()?;
    // The System Log refuses a `since` past its retention with a 400.
    if phase == Phase::Logs
        && response.status == 400
        && String::from_utf8_lossy(&response.body).contains("since")
    {
        return Err(PluginError::not_found(
            "the System Log no longer covers the checkpoint; a full pass is needed",
        ));
    }
    okta::check(response, url, Missing::Org)
}

fn users(settings: &Settings, response: &Response) -> Result<Vec<Change>, PluginError> {
    let page: Vec<Map<String, Value>> = response.json()?;
    Ok(page
        .into_iter()
        .filter_map(|raw| {
            if !settings.include_deprovisioned && mapping::status(&raw) == "DEPROVISIONED" {
                return mapping::user_id(&raw).map(|id| Change::UserDeleted(id.to_owned()));
            }
            mapping::user(settings, raw).map(Change::UserUpserted)
        })
        .collect())
}

fn groups(response: &Response) -> Result<Vec<Change>, PluginError> {
    let page: Vec<Map<String, Value>> = response.json()?;
    Ok(page
        .into_iter()
        .filter_map(mapping::group)
        .map(Change::GroupUpserted)
        .collect())
}

/// A System Log event, the parts we read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogEvent {
    event_type: String,
    #[serde(default)]
    outcome: Option<LogOutcome>,
    #[serde(default)]
    target: Option<Vec<LogTarget>>,
}

#[derive(Debug, Deserialize)]
struct LogOutcome {
    #[serde(default)]
    result: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LogTarget {
    id: String,
    #[serde(rename = "type")]
    kind: String,
}

impl LogEvent {
    fn target(&self, kind: &str) -> Option<String> {
        self.target
            .as_deref()?
            .iter()
            .find(|t| t.kind == kind)
            .map(|t| t.id.clone())
    }

    fn succeeded(&self) -> bool {
        self.outcome
            .as_ref()
            .and_then(|o| o.result.as_deref())
            .is_none_or(|r| r == "SUCCESS")
    }
}

/// Changes from one page of the System Log, and how many events it held.
fn logs(settings: &Settings, response: &Response) -> Result<(Vec<Change>, usize), PluginError> {
    let page: Vec<LogEvent> = response.json()?;
    let mut changes = Vec::new();
    for event in page.iter().filter(|e| e.succeeded()) {
        let user = event.target("User");
        let group = event.target("UserGroup");
        let change = match (event.event_type.as_str(), user, group) {
            ("group.user_membership.add", Some(user_idp_id), Some(group_idp_id)) => {
                group_wanted(settings, &group_idp_id)?.then_some(Change::MemberAdded(Membership {
                    group_idp_id,
                    user_idp_id,
                }))
            }
            ("group.user_membership.remove", Some(user_idp_id), Some(group_idp_id)) => {
                group_wanted(settings, &group_idp_id)?.then_some(Change::MemberRemoved(
                    Membership {
                        group_idp_id,
                        user_idp_id,
                    },
                ))
            }
            (t, Some(user), _) if t.starts_with("user.lifecycle.delete.") => {
                Some(Change::UserDeleted(user))
            }
            ("group.lifecycle.delete", _, Some(group)) => Some(Change::GroupDeleted(group)),
            _ => None,
        };
        changes.extend(change);
    }
    Ok((changes, page.len()))
}

thread_local! {
    /// group id → synced (its type is configured). Per instance: one run.
    static GROUP_WANTED: RefCell<HashMap<String, bool>> = RefCell::new(HashMap::new());
}

/// Whether membership changes of this group are synced: always when every
/// type is, else by the group's type (looked up once per run; a group that
/// is gone is not).
fn group_wanted(settings: &Settings, id: &str) -> Result<bool, PluginError> {
    if settings.all_group_types() {
        return Ok(true);
    }
    if let Some(known) = GROUP_WANTED.with(|c| c.borrow().get(id).copied()) {
        return Ok(known);
    }
    let url = format!("{}/api/v1/groups/{}", settings.org_url, encode(id));
    let wanted = match okta::get(&url, Missing::Object) {
        Ok(response) => {
            let group: Map<String, Value> = response.json()?;
            let kind = group.get("type").and_then(Value::as_str).unwrap_or("");
            settings.group_types.iter().any(|t| t == kind)
        }
        Err(PluginError::NotFound(_)) => false,
        Err(e) => return Err(e),
    };
    GROUP_WANTED.with(|c| c.borrow_mut().insert(id.to_owned(), wanted));
    Ok(wanted)
}
