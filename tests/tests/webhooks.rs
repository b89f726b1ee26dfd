//! Webhook endpoints and delivery, end to end on SQLite and PostgreSQL:
//! the management API, signed requests verified by an independent
//! Standard Webhooks implementation, retries, 410, dead-letter, redelivery,
//! replay, restarts, two workers on one database, batching, filters,
//! address checks and retention.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use rollcall_core::directory_user::{UserInput, UserState};
use rollcall_core::webhook::RetrySchedule;
use rollcall_store::directory_state::{Change, Ref};
use rollcall_store::{EventFilter, Store};
use rollcall_sync::{WebhookSettings, WebhookWorker};
use rollcall_tests::webhook_receiver::{Mode, Receiver};
use rollcall_tests::{Backend, TestApp, both_backends};
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(30);

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

fn settings(schedule: &str) -> WebhookSettings {
    WebhookSettings {
        retry: RetrySchedule::parse(schedule).unwrap(),
        concurrency: 16,
        request_timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(20),
        allow_private_network: true,
        allow_http: true,
    }
}

struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

fn start(store: &Store, settings: WebhookSettings) -> Running {
    let (stop, stopped) = watch::channel(false);
    let worker = WebhookWorker::new(store.clone(), settings).unwrap();
    Running {
        stop,
        task: tokio::spawn(worker.run(stopped)),
    }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("worker stops")
            .unwrap();
    }
}

/// An organization with a SCIM directory; answers (org, directory).
async fn org_and_directory(app: &TestApp) -> (String, String) {
    let org = app.create_org("Acme").await;
    let dir = app.create_directory(&org, "okta-scim-v2").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (org, dir)
}

async fn create_endpoint(app: &TestApp, org: &str, url: &str, extra: Value) -> (String, String) {
    let mut body = json!({"organization_id": org, "url": url});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    let r = app.post("/api/v1/webhook_endpoints", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["secret"].as_str().unwrap().to_owned(),
    )
}

/// Applies `change`; answers the ids of the events it emitted.
async fn apply(app: &TestApp, dir: &str, change: Change) -> Vec<String> {
    let store = &app.db.store;
    let directory = store.get_directory(dir).await.unwrap().unwrap();
    let last = |events: Vec<rollcall_core::event::Event>| events.last().map(|e| e.id.clone());
    let mut filter = EventFilter {
        organization_id: Some(directory.organization_id.clone()),
        limit: 100,
        ..EventFilter::default()
    };
    // The newest event before the change.
    let mut before = None;
    loop {
        filter.after = before.clone();
        match last(store.list_events(&filter).await.unwrap()) {
            Some(id) => before = Some(id),
            None => break,
        }
    }
    store.apply_change(dir, change).await.unwrap();
    filter.after = before;
    store
        .list_events(&filter)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect()
}

/// Creates `n` users; answers the ids of the events that created them.
async fn make_users(app: &TestApp, dir: &str, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let change = Change::UpsertUser(user(&format!("{prefix}{i}"), UserState::Active));
        ids.extend(apply(app, dir, change).await);
    }
    ids
}

fn header(r: &rollcall_tests::webhook_receiver::Received, name: &str) -> String {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn endpoint_management(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (org, _) = org_and_directory(&app).await;
    let r = app
        .post(
            "/api/v1/webhook_endpoints",
            json!({"organization_id": org, "url": "https://app.example.com/hooks", "description": "prod",
                   "events": ["dsync.user.deleted", "dsync.user.updated"], "batch_size": 5, "rate_limit": 50}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("webhook_endpoint_"));
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(r.body["object"], "webhook_endpoint");
    assert_eq!(r.body["state"], "enabled");
    assert_eq!(
        r.body["events"],
        json!(["dsync.user.deleted", "dsync.user.updated"])
    );
    assert_eq!(r.body["batch_size"], 5);
    assert_eq!(r.body["rate_limit"], 50);
    assert_eq!(r.body["secret_suffix"], json!(&secret[secret.len() - 4..]));

    // The secret is never shown again.
    let r = app.get(&format!("/api/v1/webhook_endpoints/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.get("secret").is_none());
    assert!(!r.body.to_string().contains(&secret));
    let r = app
        .get(&format!("/api/v1/webhook_endpoints?organization_id={org}"))
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);

    // Update: rate limit removed, events changed.
    let r = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/webhook_endpoints/{id}"),
            Some(json!({"rate_limit": null, "events": [], "description": "all"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["rate_limit"], Value::Null);
    assert_eq!(r.body["events"], json!([]));
    assert_eq!(r.body["batch_size"], 5);

    // Disable / enable.
    let r = app
        .post(
            &format!("/api/v1/webhook_endpoints/{id}/disable"),
            json!({}),
        )
        .await;
    assert_eq!(r.body["state"], "disabled");
    assert_eq!(r.body["disabled_reason"], "disabled through the API");
    let r = app
        .post(&format!("/api/v1/webhook_endpoints/{id}/enable"), json!({}))
        .await;
    assert_eq!(r.body["state"], "enabled");
    assert_eq!(r.body["disabled_reason"], Value::Null);

    // Rotation with a grace period answers a new secret.
    let r = app
        .post(
            &format!("/api/v1/webhook_endpoints/{id}/rotate_secret"),
            json!({"grace_period_seconds": 3600}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let rotated = r.body["secret"].as_str().unwrap();
    assert_ne!(rotated, secret);
    assert!(r.body["previous_secret_expires_at"].is_string());
    let signing = app.db.store.webhook_signing_secrets(&id).await.unwrap();
    assert_eq!(signing.len(), 2);
    assert_eq!(signing[0].expose(), rotated);
    assert_eq!(signing[1].expose(), secret);

    // Bad input: API error JSON, never a 500.
    for (body, needle) in [
        (
            json!({"organization_id": org, "url": "ftp://x.example/"}),
            "scheme",
        ),
        (
            json!({"organization_id": org, "url": "https://u:p@x.example/"}),
            "credentials",
        ),
        (json!({"organization_id": org, "url": "not a url"}), "url"),
        (
            json!({"organization_id": org, "url": "https://x.example/", "events": ["dsync.nope"]}),
            "dsync.nope",
        ),
        (
            json!({"organization_id": org, "url": "https://x.example/", "batch_size": 0}),
            "batch_size",
        ),
        (
            json!({"organization_id": org, "url": "https://x.example/", "rate_limit": 0}),
            "rate_limit",
        ),
        (
            json!({"organization_id": org, "url": "https://x.example/", "colour": "red"}),
            "colour",
        ),
        (
            json!({"organization_id": org, "url": format!("https://x.example/{}", "a".repeat(3000))}),
            "2048",
        ),
    ] {
        let r = app.post("/api/v1/webhook_endpoints", body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
        assert!(
            r.body["message"]
                .as_str()
                .unwrap_or_default()
                .contains(needle),
            "{body}: {:?}",
            r.body
        );
    }
    let r = app
        .post(
            "/api/v1/webhook_endpoints",
            json!({"organization_id": "org_01J00000000000000000000000", "url": "https://x.example/"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .post(
            &format!("/api/v1/webhook_endpoints/{id}/rotate_secret"),
            json!({"grace_period_seconds": -1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .get(&format!(
            "/api/v1/webhook_endpoints/{id}/deliveries?state=lost"
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Another organization's key sees nothing of it.
    let other = app.create_org("Other").await;
    let (_, other_key) = app
        .db
        .store
        .create_admin_key("other", Some(&other))
        .await
        .unwrap();
    let path = format!("/api/v1/webhook_endpoints/{id}");
    let r = app.call(Method::GET, &path, Some(&other_key), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .call(Method::DELETE, &path, Some(&other_key), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .call(
            Method::GET,
            "/api/v1/webhook_endpoints",
            Some(&other_key),
            None,
        )
        .await;
    assert_eq!(r.body["data"], json!([]));
    let r = app
        .call(
            Method::POST,
            "/api/v1/webhook_endpoints",
            Some(&other_key),
            Some(json!({"organization_id": org, "url": "https://x.example/"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Delete.
    let r = app.admin(Method::DELETE, &path, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path).await.status, StatusCode::NOT_FOUND);
}

async fn plain_http_needs_the_operator_switch(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (org, _) = org_and_directory(&app).await;
    let err = app
        .db
        .store
        .create_webhook_endpoint(&rollcall_store::NewWebhookEndpoint {
            organization_id: org,
            url: "http://app.example.com/h".into(),
            allow_http: false,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("ROLLCALL_WEBHOOK_ALLOW_HTTP"),
        "{err}"
    );
}

/// A receiver that fails the first attempt of every delivery still gets
/// every event, each verified with an independent implementation.
async fn every_event_arrives_signed_despite_failures(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (org, dir) = org_and_directory(&app).await;
    let receiver = Receiver::start(Mode::FailFirst).await;
    let (endpoint, secret) = create_endpoint(&app, &org, &receiver.url, json!({})).await;
    let mut expected = make_users(&app, &dir, "u", 20).await;
    // An update too, with previous_attributes.
    let mut changed = user("u0", UserState::Inactive);
    changed.first_name = Some("Changed".into());
    expected.extend(apply(&app, &dir, Change::UpsertUser(changed)).await);
    let worker = start(&app.db.store, settings("100ms,100ms,100ms"));
    let want: HashSet<String> = expected.iter().cloned().collect();
    receiver
        .wait_for(WAIT, "every event accepted", |rs| {
            let ok: HashSet<String> = rs
                .iter()
                .filter(|r| r.status < 300)
                .map(|r| header(r, "webhook-id"))
                .collect();
            want.is_subset(&ok)
        })
        .await;
    worker.stop().await;

    let verifier = standardwebhooks::Webhook::new(&secret).unwrap();
    let accepted = receiver.accepted();
    let mut by_id: HashMap<String, Value> = HashMap::new();
    for r in &accepted {
        verifier
            .verify(&r.body, &r.headers)
            .expect("signature verifies with the standardwebhooks crate");
        assert_eq!(header(r, "content-type"), "application/json");
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["id"].as_str().unwrap(), header(r, "webhook-id"));
        by_id.insert(header(r, "webhook-id"), body);
    }
    // A tampered body does not verify.
    let mut tampered = accepted[0].body.to_vec();
    tampered[0] = b' ';
    assert!(verifier.verify(&tampered, &accepted[0].headers).is_err());
    // Only this organization's events, exactly the ones created.
    let got: HashSet<String> = by_id.keys().cloned().collect();
    assert_eq!(got, want);
    let updated = by_id
        .values()
        .find(|b| b["event"] == "dsync.user.updated")
        .unwrap();
    assert_eq!(updated["object"], "event");
    assert_eq!(updated["organization_id"], json!(org));
    assert_eq!(updated["directory_id"], json!(dir));
    assert_eq!(updated["data"]["state"], "inactive");
    assert_eq!(
        updated["data"]["previous_attributes"]["first_name"],
        "First"
    );
    // Each event was tried twice: first refused, then accepted.
    assert_eq!(receiver.received().len(), 2 * want.len());

    // The delivery log shows both attempts.
    let r = app
        .get(&format!(
            "/api/v1/webhook_endpoints/{endpoint}/deliveries?limit=100"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let data = r.body["data"].as_array().unwrap();
    assert_eq!(data.len(), want.len());
    assert!(
        data.iter()
            .all(|d| d["state"] == "delivered" && d["attempts"] == 2)
    );
    let first = expected[0].clone();
    let r = app
        .get(&format!(
            "/api/v1/webhook_endpoints/{endpoint}/deliveries/{first}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let log = r.body["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["status"], 503);
    assert_eq!(log[0]["response_excerpt"], "not now");
    assert_eq!(log[0]["error"], "the endpoint answered HTTP 503");
    assert_eq!(log[1]["status"], 204);
    assert!(log[1]["latency_ms"].as_f64().unwrap() >= 0.0);
    assert!(r.body["delivered_at"].is_string());
}

/// After the last attempt a delivery is dead; it can be redelivered and
/// replayed once the receiver is back.
async fn dead_letter_redeliver_and_replay(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (org, dir) = org_and_directory(&app).await;
    let receiver = Receiver::start(Mode::Status(500)).await;
    let (endpoint, _) = create_endpoint(&app, &org, &receiver.url, json!({})).await;
    let events = make_users(&app, &dir, "d", 3).await;
    let worker = start(&app.db.store, settings("50ms"));
    // Two attempts each (first + one retry), then dead.
    receiver
        .wait_for(WAIT, "two attempts per event", |rs| rs.len() >= 6)
        .await;
    let dead_path = format!("/api/v1/webhook_endpoints/{endpoint}/deliveries?state=dead");
    let mut dead = 0;
    for _ in 0..200 {
        dead = app.get(&dead_path).await.body["data"]
            .as_array()
            .unwrap()
            .len();
        if dead == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(dead, 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.received().len(),
        6,
        "no attempts after the last one"
    );

    receiver.set_mode(Mode::Ok);
    let r = app
        .post(
            &format!(
                "/api/v1/webhook_endpoints/{endpoint}/deliveries/{}/redeliver",
                events[0]
            ),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(r.body["state"], "pending");
    receiver
        .wait_for(WAIT, "the redelivered event", |rs| {
            rs.iter()
                .any(|r| r.status == 200 && header(r, "webhook-id") == events[0])
        })
        .await;

    let r = app
        .post(
            &format!("/api/v1/webhook_endpoints/{endpoint}/replay"),
            json!({"from_event_id": events[0]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(r.body["scheduled"], 3);
    receiver
        .wait_for(WAIT, "every replayed event", |rs| {
            events.iter().all(|e| {
                rs.iter()
                    .filter(|r| r.status == 200 && header(r, "webhook-id") == *e)
                    .count()
                    >= if *e == events[0] { 2 } else { 1 }
            })
        })
        .await;
    worker.stop().await;

    // Unknown events and other organizations' events are 404.
    let r = app
        .post(
            &format!("/api/v1/webhook_endpoints/{endpoint}/deliveries/event_01J00000000000000000000000/redeliver"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .post(
            &format!("/api/v1/webhook_endpoints/{endpoint}/replay"),
            json!({"from_event_id": "nope"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// 410 Gone disables the endpoint; nothing more is sent until it is enabled.
async fn gone_disables_the_endpoint(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (org, dir) = org_and_directory(&app).await;
    let receiver = Receiver::start(Mode::Status(410)).await;
    let (endpoint, _) = create_endpoint(&app, &org, &receiver.url, json!({})).await;
    make_users(&app, &dir, "g", 1).await;
    let worker = start(&app.db.store, settings("50ms,50ms,50ms"));
    let path = format!("/api/v1/webhook_endpoints/{endpoint}");
    let mut state = Value::Null;
    for _ in 0..400 {
        let r = app.get(&path).await;
        state = r.body["state"].clone();
        if state == "disabled" {
            assert_eq!(r.body["disabled_reason"], "the endpoint answered 410 Gone");
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(state, "disabled");
    make_users(&app, &dir, "h", 2).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.received().len(), 1);
    // Enabled again, the pending delivery resumes.
    receiver.set_mode(Mode::Ok);
    app.post(&format!("{path}/enable"), json!({})).await;
    receiver
        .wait_for(WAIT, "the pending delivery after enable", |rs| {
            rs.iter().any(|r| r.status == 200)
        })
        .await;
    worker.stop().await;
}

/// Deliveries survive a worker restart, and two workers on one database
/// send each event once.
async fn restarts_and_two_workers(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (org, dir) = org_and_directory(&app).await;
    let receiver = Receiver::start(Mode::Ok).await;
    create_endpoint(&app, &org, &receiver.url, json!({})).await;
    let worker = start(&app.db.store, settings("100ms"));
    let first = make_users(&app, &dir, "a", 5).await;
    receiver
        .wait_for(WAIT, "first events", |rs| rs.len() >= first.len())
        .await;
    worker.stop().await;
    // While no worker runs, more events happen.
    let second = make_users(&app, &dir, "b", 40).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.received().len(), first.len());
    let w1 = start(&app.db.store, settings("100ms"));
    let w2 = start(&app.db.store, settings("100ms"));
    let third = make_users(&app, &dir, "c", 40).await;
    let total = first.len() + second.len() + third.len();
    receiver
        .wait_for(WAIT, "every event", |rs| rs.len() >= total)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    w1.stop().await;
    w2.stop().await;
    let ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| header(r, "webhook-id"))
        .collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), total);
    assert_eq!(ids.len(), total, "no event was sent twice");
}

/// Filters, batches and the address check.
async fn filters_batches_and_address_checks(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (org, dir) = org_and_directory(&app).await;
    let filtered = Receiver::start(Mode::Ok).await;
    let batched = Receiver::start(Mode::Ok).await;
    create_endpoint(
        &app,
        &org,
        &filtered.url,
        json!({"events": ["dsync.user.deleted"]}),
    )
    .await;
    let (_, batch_secret) =
        create_endpoint(&app, &org, &batched.url, json!({"batch_size": 10})).await;
    let created = make_users(&app, &dir, "f", 12).await;
    let deleted = apply(&app, &dir, Change::DeleteUser(Ref::IdpId("f1".into()))).await;
    assert_eq!(deleted.len(), 1);
    let worker = start(&app.db.store, settings("100ms"));
    filtered
        .wait_for(WAIT, "the deleted event", |rs| !rs.is_empty())
        .await;
    batched
        .wait_for(WAIT, "13 events in batches", |rs| {
            rs.iter()
                .map(|r| {
                    serde_json::from_slice::<Value>(&r.body).unwrap()["data"]
                        .as_array()
                        .map_or(0, Vec::len)
                })
                .sum::<usize>()
                > created.len()
        })
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    worker.stop().await;
    let f = filtered.received();
    assert_eq!(f.len(), 1);
    assert_eq!(header(&f[0], "webhook-id"), deleted[0]);
    let verifier = standardwebhooks::Webhook::new(&batch_secret).unwrap();
    let mut batched_ids = Vec::new();
    for r in batched.received() {
        verifier.verify(&r.body, &r.headers).unwrap();
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["object"], "list");
        let n = body["data"].as_array().unwrap().len();
        assert!((1..=10).contains(&n));
        batched_ids.extend(
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].clone()),
        );
        assert!(header(&r, "webhook-id").starts_with("msg_"));
    }
    assert_eq!(batched_ids.len(), created.len() + 1, "each event once");

    // Without the operator switch, loopback endpoints are refused after DNS.
    let locked = Receiver::start(Mode::Ok).await;
    let (endpoint, _) = create_endpoint(
        &app,
        &org,
        &locked.url.replace("127.0.0.1", "localhost"),
        json!({}),
    )
    .await;
    let (literal, _) = create_endpoint(&app, &org, &locked.url, json!({})).await;
    let ev = make_users(&app, &dir, "z", 1).await;
    let mut strict = settings("");
    strict.allow_private_network = false;
    let worker = start(&app.db.store, strict);
    for ep in [&endpoint, &literal] {
        let path = format!("/api/v1/webhook_endpoints/{ep}/deliveries/{}", ev[0]);
        let mut body = Value::Null;
        for _ in 0..400 {
            body = app.get(&path).await.body;
            if body["state"] == "dead" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(body["state"], "dead", "{body}");
        let error = body["last_error"].as_str().unwrap();
        assert!(error.contains("loopback"), "{error}");
        assert!(
            error.contains("ROLLCALL_WEBHOOK_ALLOW_PRIVATE_NETWORK"),
            "{error}"
        );
    }
    worker.stop().await;
    assert!(locked.received().is_empty());
}

async fn retention_prunes_events_and_deliveries(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (org, dir) = org_and_directory(&app).await;
    let receiver = Receiver::start(Mode::Ok).await;
    let (endpoint, _) = create_endpoint(&app, &org, &receiver.url, json!({})).await;
    let events = make_users(&app, &dir, "r", 3).await;
    let worker = start(&app.db.store, settings(""));
    receiver
        .wait_for(WAIT, "3 events", |rs| rs.len() >= 3)
        .await;
    worker.stop().await;
    // Nothing is old enough with 30 days' retention.
    let pruned =
        rollcall_sync::retention::prune_once(&app.db.store, Duration::from_secs(30 * 86_400))
            .await
            .unwrap();
    assert_eq!(pruned, 0);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let pruned = rollcall_sync::retention::prune_once(&app.db.store, Duration::ZERO)
        .await
        .unwrap();
    assert!(pruned >= 3, "{pruned}");
    let r = app
        .get(&format!("/api/v1/events?organization_id={org}"))
        .await;
    assert_eq!(r.body["data"], json!([]));
    let r = app
        .get(&format!(
            "/api/v1/webhook_endpoints/{endpoint}/deliveries/{}",
            events[0]
        ))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

both_backends!(
    endpoint_management,
    plain_http_needs_the_operator_switch,
    every_event_arrives_signed_despite_failures,
    dead_letter_redeliver_and_replay,
    gone_disables_the_endpoint,
    restarts_and_two_workers,
    filters_batches_and_address_checks,
    retention_prunes_events_and_deliveries,
);
