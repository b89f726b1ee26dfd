//! End-to-end tests of both modes through `HttpAction` on the SDK's fakes.

use rollcall_plugin_sdk::http::Response;
use serde_json::{Value, json};

use super::*;

fn event(event_type: &str) -> Event {
    Event {
        id: "event_1".into(),
        event_type: event_type.into(),
        organization_id: "org_1".into(),
        directory_id: None,
        created_at_micros: 0,
        data: json!({"id": "directory_user_1"}),
        previous_attributes: None,
        idempotency_key: "event_1:inst".into(),
        attempt: 1,
    }
}

fn user_event(event_type: &str, state: &str, previous: Option<Value>) -> Event {
    Event {
        data: json!({
            "object": "directory_user", "id": "directory_user_1",
            "email": "ada@example.com", "username": "ada", "state": state,
            "custom_attributes": {"employee_number": "E 7"},
        }),
        previous_attributes: previous,
        ..event(event_type)
    }
}

const SESSIONS: &str = "https://app.example.com/api/users/ada%40example.com/sessions";

fn revoke_sessions_config() -> Value {
    json!({"url": "https://app.example.com", "actions": [
        {"on": ["dsync.user.updated"], "when": {"became_inactive": true},
         "method": "DELETE", "url": "https://app.example.com/api/users/{{data.email}}/sessions"},
        {"on": ["dsync.user.deleted"], "method": "DELETE", "url": "/api/users/{{data.email}}/sessions"},
    ]})
}

fn header(sent: &http::Request, name: &str) -> Option<String> {
    sent.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

#[test]
fn posts_matching_events_with_an_idempotency_key() {
    testing::reset();
    testing::set_config(
        json!({"url": "https://app.example.com/hook", "events": ["dsync.user.deleted"]}),
    );
    testing::mock_http("POST", "https://app.example.com/hook", 202, "");
    let outcome = HttpAction::handle(event("dsync.user.deleted")).unwrap();
    assert_eq!(outcome, Outcome::Completed(Some("HTTP 202".into())));
    let sent = &testing::requests()[0];
    assert_eq!(
        header(sent, "idempotency-key").as_deref(),
        Some("event_1:inst")
    );
    let skipped = HttpAction::handle(event("dsync.user.created")).unwrap();
    assert!(matches!(skipped, Outcome::Skipped(_)));
}

#[test]
fn server_errors_are_transient() {
    testing::reset();
    testing::set_config(json!({"url": "https://app.example.com/hook"}));
    testing::mock_http("POST", "https://app.example.com/hook", 502, "");
    assert_eq!(
        HttpAction::handle(event("dsync.user.created")).unwrap_err(),
        PluginError::transient("HTTP 502")
    );
}

#[test]
fn sessions_are_revoked_when_a_user_becomes_inactive_or_is_deleted() {
    testing::reset();
    testing::set_config(revoke_sessions_config());
    testing::mock_http("DELETE", SESSIONS, 204, "");
    let deactivated = user_event(
        "dsync.user.updated",
        "inactive",
        Some(json!({"state": "active"})),
    );
    assert_eq!(
        HttpAction::handle(deactivated).unwrap(),
        Outcome::Completed(Some(format!("actions[0] DELETE {SESSIONS}: HTTP 204")))
    );
    let sent = &testing::requests()[0];
    assert_eq!(
        header(sent, "idempotency-key").as_deref(),
        Some("event_1:inst:0")
    );
    assert_eq!(sent.body, None);

    let deleted = user_event("dsync.user.deleted", "active", None);
    assert_eq!(
        HttpAction::handle(deleted).unwrap(),
        Outcome::Completed(Some(format!("actions[1] DELETE {SESSIONS}: HTTP 204")))
    );
    assert_eq!(
        header(&testing::requests()[1], "idempotency-key").as_deref(),
        Some("event_1:inst:1")
    );

    let renamed = user_event(
        "dsync.user.updated",
        "active",
        Some(json!({"email": "a@x"})),
    );
    assert_eq!(
        HttpAction::handle(renamed).unwrap(),
        Outcome::Skipped("actions[0]: became_inactive is not true".into())
    );
    assert_eq!(
        HttpAction::handle(user_event("dsync.user.created", "active", None)).unwrap(),
        Outcome::Skipped("no action is for dsync.user.created".into())
    );
    assert_eq!(testing::requests().len(), 2, "skipped events send nothing");
}

#[test]
fn a_session_that_is_already_gone_counts_as_revoked() {
    testing::reset();
    testing::set_config(revoke_sessions_config());
    testing::mock_http("DELETE", SESSIONS, 404, "");
    assert_eq!(
        HttpAction::handle(user_event("dsync.user.deleted", "inactive", None)).unwrap(),
        Outcome::Completed(Some(format!(
            "actions[1] DELETE {SESSIONS}: already gone (HTTP 404)"
        )))
    );
}

#[test]
fn matching_actions_run_in_order_with_rendered_bodies_and_headers() {
    testing::reset();
    testing::set_config(json!({"url": "https://app.example.com/", "actions": [
        {"on": ["dsync.user.*"], "when": {"user_state": "inactive"}, "method": "PATCH",
         "url": "https://hr.example.com/people/{{data.custom_attributes.employee_number}}",
         "headers": {"X-Event": "{{event.type}}", "Idempotency-Key": "{{event.id}}"},
         "body": {"active": false, "email": "{{data.email}}", "user": "{{data}}"}},
        {"on": ["dsync.user.updated"], "method": "POST",
         "url": "https://app.example.com/audit?user={{data.username}}",
         "body": {"text": "{{data.username}} is {{data.state}}"}},
    ]}));
    testing::mock_http("PATCH", "https://hr.example.com/people/E%207", 200, "{}");
    testing::mock_http("POST", "https://app.example.com/audit?user=ada", 201, "");
    let e = user_event(
        "dsync.user.updated",
        "inactive",
        Some(json!({"state": "active"})),
    );
    let data = e.data.clone();
    let Outcome::Completed(Some(detail)) = HttpAction::handle(e).unwrap() else {
        panic!("both actions should have run");
    };
    assert!(detail.starts_with(
        "actions[0] PATCH https://hr.example.com/people/E%207: HTTP 200; actions[1] POST"
    ));
    let sent = testing::requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        header(&sent[0], "x-event").as_deref(),
        Some("dsync.user.updated")
    );
    assert_eq!(
        header(&sent[0], "idempotency-key").as_deref(),
        Some("event_1"),
        "config wins"
    );
    assert_eq!(
        header(&sent[0], "content-type").as_deref(),
        Some("application/json")
    );
    let body: Value = serde_json::from_slice(sent[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"active": false, "email": "ada@example.com", "user": data})
    );
    let body: Value = serde_json::from_slice(sent[1].body.as_deref().unwrap()).unwrap();
    assert_eq!(body, json!({"text": "ada is inactive"}));
    assert_eq!(
        header(&sent[1], "idempotency-key").as_deref(),
        Some("event_1:inst:1")
    );
}

#[test]
fn group_membership_events_template_the_nested_user() {
    testing::reset();
    testing::set_config(json!({"url": "https://app.example.com/", "actions": [
        {"on": ["dsync.group.user_removed"], "method": "DELETE",
         "url": "https://app.example.com/teams/{{data.group.name}}/members/{{data.user.email}}"},
    ]}));
    testing::mock_http(
        "DELETE",
        "https://app.example.com/teams/Site%20Ops/members/ada%40example.com",
        204,
        "",
    );
    let e = Event {
        data: json!({"directory_id": "directory_1",
                     "user": {"email": "ada@example.com", "state": "active"},
                     "group": {"name": "Site Ops"}}),
        ..event("dsync.group.user_removed")
    };
    assert!(matches!(
        HttpAction::handle(e).unwrap(),
        Outcome::Completed(_)
    ));
}

#[test]
fn http_answers_map_to_plugin_errors() {
    let cases = [
        (
            401,
            vec![],
            PluginError::unauthorized(format!("actions[1] DELETE {SESSIONS}: HTTP 401")),
        ),
        (
            403,
            vec![],
            PluginError::unauthorized(format!("actions[1] DELETE {SESSIONS}: HTTP 403")),
        ),
        (
            429,
            vec![("Retry-After".to_string(), "30".to_string())],
            PluginError::rate_limited(30, format!("actions[1] DELETE {SESSIONS}: HTTP 429")),
        ),
        (
            500,
            vec![],
            PluginError::transient(format!("actions[1] DELETE {SESSIONS}: HTTP 500")),
        ),
        (
            400,
            vec![],
            PluginError::permanent(format!("actions[1] DELETE {SESSIONS}: HTTP 400: bad")),
        ),
    ];
    for (status, headers, expected) in cases {
        testing::reset();
        testing::set_config(revoke_sessions_config());
        let response = Response {
            status,
            headers,
            body: b"bad".to_vec(),
        };
        testing::mock_response("DELETE", SESSIONS, response);
        let e = user_event("dsync.user.deleted", "inactive", None);
        assert_eq!(
            HttpAction::handle(e).unwrap_err(),
            expected,
            "HTTP {status}"
        );
    }
}

#[test]
fn a_failing_action_stops_the_ones_after_it() {
    testing::reset();
    testing::set_config(json!({"url": "https://app.example.com/", "actions": [
        {"on": ["dsync.user.deleted"], "method": "POST", "url": "https://a.example.com/first"},
        {"on": ["dsync.user.deleted"], "method": "POST", "url": "https://a.example.com/second"},
    ]}));
    testing::mock_http("POST", "https://a.example.com/first", 503, "");
    let err = HttpAction::handle(event("dsync.user.deleted")).unwrap_err();
    assert!(matches!(
        err,
        PluginError::RateLimited {
            retry_after_seconds: 60,
            ..
        }
    ));
    assert_eq!(testing::requests().len(), 1);
}

#[test]
fn a_missing_field_fails_permanently_unless_the_action_skips() {
    testing::reset();
    let action = json!({"on": ["dsync.user.deleted"], "method": "DELETE",
                        "url": "https://app.example.com/users/{{data.custom_attributes.github}}"});
    testing::set_config(json!({"url": "https://app.example.com/", "actions": [action.clone()]}));
    let e = user_event("dsync.user.deleted", "inactive", None);
    assert_eq!(
        HttpAction::handle(e.clone()).unwrap_err(),
        PluginError::permanent(
            "actions[0]: the event has no value at data.custom_attributes.github"
        )
    );
    let mut skipping = action;
    skipping["if_missing"] = json!("skip");
    testing::set_config(json!({"url": "https://app.example.com/", "actions": [skipping]}));
    assert_eq!(
        HttpAction::handle(e).unwrap(),
        Outcome::Skipped(
            "actions[0]: the event has no value at data.custom_attributes.github".into()
        )
    );
    assert!(testing::requests().is_empty());
}

#[test]
fn bad_configs_are_invalid_config() {
    let action = json!({"on": ["dsync.user.deleted"], "method": "DELETE", "url": "/x"});
    let url = "https://a.example.com";
    let cases = [
        (json!({}), "config.url is required"),
        (
            json!({"actions": [action.clone()]}),
            "config.url is required",
        ),
        (
            json!({"url": "ftp://a.example.com"}),
            "url must start with https://",
        ),
        (json!({"url": url, "actions": []}), "at least one action"),
        (
            json!({"url": url, "actions": [action.clone()], "events": ["dsync.user.deleted"]}),
            "cannot be combined",
        ),
        (
            json!({"url": url, "actions": [{"on": ["x"], "method": "DELETE", "url": "https://{{data.h}}/"}]}),
            "actions[0].url",
        ),
        (json!({"url": url, "actions": "nope"}), "config.actions"),
    ];
    for (config, expected) in cases {
        testing::reset();
        testing::set_config(config.clone());
        let err = HttpAction::validate_config().unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidConfig(m) if m.contains(expected)),
            "{config}: {err}"
        );
        assert!(matches!(
            HttpAction::handle(event("dsync.user.deleted")),
            Err(PluginError::InvalidConfig(_))
        ));
    }
    testing::set_config(json!({"url": url, "actions": [action]}));
    assert_eq!(HttpAction::validate_config(), Ok(()));
}
