//! Unit tests over the SDK's native fakes: mapping, config checks,
//! checkpoints, error mapping and one incremental round.

use rollcall_plugin_sdk::http::{Response, encode};
use rollcall_plugin_sdk::{Change, Connector, Membership, PluginError, UserState, testing};
use serde_json::{Value, json};

use crate::OktaApi;
use crate::changes::{Checkpoint, OVERLAP_MS, Phase, Round};
use crate::settings::{Settings, org_url};
use crate::{mapping, okta};

const ORG: &str = "https://acme.okta.com";
/// Thu, 29 Feb 2024 12:34:56 GMT.
const NOW: i64 = 1_709_210_096_000;
const DATE: &str = "Thu, 29 Feb 2024 12:34:56 GMT";

fn settings(config: Value) -> Settings {
    testing::reset();
    testing::set_config(config);
    Settings::load().unwrap()
}

fn okta_user(status: &str) -> serde_json::Map<String, Value> {
    json!({
        "id": "00u1", "status": status, "created": "2024-01-01T00:00:00.000Z",
        "lastLogin": "2024-02-01T00:00:00.000Z", "lastUpdated": "2024-02-02T00:00:00.000Z",
        "type": {"id": "oty1"},
        "profile": {
            "login": "ada@acme.com", "email": "ada@acme.com", "firstName": "Ada",
            "lastName": "Lovelace", "title": "Engineer", "department": "R&D",
            "costCenter": "CC1", "employeeNumber": "E1", "userType": "Employee",
            "managerId": "00u0", "manager": "Charles", "displayName": "Ada L.",
            "organization": "", "githubLogin": "ada", "nickName": null
        },
        "_links": {"self": {"href": "https://acme.okta.com/api/v1/users/00u1"}}
    })
    .as_object()
    .cloned()
    .unwrap()
}

#[test]
fn users_map_profile_state_and_custom_attributes() {
    let s = settings(json!({"org_url": ORG, "profile_attributes": ["githubLogin", "nickName"]}));
    let user = mapping::user(&s, okta_user("ACTIVE")).unwrap();
    assert_eq!(user.idp_id, "00u1");
    assert_eq!(user.email.as_deref(), Some("ada@acme.com"));
    assert_eq!(user.username.as_deref(), Some("ada@acme.com"));
    assert_eq!(
        (user.first_name.as_deref(), user.last_name.as_deref()),
        (Some("Ada"), Some("Lovelace"))
    );
    assert_eq!(
        Value::Object(user.custom_attributes),
        json!({
            "job_title": "Engineer", "department": "R&D", "cost_center": "CC1",
            "employee_number": "E1", "employee_type": "Employee", "manager_id": "00u0",
            "manager_name": "Charles", "display_name": "Ada L.", "githubLogin": "ada"
        })
    );
    assert_eq!(user.raw_attributes["status"], "ACTIVE");
    assert!(!user.raw_attributes.contains_key("_links"));
    assert!(!user.raw_attributes.contains_key("lastLogin"));
}

#[test]
fn statuses_map_to_states() {
    for (status, state) in [
        ("ACTIVE", UserState::Active),
        ("PROVISIONED", UserState::Active),
        ("RECOVERY", UserState::Active),
        ("PASSWORD_EXPIRED", UserState::Active),
        ("LOCKED_OUT", UserState::Active),
        ("STAGED", UserState::Inactive),
        ("SUSPENDED", UserState::Inactive),
        ("DEPROVISIONED", UserState::Inactive),
    ] {
        assert_eq!(mapping::state(status), state, "{status}");
    }
}

#[test]
fn groups_keep_type_and_profile_only() {
    let g = mapping::group(
        json!({"id": "00g1", "type": "OKTA_GROUP", "lastMembershipUpdated": "2024-01-01T00:00:00.000Z",
               "profile": {"name": "Eng", "description": "Engineers"}, "_links": {}})
        .as_object()
        .cloned()
        .unwrap(),
    )
    .unwrap();
    assert_eq!((g.idp_id.as_str(), g.name.as_str()), ("00g1", "Eng"));
    assert_eq!(
        Value::Object(g.raw_attributes),
        json!({"type": "OKTA_GROUP", "description": "Engineers",
               "profile": {"name": "Eng", "description": "Engineers"}})
    );
}

#[test]
fn org_urls_are_checked() {
    assert_eq!(org_url("https://acme.okta.com/").unwrap(), ORG);
    assert_eq!(
        org_url("http://127.0.0.1:8080").unwrap(),
        "http://127.0.0.1:8080"
    );
    for bad in [
        "acme.okta.com",
        "http://acme.okta.com",
        "https://acme.okta.com/api/v1",
        "https://acme-admin.okta.com",
        "ftp://acme.okta.com",
        "https://",
    ] {
        assert!(
            matches!(org_url(bad), Err(PluginError::InvalidConfig(_))),
            "{bad}"
        );
    }
    testing::reset();
    testing::set_config(json!({"org_url": ORG, "group_types": ["OKTA_GROUP", "NOPE"]}));
    assert!(matches!(
        Settings::load(),
        Err(PluginError::InvalidConfig(_))
    ));
}

#[test]
fn group_type_filter_excludes_built_in_by_default() {
    let s = settings(json!({"org_url": ORG}));
    assert_eq!(
        s.group_type_filter().as_deref(),
        Some(r#"type eq "OKTA_GROUP" or type eq "APP_GROUP""#)
    );
    let all =
        settings(json!({"org_url": ORG, "group_types": ["BUILT_IN", "APP_GROUP", "OKTA_GROUP"]}));
    assert_eq!(all.group_type_filter(), None);
    assert!(s.owns("https://acme.okta.com/api/v1/users?after=x"));
    assert!(!s.owns("https://acme.okta.com.evil.com/api/v1/users"));
    assert!(!s.owns("https://evil.com/api/v1/users"));
}

fn response(status: u16, headers: &[(&str, &str)], body: Value) -> Response {
    Response {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.to_string().into_bytes(),
    }
}

#[test]
fn errors_map_to_what_the_host_does() {
    let url = "https://acme.okta.com/api/v1/users";
    let err = |status, headers: &[(&str, &str)], missing| {
        okta::check(
            response(
                status,
                headers,
                json!({"errorCode": "E0000011", "errorSummary": "Invalid token provided", "errorCauses": []}),
            ),
            url,
            missing,
        )
        .unwrap_err()
    };
    assert!(
        matches!(err(401, &[], okta::Missing::Org), PluginError::Unauthorized(m) if m.contains("E0000011"))
    );
    assert!(
        matches!(err(403, &[], okta::Missing::Org), PluginError::Unauthorized(m) if m.contains("Read-Only Administrator"))
    );
    assert!(matches!(
        err(404, &[], okta::Missing::Org),
        PluginError::InvalidConfig(_)
    ));
    assert!(matches!(
        err(404, &[], okta::Missing::Object),
        PluginError::NotFound(_)
    ));
    assert!(matches!(
        err(502, &[], okta::Missing::Org),
        PluginError::Transient(_)
    ));
    let reset = (NOW / 1000 + 42).to_string();
    assert!(matches!(
        err(
            429,
            &[("Date", DATE), ("X-Rate-Limit-Reset", &reset)],
            okta::Missing::Org
        ),
        PluginError::RateLimited {
            retry_after_seconds: 42,
            ..
        }
    ));
    let past = (NOW / 1000 - 5).to_string();
    assert!(matches!(
        err(
            429,
            &[("Date", DATE), ("X-Rate-Limit-Reset", &past)],
            okta::Missing::Org
        ),
        PluginError::RateLimited {
            retry_after_seconds: 1,
            ..
        }
    ));
}

#[test]
fn next_links_are_read_from_every_link_header_and_stay_on_the_org() {
    let s = settings(json!({"org_url": ORG}));
    let next = format!("{ORG}/api/v1/users?limit=200&after=00u9");
    let links = |next: &str| {
        response(
            200,
            &[
                (
                    "link",
                    &format!("<{ORG}/api/v1/users?limit=200>; rel=\"self\""),
                ),
                ("link", &format!("<{next}>; rel=\"next\"")),
            ],
            json!([]),
        )
    };
    assert_eq!(okta::next_link(&s, &links(&next)).unwrap(), Some(next));
    assert!(okta::next_link(&s, &links("https://evil.example/api/v1/users")).is_err());
    assert_eq!(
        okta::next_link(&s, &response(200, &[], json!([]))).unwrap(),
        None
    );
}

#[test]
fn checkpoints_round_trip_and_garbage_is_not_found() {
    let cp = Checkpoint {
        v: 1,
        since: 5,
        round: Some(Round {
            until: 9,
            phase: Phase::Logs,
            next: Some(format!("{ORG}/api/v1/logs?after=1")),
        }),
    };
    assert_eq!(Checkpoint::parse(&cp.text()).unwrap(), cp);
    for bad in ["", "nope", r#"{"v":2,"since":1}"#, r#"{"v":1}"#] {
        assert!(
            matches!(Checkpoint::parse(bad), Err(PluginError::NotFound(_))),
            "{bad}"
        );
    }
}

#[test]
fn a_round_reads_users_groups_then_the_system_log() {
    testing::reset();
    testing::set_config(
        json!({"org_url": ORG, "group_types": ["OKTA_GROUP", "APP_GROUP", "BUILT_IN"]}),
    );
    let since = NOW - 3_600_000;
    let date = [("Date", DATE)];
    let filter = |f: &str| encode(f);
    testing::mock_response(
        "GET",
        &format!(
            "{ORG}/api/v1/users?limit=200&filter={}",
            filter(r#"lastUpdated gt "2024-02-29T11:34:56.000Z""#)
        ),
        response(200, &date, json!([okta_user("DEPROVISIONED")])),
    );
    testing::mock_response(
        "GET",
        &format!(
            "{ORG}/api/v1/groups?limit=200&filter={}",
            filter(r#"lastUpdated gt "2024-02-29T11:34:56.000Z""#)
        ),
        response(
            200,
            &date,
            json!([{"id": "00g1", "type": "OKTA_GROUP", "profile": {"name": "Eng"}}]),
        ),
    );
    let log_url = format!(
        "{ORG}/api/v1/logs?since={}&until={}&sortOrder=ASCENDING&limit=1000&filter={}",
        encode("2024-02-29T11:34:56.000Z"),
        encode("2024-02-29T12:34:56.000Z"),
        encode(
            &crate::changes::LOG_EVENTS
                .iter()
                .map(|e| format!("eventType eq \"{e}\""))
                .collect::<Vec<_>>()
                .join(" or ")
        )
    );
    let target = |id: &str, kind: &str| json!({"id": id, "type": kind, "alternateId": "x", "displayName": "x"});
    testing::mock_response(
        "GET",
        &log_url,
        response(
            200,
            &date,
            json!([
                {"eventType": "group.user_membership.add", "outcome": {"result": "SUCCESS"},
                 "target": [target("00u1", "User"), target("00g1", "UserGroup")]},
                {"eventType": "group.user_membership.remove", "outcome": {"result": "FAILURE"},
                 "target": [target("00u1", "User"), target("00g1", "UserGroup")]},
                {"eventType": "user.lifecycle.delete.initiated", "outcome": {"result": "SUCCESS"},
                 "target": [target("00u2", "User")]}
            ]),
        ),
    );

    let start = Checkpoint::settled(since).text();
    let users = OktaApi::changes(Some(&start)).unwrap();
    assert!(users.has_more);
    assert!(
        matches!(&users.changes[..], [Change::UserUpserted(u)] if u.state == UserState::Inactive)
    );
    let groups = OktaApi::changes(Some(&users.checkpoint)).unwrap();
    assert!(matches!(&groups.changes[..], [Change::GroupUpserted(g)] if g.name == "Eng"));
    let logs = OktaApi::changes(Some(&groups.checkpoint)).unwrap();
    assert_eq!(
        logs.changes,
        [
            Change::MemberAdded(Membership {
                group_idp_id: "00g1".into(),
                user_idp_id: "00u1".into()
            }),
            Change::UserDeleted("00u2".into())
        ]
    );
    assert!(!logs.has_more);
    assert_eq!(
        Checkpoint::parse(&logs.checkpoint).unwrap(),
        Checkpoint::settled(NOW - OVERLAP_MS)
    );

    // Ninety days and a second later, the same checkpoint has expired.
    let old = Checkpoint::settled(NOW - 90 * 86_400_000 - 1000 - 3_600_000).text();
    testing::reset();
    testing::set_config(json!({"org_url": ORG}));
    testing::mock_response(
        "GET",
        &format!(
            "{ORG}/api/v1/users?limit=200&filter={}",
            filter(r#"lastUpdated gt "2023-12-01T11:34:55.000Z""#)
        ),
        response(200, &date, json!([])),
    );
    assert!(matches!(
        OktaApi::changes(Some(&old)),
        Err(PluginError::NotFound(_))
    ));
}
