//! Bad input: every client mistake gets a 4xx with the JSON error shape,
//! never a 500 or a panic, and nothing already stored is lost.

use axum::http::{Method, StatusCode};
use rollcall_tests::{Backend, TestApp, both_backends};
use serde_json::json;

async fn assert_error(
    app: &TestApp,
    method: Method,
    path: &str,
    ct: Option<&str>,
    body: &[u8],
    status: StatusCode,
    code: &str,
) {
    let key = app.admin_key.clone();
    let r = app
        .raw(method.clone(), path, Some(&key), ct, body.to_vec())
        .await;
    assert_eq!(r.status, status, "{method} {path} -> {:?}", r.body);
    assert_eq!(r.body["code"], code, "{method} {path} -> {:?}", r.body);
    assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(
        r.content_type
            .unwrap_or_default()
            .starts_with("application/json")
    );
}

async fn malformed_and_oversized_bodies(backend: Backend) {
    let app = TestApp::with_body_limit(backend, 4096).await;
    let json_ct = Some("application/json");
    let orgs = "/api/v1/organizations";
    assert_error(
        &app,
        Method::POST,
        orgs,
        json_ct,
        b"{\"name\":",
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    assert_error(
        &app,
        Method::POST,
        orgs,
        json_ct,
        b"[1,2]",
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    assert_error(
        &app,
        Method::POST,
        orgs,
        json_ct,
        b"{\"name\":5}",
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    assert_error(
        &app,
        Method::POST,
        orgs,
        json_ct,
        b"{\"nmae\":\"x\"}",
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    assert_error(
        &app,
        Method::POST,
        orgs,
        json_ct,
        b"{\"name\":\"\"}",
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_error(
        &app,
        Method::POST,
        orgs,
        json_ct,
        b"{\"name\":\"x\",\"domains\":[\"not a domain\"]}",
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_error(
        &app,
        Method::POST,
        orgs,
        Some("text/plain"),
        b"name=x",
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(10_000));
    assert_error(
        &app,
        Method::POST,
        orgs,
        json_ct,
        big.as_bytes(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    // The message names the field at fault.
    let r = app
        .raw(
            Method::POST,
            orgs,
            Some(&app.admin_key.clone()),
            json_ct,
            b"{\"name\":\"x\",\"domains\":\"a.com\"}".to_vec(),
        )
        .await;
    assert!(
        r.body["message"].as_str().unwrap().contains("domains"),
        "{:?}",
        r.body
    );

    let org = app.create_org("Acme").await;
    let dirs = "/api/v1/directories";
    let body = json!({"organization_id": org, "name": "x", "type": "okta"}).to_string();
    let r = app
        .raw(
            Method::POST,
            dirs,
            Some(&app.admin_key.clone()),
            json_ct,
            body.into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["message"].as_str().unwrap().contains("okta-scim-v2"),
        "lists valid types: {:?}",
        r.body
    );
    let body = json!({"organization_id": "org_01J00000000000000000000000", "name": "x", "type": "okta-scim-v2"}).to_string();
    assert_error(
        &app,
        Method::POST,
        dirs,
        json_ct,
        body.as_bytes(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let dir = app.create_directory(&org, "okta-scim-v2").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tokens = format!("/api/v1/directories/{dir}/tokens");
    assert_error(
        &app,
        Method::POST,
        &tokens,
        json_ct,
        b"{\"grace_period_seconds\":-1}",
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_error(
        &app,
        Method::POST,
        &tokens,
        json_ct,
        b"{\"grace_period_seconds\":99999999999}",
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;

    // Nothing accepted before was lost.
    let r = app.get(&format!("/api/v1/organizations/{org}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        app.get(&format!("/api/v1/directories/{dir}")).await.status,
        StatusCode::OK
    );
}

async fn bad_query_parameters(backend: Backend) {
    let app = TestApp::new(backend).await;
    let org = app.create_org("Acme").await;
    let dir = app.create_directory(&org, "okta-scim-v2").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases = [
        "/api/v1/organizations?limit=0",
        "/api/v1/organizations?limit=101",
        "/api/v1/organizations?limit=ten",
        "/api/v1/organizations?limit=-1",
        "/api/v1/organizations?after=garbage",
        "/api/v1/organizations?after=directory_01J00000000000000000000000",
        "/api/v1/organizations?before=org_01J00000000000000000000000&after=org_01J00000000000000000000000",
        "/api/v1/organizations?order=sideways",
        "/api/v1/organizations?limit=1&limit=2",
        "/api/v1/organizations?colour=blue",
        "/api/v1/events?events=dsync.user.exploded",
        "/api/v1/events?after=event_nope",
        "/api/v1/events?after=event_01J00000000000000000000000",
        "/api/v1/events?range_start=yesterday",
        "/api/v1/directory_groups",
    ];
    for path in cases {
        assert_error(
            &app,
            Method::GET,
            path,
            None,
            b"",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
    }
    assert_error(
        &app,
        Method::GET,
        &format!("/api/v1/directory_users?directory={dir}&state=gone"),
        None,
        b"",
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
}

async fn unknown_ids_and_routes(backend: Backend) {
    let app = TestApp::new(backend).await;
    for path in [
        "/api/v1/organizations/org_01J00000000000000000000000",
        "/api/v1/organizations/not-an-id",
        "/api/v1/directories/directory_01J00000000000000000000000",
        "/api/v1/directories/directory_01J00000000000000000000000/tokens",
        "/api/v1/directory_users/whatever",
        "/api/v1/directory_groups/whatever",
        "/api/v1/directory_users?directory=directory_01J00000000000000000000000",
        "/api/v1/admin_keys/admin_key_01J00000000000000000000000",
        "/api/v1/nothing-here",
        "/nothing-here",
    ] {
        let method = if path.contains("admin_keys/") {
            Method::DELETE
        } else {
            Method::GET
        };
        assert_error(
            &app,
            method,
            path,
            None,
            b"",
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    assert_error(
        &app,
        Method::PUT,
        "/api/v1/organizations",
        None,
        b"",
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let org = app.create_org("Acme").await;
    let dir = app.create_directory(&org, "okta-scim-v2").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        &app,
        Method::DELETE,
        &format!("/api/v1/directories/{dir}/tokens/scim_token_01J00000000000000000000000"),
        None,
        b"",
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

both_backends!(
    malformed_and_oversized_bodies,
    bad_query_parameters,
    unknown_ids_and_routes
);
