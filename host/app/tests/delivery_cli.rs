//! `rollcall webhook …`, `rollcall events tail` and the lifecycle commands
//! (`plugin bind|installations|executions|retry|replay|unbind`) as a user
//! drives them, and `rollcall serve` delivering signed webhooks and running
//! lifecycle plugins from its background workers. On SQLite and PostgreSQL.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rollcall_tests::webhook_receiver::{Mode, Receiver};
use rollcall_tests::{Backend, both_backends, http};
use serde_json::Value;

mod common;
use common::Env;

/// A process environment for delivery tests: plain-HTTP, loopback
/// webhook receivers and fast retries.
async fn delivery_env(backend: Backend) -> Env {
    Env::new(backend)
        .await
        .with("ROLLCALL_WEBHOOK_ALLOW_HTTP", "true")
        .with("ROLLCALL_WEBHOOK_ALLOW_PRIVATE_NETWORK", "true")
        .with("ROLLCALL_WEBHOOK_RETRY_SCHEDULE", "100ms,100ms")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn webhook_commands_and_serve_delivery(backend: Backend) {
    let env = delivery_env(backend).await;
    let receiver = Receiver::start(Mode::FailFirst).await;
    let org = env.json_lines(&["org", "create", "Acme"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Create: the secret is printed once, in both output forms.
    let out = env.run(&[
        "webhook",
        "create",
        "--org",
        &org,
        "--url",
        &receiver.url,
        "--event",
        "dsync.activated",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("Signing secret (shown only this once): whsec_"),
        "{stdout}"
    );
    let id = stdout
        .split_whitespace()
        .find(|w| w.starts_with("webhook_endpoint_"))
        .unwrap()
        .to_owned();
    let shown = &env.json_lines(&["webhook", "show", &id])[0];
    assert_eq!(shown["events"][0], "dsync.activated");
    assert!(shown.get("secret").is_none());
    let updated = &env.json_lines(&[
        "webhook",
        "update",
        &id,
        "--all-events",
        "--rate-limit",
        "100",
    ])[0];
    assert_eq!(updated["events"].as_array().unwrap().len(), 0);
    assert_eq!(updated["rate_limit"], 100);
    let rotated = &env.json_lines(&["webhook", "rotate-secret", &id, "--grace-period", "60"])[0];
    let secret = rotated["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let list = env.run(&["webhook", "list", "--org", &org]);
    assert!(text(&list).0.contains(&id));

    // Bad input: a clear message and exit code 1 (2 for bad usage).
    let out = env.run(&[
        "webhook",
        "create",
        "--org",
        &org,
        "--url",
        "ftp://x.example/",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out)
            .1
            .contains("error: url scheme must be https or http"),
        "{}",
        text(&out).1
    );
    let out = env.run(&[
        "webhook",
        "create",
        "--org",
        &org,
        "--url",
        "https://x.example/",
        "--event",
        "dsync.nope",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("unknown event type 'dsync.nope'"),
        "{}",
        text(&out).1
    );
    let out = env.run(&["webhook", "deliveries", &id, "--state", "lost"]);
    assert_eq!(out.status.code(), Some(1));
    let out = env.run(&[
        "webhook",
        "show",
        "webhook_endpoint_01J00000000000000000000000",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("not found"));
    let out = env.run(&[
        "webhook",
        "update",
        &id,
        "--all-events",
        "--event",
        "dsync.activated",
    ]);
    assert_eq!(out.status.code(), Some(2));

    // A directory created now produces events; the server delivers them.
    let dir = env.json_lines(&[
        "directory",
        "create",
        "--org",
        &org,
        "--name",
        "Okta",
        "--type",
        "okta-scim-v2",
    ])[0]
        .clone();
    let dir_id = dir["id"].as_str().unwrap().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = env
        .command()
        .args(["serve", "--listen", &addr])
        .env(
            "ROLLCALL_BOOTSTRAP_ADMIN_KEY",
            "rc_admin_0123456789abcdefghijklmnopqrstuv",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(
        http::request(&addr, "GET", "/readyz", None, None).await,
        Ok((200, _))
    ) {
        assert!(Instant::now() < deadline, "server did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = env.json_lines(&["events", "tail", "--org", &org, "-n", "50"]);
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"dsync.activated") && types.contains(&"dsync.token.created"),
        "{types:?}"
    );
    receiver
        .wait_for(Duration::from_secs(30), "the directory's events", |rs| {
            rs.iter().filter(|r| r.status < 300).count() >= events.len()
        })
        .await;
    let verifier = standardwebhooks::Webhook::new(&secret).unwrap();
    for r in receiver.accepted() {
        verifier.verify(&r.body, &r.headers).unwrap();
    }
    // The attempt is recorded just after the receiver answered.
    let deadline = Instant::now() + Duration::from_secs(30);
    let deliveries = loop {
        let d = env.json_lines(&["webhook", "deliveries", &id]);
        if d.iter().all(|d| d["state"] == "delivered") || Instant::now() > deadline {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(deliveries.len(), events.len());
    assert!(
        deliveries
            .iter()
            .all(|d| d["state"] == "delivered" && d["attempts"] == 2)
    );
    let human = env.run(&["webhook", "deliveries", &id]);
    assert!(text(&human).0.contains("delivered"), "{}", text(&human).0);

    // Redeliver and replay through the CLI reach the receiver again.
    let before = receiver.accepted().len();
    let first = events[0]["id"].as_str().unwrap();
    let out = env.run(&["webhook", "redeliver", &id, first]);
    assert!(out.status.success(), "{}", text(&out).1);
    // (A replay before the redelivery is sent would coalesce with it: one
    // delivery row per endpoint and event.)
    receiver
        .wait_for(Duration::from_secs(30), "the redelivered event", |rs| {
            rs.iter().filter(|r| r.status < 300).count() > before
        })
        .await;
    let replay = &env.json_lines(&["webhook", "replay", &id, first])[0];
    assert_eq!(replay["scheduled"].as_u64().unwrap() as usize, events.len());
    receiver
        .wait_for(
            Duration::from_secs(30),
            "redelivered and replayed events",
            |rs| rs.iter().filter(|r| r.status < 300).count() >= before + 1 + events.len(),
        )
        .await;

    // events tail: human lines, and --after continues from a cursor.
    let out = env.run(&["events", "tail", "--directory", &dir_id]);
    assert!(
        text(&out).0.contains("dsync.token.created"),
        "{}",
        text(&out).0
    );
    let after = env.json_lines(&[
        "events",
        "tail",
        "--after",
        events.last().unwrap()["id"].as_str().unwrap(),
    ]);
    assert!(after.is_empty());
    let out = env.run(&["events", "tail", "--event", "dsync.nope"]);
    assert_eq!(out.status.code(), Some(1));

    // events tail --follow prints what happens after it started.
    let mut follow = env
        .command()
        .args([
            "--json", "events", "tail", "--org", &org, "-n", "0", "--follow",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    let first_line = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout).lines().next()
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let rotated = &env.json_lines(&["directory", "token", "rotate", &dir_id])[0];
    let line = first_line.join().unwrap().expect("a line").unwrap();
    let followed: Value = serde_json::from_str(&line).unwrap();
    assert!(
        followed["event"] == "dsync.token.created" || followed["event"] == "dsync.token.revoked",
        "{line}"
    );
    assert!(rotated["token"].is_string());
    follow.kill().unwrap();
    let _ = follow.wait();

    let out = env.run(&["webhook", "disable", &id]);
    assert!(out.status.success());
    let out = env.run(&["webhook", "delete", &id]);
    assert!(out.status.success());
    assert!(env.json_lines(&["webhook", "list"]).is_empty());

    // SIGTERM: a graceful stop.
    let pid = server.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = server.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

async fn lifecycle_commands_and_serve_dispatch(backend: Backend) {
    let env = delivery_env(backend).await;
    let receiver = Receiver::start(Mode::Ok).await;
    let org = env.json_lines(&["org", "create", "Acme"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let config = format!("{{\"url\": \"{}\"}}", receiver.url);
    let bound = &env.json_lines(&[
        "plugin",
        "bind",
        "http-action@0.2.0",
        "--org",
        &org,
        "--config-json",
        &config,
        "--grant-host",
        "127.0.0.1",
        "--event",
        "dsync.activated",
    ])[0];
    let id = bound["id"].as_str().unwrap().to_owned();
    assert_eq!(bound["events"], serde_json::json!(["dsync.activated"]));
    let list = env.run(&["plugin", "installations", "--org", &org]);
    assert!(text(&list).0.contains(&id) && text(&list).0.contains("dsync.activated"));

    // Bad input: exit 1 with the reason.
    let out = env.run(&[
        "plugin",
        "bind",
        "http-action@0.2.0",
        "--org",
        &org,
        "--config-json",
        &config,
        "--event",
        "dsync.nope",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("unknown event type 'dsync.nope'"),
        "{}",
        text(&out).1
    );
    let out = env.run(&[
        "plugin",
        "bind",
        "static-directory@0.1.0",
        "--org",
        &org,
        "--config-json",
        "{\"users\": []}",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("directory_id is required"),
        "{}",
        text(&out).1
    );
    let out = env.run(&[
        "plugin",
        "bind",
        "http-action@0.2.0",
        "--org",
        &org,
        "--config-json",
        "{}",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("config.url: is required"),
        "{}",
        text(&out).1
    );

    // A directory created now emits dsync.activated; the server runs the plugin.
    env.json_lines(&[
        "directory",
        "create",
        "--org",
        &org,
        "--name",
        "Okta",
        "--type",
        "okta-scim-v2",
    ]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = env
        .command()
        .args(["serve", "--listen", &addr])
        .env(
            "ROLLCALL_BOOTSTRAP_ADMIN_KEY",
            "rc_admin_0123456789abcdefghijklmnopqrstuv",
        )
        .env("ROLLCALL_PLUGIN_ALLOW_PRIVATE_NETWORK", "true")
        .env("ROLLCALL_PLUGIN_ALLOW_PLAIN_HTTP", "true")
        .env("ROLLCALL_LIFECYCLE_RETRY_SCHEDULE", "100ms")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    receiver
        .wait_for(Duration::from_secs(120), "the lifecycle call", |rs| {
            !rs.is_empty()
        })
        .await;
    let executions = env.json_lines(&["plugin", "executions", &id]);
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0]["event"], "dsync.activated");
    let event = executions[0]["event_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    while env
        .json_lines(&["plugin", "executions", &id, "--state", "completed"])
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the execution did not complete");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = env.run(&["plugin", "retry", &id, &event]);
    assert!(out.status.success(), "{}", text(&out).1);
    receiver
        .wait_for(Duration::from_secs(30), "the retried call", |rs| {
            rs.len() >= 2
        })
        .await;
    let replay = &env.json_lines(&["plugin", "replay", &id, &event])[0];
    assert_eq!(replay["scheduled"], 1);
    let out = env.run(&["plugin", "executions", &id, "--state", "lost"]);
    assert_eq!(out.status.code(), Some(1));

    let pid = server.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(server.wait().unwrap().success());
    let out = env.run(&["plugin", "unbind", &id]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(env.json_lines(&["plugin", "installations"]).is_empty());
}

both_backends!(
    webhook_commands_and_serve_delivery,
    lifecycle_commands_and_serve_dispatch,
);
