//! Containment: the misbehaving guest (`plugins/testing/misbehaving`)
//! loops, allocates 1 GiB, calls hosts it was not granted and loopback
//! without the operator switch, traps, floods state and logs, and waits on
//! a slow upstream. Each test asserts the exact error the host reports
//! AND that a well-behaved plugin (the built-in `static-directory`
//! connector) works right after. One test runs 200 invocations at once.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rollcall_runtime::builtin::{builtin, test_guests};
use rollcall_runtime::{
    InvocationContext, InvokeError, LifecycleEvent, LoadedPlugin, Manifest, MemoryState, Outcome,
    PluginError, Runtime, RuntimeConfig, SandboxPolicy,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEADLINE: Duration = Duration::from_millis(1_000);

/// Strict platform: no private networks, HTTPS only, small limits.
fn strict() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| runtime(false))
}

/// Development platform: loopback and plain HTTP allowed (the operator switches).
fn permissive() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| runtime(true))
}

fn runtime(allow_private: bool) -> Runtime {
    let policy = SandboxPolicy {
        memory_bytes: 64 * 1024 * 1024,
        action_timeout: DEADLINE,
        page_timeout: DEADLINE,
        http_response_timeout: Duration::from_millis(300),
        log_burst: 50,
        log_per_second: 1,
        state_max_keys: 20,
        allow_private_network: allow_private,
        allow_plain_http: allow_private,
        ..SandboxPolicy::default()
    };
    let cache_dir =
        Some(std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache"));
    Runtime::new(RuntimeConfig { policy, cache_dir }).expect("runtime")
}

fn misbehaving(runtime: &Runtime) -> (LoadedPlugin, Arc<Manifest>) {
    let wasm = test_guests::MISBEHAVING;
    let manifest = Manifest::parse(&rollcall_runtime::manifest::embedded(wasm).unwrap()).unwrap();
    (
        runtime.load(wasm).expect("load misbehaving guest"),
        Arc::new(manifest),
    )
}

fn context(manifest: Arc<Manifest>, granted: &[&str], config: Value) -> InvocationContext {
    InvocationContext {
        installation_id: "plugin_installation_test".into(),
        organization_id: "org_test".into(),
        directory_id: None,
        manifest,
        granted_hosts: granted.iter().map(|h| h.to_string()).collect(),
        grant_limits: Default::default(),
        config: config.as_object().cloned().unwrap_or_default(),
        secrets: Default::default(),
        credentials: Default::default(),
        state: Arc::new(MemoryState::default()),
    }
}

fn event(data: Value) -> LifecycleEvent {
    LifecycleEvent {
        id: "event_1".into(),
        event_type: "dsync.user.created".into(),
        organization_id: "org_test".into(),
        directory_id: None,
        created_at_micros: 0,
        data,
        previous_attributes: None,
        idempotency_key: "event_1:plugin_installation_test".into(),
        attempt: 1,
    }
}

/// Runs one behavior on a fresh instance; returns the result and the notes.
async fn run(
    runtime: &Runtime,
    data: Value,
    granted: &[&str],
) -> (Result<Outcome, InvokeError>, Vec<String>) {
    let (plugin, manifest) = misbehaving(runtime);
    let mut instance = runtime
        .lifecycle(&plugin, context(manifest, granted, json!({})))
        .await
        .expect("instantiate");
    let result = instance.handle(&event(data)).await;
    (result, instance.notes())
}

/// The well-behaved plugin: the built-in connector lists its users.
async fn assert_good_plugin_works(runtime: &Runtime) {
    let wasm = builtin("static-directory").unwrap().wasm;
    let manifest =
        Arc::new(Manifest::parse(&rollcall_runtime::manifest::embedded(wasm).unwrap()).unwrap());
    let plugin = runtime.load(wasm).unwrap();
    let config = json!({"users": [{"id": "u1", "email": "a@example.com"}, {"id": "u2"}]});
    let mut connector = runtime
        .connector(&plugin, context(manifest, &[], config))
        .await
        .unwrap();
    let page = connector.list_users(None, 10).await.unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|u| u.idp_id.as_str())
            .collect::<Vec<_>>(),
        ["u1", "u2"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_is_interrupted_at_its_deadline_while_other_calls_proceed() {
    let runtime = strict();
    let (plugin, manifest) = misbehaving(runtime);
    let mut looping = runtime
        .lifecycle(&plugin, context(manifest, &[], json!({})))
        .await
        .unwrap();
    let started = Instant::now();
    let spinner = tokio::spawn(async move {
        let result = looping.handle(&event(json!({"behavior": "loop"}))).await;
        let again = looping.handle(&event(json!({"behavior": "ok"}))).await;
        (result, again, started.elapsed())
    });
    // While the guest spins, other invocations are served promptly.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let other = Instant::now();
    assert_good_plugin_works(runtime).await;
    let (ok, _) = run(runtime, json!({"behavior": "ok"}), &[]).await;
    assert_eq!(ok.unwrap(), Outcome::Completed(Some("ok".into())));
    assert!(!spinner.is_finished(), "the loop should still be running");
    assert!(
        other.elapsed() < DEADLINE,
        "other work waited for the loop: {:?}",
        other.elapsed()
    );

    let (result, again, elapsed) = spinner.await.unwrap();
    let error = result.unwrap_err();
    assert_eq!(error, InvokeError::Deadline(DEADLINE));
    assert_eq!(
        error.to_string(),
        "plugin call exceeded its deadline of 1000 ms and was interrupted"
    );
    assert!(elapsed >= DEADLINE && elapsed < DEADLINE * 3, "{elapsed:?}");
    assert_eq!(
        again.unwrap_err(),
        InvokeError::Discarded,
        "a timed-out instance is never re-entered"
    );
    assert_good_plugin_works(runtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocating_a_gibibyte_hits_the_memory_limit() {
    let runtime = strict();
    let (result, _) = run(runtime, json!({"behavior": "alloc"}), &[]).await;
    let error = result.unwrap_err();
    assert_eq!(error, InvokeError::MemoryLimit(64 * 1024 * 1024));
    assert_eq!(
        error.to_string(),
        "plugin exceeded its memory limit of 64 MiB"
    );
    assert_good_plugin_works(runtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_is_not_granted_is_denied() {
    let runtime = strict();
    let (result, notes) = run(
        runtime,
        json!({"behavior": "http", "url": "https://notgranted.test/x"}),
        &["granted.test"],
    )
    .await;
    assert_eq!(
        result.unwrap_err(),
        InvokeError::Plugin(PluginError::Permanent(
            "request refused by the host sandbox (HttpRequestDenied)".into()
        ))
    );
    assert_eq!(
        notes,
        ["outgoing request denied: host 'notgranted.test' is not granted to this installation"]
    );
    let (result, notes) = run(
        runtime,
        json!({"behavior": "http", "url": "https://example.com/"}),
        &["example.com"],
    )
    .await;
    assert!(matches!(
        result,
        Err(InvokeError::Plugin(PluginError::Permanent(_)))
    ));
    assert_eq!(
        notes,
        ["outgoing request denied: host 'example.com' is not declared in the plugin's manifest"]
    );
    assert_good_plugin_works(runtime).await;
}

/// A one-request-at-a-time HTTP server on 127.0.0.1 that answers with the
/// request's Authorization header, or never answers when `stall`.
async fn local_server(stall: bool) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                if stall {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    return;
                }
                let request = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                let auth = request
                    .lines()
                    .find_map(|l| l.strip_prefix("authorization: "))
                    .unwrap_or("none")
                    .trim()
                    .to_owned();
                let body = format!("auth={auth}");
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_is_refused_without_the_operator_switch_and_reachable_with_it() {
    let port = local_server(false).await;
    let (result, notes) = run(
        strict(),
        json!({"behavior": "http", "url": format!("https://127.0.0.1:{port}/")}),
        &["127.0.0.1"],
    )
    .await;
    assert_eq!(
        result.unwrap_err(),
        InvokeError::Plugin(PluginError::Permanent(
            "request refused by the host sandbox (DestinationIpProhibited)".into()
        ))
    );
    assert_eq!(
        notes,
        [
            "outgoing request denied: 127.0.0.1 resolves to 127.0.0.1, a loopback address (operator switch ROLLCALL_PLUGIN_ALLOW_PRIVATE_NETWORK)"
        ]
    );
    // Plain http is refused too on the strict platform.
    let (_, notes) = run(
        strict(),
        json!({"behavior": "http", "url": format!("http://127.0.0.1:{port}/")}),
        &["127.0.0.1"],
    )
    .await;
    assert_eq!(
        notes,
        [
            "outgoing request denied: plain http is not allowed; use https (operator switch ROLLCALL_PLUGIN_ALLOW_PLAIN_HTTP)"
        ]
    );

    // With the switches, the request goes out and the bound credential is
    // injected by the host (the guest never sees the token).
    let runtime = permissive();
    let (plugin, manifest) = misbehaving(runtime);
    let mut ctx = context(manifest, &["127.0.0.1"], json!({}));
    ctx.credentials.insert(
        "api".into(),
        rollcall_runtime::credentials::Credential::Bearer {
            token: "t0ken".into(),
        },
    );
    let mut instance = runtime.lifecycle(&plugin, ctx).await.unwrap();
    let outcome = instance
        .handle(&event(
            json!({"behavior": "http", "url": format!("http://127.0.0.1:{port}/")}),
        ))
        .await;
    assert_eq!(
        outcome.unwrap(),
        Outcome::Completed(Some("200 auth=bearer t0ken".into()))
    );
    assert_good_plugin_works(strict()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upstream_times_out() {
    let port = local_server(true).await;
    let started = Instant::now();
    let (result, _) = run(
        permissive(),
        json!({"behavior": "http", "url": format!("http://127.0.0.1:{port}/")}),
        &["127.0.0.1"],
    )
    .await;
    assert_eq!(
        result.unwrap_err(),
        InvokeError::Plugin(PluginError::Transient(
            "HTTP request failed: HttpResponseTimeout".into()
        ))
    );
    assert!(
        started.elapsed() < DEADLINE,
        "the response timeout (300 ms) fires before the call deadline"
    );
    assert_good_plugin_works(permissive()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_is_recorded_and_the_instance_discarded() {
    let runtime = strict();
    let (plugin, manifest) = misbehaving(runtime);
    let mut instance = runtime
        .lifecycle(&plugin, context(manifest, &[], json!({})))
        .await
        .unwrap();
    let error = instance
        .handle(&event(json!({"behavior": "trap"})))
        .await
        .unwrap_err();
    let InvokeError::Trap(message) = &error else {
        panic!("expected a trap, got {error:?}")
    };
    assert!(
        message.starts_with("wasm trap: wasm `unreachable` instruction executed"),
        "{message}"
    );
    assert!(
        message.contains("misbehaving guest panicked on purpose"),
        "guest stderr is kept: {message}"
    );
    assert!(error.discards_instance());
    assert_eq!(
        instance
            .handle(&event(json!({"behavior": "ok"})))
            .await
            .unwrap_err(),
        InvokeError::Discarded
    );
    assert_good_plugin_works(runtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_quota_is_enforced() {
    let runtime = strict();
    let (result, notes) = run(runtime, json!({"behavior": "state-flood"}), &[]).await;
    let expected = "state quota exceeded: at most 20 keys per installation";
    assert_eq!(
        result.unwrap_err(),
        InvokeError::Plugin(PluginError::Permanent(expected.into()))
    );
    assert_eq!(notes, [expected]);
    assert_good_plugin_works(runtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_flood_is_capped() {
    let runtime = strict();
    let (result, notes) = run(runtime, json!({"behavior": "log-flood"}), &[]).await;
    assert_eq!(result.unwrap(), Outcome::Completed(Some("logged".into())));
    assert_eq!(
        notes[0],
        "log rate limit reached: further lines are dropped"
    );
    let dropped: u64 = notes[1].split(' ').next().unwrap().parse().unwrap();
    assert!((9_940..=9_950).contains(&dropped), "{notes:?}");
    assert!(notes[1].ends_with("log lines dropped by the rate limit"));
    assert_good_plugin_works(runtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_need_the_declared_capability() {
    let runtime = strict();
    let (plugin, manifest) = misbehaving(runtime);
    let mut ctx = context(manifest.clone(), &[], json!({}));
    ctx.secrets.insert("token".into(), "s3cret".into());
    let mut instance = runtime.lifecycle(&plugin, ctx.clone()).await.unwrap();
    let outcome = instance
        .handle(&event(json!({"behavior": "secret", "name": "token"})))
        .await;
    assert_eq!(outcome.unwrap(), Outcome::Completed(Some("s3cret".into())));
    let mut without = (*manifest).clone();
    without.capabilities.clear();
    ctx.manifest = Arc::new(without);
    let mut instance = runtime.lifecycle(&plugin, ctx).await.unwrap();
    let error = instance
        .handle(&event(json!({"behavior": "secret", "name": "token"})))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        InvokeError::Plugin(PluginError::Permanent(
            "denied by the host: the plugin's manifest does not declare the 'secrets' capability"
                .into()
        ))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_invocations_all_complete() {
    let runtime = strict();
    let (plugin, manifest) = misbehaving(runtime);
    let mut tasks = Vec::new();
    for i in 0..200 {
        let plugin = plugin.clone();
        let ctx = context(manifest.clone(), &[], json!({"tag": format!("call-{i}")}));
        tasks.push(tokio::spawn(async move {
            let mut instance = strict().lifecycle(&plugin, ctx).await?;
            instance.handle(&event(json!({"behavior": "ok"}))).await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(
            task.await.unwrap().unwrap(),
            Outcome::Completed(Some(format!("call-{i}")))
        );
    }
}
