//! Scenario `scim`: the real HTTP server (in this process, on a loopback
//! socket) driven by concurrent SCIM clients: user creates with unique
//! userNames, `userName eq` lookups, and list pages of 100. Reports
//! throughput and latency percentiles per backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::body::Bytes;
use axum::http::Method;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rollcall_api::scim::ScimSettings;
use rollcall_api::{ApiConfig, AppState};
use rollcall_store::{ScimQuery, Store};
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
    /// Database connections (as `ROLLCALL_DATABASE_MAX_CONNECTIONS`).
    #[arg(long, default_value_t = 16)]
    connections: u32,
    /// SCIM request-log entries kept per directory (as
    /// `ROLLCALL_SCIM_REQUEST_LOG_SIZE`; 0 turns the log off).
    #[arg(long, default_value_t = 200)]
    request_log: i64,
    /// PostgreSQL server (a scratch database is created and dropped).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
}

struct Target {
    addr: std::net::SocketAddr,
    /// `/scim/v2/{directory_id}`.
    path: String,
    directory_id: String,
    token: String,
}

async fn start(store: Store, args: &Args) -> Result<Target> {
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
                request_log_keep: args.request_log,
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
        addr,
        path: format!("/scim/v2/{}", created.directory.id),
        directory_id: created.directory.id,
        token,
    })
}

/// One client's keep-alive HTTP/1 connection to the server. The load
/// generator shares the machine's cores with the server, so it is kept as
/// light as possible: no pool, no redirects, bodies as bytes.
struct Conn {
    send: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    authorization: String,
}

impl Conn {
    async fn open(target: &Target) -> Result<Conn> {
        let stream = tokio::net::TcpStream::connect(target.addr).await?;
        stream.set_nodelay(true)?;
        let (send, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Conn {
            send,
            authorization: format!("Bearer {}", target.token),
        })
    }

    /// Sends a request; returns the status and the body.
    async fn call(
        &mut self,
        method: Method,
        uri: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Bytes)> {
        self.send.ready().await?;
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "127.0.0.1")
            .header("authorization", &self.authorization);
        if body.is_some() {
            request = request.header("content-type", "application/scim+json");
        }
        let request = request.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let response = self.send.send_request(request).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }
}

/// Runs `total` requests over `clients` workers, each on its own
/// connection; returns (requests/s, p50 ms, p99 ms).
async fn drive<F>(
    target: &Arc<Target>,
    clients: usize,
    total: usize,
    request: F,
) -> Result<(f64, f64, f64)>
where
    F: Fn(usize) -> (Method, String, Option<Vec<u8>>, u16) + Send + Sync + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let request = Arc::new(request);
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(Conn::open(target).await?);
    }
    let started = Instant::now();
    let mut workers = Vec::new();
    for mut conn in conns {
        let next = next.clone();
        let request = request.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let (method, uri, body, expected) = request(i);
                let t = Instant::now();
                let (status, bytes) = conn.call(method, &uri, body).await?;
                latencies.push(t.elapsed());
                if status != expected {
                    bail!(
                        "{uri} answered {status}: {}",
                        String::from_utf8_lossy(&bytes)
                    );
                }
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
    let target = Arc::new(start(store.clone(), args).await?);

    // The floor: an authenticated SCIM request that reads no directory data.
    let base = target.path.clone();
    let (rate, _, p99) = drive(&target, args.clients, args.lookups, move |_| {
        (
            Method::GET,
            format!("{base}/ServiceProviderConfig"),
            None,
            200,
        )
    })
    .await?;
    report.add("scim", &format!("{name}_discovery_per_s"), rate, "req/s");
    report.add("scim", &format!("{name}_discovery_p99"), p99, "ms");

    let base = target.path.clone();
    let (rate, p50, p99) = drive(&target, args.clients, args.users, move |i| {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("user{i}@example.com"),
            "externalId": format!("ext-{i}"),
            "name": {"givenName": format!("First{i}"), "familyName": "Bench"},
            "emails": [{"value": format!("user{i}@example.com"), "type": "work", "primary": true}],
            "active": true
        });
        (
            Method::POST,
            format!("{base}/Users"),
            Some(body.to_string().into_bytes()),
            201,
        )
    })
    .await?;
    report.add("scim", &format!("{name}_create_per_s"), rate, "req/s");
    report.add("scim", &format!("{name}_create_p50"), p50, "ms");
    report.add("scim", &format!("{name}_create_p99"), p99, "ms");
    // Every create was acknowledged as durable: count what is stored.
    let stored = store
        .scim_list_users(
            &target.directory_id,
            &ScimQuery {
                start_index: 1,
                count: 0,
                sort: None,
                descending: false,
                pushdown: None,
                filtered: false,
                with_groups: false,
            },
            &|_| true,
            &|_| String::new(),
        )
        .await?
        .total;
    if stored != args.users as u64 {
        bail!("{} users acknowledged, {stored} stored", args.users);
    }

    // Lookups check the body too: exactly one user, the one asked for.
    let users = args.users;
    let base = target.path.clone();
    let check = target.clone();
    let (rate, p50, p99) = drive(&target, args.clients, args.lookups, move |i| {
        let k = (i * 7919) % users;
        (
            Method::GET,
            format!("{base}/Users?filter=userName%20eq%20%22user{k}%40example.com%22"),
            None,
            200,
        )
    })
    .await?;
    report.add("scim", &format!("{name}_lookup_per_s"), rate, "req/s");
    report.add("scim", &format!("{name}_lookup_p50"), p50, "ms");
    report.add("scim", &format!("{name}_lookup_p99"), p99, "ms");
    let mut conn = Conn::open(&check).await?;
    let (_, body) = conn
        .call(
            Method::GET,
            &format!(
                "{}/Users?filter=userName%20eq%20%22user7%40example.com%22",
                check.path
            ),
            None,
        )
        .await?;
    let body: serde_json::Value = serde_json::from_slice(&body)?;
    if body["totalResults"] != 1 || body["Resources"][0]["userName"] != "user7@example.com" {
        bail!("lookup answered {body}");
    }

    let base = target.path.clone();
    let (rate, _, p99) = drive(&target, args.clients, args.pages, move |i| {
        let start = (i * 100) % users.max(1) + 1;
        (
            Method::GET,
            format!("{base}/Users?startIndex={start}&count=100"),
            None,
            200,
        )
    })
    .await?;
    report.add("scim", &format!("{name}_list100_per_s"), rate, "req/s");
    report.add("scim", &format!("{name}_list100_p99"), p99, "ms");
    Ok(())
}

pub async fn run(args: Args, report: &mut Report) -> Result<()> {
    for backend in Backend::parse_list(&args.backend)? {
        let scratch = stores::open_with(backend, &args.postgres_url, args.connections).await?;
        let result = measure(scratch.store.clone(), backend.name(), &args, report).await;
        scratch.finish().await?;
        result?;
    }
    Ok(())
}
