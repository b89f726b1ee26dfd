//! Tests of `SshKeyRevoker` on the SDK's fakes: recorded-shape request
//! sequences against a GitHub-style API.

use rollcall_plugin_sdk::http::Response;
use serde_json::{Value, json};

use super::*;

const API: &str = "https://git.example.com/api/v3";
const PAGE_1: &str = "https://git.example.com/api/v3/users/ada/keys?per_page=100";
const PAGE_2: &str = "https://git.example.com/api/v3/users/ada/keys?per_page=100&page=2";

fn user_event(event_type: &str, data: Value) -> Event {
    Event {
        id: "event_1".into(),
        event_type: event_type.into(),
        organization_id: "org_1".into(),
        directory_id: Some("directory_1".into()),
        created_at_micros: 0,
        data,
        previous_attributes: None,
        idempotency_key: "event_1:inst".into(),
        attempt: 1,
    }
}

fn ada(state: &str) -> Value {
    json!({"object": "directory_user", "id": "directory_user_1", "username": "ada",
           "email": "ada@example.com", "state": state,
           "custom_attributes": {"github_login": "ada-lovelace"}})
}

fn keys(ids: &[u64]) -> String {
    let keys: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "key": "ssh-ed25519 AAAA", "title": format!("laptop {id}")}))
        .collect();
    Value::Array(keys).to_string()
}

fn page(body: String, next: Option<&str>) -> Response {
    let headers = next
        .map(|n| {
            vec![(
                "Link".to_string(),
                format!("<{n}>; rel=\"next\", <{PAGE_1}>; rel=\"first\""),
            )]
        })
        .unwrap_or_default();
    Response {
        status: 200,
        headers,
        body: body.into_bytes(),
    }
}

fn sent() -> Vec<String> {
    testing::requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url))
        .collect()
}

#[test]
fn a_deleted_users_keys_are_listed_across_pages_and_deleted() {
    testing::reset();
    testing::set_config(json!({"api_base": format!("{API}/")}));
    testing::mock_response("GET", PAGE_1, page(keys(&[1, 2]), Some(PAGE_2)));
    testing::mock_response("GET", PAGE_2, page(keys(&[3]), None));
    for id in 1..=3 {
        testing::mock_http("DELETE", &format!("{API}/users/ada/keys/{id}"), 204, "");
    }
    let outcome = SshKeyRevoker::handle(user_event("dsync.user.deleted", ada("active"))).unwrap();
    assert_eq!(
        outcome,
        Outcome::Completed(Some("revoked 3 keys for ada".into()))
    );
    assert_eq!(
        sent(),
        [
            format!("GET {PAGE_1}"),
            format!("GET {PAGE_2}"),
            format!("DELETE {API}/users/ada/keys/1"),
            format!("DELETE {API}/users/ada/keys/2"),
            format!("DELETE {API}/users/ada/keys/3"),
        ]
    );
}

#[test]
fn a_next_link_in_a_later_link_header_is_followed() {
    testing::reset();
    testing::set_config(json!({"api_base": API}));
    let first = Response {
        status: 200,
        headers: vec![
            ("Link".to_string(), format!("<{PAGE_1}>; rel=\"first\"")),
            ("Link".to_string(), format!("<{PAGE_2}>; rel=\"next\"")),
        ],
        body: keys(&[1]).into_bytes(),
    };
    testing::mock_response("GET", PAGE_1, first);
    testing::mock_response("GET", PAGE_2, page(keys(&[2]), None));
    for id in 1..=2 {
        testing::mock_http("DELETE", &format!("{API}/users/ada/keys/{id}"), 204, "");
    }
    let outcome = SshKeyRevoker::handle(user_event("dsync.user.deleted", ada("active"))).unwrap();
    assert_eq!(
        outcome,
        Outcome::Completed(Some("revoked 2 keys for ada".into()))
    );
}

#[test]
fn updates_act_only_on_inactive_users() {
    testing::reset();
    testing::set_config(json!({"api_base": API}));
    testing::mock_response("GET", PAGE_1, page(keys(&[7]), None));
    testing::mock_http("DELETE", &format!("{API}/users/ada/keys/7"), 204, "");
    assert_eq!(
        SshKeyRevoker::handle(user_event("dsync.user.updated", ada("active"))).unwrap(),
        Outcome::Skipped("directory_user_1 is not inactive".into())
    );
    assert_eq!(
        SshKeyRevoker::handle(user_event("dsync.user.created", ada("inactive"))).unwrap(),
        Outcome::Skipped("dsync.user.created is not in config.events".into())
    );
    assert!(testing::requests().is_empty());
    assert_eq!(
        SshKeyRevoker::handle(user_event("dsync.user.updated", ada("inactive"))).unwrap(),
        Outcome::Completed(Some("revoked 1 key for ada".into()))
    );
}

#[test]
fn a_redelivery_after_a_partial_run_finishes_the_job() {
    testing::reset();
    testing::set_config(json!({"api_base": API}));
    testing::mock_response("GET", PAGE_1, page(keys(&[1, 2, 3]), None));
    testing::mock_http("DELETE", &format!("{API}/users/ada/keys/1"), 204, "");
    testing::mock_http("DELETE", &format!("{API}/users/ada/keys/2"), 502, "");
    let e = user_event("dsync.user.deleted", ada("inactive"));
    assert_eq!(
        SshKeyRevoker::handle(e.clone()).unwrap_err(),
        PluginError::transient("HTTP 502")
    );
    assert_eq!(testing::requests().len(), 3, "stops at the failing delete");

    // Second delivery: key 1 is gone from the list; key 2 was deleted by
    // someone else meanwhile (404); key 3 is still there.
    testing::reset();
    testing::set_config(json!({"api_base": API}));
    testing::mock_response("GET", PAGE_1, page(keys(&[2, 3]), None));
    testing::mock_http("DELETE", &format!("{API}/users/ada/keys/2"), 404, "");
    testing::mock_http("DELETE", &format!("{API}/users/ada/keys/3"), 204, "");
    assert_eq!(
        SshKeyRevoker::handle(Event { attempt: 2, ..e }).unwrap(),
        Outcome::Completed(Some("revoked 1 key for ada (1 already gone)".into()))
    );
}

#[test]
fn no_keys_and_no_account_are_reported() {
    testing::reset();
    testing::set_config(json!({"api_base": API}));
    testing::mock_response("GET", PAGE_1, page("[]".into(), None));
    assert_eq!(
        SshKeyRevoker::handle(user_event("dsync.user.deleted", ada("active"))).unwrap(),
        Outcome::Completed(Some("revoked 0 keys for ada".into()))
    );
    testing::reset();
    testing::set_config(json!({"api_base": API}));
    testing::mock_http("GET", PAGE_1, 404, "");
    assert_eq!(
        SshKeyRevoker::handle(user_event("dsync.user.deleted", ada("active"))).unwrap(),
        Outcome::Skipped(format!("ada has no account at {API}"))
    );
}

#[test]
fn the_login_comes_from_the_configured_field_or_template() {
    let cases = [
        (
            json!({}),
            json!({"id": "u1", "email": "ada@example.com"}),
            "ada%40example.com",
        ),
        (
            json!({"login_field": "data.custom_attributes.github_login"}),
            ada("inactive"),
            "ada-lovelace",
        ),
        (
            json!({"login_field": ["data.custom_attributes.gh", "data.email"]}),
            ada("inactive"),
            "ada%40example.com",
        ),
        (
            json!({"login": "{{data.custom_attributes.github_login}}"}),
            ada("inactive"),
            "ada-lovelace",
        ),
    ];
    for (login_config, data, encoded) in cases {
        testing::reset();
        let mut config = json!({"api_base": API});
        config
            .as_object_mut()
            .unwrap()
            .extend(login_config.as_object().unwrap().clone());
        testing::set_config(config.clone());
        let url = format!("{API}/users/{encoded}/keys?per_page=100");
        testing::mock_response("GET", &url, page("[]".into(), None));
        let outcome = SshKeyRevoker::handle(user_event("dsync.user.deleted", data)).unwrap();
        assert!(
            matches!(outcome, Outcome::Completed(_)),
            "{config}: {outcome:?}"
        );
        assert_eq!(sent(), [format!("GET {url}")], "{config}");
    }
}

#[test]
fn a_user_without_a_login_is_skipped() {
    testing::reset();
    testing::set_config(json!({"api_base": API}));
    let data = json!({"id": "directory_user_9", "username": null, "state": "inactive"});
    assert_eq!(
        SshKeyRevoker::handle(user_event("dsync.user.updated", data)).unwrap(),
        Outcome::Skipped(
            "no login for directory_user_9: none of data.username, data.email is set".into()
        )
    );
    assert!(testing::requests().is_empty());
}

#[test]
fn api_answers_map_to_plugin_errors() {
    let cases = [
        (401, vec![], PluginError::unauthorized("HTTP 401")),
        (403, vec![], PluginError::unauthorized("HTTP 403")),
        (
            429,
            vec![("Retry-After".to_string(), "9".to_string())],
            PluginError::rate_limited(9, "HTTP 429"),
        ),
        (500, vec![], PluginError::transient("HTTP 500")),
        (422, vec![], PluginError::permanent("HTTP 422: nope")),
    ];
    for (status, headers, expected) in cases {
        testing::reset();
        testing::set_config(json!({"api_base": API}));
        let response = Response {
            status,
            headers,
            body: b"nope".to_vec(),
        };
        testing::mock_response("GET", PAGE_1, response);
        let e = user_event("dsync.user.deleted", ada("inactive"));
        assert_eq!(
            SshKeyRevoker::handle(e).unwrap_err(),
            expected,
            "HTTP {status}"
        );
    }
}

#[test]
fn odd_listings_fail_permanently() {
    let cases = [
        (
            page(
                keys(&[1]),
                Some("https://elsewhere.example.com/keys?page=2"),
            ),
            "is not on https://git.example.com",
        ),
        (
            page(r#"{"keys": []}"#.into(), None),
            "response is not the expected JSON",
        ),
        (
            page(r#"[{"key": "ssh-rsa"}]"#.into(), None),
            "a listed key has no id",
        ),
    ];
    for (response, expected) in cases {
        testing::reset();
        testing::set_config(json!({"api_base": API}));
        testing::mock_response("GET", PAGE_1, response);
        let err =
            SshKeyRevoker::handle(user_event("dsync.user.deleted", ada("inactive"))).unwrap_err();
        assert!(
            matches!(&err, PluginError::Permanent(m) if m.contains(expected)),
            "{err}"
        );
    }
}

#[test]
fn a_looping_next_link_stops() {
    testing::reset();
    testing::set_config(json!({"api_base": API}));
    testing::mock_response("GET", PAGE_1, page(keys(&[1]), Some(PAGE_1)));
    let err = SshKeyRevoker::handle(user_event("dsync.user.deleted", ada("inactive"))).unwrap_err();
    assert_eq!(
        err,
        PluginError::permanent("ada has more than 100 pages of keys")
    );
}

#[test]
fn bad_configs_are_invalid_config() {
    let cases = [
        (json!({}), "config.api_base is required"),
        (
            json!({"api_base": "git.example.com"}),
            "must start with https://",
        ),
        (
            json!({"api_base": API, "events": []}),
            "at least one event type",
        ),
        (
            json!({"api_base": API, "login_field": []}),
            "at least one field",
        ),
        (
            json!({"api_base": API, "login_field": "data..x"}),
            "config.login_field",
        ),
        (
            json!({"api_base": API, "login_field": 5}),
            "config.login_field",
        ),
        (
            json!({"api_base": API, "login": "{{data.x"}),
            "config.login",
        ),
        (
            json!({"api_base": API, "login": "{{data.x}}", "login_field": "data.y"}),
            "cannot both be set",
        ),
    ];
    for (config, expected) in cases {
        testing::reset();
        testing::set_config(config.clone());
        let err = SshKeyRevoker::validate_config().unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidConfig(m) if m.contains(expected)),
            "{config}: {err}"
        );
        let handled = SshKeyRevoker::handle(user_event("dsync.user.deleted", ada("inactive")));
        assert!(
            matches!(handled, Err(PluginError::InvalidConfig(_))),
            "{config}"
        );
    }
    testing::set_config(
        json!({"api_base": API, "login_field": ["data.username"], "events": ["dsync.user.deleted"]}),
    );
    assert_eq!(SshKeyRevoker::validate_config(), Ok(()));
}
