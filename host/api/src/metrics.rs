//! Prometheus metrics: HTTP requests by route/method/status, latency
//! histograms by route/method, and database-pool gauges, rendered in the
//! text exposition format at `/metrics`.
//!
//! Routes are labelled by their matched template (`/api/v1/directories/{id}`),
//! never by the raw path, so label cardinality stays bounded.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Counts of one route and method.
#[derive(Default)]
struct MethodStats {
    statuses: BTreeMap<u16, u64>,
    latency: Histogram,
}

/// Route template → method → stats. Nested so that recording a request
/// looks keys up by `&str` and allocates only for a pair never seen before.
#[derive(Default)]
struct Inner {
    routes: BTreeMap<String, BTreeMap<String, MethodStats>>,
}

impl MethodStats {
    fn record(&mut self, status: u16, seconds: f64) {
        *self.statuses.entry(status).or_default() += 1;
        let h = &mut self.latency;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }
}

pub struct Metrics {
    inner: Mutex<Inner>,
    started: Instant,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            inner: Mutex::default(),
            started: Instant::now(),
        }
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(stats) = inner.routes.get_mut(route).and_then(|m| m.get_mut(method)) {
            stats.record(status, seconds);
            return;
        }
        let mut stats = MethodStats::default();
        stats.record(status, seconds);
        inner
            .routes
            .entry(route.to_owned())
            .or_default()
            .insert(method.to_owned(), stats);
    }

    pub fn render(&self, state: &AppState) -> String {
        let mut out = String::new();
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str(
            "# HELP rollcall_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE rollcall_http_requests_total counter\n");
        for (route, methods) in &inner.routes {
            for (method, stats) in methods {
                for (status, n) in &stats.statuses {
                    let _ = writeln!(
                        out,
                        "rollcall_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                        escape(route),
                        escape(method)
                    );
                }
            }
        }
        out.push_str("# HELP rollcall_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE rollcall_http_request_duration_seconds histogram\n");
        for (route, methods) in &inner.routes {
            for (method, stats) in methods {
                let h = &stats.latency;
                let labels = format!("route=\"{}\",method=\"{}\"", escape(route), escape(method));
                for (bound, count) in BUCKETS.iter().zip(h.counts) {
                    let _ = writeln!(
                        out,
                        "rollcall_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                    );
                }
                let _ = writeln!(
                    out,
                    "rollcall_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "rollcall_http_request_duration_seconds_sum{{{labels}}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "rollcall_http_request_duration_seconds_count{{{labels}}} {}",
                    h.count
                );
            }
        }
        drop(inner);
        let pool = state.store.pool_stats();
        let backend = state.store.kind().as_str();
        out.push_str("# HELP rollcall_db_pool_connections Open database connections by state.\n");
        out.push_str("# TYPE rollcall_db_pool_connections gauge\n");
        let _ = writeln!(
            out,
            "rollcall_db_pool_connections{{backend=\"{backend}\",state=\"idle\"}} {}",
            pool.idle
        );
        let _ = writeln!(
            out,
            "rollcall_db_pool_connections{{backend=\"{backend}\",state=\"in_use\"}} {}",
            pool.size.saturating_sub(pool.idle)
        );
        out.push_str("# HELP rollcall_db_pool_max_connections Configured pool size.\n");
        out.push_str("# TYPE rollcall_db_pool_max_connections gauge\n");
        let _ = writeln!(
            out,
            "rollcall_db_pool_max_connections{{backend=\"{backend}\"}} {}",
            pool.max
        );
        out.push_str("# HELP rollcall_uptime_seconds Seconds since the server started.\n");
        out.push_str("# TYPE rollcall_uptime_seconds gauge\n");
        let _ = writeln!(
            out,
            "rollcall_uptime_seconds {}",
            self.started.elapsed().as_secs_f64()
        );
        out
    }
}

/// Middleware: time every request and count it under its route template.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // MatchedPath and Method clone without allocating.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let response = next.run(request).await;
    state.metrics.observe(
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        method.as_str(),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

pub async fn endpoint(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&state),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe("/x", "GET", 200, 0.003);
        m.observe("/x", "GET", 500, 2.0);
        m.observe("/y", "GET", 200, 0.003);
        let inner = m.inner.lock().unwrap();
        let stats = &inner.routes["/x"]["GET"];
        let h = &stats.latency;
        assert_eq!(h.count, 2);
        assert_eq!(h.counts[0], 0); // 1 ms
        assert_eq!(h.counts[2], 1); // 5 ms
        assert_eq!(h.counts[BUCKETS.len() - 1], 2); // 10 s
        assert_eq!(stats.statuses[&500], 1);
        assert_eq!(stats.statuses[&200], 1);
        assert_eq!(inner.routes["/y"]["GET"].latency.count, 1);
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape("a\"b\\c\n"), "a\\\"b\\\\c\\n");
    }
}
