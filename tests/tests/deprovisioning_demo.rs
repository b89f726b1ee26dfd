//! The end-to-end deprovisioning demo, on SQLite and PostgreSQL.
//!
//! A demo application (`rollcall_tests::demo_app`) has users with sessions
//! and SSH keys. Microsoft Entra ID (its SCIM dialect) provisions two users,
//! then deactivates one. The application receives a verified
//! `dsync.user.updated` webhook, and the two lifecycle plugins revoke that
//! user's sessions (`http-action`, templated call) and SSH keys
//! (`ssh-key-revoker`, GitHub-style API) — with the app's API token
//! injected by the host. Then the application goes down, more changes
//! happen, it comes back: every event arrives (duplicates recognisable by
//! id) and the second departure is enforced too.

use std::sync::Arc;
use std::time::Duration;

use rollcall_core::webhook::RetrySchedule;
use rollcall_runtime::Runtime;
use rollcall_runtime::registry::{InstallationRequest, create_installation, install_builtins};
use rollcall_store::{EventFilter, NewWebhookEndpoint};
use rollcall_sync::{LifecycleDispatcher, LifecycleSettings, WebhookSettings, WebhookWorker};
use rollcall_tests::demo_app::{API_TOKEN, DemoApp};
use rollcall_tests::scim::{ENTRA_UA, ScimClient};
use rollcall_tests::{Backend, TestApp, both_backends, guests};
use serde_json::{Map, Value, json};
use tokio::sync::watch;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn runtime() -> Arc<Runtime> {
    static RUNTIME: std::sync::OnceLock<Arc<Runtime>> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| Arc::new(guests::runtime(guests::permissive())))
        .clone()
}

fn entra_user(login: &str, given: &str) -> Value {
    let email = format!("{login}@acme.com");
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": format!("{login}-0a21f0f2"),
        "userName": email,
        "active": "True",
        "displayName": format!("{given} Example"),
        "emails": [{"primary": true, "type": "work", "value": email}],
        "name": {"givenName": given, "familyName": "Example"},
        ENTERPRISE: {"department": "Engineering"}
    })
}

fn deactivate() -> Value {
    // Entra's shape: capitalised op, "False" as a string.
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
    })
}

/// Polls `check` until it holds (panics after 120 s with `what`).
async fn eventually(what: &str, check: impl Fn() -> bool) {
    // Generous: the first run compiles the plugins (debug build).
    for _ in 0..2400 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn install(app: &TestApp, org: &str, plugin: &str, config: Value, events: Value) -> String {
    create_installation(
        &app.db.store,
        InstallationRequest {
            plugin: plugin.into(),
            organization_id: org.into(),
            directory_id: None,
            config: config.as_object().cloned().unwrap(),
            grants: serde_json::from_value(json!({"hosts": ["127.0.0.1"]})).unwrap(),
            secrets: Map::new(),
            credentials: json!({
                if plugin.starts_with("http-action") { "app" } else { "api" }:
                    {"kind": "bearer", "token": API_TOKEN}
            })
            .as_object()
            .cloned()
            .unwrap(),
            events: serde_json::from_value(events).unwrap(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("installing {plugin}: {e}"))
    .id
}

async fn deprovisioning_end_to_end(backend: Backend) {
    let app = TestApp::new(backend).await;
    let demo = DemoApp::start(&["alice", "bob", "carol"]).await;
    let org = app.create_org("Acme").await;

    // The application's webhook endpoint and its two lifecycle plugins.
    let (_, secret) = app
        .db
        .store
        .create_webhook_endpoint(&NewWebhookEndpoint {
            organization_id: org.clone(),
            url: format!("{}/webhooks", demo.base_url()),
            allow_http: true,
            ..Default::default()
        })
        .await
        .unwrap();
    demo.set_webhook_secret(&secret);
    // The directory comes after the endpoint, so every event of it is sent.
    let scim = ScimClient::for_new_directory(&app, &org, "azure-scim-v2", Some(ENTRA_UA)).await;
    install_builtins(&runtime(), &app.db.store).await.unwrap();
    let sessions = install(
        &app,
        &org,
        "http-action@0.2.0",
        json!({"url": demo.base_url(), "actions": [
            {"on": ["dsync.user.updated"], "when": {"became_inactive": true},
             "method": "DELETE", "url": "/api/users/{{data.email}}/sessions"},
            {"on": ["dsync.user.deleted"],
             "method": "DELETE", "url": "/api/users/{{data.email}}/sessions"}
        ]}),
        json!(["dsync.user.updated", "dsync.user.deleted"]),
    )
    .await;
    let keys = install(
        &app,
        &org,
        "ssh-key-revoker@0.1.1",
        json!({"api_base": demo.base_url()}),
        json!([]),
    )
    .await;

    // Background work, with short retries so the outage is quick.
    let retry = RetrySchedule::parse(&vec!["200ms"; 40].join(",")).unwrap();
    let (stop, stopped) = watch::channel(false);
    let webhooks = WebhookWorker::new(
        app.db.store.clone(),
        WebhookSettings {
            retry: retry.clone(),
            concurrency: 8,
            request_timeout: Duration::from_secs(5),
            poll_interval: Duration::from_millis(20),
            allow_private_network: true,
            allow_http: true,
        },
    )
    .unwrap();
    let lifecycle = LifecycleDispatcher::new(
        app.db.store.clone(),
        runtime(),
        LifecycleSettings {
            retry,
            concurrency: 8,
            poll_interval: Duration::from_millis(20),
        },
    );
    let tasks = [
        tokio::spawn(webhooks.run(stopped.clone())),
        tokio::spawn(lifecycle.run(stopped)),
    ];

    // Entra provisions alice and bob, then deactivates alice.
    let alice = scim.post("/Users", entra_user("alice", "Alice")).await;
    alice.expect(201);
    let alice_id = alice.id();
    scim.post("/Users", entra_user("bob", "Bob"))
        .await
        .expect(201);
    let r = scim
        .patch(&format!("/Users/{alice_id}"), deactivate())
        .await;
    assert_eq!(r.expect(200)["active"], json!(false));

    eventually("alice's sessions and keys revoked", || {
        let a = demo.account("alice");
        a.sessions.is_empty() && a.ssh_keys.is_empty()
    })
    .await;
    let bob = demo.account("bob");
    assert_eq!(
        (bob.sessions.len(), bob.ssh_keys.len()),
        (2, 3),
        "bob is untouched"
    );
    eventually("the deactivation webhook", || {
        demo.events().values().any(|(e, _)| {
            e["event"] == "dsync.user.updated"
                && e["data"]["email"] == "alice@acme.com"
                && e["data"]["state"] == "inactive"
        })
    })
    .await;
    let update = demo
        .events()
        .into_values()
        .find(|(e, _)| e["event"] == "dsync.user.updated")
        .unwrap()
        .0;
    assert_eq!(update["data"]["previous_attributes"]["state"], "active");
    assert_eq!(update["organization_id"], json!(org));

    // The application goes down; Entra deactivates bob and adds carol.
    demo.stop().await;
    let bob_id = scim
        .filter("Users", "userName eq \"bob@acme.com\"", "")
        .await
        .expect(200)["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    scim.patch(&format!("/Users/{bob_id}"), deactivate())
        .await
        .expect(200);
    scim.post("/Users", entra_user("carol", "Carol"))
        .await
        .expect(201);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        demo.account("bob").sessions.len(),
        2,
        "nothing reaches a stopped app"
    );
    demo.restart().await;

    // Every event of the organization arrives, verified; bob is enforced.
    let store = app.db.store.clone();
    let mut all = Vec::new();
    let mut filter = EventFilter {
        organization_id: Some(org.clone()),
        limit: 100,
        ..EventFilter::default()
    };
    loop {
        let page = store.list_events(&filter).await.unwrap();
        let Some(last) = page.last() else { break };
        filter.after = Some(last.id.clone());
        all.extend(page.into_iter().map(|e| e.id));
    }
    eventually("every event delivered after the outage", || {
        let got = demo.events();
        all.iter()
            .filter(|id| !id.is_empty())
            .all(|id| got.contains_key(id.as_str()))
    })
    .await;
    eventually("bob's sessions and keys revoked", || {
        let b = demo.account("bob");
        b.sessions.is_empty() && b.ssh_keys.is_empty()
    })
    .await;
    let carol = demo.account("carol");
    assert_eq!((carol.sessions.len(), carol.ssh_keys.len()), (2, 3));
    let (bad_signatures, unauthorized) = {
        let data = demo.data.lock().unwrap();
        (data.bad_signatures, data.unauthorized)
    };
    assert_eq!(bad_signatures, 0);
    assert_eq!(
        unauthorized, 0,
        "the host injected the API token on every call"
    );
    // Duplicates (if any) carry the same id and are counted, not re-applied.
    assert_eq!(demo.events().len(), all.len());

    // Stopping the workers writes their last records; the logs agree.
    let _ = stop.send(true);
    for t in tasks {
        t.await.unwrap();
    }

    for (installation, wanted) in [(&sessions, 2), (&keys, 2)] {
        let r = app
            .get(&format!(
                "/api/v1/plugin_installations/{installation}/executions?state=completed&limit=100"
            ))
            .await;
        let completed = r.body["data"].as_array().unwrap().len();
        assert!(completed >= wanted, "{installation}: {:?}", r.body);
        let r = app
            .get(&format!(
                "/api/v1/plugin_installations/{installation}/executions?state=dead"
            ))
            .await;
        assert_eq!(
            r.body["data"],
            json!([]),
            "{installation}: nothing dead-lettered"
        );
    }
}

both_backends!(deprovisioning_end_to_end);
