//! `GoogleWorkspace` on the SDK's fakes: the requests it sends (recorded
//! URLs) and how it reads Google's list pages.

use rollcall_plugin_sdk::http::Response;
use serde_json::{Value, json};

use super::*;

const DIR: &str = "https://admin.googleapis.com/admin/directory/v1";

fn ok(body: Value) -> Response {
    Response {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

fn user(id: &str) -> Value {
    json!({"kind": "admin#directory#user", "id": id, "primaryEmail": format!("{id}@example.com"),
           "name": {"givenName": "G", "familyName": id}})
}

fn sent() -> Vec<String> {
    testing::requests().into_iter().map(|r| r.url).collect()
}

fn ids(page: &Page<User>) -> Vec<&str> {
    page.items.iter().map(|u| u.idp_id.as_str()).collect()
}

fn start(config: Value) {
    testing::reset();
    directory::forget_allowed_members();
    testing::set_config(config);
}

#[test]
fn users_are_paged_with_google_page_tokens() {
    start(json!({}));
    let first = format!("{DIR}/users?customer=my_customer&maxResults=2&projection=basic");
    let second = format!("{first}&pageToken=tok%2B2");
    testing::mock_response(
        "GET",
        &first,
        ok(
            json!({"kind": "admin#directory#users", "users": [user("1"), user("2")], "nextPageToken": "tok+2"}),
        ),
    );
    testing::mock_response(
        "GET",
        &second,
        ok(json!({"kind": "admin#directory#users", "users": [user("3")]})),
    );
    let page = GoogleWorkspace::list_users(PageRequest {
        cursor: None,
        limit: 2,
    })
    .unwrap();
    assert_eq!(ids(&page), ["1", "2"]);
    assert_eq!(page.next_cursor.as_deref(), Some("t:tok+2"));
    let page = GoogleWorkspace::list_users(PageRequest {
        cursor: page.next_cursor,
        limit: 2,
    })
    .unwrap();
    assert_eq!(ids(&page), ["3"]);
    assert_eq!(page.next_cursor, None);
    assert_eq!(sent(), [first, second]);
}

#[test]
fn a_domain_and_full_projection_shape_the_request_and_the_hint_is_capped() {
    start(json!({"domain": "example.com", "projection": "full"}));
    let url = format!("{DIR}/users?domain=example.com&maxResults=500&projection=full");
    testing::mock_response("GET", &url, ok(json!({"kind": "admin#directory#users"})));
    let page = GoogleWorkspace::list_users(PageRequest {
        cursor: None,
        limit: 5000,
    })
    .unwrap();
    assert!(page.items.is_empty() && page.next_cursor.is_none());
    assert_eq!(sent(), [url]);
}

#[test]
fn members_keep_only_users() {
    start(json!({}));
    let url = format!("{DIR}/groups/03abc/members?maxResults=200");
    testing::mock_response(
        "GET",
        &url,
        ok(json!({"kind": "admin#directory#members", "members": [
            {"kind": "admin#directory#member", "id": "1", "email": "1@example.com", "role": "OWNER", "type": "USER", "status": "ACTIVE"},
            {"kind": "admin#directory#member", "id": "03nested", "email": "sub@example.com", "role": "MEMBER", "type": "GROUP"},
            {"kind": "admin#directory#member", "id": "C01", "role": "MEMBER", "type": "CUSTOMER"}
        ], "nextPageToken": "m2"})),
    );
    let page = GoogleWorkspace::list_members(
        "03abc",
        PageRequest {
            cursor: None,
            limit: 500,
        },
    )
    .unwrap();
    assert_eq!(
        page.items,
        [Membership {
            group_idp_id: "03abc".into(),
            user_idp_id: "1".into()
        }]
    );
    assert_eq!(page.next_cursor.as_deref(), Some("t:m2"));
    testing::mock_http(
        "GET",
        &format!("{DIR}/groups/03gone/members?maxResults=200"),
        404,
        r#"{"error":{"code":404,"message":"Resource Not Found: groupKey","errors":[{"reason":"notFound"}]}}"#,
    );
    let gone = GoogleWorkspace::list_members(
        "03gone",
        PageRequest {
            cursor: None,
            limit: 200,
        },
    )
    .unwrap();
    assert_eq!(gone, Page::empty());
}

#[test]
fn an_allow_list_limits_groups_and_users() {
    start(json!({"group_allow_list": ["eng@example.com", "03ops"]}));
    testing::mock_response(
        "GET",
        &format!("{DIR}/groups/eng%40example.com/members?maxResults=200"),
        ok(json!({"members": [{"id": "1", "type": "USER"}], "nextPageToken": "p2"})),
    );
    testing::mock_response(
        "GET",
        &format!("{DIR}/groups/eng%40example.com/members?maxResults=200&pageToken=p2"),
        ok(json!({"members": [{"id": "3", "type": "USER"}]})),
    );
    testing::mock_response(
        "GET",
        &format!("{DIR}/groups/03ops/members?maxResults=200"),
        ok(json!({"kind": "admin#directory#members"})),
    );
    let users_url = format!("{DIR}/users?customer=my_customer&maxResults=500&projection=basic");
    testing::mock_response(
        "GET",
        &users_url,
        ok(json!({"users": [user("1"), user("2"), user("3"), user("4")], "nextPageToken": "u2"})),
    );
    let page = GoogleWorkspace::list_users(PageRequest {
        cursor: None,
        limit: 500,
    })
    .unwrap();
    assert_eq!(ids(&page), ["1", "3"]);
    assert_eq!(page.next_cursor.as_deref(), Some("t:u2"));
    testing::mock_response(
        "GET",
        &format!("{users_url}&pageToken=u2"),
        ok(json!({"users": [user("5")]})),
    );
    let page = GoogleWorkspace::list_users(PageRequest {
        cursor: page.next_cursor,
        limit: 500,
    })
    .unwrap();
    assert!(page.items.is_empty());
    assert_eq!(
        sent().len(),
        5,
        "the member sets are fetched once per instance"
    );

    testing::mock_response(
        "GET",
        &format!("{DIR}/groups/eng%40example.com"),
        ok(
            json!({"kind": "admin#directory#group", "id": "03eng", "email": "eng@example.com", "name": "Engineering"}),
        ),
    );
    testing::mock_response(
        "GET",
        &format!("{DIR}/groups/03ops"),
        ok(
            json!({"kind": "admin#directory#group", "id": "03ops", "email": "ops@example.com", "name": "Ops"}),
        ),
    );
    let groups = GoogleWorkspace::list_groups(PageRequest {
        cursor: None,
        limit: 1,
    })
    .unwrap();
    assert_eq!(groups.items[0].idp_id, "03eng");
    assert_eq!(groups.next_cursor.as_deref(), Some("a:1"));
    let groups = GoogleWorkspace::list_groups(PageRequest {
        cursor: groups.next_cursor,
        limit: 1,
    })
    .unwrap();
    assert_eq!(groups.items[0].name, "Ops");
    assert_eq!(groups.next_cursor, None);
    let foreign = GoogleWorkspace::list_groups(PageRequest {
        cursor: Some("t:x".into()),
        limit: 1,
    });
    assert!(
        matches!(foreign, Err(PluginError::Permanent(_))),
        "{foreign:?}"
    );
}

#[test]
fn an_unknown_allow_listed_group_is_invalid_config() {
    start(json!({"group_allow_list": ["nope@example.com"]}));
    testing::mock_http(
        "GET",
        &format!("{DIR}/groups/nope%40example.com/members?maxResults=200"),
        404,
        r#"{"error":{"code":404,"message":"Resource Not Found: groupKey"}}"#,
    );
    assert_eq!(
        GoogleWorkspace::list_users(PageRequest::default()).unwrap_err(),
        PluginError::invalid_config(
            "config.group_allow_list: Google has no group 'nope@example.com'"
        )
    );
}

#[test]
fn there_is_no_incremental_mode() {
    start(json!({}));
    for checkpoint in [None, Some("anything")] {
        assert_eq!(
            GoogleWorkspace::changes(checkpoint).unwrap_err(),
            PluginError::permanent(NO_INCREMENTAL)
        );
    }
    assert!(testing::requests().is_empty());
}
