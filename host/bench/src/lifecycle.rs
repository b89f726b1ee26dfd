//! Scenario `lifecycle`: events per second run through a lifecycle plugin
//! (the built-in `http-action`, posting each event to a local receiver) by
//! the dispatcher — fresh sandbox per event, execution log written — and
//! the same with two installations on one event stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use axum::routing::post;
use rollcall_core::directory_user::{UserInput, UserState};
use rollcall_core::webhook::RetrySchedule;
use rollcall_runtime::registry::{InstallationRequest, create_installation, install_builtins};
use rollcall_runtime::{Runtime, RuntimeConfig, SandboxPolicy};
use rollcall_store::directory_state::Change;
use rollcall_sync::{LifecycleDispatcher, LifecycleSettings};
use serde_json::{Map, json};

use crate::report::Report;
use crate::stores::{self, Backend};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Events in the backlog that is drained.
    #[arg(long, default_value_t = 5_000)]
    events: usize,
    /// Executions running at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Which backends: sqlite, postgres or both.
    #[arg(long, default_value = "sqlite")]
    backend: String,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
}

fn user(i: usize) -> UserInput {
    UserInput {
        idp_id: format!("00u{i:08}"),
        email: Some(format!("user{i}@example.com")),
        first_name: Some(format!("First{i}")),
        last_name: None,
        username: None,
        state: UserState::Active,
        roles: vec![],
        custom_attributes: Map::new(),
        raw_attributes: Map::new(),
    }
}

pub async fn run(args: Args, report: &mut Report) -> Result<()> {
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let runtime = Arc::new(Runtime::new(RuntimeConfig {
        policy: SandboxPolicy {
            allow_private_network: true,
            allow_plain_http: true,
            ..SandboxPolicy::default()
        },
        cache_dir: Some(std::env::temp_dir().join("rollcall-bench-plugin-cache")),
    })?);
    for backend in Backend::parse_list(&args.backend)? {
        for installations in [1usize, 2] {
            let name = format!("lifecycle/{}/{installations}x", backend.name());
            let scratch = stores::open(backend, &args.postgres_url).await?;
            let store = scratch.store.clone();
            let created = stores::bench_directory(&store).await?;
            install_builtins(&runtime, &store).await?;
            for _ in 0..installations {
                create_installation(
                    &store,
                    InstallationRequest {
                        plugin: "http-action@0.2.0".into(),
                        organization_id: created.directory.organization_id.clone(),
                        directory_id: None,
                        config: json!({"url": url}).as_object().cloned().unwrap_or_default(),
                        grants: serde_json::from_value(json!({"hosts": ["127.0.0.1"]}))?,
                        secrets: Map::new(),
                        credentials: Map::new(),
                        events: Vec::new(),
                    },
                )
                .await?;
            }
            received.store(0, Ordering::Relaxed);
            let changes: Vec<Change> = (0..args.events)
                .map(|i| Change::UpsertUser(user(i)))
                .collect();
            for chunk in changes.chunks(500) {
                store
                    .apply_changes(&created.directory.id, chunk.to_vec())
                    .await?;
            }
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let dispatcher = LifecycleDispatcher::new(
                store.clone(),
                runtime.clone(),
                LifecycleSettings {
                    retry: RetrySchedule::default(),
                    concurrency: args.concurrency,
                    poll_interval: Duration::from_millis(20),
                },
            );
            let started = Instant::now();
            let task = tokio::spawn(dispatcher.run(stopped));
            let want = args.events * installations;
            let deadline = Instant::now() + Duration::from_secs(600);
            while received.load(Ordering::Relaxed) < want {
                if Instant::now() > deadline {
                    bail!("fewer than {want} executions within 10 minutes");
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let secs = started.elapsed().as_secs_f64();
            report.add(
                &name,
                "executions_per_s",
                want as f64 / secs,
                "executions/s",
            );
            let _ = stop.send(true);
            let _ = task.await;
            scratch.finish().await?;
        }
    }
    Ok(())
}
