//! A small demo "SaaS application" for the end-to-end deprovisioning test:
//! users with sessions and SSH keys, an API to revoke them (bearer token
//! required), a GitHub-style SSH key API with `Link` pagination, and a
//! webhook endpoint that verifies Standard Webhooks signatures and records
//! each event (duplicates recognised by id). It can be stopped and started
//! again on the same port, keeping its state.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The bearer token the app's API requires.
pub const API_TOKEN: &str = "demo-app-token-0123456789";
/// Keys per page of the key listing (small, to exercise pagination).
const KEYS_PER_PAGE: usize = 2;

#[derive(Debug, Clone, Default)]
pub struct Account {
    pub sessions: Vec<String>,
    /// key id → public key
    pub ssh_keys: BTreeMap<u64, String>,
}

#[derive(Default)]
pub struct AppData {
    /// by login (the part of the email before `@`)
    pub accounts: HashMap<String, Account>,
    /// webhook events by id, with how often each arrived
    pub events: BTreeMap<String, (Value, u32)>,
    /// requests refused for a bad signature
    pub bad_signatures: u32,
    /// requests to the API without the right token
    pub unauthorized: u32,
    /// the webhook signing secret (`whsec_…`)
    pub webhook_secret: Option<String>,
}

#[derive(Clone)]
pub struct DemoApp {
    pub data: Arc<Mutex<AppData>>,
    pub addr: SocketAddr,
    stop: Arc<Mutex<Option<oneshot::Sender<()>>>>,
}

impl DemoApp {
    /// Starts on a free port with `logins`, each with two sessions and
    /// three SSH keys.
    pub async fn start(logins: &[&str]) -> DemoApp {
        let mut data = AppData::default();
        let mut next_key = 1;
        for login in logins {
            let mut account = Account {
                sessions: vec![format!("{login}-s1"), format!("{login}-s2")],
                ..Account::default()
            };
            for _ in 0..3 {
                account
                    .ssh_keys
                    .insert(next_key, format!("ssh-ed25519 AAAA{next_key} {login}"));
                next_key += 1;
            }
            data.accounts.insert((*login).to_owned(), account);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind demo app");
        let addr = listener.local_addr().expect("addr");
        let app = DemoApp {
            data: Arc::new(Mutex::new(data)),
            addr,
            stop: Arc::default(),
        };
        app.serve(listener);
        app
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let router = Router::new()
            .route("/webhooks", post(webhook))
            .route("/api/users/{login}/sessions", delete(revoke_sessions))
            .route("/users/{login}/keys", get(list_keys))
            .route("/users/{login}/keys/{id}", delete(delete_key))
            .with_state(self.clone());
        let (tx, rx) = oneshot::channel::<()>();
        *self.stop.lock().unwrap() = Some(tx);
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
    }

    /// Stops listening (the port refuses connections until `restart`).
    pub async fn stop(&self) {
        if let Some(tx) = self.stop.lock().unwrap().take() {
            let _ = tx.send(());
        }
        // Wait until the port is closed.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(self.addr).await.is_err() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Listens again on the same port, with the same state.
    pub async fn restart(&self) {
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("rebind demo app");
        self.serve(listener);
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn account(&self, login: &str) -> Account {
        self.data
            .lock()
            .unwrap()
            .accounts
            .get(login)
            .cloned()
            .unwrap_or_default()
    }

    pub fn set_webhook_secret(&self, secret: &str) {
        self.data.lock().unwrap().webhook_secret = Some(secret.to_owned());
    }

    /// Event ids received, with their arrival count.
    pub fn events(&self) -> BTreeMap<String, (Value, u32)> {
        self.data.lock().unwrap().events.clone()
    }
}

fn authorized(app: &DemoApp, headers: &HeaderMap) -> bool {
    let ok = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {API_TOKEN}"));
    if !ok {
        app.data.lock().unwrap().unauthorized += 1;
    }
    ok
}

async fn webhook(State(app): State<DemoApp>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let secret = app.data.lock().unwrap().webhook_secret.clone();
    let Some(secret) = secret else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    let verified = standardwebhooks_verify(&secret, &headers, &body);
    let mut data = app.data.lock().unwrap();
    if !verified {
        data.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let id = event["id"].as_str().unwrap_or_default().to_owned();
    let entry = data.events.entry(id).or_insert((event, 0));
    entry.1 += 1;
    StatusCode::NO_CONTENT
}

/// Verification with the independent `standardwebhooks` crate.
fn standardwebhooks_verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    standardwebhooks::Webhook::new(secret)
        .and_then(|w| w.verify(body, headers))
        .is_ok()
}

async fn revoke_sessions(
    State(app): State<DemoApp>,
    headers: HeaderMap,
    Path(login): Path<String>,
) -> StatusCode {
    if !authorized(&app, &headers) {
        return StatusCode::UNAUTHORIZED;
    }
    let login = login.split('@').next().unwrap_or_default().to_owned();
    match app.data.lock().unwrap().accounts.get_mut(&login) {
        Some(account) => {
            account.sessions.clear();
            StatusCode::NO_CONTENT
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn list_keys(
    State(app): State<DemoApp>,
    headers: HeaderMap,
    Path(login): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&app, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let login = login.split('@').next().unwrap_or_default().to_owned();
    let page: usize = query
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let data = app.data.lock().unwrap();
    let Some(account) = data.accounts.get(&login) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let keys: Vec<Value> = account
        .ssh_keys
        .iter()
        .map(|(id, key)| json!({"id": id, "key": key, "title": format!("key {id}")}))
        .collect();
    let start = (page - 1) * KEYS_PER_PAGE;
    let slice: Vec<Value> = keys
        .iter()
        .skip(start)
        .take(KEYS_PER_PAGE)
        .cloned()
        .collect();
    let mut response = axum::Json(slice).into_response();
    if start + KEYS_PER_PAGE < keys.len() {
        let next = format!(
            "<http://{}/users/{login}/keys?page={}>; rel=\"next\"",
            app.addr,
            page + 1
        );
        if let Ok(v) = next.parse() {
            response.headers_mut().insert(header::LINK, v);
        }
    }
    response
}

async fn delete_key(
    State(app): State<DemoApp>,
    headers: HeaderMap,
    Path((login, id)): Path<(String, u64)>,
) -> StatusCode {
    if !authorized(&app, &headers) {
        return StatusCode::UNAUTHORIZED;
    }
    let login = login.split('@').next().unwrap_or_default().to_owned();
    let mut data = app.data.lock().unwrap();
    let removed = data
        .accounts
        .get_mut(&login)
        .and_then(|account| account.ssh_keys.remove(&id));
    match removed {
        Some(_) => StatusCode::NO_CONTENT,
        None => StatusCode::NOT_FOUND,
    }
}
