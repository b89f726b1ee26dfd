//! Scenario `scim`: the real HTTP server (in this process, on a loopback
//! socket) driven by concurrent SCIM clients: user creates with unique
//! userNames, `userName eq` lookups, and list pages of 100. Reports
//! throughput and latency percentiles per backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rollcall_api::scim::ScimSettings;
use rollcall_api::{ApiConfig, AppState};
use rollcall_store::Store;
use serde_json::json;

use crate::report::Report;
use crate::stores::{self, Backend};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Users created (then looked up).
    #[arg(long, default_value_t = 20_000)]
    users: usize,
    /// `userName eq` lookups.
    #[arg(long, default_value_t = 40_000)]
    lookups: usize,
    /// List pages of 100.
    #[arg(long, default_value_t = 2_000)]
    pages: usize,
    /// sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    backend: String,
    /// PostgreSQL server (a scratch database is created and dropped).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
}

struct Target {
    base: String,
    token: String,
}

async fn start(store: Store) -> Result<Target> {
    let created = stores::bench_directory(&store).await?;
    let (_, token) = created.token.context("SCIM directory without token")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let state = AppState::new(
        store,
        ApiConfig {
            public_url: format!("http://{addr}"),
            max_body_bytes: 1024 * 1024,
            scim: ScimSettings {
                rate_limit_per_second: 0,
                ..ScimSettings::default()
            },
            webhooks_allow_http: false,
        },
        std::sync::Arc::new(rollcall_runtime::Runtime::new(
            rollcall_runtime::RuntimeConfig {
                policy: rollcall_runtime::SandboxPolicy::default(),
                cache_dir: None,
            },
        )?),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, rollcall_api::app(state)).await;
    });
    Ok(Target {
        base: format!("http://{addr}/scim/v2/{}", created.directory.id),
        token,
    })
}

/// Runs `total` requests over `clients` workers; returns (requests/s, p50 ms, p99 ms).
async fn drive<F, Fut>(clients: usize, total: usize, request: F) -> Result<(f64, f64, f64)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let request = Arc::new(request);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..clients {
        let next = next.clone();
        let request = request.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let t = Instant::now();
                request(i).await?;
                latencies.push(t.elapsed());
            }
        }));
    }
    let mut all: Vec<Duration> = Vec::with_capacity(total);
    for w in workers {
        all.extend(w.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Ok((total as f64 / elapsed, pct(0.50), pct(0.99)))
}

async fn measure(store: Store, name: &str, args: &Args, report: &mut Report) -> Result<()> {
    let target = Arc::new(start(store).await?);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let (c, t) = (client.clone(), target.clone());
    let (rate, p50, p99) = drive(args.clients, args.users, move |i| {
        let (c, t) = (c.clone(), t.clone());
        async move {
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": format!("user{i}@example.com"),
                "externalId": format!("ext-{i}"),
                "name": {"givenName": format!("First{i}"), "familyName": "Bench"},
                "emails": [{"value": format!("user{i}@example.com"), "type": "work", "primary": true}],
                "active": true
            });
            let r = c.post(format!("{}/Users", t.base)).bearer_auth(&t.token).json(&body).send().await?;
            if r.status().as_u16() != 201 {
                bail!("create answered {}: {}", r.status(), r.text().await.unwrap_or_default());
            }
            Ok(())
        }
    })
    .await?;
    report.add("scim", &format!("{name}_create_per_s"), rate, "req/s");
    report.add("scim", &format!("{name}_create_p50"), p50, "ms");
    report.add("scim", &format!("{name}_create_p99"), p99, "ms");

    let users = args.users;
    let (c, t) = (client.clone(), target.clone());
    let (rate, p50, p99) = drive(args.clients, args.lookups, move |i| {
        let (c, t) = (c.clone(), t.clone());
        async move {
            let k = (i * 7919) % users;
            let url = format!(
                "{}/Users?filter=userName%20eq%20%22user{k}%40example.com%22",
                t.base
            );
            let r = c.get(url).bearer_auth(&t.token).send().await?;
            let body: serde_json::Value = r.json().await?;
            if body["totalResults"] != 1 {
                bail!("lookup of user{k} found {}", body["totalResults"]);
            }
            Ok(())
        }
    })
    .await?;
    report.add("scim", &format!("{name}_lookup_per_s"), rate, "req/s");
    report.add("scim", &format!("{name}_lookup_p99"), p99, "ms");
    let _ = p50;

    let (c, t) = (client.clone(), target.clone());
    let (rate, _, p99) = drive(args.clients, args.pages, move |i| {
        let (c, t) = (c.clone(), t.clone());
        async move {
            let start = (i * 100) % users.max(1) + 1;
            let url = format!("{}/Users?startIndex={start}&count=100", t.base);
            let r = c.get(url).bearer_auth(&t.token).send().await?;
            if !r.status().is_success() {
                bail!("list answered {}", r.status());
            }
            let _ = r.bytes().await?;
            Ok(())
        }
    })
    .await?;
    report.add("scim", &format!("{name}_list100_per_s"), rate, "req/s");
    report.add("scim", &format!("{name}_list100_p99"), p99, "ms");
    Ok(())
}

pub async fn run(args: Args, report: &mut Report) -> Result<()> {
    for backend in Backend::parse_list(&args.backend)? {
        let scratch = stores::open(backend, &args.postgres_url).await?;
        let result = measure(scratch.store.clone(), backend.name(), &args, report).await;
        scratch.finish().await?;
        result?;
    }
    Ok(())
}
