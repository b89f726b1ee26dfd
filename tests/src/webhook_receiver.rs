//! An HTTP receiver for tests (webhooks, lifecycle actions' calls): an
//! axum server on 127.0.0.1:0 that records every request and answers per a
//! switchable mode.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ok,
    /// Fails (503) the first request of every `webhook-id` (else
    /// `idempotency-key`), then accepts.
    FailFirst,
    /// Like `FailFirst`, answering this status to the first request.
    FailFirstWith(u16),
    /// Always answers this status.
    Status(u16),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    mode: Option<Mode>,
    received: Vec<Received>,
    seen: HashMap<String, u32>,
}

#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Mutex<Inner>>,
    pub url: String,
}

impl Receiver {
    pub async fn start(mode: Mode) -> Receiver {
        let inner = Arc::new(Mutex::new(Inner {
            mode: Some(mode),
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            inner,
            url: format!("http://{addr}/hook"),
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        self.inner.lock().unwrap().mode = Some(mode);
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Requests answered 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }

    /// Waits until `check` holds on the received requests (panics after `timeout`).
    pub async fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        check: impl Fn(&[Received]) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if check(&self.received()) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; received {} requests",
                    self.received().len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let mut inner = inner.lock().unwrap();
    let id = headers
        .get("webhook-id")
        .or_else(|| headers.get("idempotency-key"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mode = inner.mode.unwrap_or(Mode::Ok);
    let seen = inner.seen.entry(id).or_default();
    *seen += 1;
    let first = *seen == 1;
    let status = match mode {
        Mode::Ok => 200,
        Mode::FailFirst if first => 503,
        Mode::FailFirst => 204,
        Mode::FailFirstWith(status) if first => status,
        Mode::FailFirstWith(_) => 204,
        Mode::Status(s) => s,
    };
    inner.received.push(Received {
        headers,
        body,
        status,
    });
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        if status < 300 { "thanks" } else { "not now" },
    )
}
