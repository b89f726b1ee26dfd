//! Lifecycle dispatch end to end on SQLite and PostgreSQL: the built-in
//! `http-action` plugin runs through the real runtime on the events its
//! installation subscribes to — in order per user, with an idempotency key,
//! retried per its error variant, dead-lettered, retried by hand and
//! replayed — and the execution log and its API.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use rollcall_core::directory_user::{UserInput, UserState};
use rollcall_core::webhook::RetrySchedule;
use rollcall_runtime::Runtime;
use rollcall_runtime::registry::{InstallationRequest, create_installation, install_builtins};
use rollcall_store::directory_state::{Change, Ref};
use rollcall_sync::{LifecycleDispatcher, LifecycleSettings};
use rollcall_tests::webhook_receiver::{Mode, Received, Receiver};
use rollcall_tests::{Backend, TestApp, both_backends, guests};
use serde_json::{Map, Value, json};
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(60);

fn runtime() -> Arc<Runtime> {
    static RUNTIME: std::sync::OnceLock<Arc<Runtime>> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| Arc::new(guests::runtime(guests::permissive())))
        .clone()
}

fn user(idp: &str, state: UserState) -> UserInput {
    UserInput {
        idp_id: idp.into(),
        email: Some(format!("{idp}@acme.com")),
        first_name: Some("First".into()),
        last_name: Some("Last".into()),
        username: None,
        state,
        roles: vec![],
        custom_attributes: Map::new(),
        raw_attributes: Map::new(),
    }
}

struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn start(app: &TestApp, schedule: &str) -> Running {
    let (stop, stopped) = watch::channel(false);
    let dispatcher = LifecycleDispatcher::new(
        app.db.store.clone(),
        runtime(),
        LifecycleSettings {
            retry: RetrySchedule::parse(schedule).unwrap(),
            concurrency: 8,
            poll_interval: Duration::from_millis(20),
        },
    );
    Running {
        stop,
        task: tokio::spawn(dispatcher.run(stopped)),
    }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(WAIT, self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

/// Org + SCIM directory + an http-action installation posting to `url`.
async fn setup(app: &TestApp, url: &str, events: Value) -> (String, String, String) {
    let org = app.create_org("Acme").await;
    let dir = app.create_directory(&org, "okta-scim-v2").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    install_builtins(&runtime(), &app.db.store).await.unwrap();
    let installation = create_installation(
        &app.db.store,
        InstallationRequest {
            plugin: "http-action@0.2.0".into(),
            organization_id: org.clone(),
            directory_id: None,
            config: json!({"url": url}).as_object().cloned().unwrap(),
            grants: serde_json::from_value(json!({"hosts": ["127.0.0.1"]})).unwrap(),
            secrets: Map::new(),
            credentials: Map::new(),
            events: serde_json::from_value(events).unwrap(),
        },
    )
    .await
    .unwrap();
    (org, dir, installation.id)
}

fn body(r: &Received) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

fn header(r: &Received, name: &str) -> String {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// (event type, email) of each request, in arrival order.
fn sequence(rs: &[Received]) -> Vec<(String, String, u16)> {
    rs.iter()
        .map(|r| {
            let b = body(r);
            (
                b["event"].as_str().unwrap_or_default().to_owned(),
                b["data"]["email"].as_str().unwrap_or_default().to_owned(),
                r.status,
            )
        })
        .collect()
}

async fn executions(app: &TestApp, installation: &str, query: &str) -> Vec<Value> {
    let r = app
        .get(&format!(
            "/api/v1/plugin_installations/{installation}/executions?limit=100{query}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["data"].as_array().unwrap().clone()
}

async fn wait_executions(app: &TestApp, installation: &str, query: &str, n: usize) -> Vec<Value> {
    for _ in 0..600 {
        let list = executions(app, installation, query).await;
        if list.len() >= n {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} executions {query}");
}

/// Every event of one user runs in order, each after the previous one
/// succeeded, with a stable idempotency key; transient failures retry.
async fn in_order_per_user_with_retries(backend: Backend) {
    let app = TestApp::new(backend).await;
    let receiver = Receiver::start(Mode::FailFirstWith(500)).await;
    let (_, dir, installation) = setup(
        &app,
        &receiver.url,
        json!([
            "dsync.user.created",
            "dsync.user.updated",
            "dsync.user.deleted"
        ]),
    )
    .await;
    let store = &app.db.store;
    for idp in ["a", "b"] {
        store
            .apply_change(&dir, Change::UpsertUser(user(idp, UserState::Active)))
            .await
            .unwrap();
    }
    store
        .apply_change(&dir, Change::UpsertUser(user("a", UserState::Inactive)))
        .await
        .unwrap();
    store
        .apply_change(&dir, Change::DeleteUser(Ref::IdpId("a".into())))
        .await
        .unwrap();
    // A group event is not subscribed to.
    store
        .apply_change(
            &dir,
            Change::UpsertGroup(rollcall_core::directory_group::GroupInput {
                idp_id: "g".into(),
                name: "Engineering".into(),
                raw_attributes: Map::new(),
            }),
        )
        .await
        .unwrap();
    let worker = start(&app, "100ms,100ms,100ms");
    receiver
        .wait_for(WAIT, "four events accepted", |rs| {
            rs.iter().filter(|r| r.status < 300).count() >= 4
        })
        .await;
    let done = wait_executions(&app, &installation, "&state=completed", 4).await;
    worker.stop().await;

    let a: Vec<(String, u16)> = sequence(&receiver.received())
        .into_iter()
        .filter(|(_, email, _)| email == "a@acme.com")
        .map(|(t, _, s)| (t, s))
        .collect();
    assert_eq!(
        a,
        [
            ("dsync.user.created".to_owned(), 500),
            ("dsync.user.created".to_owned(), 204),
            ("dsync.user.updated".to_owned(), 500),
            ("dsync.user.updated".to_owned(), 204),
            ("dsync.user.deleted".to_owned(), 500),
            ("dsync.user.deleted".to_owned(), 204),
        ],
        "user a's events run one after the other, each retried until it succeeded"
    );
    for r in receiver.accepted() {
        let b = body(&r);
        assert_eq!(
            header(&r, "idempotency-key"),
            format!("{}:{installation}", b["id"].as_str().unwrap())
        );
        assert_eq!(b["attempt"], 2);
        if b["event"] == "dsync.user.updated" {
            assert_eq!(b["previous_attributes"]["state"], "active");
            assert_eq!(b["data"]["state"], "inactive");
        }
    }
    assert!(
        sequence(&receiver.received())
            .iter()
            .all(|(t, _, _)| t.starts_with("dsync.user."))
    );
    assert_eq!(done.len(), 4);
    assert!(done.iter().all(|e| e["attempts"] == 2), "{done:?}");
    let first = done[0]["event_id"].as_str().unwrap();
    let r = app
        .get(&format!(
            "/api/v1/plugin_installations/{installation}/executions/{first}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let log = r.body["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["outcome"], "transient");
    assert!(
        log[0]["detail"].as_str().unwrap().contains("HTTP 500"),
        "{log:?}"
    );
    assert_eq!(log[1]["outcome"], "completed");
    assert!(
        r.body["subject"]
            .as_str()
            .unwrap()
            .starts_with("directory_user_")
    );
}

/// A permanent failure dead-letters at once; retry and replay run again.
async fn dead_letter_retry_and_replay(backend: Backend) {
    let app = TestApp::new(backend).await;
    let receiver = Receiver::start(Mode::Status(400)).await;
    let (org, dir, installation) = setup(&app, &receiver.url, json!([])).await;
    for idp in ["a", "b"] {
        app.db
            .store
            .apply_change(&dir, Change::UpsertUser(user(idp, UserState::Active)))
            .await
            .unwrap();
    }
    let worker = start(&app, "100ms,100ms");
    let dead = wait_executions(&app, &installation, "&state=dead", 2).await;
    assert!(
        dead.iter().all(|e| e["attempts"] == 1),
        "permanent: no retries"
    );
    assert!(dead[0]["last_error"].as_str().unwrap().contains("HTTP 400"));
    assert_eq!(receiver.received().len(), 2);

    receiver.set_mode(Mode::Ok);
    let event = dead[1]["event_id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("/api/v1/plugin_installations/{installation}/executions/{event}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    wait_executions(&app, &installation, "&state=completed", 1).await;
    let r = app
        .post(
            &format!("/api/v1/plugin_installations/{installation}/replay"),
            json!({"from_event_id": event}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(r.body["scheduled"], 2);
    wait_executions(&app, &installation, "&state=completed", 2).await;
    worker.stop().await;
    assert_eq!(receiver.accepted().len(), 3);

    // Bad input and scoping.
    let base = format!("/api/v1/plugin_installations/{installation}");
    assert_eq!(
        app.get(&format!("{base}/executions?state=lost"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get(&format!("{base}/executions?colour=red"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get(&format!(
            "{base}/executions/event_01J00000000000000000000000"
        ))
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(&format!("{base}/replay"), json!({"from_event_id": "nope"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let other = app.create_org("Other").await;
    let (_, key) = app
        .db
        .store
        .create_admin_key("o", Some(&other))
        .await
        .unwrap();
    let r = app
        .call(Method::GET, &format!("{base}/executions"), Some(&key), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let _ = org;
}

/// Disabled installations do not run; directory-scoped ones see only
/// their directory; the event filter can be changed by PATCH.
async fn disabled_scoped_and_filtered(backend: Backend) {
    let app = TestApp::new(backend).await;
    let receiver = Receiver::start(Mode::Ok).await;
    let (org, dir, installation) = setup(&app, &receiver.url, json!(["dsync.user.deleted"])).await;
    let other_dir = app.create_directory(&org, "azure-scim-v2").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let scoped = create_installation(
        &app.db.store,
        InstallationRequest {
            plugin: "http-action@0.2.0".into(),
            organization_id: org.clone(),
            directory_id: Some(other_dir.clone()),
            config: json!({"url": receiver.url}).as_object().cloned().unwrap(),
            grants: serde_json::from_value(json!({"hosts": ["127.0.0.1"]})).unwrap(),
            secrets: Map::new(),
            credentials: Map::new(),
            events: Vec::new(),
        },
    )
    .await
    .unwrap();
    let r = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/plugin_installations/{}", scoped.id),
            Some(json!({"events": ["dsync.user.created"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["events"], json!(["dsync.user.created"]));
    let r = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/plugin_installations/{installation}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let store = &app.db.store;
    store
        .apply_change(&dir, Change::UpsertUser(user("x", UserState::Active)))
        .await
        .unwrap();
    store
        .apply_change(&dir, Change::DeleteUser(Ref::IdpId("x".into())))
        .await
        .unwrap();
    store
        .apply_change(&other_dir, Change::UpsertUser(user("y", UserState::Active)))
        .await
        .unwrap();
    let worker = start(&app, "100ms");
    wait_executions(&app, &scoped.id, "&state=completed", 1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let seen = sequence(&receiver.received());
    assert_eq!(
        seen,
        [(
            "dsync.user.created".to_owned(),
            "y@acme.com".to_owned(),
            200
        )]
    );
    // Enabled again, the disabled installation catches up on its backlog.
    app.admin(
        Method::PATCH,
        &format!("/api/v1/plugin_installations/{installation}"),
        Some(json!({"enabled": true})),
    )
    .await;
    receiver
        .wait_for(WAIT, "the backlog", |rs| {
            rs.iter().any(|r| body(r)["event"] == "dsync.user.deleted")
        })
        .await;
    worker.stop().await;

    // Connectors do not take an event filter.
    let r = app
        .post(
            "/api/v1/plugin_installations",
            json!({"plugin": "static-directory@0.1.0", "organization_id": org, "directory_id": dir,
                   "config": {"users": []}, "events": ["dsync.user.created"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let r = app
        .post(
            "/api/v1/plugin_installations",
            json!({"plugin": "http-action@0.2.0", "organization_id": org,
                   "config": {"url": "https://app.example.com/h"}, "events": ["dsync.nope"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

both_backends!(
    in_order_per_user_with_retries,
    dead_letter_retry_and_replay,
    disabled_scoped_and_filtered,
);
