//! Test harness shared by Rollcall's suites.
//!
//! - [`TestDb`]: a fresh, migrated database per test, on SQLite (temporary
//!   directory) or PostgreSQL (a new database on the server named by
//!   `ROLLCALL_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`),
//!   dropped when the test ends, even on panic.
//! - [`both_backends!`]: runs one async test body on each backend.
//! - [`TestApp`]: the whole HTTP service in process, driven with `oneshot`.
//! - [`guests`]: test guests driven through the real plugin runtime.
//! - [`http`]: a tiny HTTP/1.1 client for tests that start the real binary.
//! - [`ldap_server`]: a fake LDAP server for the `ldap` host import,
//!   plain, LDAPS or StartTLS.
//! - [`test_ca`]: a throwaway CA and a server certificate it signed.
//! - [`fake_directory`]: a generated, mutable directory with a change log
//!   that the fake provider APIs serve.
//! - [`fake_google`]: a fake Google Admin SDK Directory API and token
//!   endpoint over a shared fake directory.
//! - [`fake_graph`]: a fake Microsoft Graph and Entra ID token endpoint
//!   over a fake directory (the `azure-graph` connector).
//! - [`fake_okta`]: the Okta management API and System Log over it.

pub mod demo_app;
pub mod fake_directory;
pub mod fake_google;
pub mod fake_graph;
mod fake_graph_render;
pub mod fake_okta;
pub mod guests;
pub mod http;
pub mod ldap_server;
pub mod scim;
pub mod test_ca;
pub mod webhook_receiver;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use rollcall_api::{ApiConfig, AppState};
use rollcall_core::sealed::MasterKey;
use rollcall_runtime::{Runtime, RuntimeConfig, SandboxPolicy};
use rollcall_store::{SqliteSync, Store, StoreOptions};
use serde_json::Value;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the PostgreSQL test server is (its maintenance database).
pub fn postgres_admin_url() -> String {
    std::env::var("ROLLCALL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh database and the URL to reach it; removes itself on drop.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl TestDatabase {
    pub async fn new(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}", dir.path().join("rollcall.db").display());
                TestDatabase {
                    url,
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let name = format!(
                    "rollcall_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    ulid::Ulid::new().to_string().to_lowercase()
                );
                let admin = postgres_admin_url();
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("PostgreSQL is required for the test suite ({admin}): {e}. Start it or set ROLLCALL_TEST_POSTGRES_URL.")
                    });
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                TestDatabase {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop from a separate thread with its own runtime: this may run
        // inside (or after) the test's runtime, and even during a panic.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async move {
                    if let Ok(mut conn) =
                        <sqlx::PgConnection as sqlx::Connection>::connect(&postgres_admin_url())
                            .await
                    {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut conn)
                        .await;
                    }
                });
            }
        })
        .join();
    }
}

/// A migrated store on a fresh database.
pub struct TestDb {
    pub store: Store,
    pub backend: Backend,
    pub database: TestDatabase,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let database = TestDatabase::new(backend).await;
        let store = Store::connect(StoreOptions {
            url: database.url.clone(),
            max_connections: 4,
            sqlite_sync: SqliteSync::Normal,
            master_key: MasterKey::generate(),
        })
        .await
        .expect("connect test store");
        store.migrate().await.expect("migrate test store");
        TestDb {
            store,
            backend,
            database,
        }
    }
}

/// Runs each named `async fn(Backend)` as two tests, `sqlite` and `postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::Backend::Postgres).await
            }
        }
    )*};
}

/// The plugin runtime every in-process app of this test binary shares
/// (one engine per process, as in production): default sandbox policy,
/// compiled components cached under the system's temporary directory.
pub fn plugin_runtime() -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            Arc::new(
                Runtime::new(RuntimeConfig {
                    policy: SandboxPolicy::default(),
                    cache_dir: Some(std::env::temp_dir().join("rollcall-test-plugin-cache")),
                })
                .expect("plugin runtime"),
            )
        })
        .clone()
}

/// The HTTP service in process, with a global admin key.
pub struct TestApp {
    pub db: TestDb,
    pub router: Router,
    pub admin_key: String,
}

/// A response: status and parsed JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub content_type: Option<String>,
}

impl TestApp {
    pub async fn new(backend: Backend) -> TestApp {
        Self::with_body_limit(backend, 64 * 1024).await
    }

    pub async fn with_body_limit(backend: Backend, max_body_bytes: usize) -> TestApp {
        let db = TestDb::new(backend).await;
        let (_, admin_key) = db
            .store
            .create_admin_key("test", None)
            .await
            .expect("admin key");
        let state = AppState::new(
            db.store.clone(),
            ApiConfig {
                public_url: "http://rollcall.test".into(),
                max_body_bytes,
                scim: rollcall_api::scim::ScimSettings::default(),
                webhooks_allow_http: true,
            },
            plugin_runtime(),
        );
        TestApp {
            router: rollcall_api::app(state),
            db,
            admin_key,
        }
    }

    /// Sends a request with raw body bytes and an optional bearer key.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        let response = self
            .router
            .clone()
            .oneshot(builder.body(Body::from(body)).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            if bytes.is_empty() {
                Value::Null
            } else {
                Value::String(String::from_utf8_lossy(&bytes).into_owned())
            }
        });
        Reply {
            status,
            body,
            content_type,
        }
    }

    /// A JSON request with the given key.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let (ct, bytes) = match body {
            Some(b) => (
                Some("application/json"),
                serde_json::to_vec(&b).expect("json"),
            ),
            None => (None, Vec::new()),
        };
        self.raw(method, path, key, ct, bytes).await
    }

    /// A JSON request as the global admin.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call(method, path, Some(&self.admin_key.clone()), body)
            .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.admin(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.admin(Method::POST, path, Some(body)).await
    }

    /// Creates an organization and returns its id.
    pub async fn create_org(&self, name: &str) -> String {
        let r = self
            .post("/api/v1/organizations", serde_json::json!({"name": name}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_str().expect("id").to_owned()
    }

    /// Creates a directory and returns the whole response body.
    pub async fn create_directory(&self, org: &str, directory_type: &str) -> Value {
        let r = self
            .post(
                "/api/v1/directories",
                serde_json::json!({"organization_id": org, "name": "Test directory", "type": directory_type}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body
    }
}
