//! `when`: the conditions an action's event must meet besides its type.
//! Every condition given must hold. The user is `data` for user events and
//! `data.user` for group membership events.

use std::collections::BTreeMap;

use event_template::FieldPath;
use rollcall_plugin_sdk::{Event, PluginError};
use serde::Deserialize;
use serde_json::Value;

/// `when` as written in config.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhenConfig {
    user_state: Option<UserState>,
    became_inactive: Option<bool>,
    became_active: Option<bool>,
    changed: Option<Vec<String>>,
    equals: Option<BTreeMap<String, Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum UserState {
    Active,
    Inactive,
}

impl UserState {
    fn name(self) -> &'static str {
        match self {
            UserState::Active => "active",
            UserState::Inactive => "inactive",
        }
    }
}

/// A checked `when`.
#[derive(Debug, Default)]
pub struct Condition {
    user_state: Option<UserState>,
    became_inactive: Option<bool>,
    became_active: Option<bool>,
    changed: Vec<String>,
    equals: Vec<(FieldPath, Value)>,
}

impl Condition {
    /// Checks the paths of `equals`; `at` names the config location.
    pub fn compile(config: WhenConfig, at: &str) -> Result<Condition, PluginError> {
        let equals = config
            .equals
            .unwrap_or_default()
            .into_iter()
            .map(|(path, value)| {
                FieldPath::parse(&path)
                    .map(|p| (p, value))
                    .map_err(|e| PluginError::invalid_config(format!("{at}.when.equals: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Condition {
            user_state: config.user_state,
            became_inactive: config.became_inactive,
            became_active: config.became_active,
            changed: config.changed.unwrap_or_default(),
            equals,
        })
    }

    /// Why `event` fails the condition, or `None` when it holds.
    pub fn unmet(&self, event: &Event, context: &Value) -> Option<String> {
        let state = user_state(&event.data);
        let was = event
            .previous_attributes
            .as_ref()
            .and_then(|p| p.get("state"))
            .and_then(Value::as_str);
        if let Some(wanted) = self.user_state
            && state != Some(wanted.name())
        {
            return Some(format!("the user is not {}", wanted.name()));
        }
        let transition = |from: &str, to: &str| was == Some(from) && state == Some(to);
        if let Some(wanted) = self.became_inactive
            && transition("active", "inactive") != wanted
        {
            return Some(format!("became_inactive is not {wanted}"));
        }
        if let Some(wanted) = self.became_active
            && transition("inactive", "active") != wanted
        {
            return Some(format!("became_active is not {wanted}"));
        }
        if !self.changed.is_empty() && !self.changed.iter().any(|f| changed(event, f)) {
            return Some(format!("none of {} changed", self.changed.join(", ")));
        }
        self.equals
            .iter()
            .find(|(path, value)| path.lookup(context).unwrap_or(&Value::Null) != value)
            .map(|(path, value)| format!("{path} is not {value}"))
    }
}

/// `state` of the event's user (`data` or `data.user`).
fn user_state(data: &Value) -> Option<&str> {
    data.get("state")
        .or_else(|| data.get("user").and_then(|u| u.get("state")))
        .and_then(Value::as_str)
}

fn changed(event: &Event, field: &str) -> bool {
    event
        .previous_attributes
        .as_ref()
        .and_then(Value::as_object)
        .is_some_and(|p| p.contains_key(field))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(data: Value, previous: Option<Value>) -> Event {
        Event {
            id: "event_1".into(),
            event_type: "dsync.user.updated".into(),
            organization_id: "org_1".into(),
            directory_id: None,
            created_at_micros: 0,
            data,
            previous_attributes: previous,
            idempotency_key: "k".into(),
            attempt: 1,
        }
    }

    fn check(when: Value, e: &Event) -> Option<String> {
        let config: WhenConfig = serde_json::from_value(when).unwrap();
        let condition = Condition::compile(config, "actions[0]").unwrap();
        condition.unmet(e, &event_template::context(e))
    }

    #[test]
    fn conditions_hold_only_for_matching_events() {
        let deactivated = event(
            json!({"state": "inactive", "email": "a@x"}),
            Some(json!({"state": "active"})),
        );
        let renamed = event(
            json!({"state": "inactive", "email": "b@x"}),
            Some(json!({"email": "a@x"})),
        );
        let member = event(json!({"user": {"state": "inactive"}, "group": {}}), None);
        let cases = [
            (json!({"user_state": "inactive"}), &deactivated, None),
            (json!({"user_state": "inactive"}), &member, None),
            (
                json!({"user_state": "active"}),
                &renamed,
                Some("the user is not active"),
            ),
            (json!({"became_inactive": true}), &deactivated, None),
            (
                json!({"became_inactive": true}),
                &renamed,
                Some("became_inactive is not true"),
            ),
            (json!({"became_inactive": false}), &renamed, None),
            (
                json!({"became_active": true}),
                &deactivated,
                Some("became_active is not true"),
            ),
            (json!({"changed": ["email", "username"]}), &renamed, None),
            (
                json!({"changed": ["email"]}),
                &deactivated,
                Some("none of email changed"),
            ),
            (json!({"equals": {"data.email": "b@x"}}), &renamed, None),
            (
                json!({"equals": {"data.email": "b@x"}}),
                &deactivated,
                Some("data.email is not \"b@x\""),
            ),
            (json!({}), &member, None),
        ];
        for (when, e, expected) in cases {
            assert_eq!(check(when.clone(), e).as_deref(), expected, "{when}");
        }
    }

    #[test]
    fn unknown_conditions_and_bad_paths_are_config_errors() {
        assert!(serde_json::from_value::<WhenConfig>(json!({"user_state": "gone"})).is_err());
        assert!(serde_json::from_value::<WhenConfig>(json!({"is_admin": true})).is_err());
        let config: WhenConfig = serde_json::from_value(json!({"equals": {"data..x": 1}})).unwrap();
        assert!(matches!(
            Condition::compile(config, "actions[0]"),
            Err(PluginError::InvalidConfig(m)) if m.starts_with("actions[0].when.equals")
        ));
    }
}
