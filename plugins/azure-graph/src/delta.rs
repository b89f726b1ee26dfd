//! Incremental sync with Graph delta queries.
//!
//! The checkpoint holds two delta links, users and groups, and the phase:
//! a round follows the users link page by page until Graph hands out a
//! new `@odata.deltaLink`, then the groups link the same way, and ends
//! (`has_more = false`) when the groups round has its new delta link.
//! Every page is one `changes` call, so a crash loses at most one page,
//! which the next run replays.
//!
//! Graph sends an updated object with *at least* its changed properties.
//! A user that lacks any selected property (or, with the manager on, its
//! `manager@delta`) is read again whole with `/users/{id}`, so a partial
//! delta never blanks fields the host already has. A group whose delta
//! carries only `members@delta` changed only its membership; one with
//! some but not all properties is read again with `/groups/{id}`.

use rollcall_plugin_sdk::http::encode;
use rollcall_plugin_sdk::{Change, ChangePage, Membership, PluginError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::graph::{self, Collection};
use crate::mapping;
use crate::settings::{GROUP_PROPERTIES, Settings};

type Object = Map<String, Value>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Phase {
    Users,
    Groups,
}

/// What the host stores between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Checkpoint {
    phase: Phase,
    users: String,
    groups: String,
}

impl Checkpoint {
    fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn user_delta_select(settings: &Settings) -> String {
    let mut s = settings.user_select();
    if settings.include_manager {
        s.push_str(",manager");
    }
    s
}

/// `$deltatoken=latest`: a delta link that starts tracking now, no data.
fn latest_link(settings: &Settings, collection: &str, select: &str) -> Result<String, PluginError> {
    let url = format!(
        "{}/{collection}/delta?$deltatoken=latest&$select={select}",
        settings.api_base
    );
    let page: Collection<Value> = graph::get(&url, Some(settings.page_size))?;
    let link = page.delta_link.ok_or_else(|| {
        PluginError::permanent(format!(
            "{collection}/delta?$deltatoken=latest returned no deltaLink"
        ))
    })?;
    owned(settings, link)
}

/// A link Graph returned, if it is under the configured API root.
pub fn owned(settings: &Settings, link: String) -> Result<String, PluginError> {
    if settings.owns(&link) {
        Ok(link)
    } else {
        Err(PluginError::permanent(format!(
            "Graph returned a link outside {}: refusing to follow it",
            settings.api_base
        )))
    }
}

/// `changes(None)`: checkpoints "from now on" for users and groups.
pub fn start(settings: &Settings) -> Result<ChangePage, PluginError> {
    let users = latest_link(settings, "users", &user_delta_select(settings))?;
    let groups = latest_link(
        settings,
        "groups",
        &format!("{},members", settings.group_select()),
    )?;
    let checkpoint = Checkpoint {
        phase: Phase::Users,
        users,
        groups,
    };
    Ok(ChangePage {
        changes: Vec::new(),
        checkpoint: checkpoint.encode(),
        has_more: false,
    })
}

/// `changes(Some(checkpoint))`: one delta page of the current phase.
pub fn next(settings: &Settings, checkpoint: &str) -> Result<ChangePage, PluginError> {
    let mut cp: Checkpoint = serde_json::from_str(checkpoint)
        .map_err(|_| PluginError::not_found("the checkpoint is not one this connector wrote"))?;
    let link = match cp.phase {
        Phase::Users => &mut cp.users,
        Phase::Groups => &mut cp.groups,
    };
    if !settings.owns(link) {
        return Err(PluginError::not_found(format!(
            "the checkpoint belongs to another api_base than {}",
            settings.api_base
        )));
    }
    let page: Collection<Object> = graph::get(link, Some(settings.page_size))?;
    let changes = match cp.phase {
        Phase::Users => user_changes(page.value, settings)?,
        Phase::Groups => group_changes(page.value, settings)?,
    };
    let has_more = match (page.next_link, page.delta_link) {
        (Some(next), _) => {
            *link = owned(settings, next)?;
            true
        }
        (None, Some(delta)) => {
            *link = owned(settings, delta)?;
            let round_goes_on = cp.phase == Phase::Users;
            cp.phase = if round_goes_on {
                Phase::Groups
            } else {
                Phase::Users
            };
            round_goes_on
        }
        (None, None) => {
            return Err(PluginError::permanent(
                "a delta page had neither @odata.nextLink nor @odata.deltaLink",
            ));
        }
    };
    Ok(ChangePage {
        changes,
        checkpoint: cp.encode(),
        has_more,
    })
}

fn id_of(obj: &Object) -> Option<String> {
    obj.get("id").and_then(Value::as_str).map(str::to_owned)
}

/// Whether a delta user carries everything the mapping reads.
fn complete_user(obj: &Object, settings: &Settings) -> bool {
    settings.user_properties().all(|p| obj.contains_key(p))
        && (!settings.include_manager || obj.contains_key("manager@delta"))
}

/// The user read whole; `None` once it is gone.
fn read_user(id: &str, settings: &Settings) -> Result<Option<Object>, PluginError> {
    let url = format!(
        "{}/users/{}?{}",
        settings.api_base,
        encode(id),
        settings.user_query()
    );
    graph::get_object(&url)
}

fn read_group(id: &str, settings: &Settings) -> Result<Option<Object>, PluginError> {
    let url = format!(
        "{}/groups/{}?$select={}",
        settings.api_base,
        encode(id),
        settings.group_select()
    );
    graph::get_object(&url)
}

/// Users of one delta page. Both `@removed` reasons (`changed`: in the
/// recycle bin, restorable for 30 days; `deleted`: gone for good) delete
/// the user; a restored user comes back as an upsert.
fn user_changes(values: Vec<Object>, settings: &Settings) -> Result<Vec<Change>, PluginError> {
    let mut changes = Vec::with_capacity(values.len());
    for obj in values {
        let Some(id) = id_of(&obj) else { continue };
        if obj.contains_key("@removed") {
            changes.push(Change::UserDeleted(id));
            continue;
        }
        let full = if complete_user(&obj, settings) {
            Some(obj)
        } else {
            read_user(&id, settings)?
        };
        match full.and_then(|o| mapping::user(o, settings)) {
            Some(user) => changes.push(Change::UserUpserted(user)),
            None => changes.push(Change::UserDeleted(id)),
        }
    }
    Ok(changes)
}

/// Groups of one delta page: the group itself when its properties
/// changed, then its user members from `members@delta` (other member
/// types, such as nested groups, devices and service principals, are
/// skipped).
fn group_changes(values: Vec<Object>, settings: &Settings) -> Result<Vec<Change>, PluginError> {
    let mut changes = Vec::with_capacity(values.len());
    for mut obj in values {
        let Some(id) = id_of(&obj) else { continue };
        if obj.contains_key("@removed") {
            changes.push(Change::GroupDeleted(id));
            continue;
        }
        let members = obj.remove("members@delta");
        let present = GROUP_PROPERTIES
            .iter()
            .filter(|p| obj.contains_key(**p))
            .count();
        if present > 0 {
            let full = if present == GROUP_PROPERTIES.len() {
                Some(obj)
            } else {
                read_group(&id, settings)?
            };
            match full.and_then(mapping::group) {
                Some(group) => changes.push(Change::GroupUpserted(group)),
                None => {
                    changes.push(Change::GroupDeleted(id));
                    continue;
                }
            }
        }
        member_changes(&id, members, &mut changes);
    }
    Ok(changes)
}

fn member_changes(group: &str, members: Option<Value>, changes: &mut Vec<Change>) {
    let Some(Value::Array(members)) = members else {
        return;
    };
    for member in members {
        let Value::Object(member) = member else {
            continue;
        };
        let Some(user) = id_of(&member).filter(|_| mapping::is_user(&member)) else {
            continue;
        };
        let membership = Membership {
            group_idp_id: group.to_owned(),
            user_idp_id: user,
        };
        changes.push(if member.contains_key("@removed") {
            Change::MemberRemoved(membership)
        } else {
            Change::MemberAdded(membership)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollcall_plugin_sdk::testing;
    use serde_json::json;

    const BASE: &str = "https://graph.microsoft.com/v1.0";

    fn settings() -> Settings {
        Settings {
            api_base: BASE.into(),
            extra_attributes: Vec::new(),
            include_manager: false,
            page_size: 999,
        }
    }

    fn objects(v: Value) -> Vec<Object> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn group_deltas_give_upserts_deletes_and_user_members_only() {
        testing::reset();
        let page = objects(json!([
            {"id": "g1", "displayName": "Eng", "description": null, "mail": null, "mailNickname": "eng",
             "mailEnabled": false, "securityEnabled": true, "groupTypes": [],
             "members@delta": [{"@odata.type": "#microsoft.graph.user", "id": "u1"},
                               {"@odata.type": "#microsoft.graph.group", "id": "g9"},
                               {"@odata.type": "#microsoft.graph.user", "id": "u2", "@removed": {"reason": "deleted"}}]},
            {"id": "g2", "members@delta": [{"@odata.type": "#microsoft.graph.device", "id": "d1"}]},
            {"id": "g3", "@removed": {"reason": "changed"}}
        ]));
        let changes = group_changes(page, &settings()).unwrap();
        let m = |u: &str| Membership {
            group_idp_id: "g1".into(),
            user_idp_id: u.into(),
        };
        assert!(
            matches!(&changes[0], Change::GroupUpserted(g) if g.name == "Eng" && !g.raw_attributes.contains_key("members@delta"))
        );
        assert_eq!(
            changes[1..],
            [
                Change::MemberAdded(m("u1")),
                Change::MemberRemoved(m("u2")),
                Change::GroupDeleted("g3".into())
            ]
        );
        assert!(
            testing::requests().is_empty(),
            "complete objects need no extra read"
        );
    }

    #[test]
    fn a_partial_user_is_read_again_and_a_vanished_one_deleted() {
        testing::reset();
        let s = settings();
        let url = |id: &str| format!("{BASE}/users/{id}?{}", s.user_query());
        testing::mock_http(
            "GET",
            &url("u1"),
            200,
            r#"{"id":"u1","userPrincipalName":"a@contoso.com","jobTitle":"CTO"}"#,
        );
        testing::mock_http(
            "GET",
            &url("u2"),
            404,
            r#"{"error":{"code":"Request_ResourceNotFound","message":"gone"}}"#,
        );
        let page = objects(
            json!([{"id": "u1", "jobTitle": "CTO"}, {"id": "u2", "accountEnabled": false},
            {"id": "u3", "@removed": {"reason": "changed"}}]),
        );
        let changes = user_changes(page, &s).unwrap();
        let Change::UserUpserted(u1) = &changes[0] else {
            panic!("{changes:?}")
        };
        assert_eq!(u1.email.as_deref(), Some("a@contoso.com"));
        assert_eq!(
            changes[1..],
            [
                Change::UserDeleted("u2".into()),
                Change::UserDeleted("u3".into())
            ]
        );
        assert_eq!(testing::requests().len(), 2);
    }

    #[test]
    fn a_round_walks_users_then_groups() {
        testing::reset();
        let s = settings();
        let cp = Checkpoint {
            phase: Phase::Users,
            users: format!("{BASE}/users/delta?$deltatoken=a"),
            groups: format!("{BASE}/groups/delta?$deltatoken=b"),
        };
        testing::mock_http(
            "GET",
            &cp.users,
            200,
            &json!({"value": [], "@odata.deltaLink": format!("{BASE}/users/delta?$deltatoken=c")})
                .to_string(),
        );
        let page = next(&s, &cp.encode()).unwrap();
        assert!(page.has_more);
        let after: Checkpoint = serde_json::from_str(&page.checkpoint).unwrap();
        assert_eq!(after.phase, Phase::Groups);
        assert!(after.users.ends_with("deltatoken=c"));
        testing::mock_http(
            "GET",
            &after.groups,
            200,
            &json!({"value": [], "@odata.nextLink": "https://evil.example/v1.0/groups/delta"})
                .to_string(),
        );
        assert!(matches!(
            next(&s, &page.checkpoint),
            Err(PluginError::Permanent(_))
        ));
        assert!(matches!(
            next(&s, "nonsense"),
            Err(PluginError::NotFound(_))
        ));
    }
}
