//! Authentication and tenant isolation: 401 without a valid admin key, 403
//! for what a scoped key may never do, 404 for other tenants' objects, and a
//! SCIM token is not an admin key. On both backends.

use axum::http::{Method, StatusCode};
use rollcall_core::directory_user::{UserInput, UserState};
use rollcall_store::directory_state::Change;
use rollcall_tests::{Backend, TestApp, both_backends};
use serde_json::{Map, Value, json};

struct Tenants {
    app: TestApp,
    org_a: String,
    org_b: String,
    dir_b: String,
    user_b: String,
    group_b: String,
    key_a: String,
    scim_token_b: String,
}

async fn setup(backend: Backend) -> Tenants {
    let app = TestApp::new(backend).await;
    let org_a = app.create_org("A").await;
    let org_b = app.create_org("B").await;
    app.create_directory(&org_a, "okta-scim-v2").await;
    let dir = app.create_directory(&org_b, "okta-scim-v2").await;
    let dir_b = dir["id"].as_str().unwrap().to_owned();
    let scim_token_b = dir["scim"]["token"].as_str().unwrap().to_owned();
    let outcomes = app
        .db
        .store
        .apply_changes(
            &dir_b,
            vec![
                Change::UpsertUser(UserInput {
                    idp_id: "b1".into(),
                    email: Some("b1@b.com".into()),
                    first_name: None,
                    last_name: None,
                    username: None,
                    state: UserState::Active,
                    roles: vec![],
                    custom_attributes: Map::new(),
                    raw_attributes: Map::new(),
                }),
                Change::UpsertGroup(rollcall_core::directory_group::GroupInput {
                    idp_id: "g1".into(),
                    name: "B group".into(),
                    raw_attributes: Map::new(),
                }),
            ],
        )
        .await
        .unwrap();
    let user_b = match &outcomes[0] {
        rollcall_store::directory_state::Outcome::UserCreated(u) => u.id.clone(),
        other => panic!("{other:?}"),
    };
    let group_b = match &outcomes[1] {
        rollcall_store::directory_state::Outcome::GroupCreated(g) => g.id.clone(),
        other => panic!("{other:?}"),
    };
    let r = app
        .post(
            "/api/v1/admin_keys",
            json!({"name": "a-only", "organization_id": org_a}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let key_a = r.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(r.body["organization_id"], json!(org_a));
    Tenants {
        app,
        org_a,
        org_b,
        dir_b,
        user_b,
        group_b,
        key_a,
        scim_token_b,
    }
}

async fn as_key(
    t: &Tenants,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let r = t.app.call(method, path, Some(key), body).await;
    (r.status, r.body)
}

async fn missing_or_wrong_keys_are_401(backend: Backend) {
    let t = setup(backend).await;
    let r = t
        .app
        .call(Method::GET, "/api/v1/organizations", None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["code"], "unauthorized");
    for bad in ["rc_admin_wrong", "", &"x".repeat(5000)] {
        let r = t
            .app
            .call(Method::GET, "/api/v1/organizations", Some(bad), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "key {bad:.20}");
    }
    // A SCIM token opens its SCIM endpoint only, never the admin API.
    let r = t
        .app
        .call(
            Method::GET,
            "/api/v1/organizations",
            Some(&t.scim_token_b),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = t
        .app
        .call(
            Method::GET,
            &format!("/api/v1/directories/{}", t.dir_b),
            Some(&t.scim_token_b),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Revoked keys stop working.
    let r = t.app.get("/api/v1/admin_keys").await;
    let a_key_id = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "a-only")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        t.app
            .admin(
                Method::DELETE,
                &format!("/api/v1/admin_keys/{a_key_id}"),
                None
            )
            .await
            .status,
        StatusCode::OK
    );
    let (status, _) = as_key(&t, &t.key_a, Method::GET, "/api/v1/organizations", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn scoped_key_cannot_see_other_organizations(backend: Backend) {
    let t = setup(backend).await;
    let k = t.key_a.clone();
    // Lists contain only its own organization.
    let (s, body) = as_key(&t, &k, Method::GET, "/api/v1/organizations", None).await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [t.org_a.as_str()]);
    let (_, body) = as_key(&t, &k, Method::GET, "/api/v1/directories", None).await;
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["organization_id"] == json!(t.org_a))
    );
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    let (_, body) = as_key(&t, &k, Method::GET, "/api/v1/events?limit=100", None).await;
    assert!(!body["data"].as_array().unwrap().is_empty());
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["organization_id"] == json!(t.org_a))
    );
    let (_, body) = as_key(&t, &k, Method::GET, "/api/v1/admin_keys", None).await;
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|key| key["organization_id"] == json!(t.org_a))
    );

    // Every read, write and list of B's objects answers 404, as if absent.
    let paths_404 = [
        (
            Method::GET,
            format!("/api/v1/organizations/{}", t.org_b),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/organizations/{}", t.org_b),
            Some(json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/organizations/{}", t.org_b),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/directories/{}", t.dir_b),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/directories/{}", t.dir_b),
            Some(json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/directories/{}", t.dir_b),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/directories/{}/tokens", t.dir_b),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/directories/{}/tokens", t.dir_b),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/directories?organization_id={}", t.org_b),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/directory_users?directory={}", t.dir_b),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/directory_users?group={}", t.group_b),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/directory_users/{}", t.user_b),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/directory_groups?directory={}", t.dir_b),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/directory_groups?user={}", t.user_b),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/directory_groups/{}", t.group_b),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/events?organization_id={}", t.org_b),
            None,
        ),
        (
            Method::POST,
            "/api/v1/directories".to_owned(),
            Some(json!({"organization_id": t.org_b, "name": "x", "type": "okta-scim-v2"})),
        ),
        (
            Method::POST,
            "/api/v1/admin_keys".to_owned(),
            Some(json!({"name": "x", "organization_id": t.org_b})),
        ),
    ];
    for (method, path, body) in paths_404 {
        let (s, b) = as_key(&t, &k, method.clone(), &path, body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}: {b}");
        assert_eq!(b["code"], "not_found");
    }
    // B's directory is untouched.
    assert!(
        t.app
            .db
            .store
            .get_directory(&t.dir_b)
            .await
            .unwrap()
            .is_some()
    );
    // Events of B's directory are filtered out even when asked for directly.
    let (_, body) = as_key(
        &t,
        &k,
        Method::GET,
        &format!("/api/v1/events?directory_id={}", t.dir_b),
        None,
    )
    .await;
    assert_eq!(body["data"], json!([]));
}

async fn scoped_key_is_forbidden_global_actions(backend: Backend) {
    let t = setup(backend).await;
    let k = t.key_a.clone();
    let (s, b) = as_key(
        &t,
        &k,
        Method::POST,
        "/api/v1/organizations",
        Some(json!({"name": "New"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(b["code"], "forbidden");
    let (s, _) = as_key(
        &t,
        &k,
        Method::DELETE,
        &format!("/api/v1/organizations/{}", t.org_a),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = as_key(
        &t,
        &k,
        Method::POST,
        "/api/v1/admin_keys",
        Some(json!({"name": "global"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // But it manages its own organization.
    let (s, b) = as_key(
        &t,
        &k,
        Method::POST,
        "/api/v1/directories",
        Some(json!({"organization_id": t.org_a, "name": "Mine", "type": "generic-scim-v2"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, _) = as_key(
        &t,
        &k,
        Method::PATCH,
        &format!("/api/v1/organizations/{}", t.org_a),
        Some(json!({"name": "A2"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}

both_backends!(
    missing_or_wrong_keys_are_401,
    scoped_key_cannot_see_other_organizations,
    scoped_key_is_forbidden_global_actions,
);
