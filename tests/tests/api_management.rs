//! Management API behaviour: organizations, directories, SCIM tokens,
//! users/groups reads, cursor pagination and the Events API, on both backends.

use axum::http::{Method, StatusCode};
use rollcall_core::directory_group::GroupInput;
use rollcall_core::directory_user::{UserInput, UserState};
use rollcall_store::directory_state::{Change, Ref};
use rollcall_tests::{Backend, TestApp, both_backends};
use serde_json::{Map, Value, json};

fn user(idp: &str, state: UserState) -> UserInput {
    UserInput {
        idp_id: idp.into(),
        email: Some(format!("{idp}@acme.com")),
        first_name: Some("First".into()),
        last_name: Some("Last".into()),
        username: None,
        state,
        roles: vec!["member".into()],
        custom_attributes: Map::new(),
        raw_attributes: Map::new(),
    }
}

fn ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn organizations_crud(backend: Backend) {
    let app = TestApp::new(backend).await;
    let r = app
        .post(
            "/api/v1/organizations",
            json!({"name": " Acme ", "domains": ["Acme.com", "acme.com"], "external_id": "cust-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["object"], "organization");
    assert_eq!(r.body["name"], "Acme");
    assert_eq!(r.body["domains"], json!(["acme.com"]));
    let id = r.body["id"].as_str().unwrap().to_owned();

    let dup = app
        .post(
            "/api/v1/organizations",
            json!({"name": "Other", "external_id": "cust-1"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.body["code"], "conflict");

    let r = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/organizations/{id}"),
            Some(json!({"name": "Acme Inc", "external_id": null})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], "Acme Inc");
    assert_eq!(r.body["external_id"], Value::Null);
    assert_eq!(r.body["domains"], json!(["acme.com"]));

    let r = app.get(&format!("/api/v1/organizations/{id}")).await;
    assert_eq!(r.body["name"], "Acme Inc");

    let r = app
        .admin(Method::DELETE, &format!("/api/v1/organizations/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.get(&format!("/api/v1/organizations/{id}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["code"], "not_found");
}

async fn cursor_pagination(backend: Backend) {
    let app = TestApp::new(backend).await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(app.create_org(&format!("Org {i}")).await);
    }
    // Default order is newest first.
    let page1 = app.get("/api/v1/organizations?limit=2").await;
    assert_eq!(ids(&page1.body), [created[4].clone(), created[3].clone()]);
    assert_eq!(page1.body["list_metadata"]["before"], Value::Null);
    let after = page1.body["list_metadata"]["after"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(after, created[3]);
    let page2 = app
        .get(&format!("/api/v1/organizations?limit=2&after={after}"))
        .await;
    assert_eq!(ids(&page2.body), [created[2].clone(), created[1].clone()]);
    let page3 = app
        .get(&format!(
            "/api/v1/organizations?limit=2&after={}",
            created[1]
        ))
        .await;
    assert_eq!(ids(&page3.body), [created[0].clone()]);
    assert_eq!(page3.body["list_metadata"]["after"], Value::Null);
    // And back again with `before`.
    let back = app
        .get(&format!(
            "/api/v1/organizations?limit=2&before={}",
            created[2]
        ))
        .await;
    assert_eq!(ids(&back.body), [created[4].clone(), created[3].clone()]);
    assert_eq!(back.body["list_metadata"]["before"], Value::Null);
    // Ascending.
    let asc = app.get("/api/v1/organizations?limit=3&order=asc").await;
    assert_eq!(ids(&asc.body), created[..3].to_vec());
    let asc2 = app
        .get(&format!(
            "/api/v1/organizations?limit=3&order=asc&after={}",
            created[2]
        ))
        .await;
    assert_eq!(ids(&asc2.body), created[3..].to_vec());
}

async fn directory_lifecycle_and_tokens(backend: Backend) {
    let app = TestApp::new(backend).await;
    let org = app.create_org("Acme").await;
    let dir = app.create_directory(&org, "azure-scim-v2").await;
    let id = dir["id"].as_str().unwrap().to_owned();
    assert_eq!(dir["object"], "directory");
    assert_eq!(dir["type"], "azure-scim-v2");
    assert_eq!(dir["state"], "active");
    assert_eq!(
        dir["scim"]["url"],
        json!(format!("http://rollcall.test/scim/v2/{id}"))
    );
    assert_eq!(
        dir["scim"]["v1_url"],
        json!(format!("http://rollcall.test/scim/v1/{id}"))
    );
    let token = dir["scim"]["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("rc_scim_"));
    assert_eq!(
        app.db
            .store
            .authenticate_scim_token(&token)
            .await
            .unwrap()
            .as_deref(),
        Some(id.as_str())
    );

    // The token is never shown again.
    let shown = app.get(&format!("/api/v1/directories/{id}")).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body["scim"].get("token").is_none());
    assert!(!shown.body.to_string().contains(&token));

    // Rotate with a grace period: both tokens work, the old one is expiring.
    let r = app
        .post(
            &format!("/api/v1/directories/{id}/tokens"),
            json!({"grace_period_seconds": 3600}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let second = r.body["token"].as_str().unwrap().to_owned();
    assert_eq!(r.body["status"], "active");
    assert!(
        app.db
            .store
            .authenticate_scim_token(&token)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        app.db
            .store
            .authenticate_scim_token(&second)
            .await
            .unwrap()
            .is_some()
    );
    let list = app.get(&format!("/api/v1/directories/{id}/tokens")).await;
    let statuses: Vec<&str> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["expiring", "active"]);
    assert!(
        !list.body.to_string().contains(&second),
        "token values are never listed"
    );

    // Rotate without grace: every older token stops at once.
    let r = app
        .admin(
            Method::POST,
            &format!("/api/v1/directories/{id}/tokens"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let third = r.body["token"].as_str().unwrap().to_owned();
    assert!(
        app.db
            .store
            .authenticate_scim_token(&token)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.db
            .store
            .authenticate_scim_token(&second)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.db
            .store
            .authenticate_scim_token(&third)
            .await
            .unwrap()
            .is_some()
    );

    // Revoke the current one.
    let third_id = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .admin(
            Method::DELETE,
            &format!("/api/v1/directories/{id}/tokens/{third_id}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "revoked");
    assert!(
        app.db
            .store
            .authenticate_scim_token(&third)
            .await
            .unwrap()
            .is_none()
    );

    let evs = app
        .get(&format!("/api/v1/events?directory_id={id}&limit=100"))
        .await;
    let types: Vec<&str> = evs.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "dsync.activated",
            "dsync.token.created",
            "dsync.token.revoked",
            "dsync.token.created",
            "dsync.token.revoked",
            "dsync.token.revoked",
            "dsync.token.created",
            "dsync.token.revoked",
        ]
    );

    // Deactivate and reactivate.
    let r = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/directories/{id}"),
            Some(json!({"state": "inactive", "name": "Entra"})),
        )
        .await;
    assert_eq!(r.body["state"], "inactive");
    assert_eq!(r.body["name"], "Entra");
    let r = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/directories/{id}"),
            Some(json!({"state": "deleting"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/directories/{id}"),
            Some(json!({"state": "active"})),
        )
        .await;
    assert_eq!(r.body["state"], "active");

    let r = app
        .admin(Method::DELETE, &format!("/api/v1/directories/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/api/v1/directories/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let evs = app.get(&format!("/api/v1/events?directory_id={id}&events=dsync.deactivated,dsync.activated,dsync.deleted&limit=100")).await;
    let types: Vec<&str> = evs.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "dsync.activated",
            "dsync.deactivated",
            "dsync.activated",
            "dsync.deleted"
        ]
    );
}

async fn directory_secrets_are_write_only_and_encrypted(backend: Backend) {
    let app = TestApp::new(backend).await;
    let org = app.create_org("Acme").await;
    let r = app
        .post(
            "/api/v1/directories",
            json!({"organization_id": org, "name": "Google", "type": "google-workspace",
                   "settings": {"customer": "my_customer"}, "secrets": {"service_account_key": "very-secret-value"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["state"], "validating");
    assert_eq!(r.body["scim"], Value::Null);
    assert_eq!(r.body["secret_names"], json!(["service_account_key"]));
    assert!(!r.body.to_string().contains("very-secret-value"));
    let id = r.body["id"].as_str().unwrap().to_owned();
    let secrets = app.db.store.directory_secrets(&id).await.unwrap();
    assert_eq!(secrets["service_account_key"], json!("very-secret-value"));
    // Pull directories have no SCIM tokens.
    let r = app
        .admin(
            Method::POST,
            &format!("/api/v1/directories/{id}/tokens"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Secrets merge; null removes.
    let r = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/directories/{id}"),
            Some(json!({"secrets": {"service_account_key": null, "refresh_token": "r"}})),
        )
        .await;
    assert_eq!(r.body["secret_names"], json!(["refresh_token"]));
    assert_eq!(
        app.db.store.directory_secrets(&id).await.unwrap(),
        json!({"refresh_token": "r"}).as_object().unwrap().clone()
    );
}

async fn users_and_groups_reads(backend: Backend) {
    let app = TestApp::new(backend).await;
    let org = app.create_org("Acme").await;
    let dir = app.create_directory(&org, "okta-scim-v2").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut changes = vec![Change::UpsertGroup(GroupInput {
        idp_id: "g1".into(),
        name: "Engineering".into(),
        raw_attributes: Map::new(),
    })];
    for i in 0..3 {
        changes.push(Change::UpsertUser(user(
            &format!("u{i}"),
            if i == 2 {
                UserState::Inactive
            } else {
                UserState::Active
            },
        )));
    }
    changes.push(Change::AddMember {
        group: Ref::IdpId("g1".into()),
        user: Ref::IdpId("u0".into()),
    });
    app.db.store.apply_changes(&dir, changes).await.unwrap();

    let all = app
        .get(&format!("/api/v1/directory_users?directory={dir}&limit=10"))
        .await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.body["data"].as_array().unwrap().len(), 3);
    let u0 = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["idp_id"] == "u0")
        .unwrap()
        .clone();
    assert_eq!(u0["object"], "directory_user");
    assert_eq!(u0["email"], "u0@acme.com");
    assert_eq!(u0["role"], json!({"slug": "member"}));
    assert_eq!(u0["groups"][0]["name"], "Engineering");
    let inactive = app
        .get(&format!(
            "/api/v1/directory_users?directory={dir}&state=inactive"
        ))
        .await;
    assert_eq!(ids(&inactive.body).len(), 1);
    assert_eq!(inactive.body["data"][0]["idp_id"], "u2");

    let groups = app
        .get(&format!("/api/v1/directory_groups?directory={dir}"))
        .await;
    let group_id = groups.body["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(groups.body["data"][0]["object"], "directory_group");
    let members = app
        .get(&format!("/api/v1/directory_users?group={group_id}"))
        .await;
    assert_eq!(ids(&members.body), [u0["id"].as_str().unwrap().to_owned()]);
    let of_user = app
        .get(&format!(
            "/api/v1/directory_groups?user={}",
            u0["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(ids(&of_user.body), std::slice::from_ref(&group_id));

    let one = app
        .get(&format!(
            "/api/v1/directory_users/{}",
            u0["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["groups"][0]["id"], json!(group_id));
    let g = app
        .get(&format!("/api/v1/directory_groups/{group_id}"))
        .await;
    assert_eq!(g.body["name"], "Engineering");
    assert_eq!(
        app.get("/api/v1/directory_users/directory_user_01J00000000000000000000000")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // One of directory/group is required.
    let r = app.get("/api/v1/directory_users").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["message"].as_str().unwrap().contains("directory"));
}

async fn events_api_filters(backend: Backend) {
    let app = TestApp::new(backend).await;
    let org_a = app.create_org("A").await;
    let org_b = app.create_org("B").await;
    let dir_a = app.create_directory(&org_a, "okta-scim-v2").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir_b = app.create_directory(&org_b, "okta-scim-v2").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.db
        .store
        .apply_change(&dir_a, Change::UpsertUser(user("a1", UserState::Active)))
        .await
        .unwrap();
    app.db
        .store
        .apply_change(&dir_b, Change::UpsertUser(user("b1", UserState::Active)))
        .await
        .unwrap();

    let r = app
        .get(&format!(
            "/api/v1/events?organization_id={org_a}&events=dsync.user.created"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    let ev = &r.body["data"][0];
    assert_eq!(ev["object"], "event");
    assert!(ev["id"].as_str().unwrap().starts_with("event_"));
    assert_eq!(ev["data"]["idp_id"], "a1");
    assert_eq!(ev["organization_id"], json!(org_a));
    assert_eq!(ev["directory_id"], json!(dir_a));

    // Repeated `events` works like a comma list.
    let r = app
        .get("/api/v1/events?events=dsync.user.created&events=dsync.activated&limit=100")
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 4);

    // The cursor continues and stays put at the end.
    let first = app.get("/api/v1/events?limit=1").await;
    let cursor = first.body["list_metadata"]["after"]
        .as_str()
        .unwrap()
        .to_owned();
    let rest = app
        .get(&format!("/api/v1/events?after={cursor}&limit=100"))
        .await;
    assert!(!ids(&rest.body).contains(&cursor));
    let last = rest.body["list_metadata"]["after"]
        .as_str()
        .unwrap()
        .to_owned();
    let empty = app.get(&format!("/api/v1/events?after={last}")).await;
    assert_eq!(empty.body["data"], json!([]));
    assert_eq!(empty.body["list_metadata"]["after"], json!(last));

    // Time range: everything is after 2000 and before 2100; nothing in 1999.
    let r = app.get("/api/v1/events?range_start=2000-01-01T00:00:00Z&range_end=2100-01-01T00:00:00Z&limit=100").await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 6);
    let r = app
        .get("/api/v1/events?range_end=1999-12-31T00:00:00Z")
        .await;
    assert_eq!(r.body["data"], json!([]));
    let r = app
        .get(&format!("/api/v1/events?directory_id={dir_b}&limit=100"))
        .await;
    assert!(
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["directory_id"] == json!(dir_b))
    );
}

both_backends!(
    organizations_crud,
    cursor_pagination,
    directory_lifecycle_and_tokens,
    directory_secrets_are_write_only_and_encrypted,
    users_and_groups_reads,
    events_api_filters,
);
