//! The pull-sync engine end to end: real connector plugins (`azure-graph`,
//! `okta-api`) in the real runtime against the fake provider APIs, runs
//! queued, claimed and driven by `rollcall_sync::RunDriver`, on SQLite
//! and PostgreSQL. Asserts the stored state against the fake directory,
//! the events (no duplicates, nothing missing), the run records and the
//! directory's state.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::StatusCode;
use rollcall_core::event::EventType;
use rollcall_runtime::Runtime;
use rollcall_runtime::registry::{InstallationRequest, create_installation, install_builtins};
use rollcall_store::{
    EventFilter, PageRequest, Store, SyncMode, SyncRun, SyncStatus, SyncTrigger, UserFilter,
};
use rollcall_sync::{PullSettings, RunDriver, RunResult};
use rollcall_tests::fake_directory::{FakeDirectory, SharedDirectory};
use rollcall_tests::fake_google::{FakeGoogle, Throttle};
use rollcall_tests::fake_graph::{CLIENT_SECRET, FakeGraph};
use rollcall_tests::fake_okta::FakeOkta;
use rollcall_tests::{Backend, TestApp, both_backends, guests};
use serde_json::{Value, json};

fn runtime() -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| Arc::new(guests::runtime(guests::permissive())))
        .clone()
}

const OWNER: &str = "test-worker";

/// An app, a pull directory bound to its connector, and a driver.
struct Rig {
    app: TestApp,
    directory: String,
    installation: String,
    driver: RunDriver,
}

impl Rig {
    async fn graph(backend: Backend, fake: &FakeGraph, secret: &str, settings: Value) -> Rig {
        Self::new(
            backend,
            "azure-graph",
            json!({"api_base": fake.base_url, "page_size": 40}),
            json!({"graph": fake.credential(secret)}),
            settings,
        )
        .await
    }

    async fn google(backend: Backend, fake: &FakeGoogle) -> Rig {
        Self::new(
            backend,
            "google-workspace",
            json!({"api_base": fake.base_url}),
            json!({"google": fake.jwt_credential()}),
            json!({}),
        )
        .await
    }

    async fn okta(backend: Backend, fake: &FakeOkta) -> Rig {
        Self::new(
            backend,
            "okta-api",
            json!({"org_url": fake.base_url, "page_size": 40}),
            json!({"api_token": {"kind": "authorization", "scheme": "SSWS", "token": rollcall_tests::fake_okta::TOKEN}}),
            json!({}),
        )
        .await
    }

    async fn new(
        backend: Backend,
        connector: &str,
        config: Value,
        credentials: Value,
        settings: Value,
    ) -> Rig {
        let app = TestApp::new(backend).await;
        let org = app.create_org("Acme").await;
        let r = app
            .post(
                "/api/v1/directories",
                json!({"organization_id": org, "name": "Pulled", "type": connector, "settings": settings}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let directory = r.body["id"].as_str().unwrap().to_owned();
        assert_eq!(r.body["state"], "validating");
        install_builtins(&runtime(), &app.db.store).await.unwrap();
        let installation = create_installation(
            &app.db.store,
            InstallationRequest {
                plugin: format!("{connector}@0.1.0"),
                organization_id: org,
                directory_id: Some(directory.clone()),
                config: config.as_object().cloned().unwrap(),
                grants: serde_json::from_value(json!({"hosts": ["127.0.0.1"]})).unwrap(),
                credentials: credentials.as_object().cloned().unwrap(),
                ..Default::default()
            },
        )
        .await
        .expect("bind connector")
        .id;
        let driver = RunDriver {
            store: app.db.store.clone(),
            runtime: runtime(),
            settings: PullSettings {
                page_size: 40,
                backoff: Duration::from_millis(10),
                ..PullSettings::default()
            },
        };
        Rig {
            app,
            directory,
            installation,
            driver,
        }
    }

    fn store(&self) -> &Store {
        &self.app.db.store
    }

    /// Queues a run and drives it (continuing a deferred one at once).
    async fn sync(&self, full: bool) -> RunResult {
        let (run, _) = self
            .store()
            .enqueue_sync_run(&self.directory, SyncTrigger::Manual, full)
            .await
            .unwrap();
        self.drive(&run.id, &AtomicBool::new(false), &|_| {}).await
    }

    async fn drive(
        &self,
        run_id: &str,
        stop: &AtomicBool,
        progress: &(dyn Fn(&SyncRun) + Send + Sync),
    ) -> RunResult {
        let run = self
            .store()
            .claim_sync_run(run_id, OWNER, 60)
            .await
            .unwrap()
            .expect("run is free");
        self.driver.execute(run, OWNER, stop, progress).await
    }

    /// `(idp_id, email, state)` of every stored user.
    async fn users(&self) -> BTreeSet<(String, String, String)> {
        let mut out = BTreeSet::new();
        let mut after = None;
        loop {
            let page = self
                .store()
                .list_users(
                    &UserFilter {
                        directory_id: Some(self.directory.clone()),
                        ..Default::default()
                    },
                    &PageRequest {
                        limit: 100,
                        after: after.clone(),
                        order: rollcall_store::Order::Asc,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            for u in &page.data {
                out.insert((
                    u.idp_id.clone(),
                    u.email.clone().unwrap_or_default(),
                    u.state.as_str().to_owned(),
                ));
            }
            match page.after {
                Some(a) => after = Some(a),
                None => return out,
            }
        }
    }

    /// Events of this directory by type.
    async fn events(&self) -> BTreeMap<String, Vec<Value>> {
        let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut after = None;
        loop {
            let page = self
                .store()
                .list_events(&EventFilter {
                    directory_id: Some(self.directory.clone()),
                    after: after.clone(),
                    limit: 1000,
                    ..Default::default()
                })
                .await
                .unwrap();
            let Some(last) = page.last() else {
                return out;
            };
            after = Some(last.id.clone());
            for e in page {
                out.entry(e.event.as_str().to_owned())
                    .or_default()
                    .push(e.data);
            }
        }
    }

    async fn count(&self, event: EventType) -> usize {
        self.events().await.get(event.as_str()).map_or(0, Vec::len)
    }

    async fn directory_state(&self) -> String {
        let r = self
            .app
            .get(&format!("/api/v1/directories/{}", self.directory))
            .await;
        r.body["state"].as_str().unwrap().to_owned()
    }
}

fn succeeded(result: RunResult) -> SyncRun {
    match result {
        RunResult::Succeeded(run) => run,
        other => panic!("the run did not succeed: {other:?}"),
    }
}

/// What the fake says the directory holds, in the shape of `Rig::users`.
fn expected_users(d: &SharedDirectory) -> BTreeSet<(String, String, String)> {
    d.lock()
        .users
        .values()
        .map(|u| {
            (
                u.id.clone(),
                u.email.clone(),
                if u.suspended { "inactive" } else { "active" }.to_owned(),
            )
        })
        .collect()
}

async fn full_then_incremental_against_graph(backend: Backend) {
    let dir = SharedDirectory::new(FakeDirectory::generate(130, 6, 300));
    let fake = FakeGraph::start(dir.clone()).await;
    let rig = Rig::graph(backend, &fake, CLIENT_SECRET, json!({})).await;
    let memberships = dir.lock().membership_count();

    let first = succeeded(rig.sync(false).await);
    assert_eq!(first.mode, SyncMode::Full);
    assert_eq!(first.status, SyncStatus::Succeeded);
    assert_eq!(first.counts.users_created, 130);
    assert_eq!(first.counts.groups_created, 6);
    assert_eq!(first.counts.members_added as usize, memberships);
    assert!(first.pages >= 4 + 6, "users over several pages: {first:?}");
    assert!(first.duration_ms.is_some());
    assert_eq!(rig.users().await, expected_users(&dir));
    assert_eq!(rig.count(EventType::UserCreated).await, 130);
    assert_eq!(rig.count(EventType::GroupUserAdded).await, memberships);
    assert_eq!(
        rig.directory_state().await,
        "active",
        "the first success activates"
    );
    assert_eq!(rig.count(EventType::DirectoryActivated).await, 1);

    // Nothing changed: an incremental run from the checkpoint, no events.
    let before = rig.events().await;
    let second = succeeded(rig.sync(false).await);
    assert_eq!(second.mode, SyncMode::Incremental);
    assert_eq!(
        second.counts.users_created + second.counts.users_updated + second.counts.members_added,
        0
    );
    assert_eq!(rig.events().await, before, "a no-change run emits nothing");

    // Changes of every kind, read from the delta checkpoint.
    let (added, renamed_group, removed_user, moved_user) = {
        let mut d = dir.lock();
        let added = d.add_user("new.hire@example.com", "New", "Hire");
        d.add_member("g00001", &added);
        d.update_user("u000002", |u| u.title = "Principal".into());
        d.update_user("u000003", |u| u.suspended = true);
        let moved = d.members["g00002"].iter().next().unwrap().clone();
        d.remove_member("g00002", &moved);
        d.rename_group("g00003", "Renamed");
        d.remove_user("u000004");
        (added, "g00003".to_owned(), "u000004".to_owned(), moved)
    };
    let third = succeeded(rig.sync(false).await);
    assert_eq!(third.mode, SyncMode::Incremental);
    assert_eq!(third.counts.users_created, 1);
    assert_eq!(third.counts.users_deleted, 1);
    assert!(third.counts.users_updated >= 2, "{third:?}");
    assert_eq!(rig.users().await, expected_users(&dir));
    let events = rig.events().await;
    let created: Vec<&Value> = events["dsync.user.created"].iter().collect();
    assert!(created.iter().any(|e| e["idp_id"] == added.as_str()));
    assert!(
        events["dsync.user.deleted"]
            .iter()
            .any(|e| e["idp_id"] == removed_user.as_str())
    );
    let deactivated = events["dsync.user.updated"]
        .iter()
        .find(|e| e["idp_id"] == "u000003")
        .expect("deactivation event");
    assert_eq!(deactivated["state"], "inactive");
    assert_eq!(deactivated["previous_attributes"]["state"], "active");
    assert!(
        events["dsync.group.updated"]
            .iter()
            .any(|e| e["idp_id"] == renamed_group.as_str() && e["name"] == "Renamed")
    );
    assert!(
        events["dsync.group.user_removed"]
            .iter()
            .any(|e| e["user"]["idp_id"] == moved_user.as_str() && e["group"]["idp_id"] == "g00002")
    );
    // Every membership the fake has is stored, and no other.
    let stored_members =
        rig.count(EventType::GroupUserAdded).await - rig.count(EventType::GroupUserRemoved).await;
    assert_eq!(stored_members, dir.lock().membership_count());

    // The runs are listed newest first with their counts.
    let runs = rig
        .app
        .get(&format!("/api/v1/directories/{}/sync_runs", rig.directory))
        .await;
    assert_eq!(runs.status, StatusCode::OK);
    let data = runs.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[0]["id"], third.id.as_str());
    assert_eq!(data[0]["users_created"], 1);
    assert_eq!(data[2]["mode"], "full");
    assert_eq!(data[2]["status"], "succeeded");
    assert!(data[2].get("cursor").is_none(), "positions are internal");
    let _ = rig.installation;
}

async fn removal_waits_for_a_complete_pass(backend: Backend) {
    let dir = SharedDirectory::new(FakeDirectory::generate(100, 3, 150));
    let fake = FakeGraph::start(dir.clone()).await;
    let rig = Rig::graph(backend, &fake, CLIENT_SECRET, json!({})).await;
    succeeded(rig.sync(true).await);
    {
        let mut d = dir.lock();
        d.remove_user("u000050");
        d.remove_group("g00003");
    }
    // A full pass interrupted by throttling after its first page: nothing
    // is removed while it waits.
    let (run, _) = rig
        .store()
        .enqueue_sync_run(&rig.directory, SyncTrigger::Manual, true)
        .await
        .unwrap();
    let armed = AtomicBool::new(true);
    let f = &fake;
    let progress = move |r: &SyncRun| {
        if r.pages >= 1 && armed.swap(false, Ordering::Relaxed) {
            f.throttle_next(1, 9);
        }
    };
    let deferred = match rig.drive(&run.id, &AtomicBool::new(false), &progress).await {
        RunResult::Deferred(run) => run,
        other => panic!("expected the throttled run to wait: {other:?}"),
    };
    assert_eq!(deferred.status, SyncStatus::Running);
    assert_eq!(deferred.error_kind.as_deref(), Some("rate_limited"));
    assert_eq!(
        deferred.attempts, 0,
        "a rate-limit wait is not a failed attempt"
    );
    let wait =
        deferred.next_attempt_at.unwrap().as_micros() - rollcall_core::Timestamp::now().as_micros();
    assert!(
        wait > 6_000_000 && wait <= 9_500_000,
        "waits Retry-After: {wait}"
    );
    assert!(
        rig.users().await.iter().any(|u| u.0 == "u000050"),
        "not removed mid-pass"
    );
    assert_eq!(rig.count(EventType::UserDeleted).await, 0);
    // The run continues from its position and then removes.
    let done = succeeded(rig.drive(&run.id, &AtomicBool::new(false), &|_| {}).await);
    assert_eq!(done.counts.users_deleted, 1);
    assert_eq!(done.counts.groups_deleted, 1);
    assert_eq!(rig.users().await, expected_users(&dir));
    assert_eq!(rig.count(EventType::UserDeleted).await, 1);
    assert_eq!(rig.count(EventType::GroupDeleted).await, 1);
    assert_eq!(
        rig.count(EventType::UserCreated).await,
        100,
        "no duplicates after the wait"
    );
}

async fn deactivate_policy_keeps_removed_users(backend: Backend) {
    let dir = SharedDirectory::new(FakeDirectory::generate(30, 2, 40));
    let fake = FakeGraph::start(dir.clone()).await;
    let rig = Rig::graph(
        backend,
        &fake,
        CLIENT_SECRET,
        json!({"removed_users": "deactivate"}),
    )
    .await;
    succeeded(rig.sync(true).await);
    dir.lock().remove_user("u000007");
    let run = succeeded(rig.sync(true).await);
    assert_eq!(run.counts.users_deleted, 0);
    let users = rig.users().await;
    assert!(users.contains(&(
        "u000007".into(),
        "user7@example.com".into(),
        "inactive".into()
    )));
    assert_eq!(rig.count(EventType::UserDeleted).await, 0);
    // A further pass changes nothing for it.
    let again = succeeded(rig.sync(true).await);
    assert_eq!(again.counts.users_updated, 0);
}

async fn expired_checkpoint_runs_a_full_pass(backend: Backend) {
    let dir = SharedDirectory::new(FakeDirectory::generate(60, 3, 80));
    let fake = FakeGraph::start(dir.clone()).await;
    let rig = Rig::graph(backend, &fake, CLIENT_SECRET, json!({})).await;
    succeeded(rig.sync(false).await);
    {
        let mut d = dir.lock();
        d.remove_user("u000010");
        d.update_user("u000011", |u| u.family_name = "Changed".into());
        d.expire_log();
    }
    let run = succeeded(rig.sync(false).await);
    assert_eq!(
        run.mode,
        SyncMode::Full,
        "the connector said the checkpoint expired"
    );
    assert_eq!(run.counts.users_deleted, 1);
    assert_eq!(run.counts.users_updated, 1);
    assert_eq!(run.counts.users_unchanged, 58);
    assert_eq!(rig.users().await, expected_users(&dir));
    // The new checkpoint works again.
    dir.lock().add_user("later@example.com", "Later", "User");
    let next = succeeded(rig.sync(false).await);
    assert_eq!(next.mode, SyncMode::Incremental);
    assert_eq!(next.counts.users_created, 1);
}

async fn refused_credentials_mark_the_directory(backend: Backend) {
    let dir = SharedDirectory::new(FakeDirectory::generate(5, 1, 5));
    let fake = FakeGraph::start(dir.clone()).await;
    let rig = Rig::graph(backend, &fake, "wrong-secret", json!({})).await;
    let run = match rig.sync(false).await {
        RunResult::Failed(run) => run,
        other => panic!("expected a failed run: {other:?}"),
    };
    assert_eq!(run.status, SyncStatus::Failed);
    assert_eq!(run.error_kind.as_deref(), Some("unauthorized"));
    assert!(
        run.error
            .as_deref()
            .unwrap_or_default()
            .contains("unauthorized"),
        "{run:?}"
    );
    assert_eq!(run.attempts, 0, "no retry storm");
    assert_eq!(rig.directory_state().await, "invalid_credentials");
    assert!(rig.users().await.is_empty());
    let status = rig
        .app
        .get(&format!("/api/v1/directories/{}/sync", rig.directory))
        .await;
    assert_eq!(status.body["last_run"]["status"], "failed");
    assert!(
        status.body["next_run_at"].is_string(),
        "the schedule retries at its interval"
    );
}

async fn transient_errors_retry_then_fail(backend: Backend) {
    let dir = SharedDirectory::new(FakeDirectory::generate(5, 1, 5));
    let fake = FakeOkta::start(dir.clone()).await;
    let mut rig = Rig::okta(backend, &fake).await;
    rig.driver.settings.max_attempts = 2;
    fake.fail_next(2, 503);
    let (run, _) = rig
        .store()
        .enqueue_sync_run(&rig.directory, SyncTrigger::Manual, false)
        .await
        .unwrap();
    let first = rig.drive(&run.id, &AtomicBool::new(false), &|_| {}).await;
    let RunResult::Deferred(first) = first else {
        panic!("a transient error is retried: {first:?}");
    };
    assert_eq!(first.attempts, 1);
    assert_eq!(first.error_kind.as_deref(), Some("transient"));
    let second = rig.drive(&run.id, &AtomicBool::new(false), &|_| {}).await;
    let RunResult::Failed(second) = second else {
        panic!("the last attempt fails the run: {second:?}");
    };
    assert!(second.error.unwrap().contains("gave up after 2 attempts"));
    // The provider recovers; the next run succeeds.
    let run = succeeded(rig.sync(false).await);
    assert_eq!(run.counts.users_created, 5);
}

async fn okta_full_and_incremental(backend: Backend) {
    let dir = SharedDirectory::new(FakeDirectory::generate(90, 4, 150));
    let fake = FakeOkta::start(dir.clone()).await;
    let rig = Rig::okta(backend, &fake).await;
    let first = succeeded(rig.sync(false).await);
    assert_eq!(first.mode, SyncMode::Full);
    assert_eq!(first.counts.users_created, 90);
    assert_eq!(first.counts.groups_created, 4);
    assert_eq!(
        first.counts.members_added as usize,
        dir.lock().membership_count()
    );
    {
        let mut d = dir.lock();
        let id = d.add_user("okta.new@example.com", "Okta", "New");
        d.add_member("g00001", &id);
        d.update_user("u000005", |u| u.department = "Legal".into());
    }
    let second = succeeded(rig.sync(false).await);
    assert_eq!(second.mode, SyncMode::Incremental);
    assert_eq!(second.counts.users_created, 1);
    assert!(second.counts.users_updated >= 1);
    assert!(second.counts.members_added >= 1);
    assert_eq!(rig.users().await, expected_users(&dir));
}

async fn a_stopped_run_resumes_without_duplicates(backend: Backend) {
    let dir = SharedDirectory::new(FakeDirectory::generate(200, 5, 300));
    let fake = FakeGraph::start(dir.clone()).await;
    let rig = Rig::graph(backend, &fake, CLIENT_SECRET, json!({})).await;
    let (run, _) = rig
        .store()
        .enqueue_sync_run(&rig.directory, SyncTrigger::Manual, false)
        .await
        .unwrap();
    // The worker "dies" after three committed pages: its lease is short
    // and nobody releases it.
    let stop = AtomicBool::new(false);
    let claimed = rig
        .store()
        .claim_sync_run(&run.id, "dying-worker", 1)
        .await
        .unwrap()
        .unwrap();
    let result = rig
        .driver
        .execute(claimed, "dying-worker", &stop, &|r: &SyncRun| {
            if r.pages >= 3 {
                stop.store(true, Ordering::Relaxed);
            }
        })
        .await;
    assert_eq!(result, RunResult::Stopped);
    let partial = rig.store().get_sync_run(&run.id).await.unwrap().unwrap();
    assert_eq!(partial.status, SyncStatus::Running);
    assert!(partial.pages > 0, "{partial:?}");
    assert_ne!(partial.phase, rollcall_store::SyncPhase::Done);
    // Another worker cannot take it while the lease lives, then can.
    assert!(
        rig.store()
            .claim_sync_run(&run.id, OWNER, 60)
            .await
            .unwrap()
            .is_none()
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let done = succeeded(rig.drive(&run.id, &AtomicBool::new(false), &|_| {}).await);
    assert_eq!(
        done.counts.users_created, 200,
        "counts continue across workers"
    );
    assert_eq!(
        rig.count(EventType::UserCreated).await,
        200,
        "no duplicate, none missing"
    );
    let events = rig.events().await;
    let ids: BTreeSet<&str> = events["dsync.user.created"]
        .iter()
        .map(|e| e["idp_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 200);
    assert_eq!(
        rig.count(EventType::GroupUserAdded).await,
        dir.lock().membership_count()
    );
    assert_eq!(rig.users().await, expected_users(&dir));
}

async fn sync_api_and_worker(backend: Backend) {
    let dir = SharedDirectory::new(FakeDirectory::generate(50, 2, 60));
    let fake = FakeGraph::start(dir.clone()).await;
    let rig = Rig::graph(backend, &fake, CLIENT_SECRET, json!({})).await;
    let path = format!("/api/v1/directories/{}/sync", rig.directory);
    let first = rig.app.post(&path, json!({})).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{:?}", first.body);
    assert_eq!(first.body["object"], "sync_run");
    assert_eq!(first.body["status"], "queued");
    assert_eq!(first.body["trigger"], "manual");
    let again = rig.app.post(&path, json!({"full": true})).await;
    assert_eq!(again.status, StatusCode::OK, "one run per directory");
    assert_eq!(again.body["id"], first.body["id"]);
    let bad = rig.app.post(&path, json!({"fast": true})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let status = rig.app.get(&path).await;
    assert_eq!(status.body["current_run"]["id"], first.body["id"]);

    // The worker picks it up.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = rollcall_sync::PullWorker::new(
        rig.store().clone(),
        runtime(),
        PullSettings {
            poll_interval: Duration::from_millis(50),
            ..PullSettings::default()
        },
    );
    let task = tokio::spawn(worker.run(stopped));
    let run_path = format!(
        "/api/v1/directories/{}/sync_runs/{}",
        rig.directory,
        first.body["id"].as_str().unwrap()
    );
    let mut done = Value::Null;
    for _ in 0..200 {
        let r = rig.app.get(&run_path).await;
        if r.body["status"] == "succeeded" {
            done = r.body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(done["users_created"], 50, "{done:?}");
    assert!(done["duration_ms"].is_u64());
    let _ = stop.send(true);
    task.await.unwrap();
    assert_eq!(rig.users().await, expected_users(&dir));

    // Bad requests.
    let org = rig.app.create_org("Other").await;
    let scim = rig.app.create_directory(&org, "okta-scim-v2").await;
    let r = rig
        .app
        .post(
            &format!("/api/v1/directories/{}/sync", scim["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let unbound = rig.app.create_directory(&org, "google-workspace").await;
    let r = rig
        .app
        .post(
            &format!(
                "/api/v1/directories/{}/sync",
                unbound["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["code"], "no_connector", "{:?}", r.body);
    let r = rig
        .app
        .get(&format!(
            "/api/v1/directories/{}/sync_runs/{}",
            unbound["id"].as_str().unwrap(),
            first.body["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "another directory's run");
    let r = rig
        .app
        .post(
            "/api/v1/directories",
            json!({"organization_id": org, "name": "x", "type": "okta-api", "settings": {"sync_interval_minutes": 0}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.to_string().contains("sync_interval_minutes"));
    // The wrong connector for a provider type is refused.
    let wrong = create_installation(
        rig.store(),
        InstallationRequest {
            plugin: "okta-api@0.1.0".into(),
            organization_id: org.clone(),
            directory_id: Some(unbound["id"].as_str().unwrap().to_owned()),
            config: json!({"org_url": "https://acme.okta.com"})
                .as_object()
                .cloned()
                .unwrap(),
            ..Default::default()
        },
    )
    .await;
    assert!(wrong.unwrap_err().to_string().contains("google-workspace"));
}

async fn google_full_passes_only(backend: Backend) {
    let dir = SharedDirectory::new(FakeDirectory::generate(700, 8, 1200));
    let fake = FakeGoogle::start(dir.clone()).await;
    let rig = Rig::google(backend, &fake).await;
    let first = succeeded(rig.sync(false).await);
    assert_eq!(first.mode, SyncMode::Full);
    assert_eq!(first.counts.users_created, 700);
    assert_eq!(first.counts.groups_created, 8);
    assert_eq!(
        first.counts.members_added as usize,
        dir.lock().membership_count()
    );
    assert_eq!(rig.users().await, expected_users(&dir));
    // No incremental mode: every run is a full pass; unchanged, it writes
    // no events.
    let before = rig.events().await;
    let second = succeeded(rig.sync(false).await);
    assert_eq!(second.mode, SyncMode::Full);
    assert_eq!(second.counts.users_unchanged, 700);
    assert_eq!(rig.events().await, before);
    // Changes, removals and throttling in one pass.
    {
        let mut d = dir.lock();
        d.change_every(100);
        d.update_user("u000009", |u| u.suspended = true);
        d.remove_user("u000010");
        d.remove_group("g00002");
    }
    fake.throttle_next(1, Throttle::UserRateLimit);
    let (run, _) = rig
        .store()
        .enqueue_sync_run(&rig.directory, SyncTrigger::Manual, false)
        .await
        .unwrap();
    let waited = rig.drive(&run.id, &AtomicBool::new(false), &|_| {}).await;
    let RunResult::Deferred(waited) = waited else {
        panic!("a 403 userRateLimitExceeded waits: {waited:?}");
    };
    assert_eq!(waited.error_kind.as_deref(), Some("rate_limited"));
    let third = succeeded(rig.drive(&run.id, &AtomicBool::new(false), &|_| {}).await);
    assert_eq!(third.counts.users_deleted, 1);
    assert_eq!(third.counts.groups_deleted, 1);
    assert!(third.counts.users_updated >= 7, "{third:?}");
    assert_eq!(rig.users().await, expected_users(&dir));
    assert_eq!(rig.count(EventType::UserCreated).await, 700);
}

both_backends!(
    google_full_passes_only,
    full_then_incremental_against_graph,
    removal_waits_for_a_complete_pass,
    deactivate_policy_keeps_removed_users,
    expired_checkpoint_runs_a_full_pass,
    refused_credentials_mark_the_directory,
    transient_errors_retry_then_fail,
    okta_full_and_incremental,
    a_stopped_run_resumes_without_duplicates,
    sync_api_and_worker,
);
