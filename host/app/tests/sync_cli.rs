//! Pull sync with the real binary: `rollcall sync run|runs|status` against
//! the fake Microsoft Graph; a `rollcall serve` killed with SIGKILL in the
//! middle of a run and restarted, which continues the run from its last
//! committed page with no duplicate or missing events; and two servers on
//! one PostgreSQL database sharing the runs of several directories without
//! ever running one twice.

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rollcall_tests::fake_directory::{FakeDirectory, SharedDirectory};
use rollcall_tests::fake_graph::{CLIENT_SECRET, FakeGraph};
use rollcall_tests::{Backend, both_backends, http};
use serde_json::{Value, json};

mod common;
use common::Env;

const ADMIN_KEY: &str = "rc_admin_0123456789abcdefghijklmnopqrstuv";

/// These tests start real servers and large fake directories: one at a
/// time, so that on a small machine none waits on the others.
async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::OnceLock<tokio::sync::Mutex<()>> = std::sync::OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(()))
        .lock()
        .await
}

/// A process environment for sync tests: a known admin key, and the fake
/// provider on plain-HTTP loopback.
async fn sync_env(backend: Backend) -> Env {
    Env::new(backend)
        .await
        .with("ROLLCALL_BOOTSTRAP_ADMIN_KEY", ADMIN_KEY)
        .with("ROLLCALL_PLUGIN_ALLOW_PLAIN_HTTP", "true")
        .with("ROLLCALL_PLUGIN_ALLOW_PRIVATE_NETWORK", "true")
        .with("ROLLCALL_SYNC_LEASE_SECONDS", "5")
        .with("ROLLCALL_SYNC_PAGE_SIZE", "50")
}

impl Env {
    /// An organization and an `azure-graph` directory bound to the fake.
    fn graph_directory(&self, fake: &FakeGraph, name: &str) -> String {
        let org = self.json(&["org", "create", name])["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let dir = self.json(&[
            "directory",
            "create",
            "--org",
            &org,
            "--name",
            name,
            "--type",
            "azure-graph",
        ])["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let config = json!({"api_base": fake.base_url, "page_size": 50}).to_string();
        let credential = format!("graph={}", fake.credential(CLIENT_SECRET));
        self.json(&[
            "plugin",
            "bind",
            "azure-graph@0.1.0",
            "--org",
            &org,
            "--directory",
            &dir,
            "--config-json",
            &config,
            "--grant-host",
            "127.0.0.1",
            "--credential",
            &credential,
        ]);
        dir
    }

    fn serve(&self, log: &str) -> (Child, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(self.dir.path().join(log)).unwrap();
        let child = self
            .command()
            .args(["serve", "--listen", &addr])
            .env("ROLLCALL_LOG_FORMAT", "text")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        (child, addr)
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

/// Waits for `/readyz`; on timeout fails with the server's log.
async fn ready(env: &Env, addr: &str, log: &str) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !matches!(
        http::request(addr, "GET", "/readyz", None, None).await,
        Ok((200, _))
    ) {
        assert!(
            Instant::now() < deadline,
            "server did not become ready; its log:\n{}",
            env.log(log)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn api(addr: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    http::request(addr, method, path, Some(ADMIN_KEY), body.as_ref())
        .await
        .expect("request")
}

/// Polls the run until `done` holds (or panics after `limit`).
async fn wait_run(
    addr: &str,
    dir: &str,
    run: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok((200, body)) = http::request(
            addr,
            "GET",
            &format!("/api/v1/directories/{dir}/sync_runs/{run}"),
            Some(ADMIN_KEY),
            None,
        )
        .await
            && done(&body)
        {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "run {run} did not get there in time"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Every event of a directory, in log order, from the Events API.
async fn events(addr: &str, dir: &str) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let after = all
            .last()
            .map(|e| format!("&after={}", e["id"].as_str().unwrap()))
            .unwrap_or_default();
        let (status, body) = api(
            addr,
            "GET",
            &format!("/api/v1/events?directory_id={dir}&limit=100{after}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let page = body["data"].as_array().unwrap().clone();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["event"] == kind).count()
}

fn kill(child: &mut Child, signal: &str) {
    Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
}

async fn sync_commands(backend: Backend) {
    let _turn = one_at_a_time().await;
    let env = sync_env(backend).await;
    let fake_dir = SharedDirectory::new(FakeDirectory::generate(240, 4, 400));
    let fake = FakeGraph::start(fake_dir.clone()).await;
    let dir = env.graph_directory(&fake, "Contoso");
    let memberships = fake_dir.lock().membership_count();

    let out = env.run(&["sync", "run", &dir]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("succeeded (full pass"), "{stdout}");
    assert!(stdout.contains("users:   240 created"), "{stdout}");
    assert!(
        stdout.contains(&format!("members: {memberships} added")),
        "{stdout}"
    );
    // Not a terminal: plain progress lines, no cursor movement.
    assert!(
        stderr.contains("pages") && !stderr.contains('\r'),
        "{stderr}"
    );

    fake_dir
        .lock()
        .update_user("u000001", |u| u.title = "CEO".into());
    let run = env.json(&["sync", "run", &dir]);
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["mode"], "incremental");
    assert_eq!(run["users_updated"], 1);
    let runs = env.run(&["sync", "runs", &dir]);
    let listed = String::from_utf8_lossy(&runs.stdout);
    assert_eq!(listed.matches("succeeded").count(), 2, "{listed}");
    let status = env.json(&["sync", "status", &dir]);
    assert_eq!(status["has_checkpoint"], true);

    // Bad input: a clear message and exit code 1.
    let out = env.run(&["sync", "run", "directory_01ARZ3NDEKTSV4RRFFQ69G5FAV"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
    let org = env.json(&["org", "create", "Pushers"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let scim = env.json(&[
        "directory",
        "create",
        "--org",
        &org,
        "--name",
        "Okta",
        "--type",
        "okta-scim-v2",
    ])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = env.run(&["sync", "run", &scim]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only pull directories sync"));
}

async fn killed_server_resumes_the_run(backend: Backend) {
    let _turn = one_at_a_time().await;
    let env = sync_env(backend).await;
    let fake_dir = SharedDirectory::new(FakeDirectory::generate(3000, 20, 4000));
    let fake = FakeGraph::start(fake_dir.clone()).await;
    let dir = env.graph_directory(&fake, "Nike");
    let (mut server, addr) = env.serve("first.log");
    ready(&env, &addr, "first.log").await;
    let (status, run) = api(
        &addr,
        "POST",
        &format!("/api/v1/directories/{dir}/sync"),
        None,
    )
    .await;
    assert!(status == 202 || status == 200, "{run}");
    let run_id = run["id"].as_str().unwrap().to_owned();
    // Kill it hard in the middle of the users phase.
    let partial = wait_run(&addr, &dir, &run_id, Duration::from_secs(60), |r| {
        r["pages"].as_u64().unwrap_or(0) >= 8
    })
    .await;
    kill(&mut server, "-KILL");
    assert_eq!(partial["status"], "running", "{partial}");
    let (mut server, addr) = env.serve("second.log");
    ready(&env, &addr, "second.log").await;
    let done = wait_run(&addr, &dir, &run_id, Duration::from_secs(120), |r| {
        r["status"] == "succeeded" || r["status"] == "failed"
    })
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["users_created"], 3000, "{done}");
    let events = events(&addr, &dir).await;
    kill(&mut server, "-TERM");

    let created: BTreeSet<&str> = events
        .iter()
        .filter(|e| e["event"] == "dsync.user.created")
        .map(|e| e["data"]["idp_id"].as_str().unwrap())
        .collect();
    assert_eq!(count(&events, "dsync.user.created"), 3000, "no duplicates");
    assert_eq!(created.len(), 3000, "none missing");
    assert_eq!(count(&events, "dsync.group.created"), 20);
    assert_eq!(
        count(&events, "dsync.group.user_added"),
        fake_dir.lock().membership_count()
    );
    assert_eq!(count(&events, "dsync.user.deleted"), 0);
    assert!(
        env.log("second.log").contains("sync run succeeded"),
        "the restarted server finished it"
    );
}

async fn two_servers_share_the_work(backend: Backend) {
    let _turn = one_at_a_time().await;
    let env = sync_env(backend).await;
    let fake_dir = SharedDirectory::new(FakeDirectory::generate(600, 6, 900));
    let fake = FakeGraph::start(fake_dir.clone()).await;
    let dirs: Vec<String> = (0..6)
        .map(|i| env.graph_directory(&fake, &format!("Tenant {i}")))
        .collect();
    // Both replicas start at once, as an orchestrator starts them.
    let (mut a, addr_a) = env.serve("a.log");
    let (mut b, addr_b) = env.serve("b.log");
    ready(&env, &addr_a, "a.log").await;
    ready(&env, &addr_b, "b.log").await;
    // Both servers' schedules see the new directories; manual triggers on
    // both add nothing (one run per directory).
    let mut runs = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let addr = if i % 2 == 0 { &addr_a } else { &addr_b };
        let other = if i % 2 == 0 { &addr_b } else { &addr_a };
        let (_, run) = api(
            addr,
            "POST",
            &format!("/api/v1/directories/{dir}/sync"),
            None,
        )
        .await;
        let (_, again) = api(
            other,
            "POST",
            &format!("/api/v1/directories/{dir}/sync"),
            None,
        )
        .await;
        if again["status"] == "queued" || again["status"] == "running" {
            assert_eq!(again["id"], run["id"], "one active run per directory");
        }
        runs.push(run["id"].as_str().unwrap().to_owned());
    }
    for (dir, run) in dirs.iter().zip(&runs) {
        let done = wait_run(&addr_a, dir, run, Duration::from_secs(120), |r| {
            r["status"] == "succeeded" || r["status"] == "failed"
        })
        .await;
        assert_eq!(done["status"], "succeeded", "{done}");
    }
    for dir in &dirs {
        let events = events(&addr_b, dir).await;
        assert_eq!(
            count(&events, "dsync.user.created"),
            600,
            "{dir}: exactly once"
        );
        assert_eq!(
            count(&events, "dsync.group.user_added"),
            fake_dir.lock().membership_count()
        );
        let runs = env.run(&["--json", "sync", "runs", dir]);
        let listed: Vec<Value> = String::from_utf8(runs.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let succeeded: Vec<&Value> = listed
            .iter()
            .filter(|r| r["status"] == "succeeded")
            .collect();
        assert!(!succeeded.is_empty());
        // Any further run was a no-change incremental one.
        for r in succeeded.iter().skip(1) {
            assert_eq!(r["users_created"], 0);
        }
    }
    kill(&mut a, "-TERM");
    kill(&mut b, "-TERM");
    let (log_a, log_b) = (env.log("a.log"), env.log("b.log"));
    let total =
        log_a.matches("sync run succeeded").count() + log_b.matches("sync run succeeded").count();
    assert!(
        total >= dirs.len(),
        "every run finished once at least: {total}"
    );
}

both_backends!(sync_commands, killed_server_resumes_the_run);

mod two_servers {
    // Several replicas share one database only on PostgreSQL.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::two_servers_share_the_work(rollcall_tests::Backend::Postgres).await
    }
}
