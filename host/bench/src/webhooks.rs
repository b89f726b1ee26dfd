//! Scenario `webhooks`: events per second delivered from the event log to a
//! local receiver (signed, recorded in the delivery log), and end-to-end
//! latency (event committed → request received) under a steady stream.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use rollcall_core::Timestamp;
use rollcall_core::directory_user::{UserInput, UserState};
use rollcall_core::webhook::RetrySchedule;
use rollcall_store::directory_state::Change;
use rollcall_store::{NewWebhookEndpoint, Store};
use rollcall_sync::{WebhookSettings, WebhookWorker};
use serde_json::{Map, Value};

use crate::report::Report;
use crate::stores::{self, Backend};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Events in the backlog that is drained.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Events per second in the latency phase.
    #[arg(long, default_value_t = 1_000)]
    rate: usize,
    /// Seconds of the latency phase.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Requests in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Which backends: sqlite, postgres or both.
    #[arg(long, default_value = "sqlite")]
    backend: String,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
}

/// What the receiver saw: per request, the events in it and their latency.
#[derive(Default)]
struct Seen {
    events: usize,
    latencies_us: Vec<i64>,
}

async fn receive(State(seen): State<Arc<Mutex<Seen>>>, body: Bytes) -> &'static str {
    let now = Timestamp::now().as_micros();
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let events: Vec<&Value> = match value.get("data").and_then(Value::as_array) {
        Some(list) if value["object"] == "list" => list.iter().collect(),
        _ => vec![&value],
    };
    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    for e in events {
        seen.events += 1;
        if let Some(t) = e["created_at"].as_str().and_then(Timestamp::parse_rfc3339) {
            seen.latencies_us.push(now - t.as_micros());
        }
    }
    "ok"
}

fn user(i: usize) -> UserInput {
    UserInput {
        idp_id: format!("00u{i:08}"),
        email: Some(format!("user{i}@example.com")),
        first_name: Some(format!("First{i}")),
        last_name: Some(format!("Last{i}")),
        username: None,
        state: UserState::Active,
        roles: vec![],
        custom_attributes: Map::new(),
        raw_attributes: Map::new(),
    }
}

async fn setup(store: &Store, url: &str, batch_size: u32) -> Result<String> {
    let created = stores::bench_directory(store).await?;
    store
        .create_webhook_endpoint(&NewWebhookEndpoint {
            organization_id: created.directory.organization_id.clone(),
            url: url.to_owned(),
            batch_size: Some(batch_size),
            allow_http: true,
            ..Default::default()
        })
        .await?;
    Ok(created.directory.id)
}

async fn wait_for(seen: &Arc<Mutex<Seen>>, n: usize, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    while seen.lock().unwrap_or_else(|e| e.into_inner()).events < n {
        if Instant::now() > deadline {
            bail!("the receiver got fewer than {n} events within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

pub async fn run(args: Args, report: &mut Report) -> Result<()> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let app = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let settings = WebhookSettings {
        retry: RetrySchedule::default(),
        concurrency: args.concurrency,
        request_timeout: Duration::from_secs(15),
        poll_interval: Duration::from_millis(20),
        allow_private_network: true,
        allow_http: true,
    };
    for backend in Backend::parse_list(&args.backend)? {
        for batch_size in [1u32, 50] {
            let name = if batch_size == 1 {
                format!("webhooks/{}", backend.name())
            } else {
                format!("webhooks/{}/batch{batch_size}", backend.name())
            };
            let scratch = stores::open(backend, &args.postgres_url).await?;
            let store = scratch.store.clone();
            let dir = setup(&store, &url, batch_size).await?;
            *seen.lock().unwrap_or_else(|e| e.into_inner()) = Seen::default();

            // Backlog: events first, then drain them.
            let changes: Vec<Change> = (0..args.events)
                .map(|i| Change::UpsertUser(user(i)))
                .collect();
            for chunk in changes.chunks(500) {
                store.apply_changes(&dir, chunk.to_vec()).await?;
            }
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let worker = WebhookWorker::new(store.clone(), settings.clone())?;
            let started = Instant::now();
            let task = tokio::spawn(worker.run(stopped));
            wait_for(&seen, args.events, Duration::from_secs(600)).await?;
            let secs = started.elapsed().as_secs_f64();
            report.add(
                &name,
                "backlog_delivered_per_s",
                args.events as f64 / secs,
                "events/s",
            );

            if batch_size == 1 {
                // Steady stream: latency from commit to receipt.
                seen.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .latencies_us
                    .clear();
                let total = args.rate * args.seconds as usize;
                let per_tick = (args.rate / 100).max(1);
                let mut tick = tokio::time::interval(Duration::from_millis(10));
                let mut i = args.events;
                while i < args.events + total {
                    tick.tick().await;
                    let chunk: Vec<Change> = (i..i + per_tick)
                        .map(|j| Change::UpsertUser(user(j)))
                        .collect();
                    store.apply_changes(&dir, chunk).await?;
                    i += per_tick;
                }
                wait_for(&seen, i, Duration::from_secs(120)).await?;
                let mut lat = seen
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .latencies_us
                    .clone();
                lat.sort_unstable();
                report.add(&name, "stream_rate", args.rate as f64, "events/s");
                report.add(&name, "e2e_latency_p50", percentile(&lat, 0.50), "ms");
                report.add(&name, "e2e_latency_p99", percentile(&lat, 0.99), "ms");
            }
            let _ = stop.send(true);
            let _ = task.await;
            scratch.finish().await?;
        }
    }
    Ok(())
}
