//! The per-directory SCIM request log: every SCIM exchange, with passwords
//! and other secrets redacted and bodies truncated, written in batches by a
//! background task (never on the request's path) and pruned to the newest
//! entries per directory. Bodies are redacted by that task too, and only
//! for the entries it writes. Support reads it at
//! `GET /api/v1/directories/{id}/scim_requests`.
//!
//! The log is a diagnostic aid, not an audit trail: entries still queued
//! when the process stops are lost, and when the queue is full new entries
//! are dropped rather than slowing SCIM down.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rollcall_core::Timestamp;
use rollcall_core::scim::error::ScimError;
use rollcall_store::{ScimRequestLog, Store, newest_per_directory};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::AppState;
use crate::scim::context::route_parts;
use crate::scim::respond::ScimFailure;

/// Bytes of each body kept in the log.
const MAX_LOGGED_BODY: usize = 8 * 1024;
/// Entries waiting to be written before new ones are dropped.
const QUEUE: usize = 10_000;
/// Most entries per write; of each directory only the newest `keep` of
/// them are written (older ones would be pruned at once).
const FLUSH_MAX: usize = 2_000;
/// Largest response body the middleware buffers (bigger lists pass unlogged).
const MAX_BUFFERED_RESPONSE: usize = 16 * 1024 * 1024;

/// An exchange waiting in the queue, its bodies not yet rendered.
struct Pending {
    /// Everything but the bodies.
    entry: ScimRequestLog,
    request: Captured,
    response: Captured,
}

/// A body as the middleware captured it. Bodies up to [`MAX_LOGGED_BODY`]
/// are kept as the bytes sent (a reference to the same buffer, no copy) and
/// redacted only if their entry is written: under load most queued entries
/// never are, as only the newest `keep` per directory of a batch survive.
/// Bigger bodies are rendered at once, so a queued entry never holds more
/// than twice that many bytes.
enum Captured {
    Raw(Bytes),
    Rendered(Option<String>),
}

impl Captured {
    fn new(bytes: Bytes) -> Self {
        if bytes.len() > MAX_LOGGED_BODY {
            Captured::Rendered(logged_body(&bytes))
        } else {
            Captured::Raw(bytes)
        }
    }

    fn render(&self) -> Option<String> {
        match self {
            Captured::Raw(bytes) => logged_body(bytes),
            Captured::Rendered(text) => text.clone(),
        }
    }
}

pub struct RequestLog {
    sender: mpsc::Sender<Pending>,
    receiver: Mutex<Option<mpsc::Receiver<Pending>>>,
    started: OnceLock<()>,
    keep: i64,
}

impl RequestLog {
    pub fn new(keep: i64) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        RequestLog {
            sender,
            receiver: Mutex::new(Some(receiver)),
            started: OnceLock::new(),
            keep,
        }
    }

    fn submit(&self, store: &Store, entry: Pending) {
        if self.keep <= 0 {
            return;
        }
        self.started.get_or_init(|| {
            let receiver = self
                .receiver
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(rx) = receiver {
                tokio::spawn(flush_loop(store.clone(), rx, self.keep));
            }
        });
        let _ = self.sender.try_send(entry);
    }
}

async fn flush_loop(store: Store, mut rx: mpsc::Receiver<Pending>, keep: i64) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
        while batch.len() < FLUSH_MAX {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(e)) => batch.push(e),
                _ => break,
            }
        }
        let batch: Vec<ScimRequestLog> =
            newest_per_directory(&batch, keep, |p| p.entry.directory_id.as_str())
                .into_iter()
                .map(|p| ScimRequestLog {
                    request_body: p.request.render(),
                    response_body: p.response.render(),
                    ..p.entry.clone()
                })
                .collect();
        if let Err(e) = store.append_scim_requests(&batch, keep).await {
            tracing::warn!(error = %e, entries = batch.len(), "could not write the SCIM request log");
        }
    }
}

fn names_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("password") || name.contains("secret")
}

/// Replaces the value of every key containing "password" or "secret", and
/// the `value` of a PATCH operation whose `path` names one
/// (`{"op":"replace","path":"password","value":"…"}`).
fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let secret_path = map.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case("path") && v.as_str().is_some_and(names_secret)
            });
            for (k, v) in map.iter_mut() {
                if names_secret(k) || (secret_path && k.eq_ignore_ascii_case("value")) {
                    *v = Value::String("[redacted]".into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Whether a body might name a secret: it contains "password" or "secret"
/// in any case, or a `\u` escape that could spell one. Bodies that cannot
/// are logged as sent, without a parse.
fn may_hold_secret(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\\u")
        || bytes
            .windows(6)
            .any(|w| w.eq_ignore_ascii_case(b"secret") || w.eq_ignore_ascii_case(b"passwo"))
}

/// A body as the log keeps it: secrets redacted, at most
/// [`MAX_LOGGED_BODY`] bytes.
fn logged_body(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    let parsed = if may_hold_secret(bytes) {
        serde_json::from_slice::<Value>(bytes).ok()
    } else {
        None
    };
    let text = match parsed {
        Some(mut v) => {
            redact(&mut v);
            v.to_string()
        }
        None => String::from_utf8_lossy(bytes).into_owned(),
    };
    let mut end = text.len().min(MAX_LOGGED_BODY);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(if end < text.len() {
        format!("{}…[truncated]", &text[..end])
    } else {
        text
    })
}

/// Middleware around every SCIM route.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (version, directory) = route_parts(request.uri().path());
    let directory = directory.map(str::to_owned);
    let method = request.method().as_str().to_owned();
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (parts, body) = request.into_parts();
    let limit = state
        .config
        .max_body_bytes
        .max(state.config.scim.bulk_max_payload_bytes);
    let bytes = match to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return ScimFailure::new(
                ScimError::new(
                    413,
                    None,
                    "request body is larger than the configured limit",
                ),
                version,
            )
            .into_response();
        }
    };
    let request_body = Captured::new(bytes.clone());
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let Some(directory_id) = directory else {
        return response;
    };
    let status = response.status().as_u16();
    let (parts, body) = response.into_parts();
    let (response, response_body) = match to_bytes(body, MAX_BUFFERED_RESPONSE).await {
        Ok(b) => (
            Response::from_parts(parts, Body::from(b.clone())),
            Captured::new(b),
        ),
        Err(_) => (
            Response::from_parts(parts, Body::empty()),
            Captured::Rendered(None),
        ),
    };
    state.scim.request_log.submit(
        &state.store,
        Pending {
            entry: ScimRequestLog {
                directory_id,
                created_at: Timestamp::now(),
                method,
                path,
                status: i64::from(status),
                duration_us: started.elapsed().as_micros() as i64,
                user_agent,
                request_body: None,
                response_body: None,
            },
            request: request_body,
            response: response_body,
        },
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_are_redacted_and_bodies_truncated() {
        let body = json!({"userName": "a", "password": "hunter2", "x": [{"clientSecret": "s"}],
            "Operations": [{"op": "replace", "Path": "Password", "value": "by-path"}]})
        .to_string();
        let logged = logged_body(body.as_bytes()).unwrap();
        assert!(
            !logged.contains("hunter2") && !logged.contains("\"s\"") && !logged.contains("by-path"),
            "{logged}"
        );
        assert!(logged.contains("[redacted]"));
        let escaped = r#"{"userName":"a","p\u0061ssword":"hunter3"}"#;
        let logged = logged_body(escaped.as_bytes()).unwrap();
        assert!(!logged.contains("hunter3"), "{logged}");
        // Bodies that cannot hold a secret are kept exactly as sent.
        let plain = "{ \"userName\": \"a@x.com\" }";
        assert_eq!(logged_body(plain.as_bytes()).unwrap(), plain);
        let big = "x".repeat(MAX_LOGGED_BODY * 2);
        assert!(
            logged_body(big.as_bytes())
                .unwrap()
                .ends_with("[truncated]")
        );
    }

    #[test]
    fn queued_bodies_are_redacted_when_rendered() {
        let small = Captured::new(Bytes::from_static(br#"{"password":"hunter2"}"#));
        assert!(matches!(small, Captured::Raw(_)));
        let text = small.render().unwrap();
        assert!(
            text.contains("[redacted]") && !text.contains("hunter2"),
            "{text}"
        );
        // Big bodies are rendered when captured, so the queue holds at most
        // MAX_LOGGED_BODY bytes of them.
        let big = format!(
            r#"{{"password":"hunter2","x":"{}"}}"#,
            "y".repeat(MAX_LOGGED_BODY)
        );
        let big = Captured::new(Bytes::from(big));
        assert!(matches!(big, Captured::Rendered(Some(_))));
        let text = big.render().unwrap();
        assert!(!text.contains("hunter2") && text.ends_with("[truncated]"));
        assert!(Captured::new(Bytes::new()).render().is_none());
    }
}
