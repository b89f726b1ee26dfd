//! Native fakes of the host imports, so plugin unit tests run with plain
//! `cargo test` (enable the SDK's `testing` feature in `dev-dependencies`).
//! Each test thread has its own fake host; [`reset`] clears it.
//!
//! ```
//! use rollcall_plugin_sdk::{testing, http};
//! testing::reset();
//! testing::set_config(serde_json::json!({"team": "blue"}));
//! testing::mock_http("POST", "https://hooks.example.com/x", 204, "");
//! let r = http::post("https://hooks.example.com/x").body("hi").send()?;
//! assert_eq!(r.status, 204);
//! assert_eq!(testing::requests()[0].body.as_deref(), Some(&b"hi"[..]));
//! # Ok::<(), rollcall_plugin_sdk::PluginError>(())
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::PluginError;
use crate::host::{HostFailure, Level};
use crate::http::{Request, Response};

#[derive(Default)]
struct FakeHost {
    config: BTreeMap<String, Value>,
    secrets: BTreeMap<String, String>,
    state: BTreeMap<String, String>,
    logs: Vec<(Level, String)>,
    routes: Vec<(String, String, Response)>,
    requests: Vec<Request>,
    ldap_pages: std::collections::VecDeque<crate::ldap::SearchPage>,
    ldap_requests: Vec<(crate::ldap::Connection, crate::ldap::SearchRequest)>,
}

thread_local! {
    static HOST: RefCell<FakeHost> = RefCell::new(FakeHost::default());
}

fn with<T>(f: impl FnOnce(&mut FakeHost) -> T) -> T {
    HOST.with(|h| f(&mut h.borrow_mut()))
}

/// Forgets config, secrets, state, logs, mocks and recorded requests.
pub fn reset() {
    with(|h| *h = FakeHost::default());
}

/// Sets the configuration object.
pub fn set_config(config: Value) {
    with(|h| {
        h.config = config
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect()
    });
}

/// Sets one secret.
pub fn set_secret(name: &str, value: &str) {
    with(|h| h.secrets.insert(name.to_owned(), value.to_owned()));
}

/// Answers `method url` (exact match, query included) with `status` and `body`.
pub fn mock_http(method: &str, url: &str, status: u16, body: &str) {
    let response = Response {
        status,
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    };
    mock_response(method, url, response);
}

/// Answers `method url` with a full response (headers included).
pub fn mock_response(method: &str, url: &str, response: Response) {
    with(|h| h.routes.push((method.to_owned(), url.to_owned(), response)));
}

/// The requests sent so far.
pub fn requests() -> Vec<Request> {
    with(|h| h.requests.clone())
}

/// The lines logged so far.
pub fn logs() -> Vec<(Level, String)> {
    with(|h| h.logs.clone())
}

/// The current state entries.
pub fn state() -> BTreeMap<String, String> {
    with(|h| h.state.clone())
}

pub(crate) fn log(level: Level, message: &str) {
    with(|h| h.logs.push((level, message.to_owned())));
}

pub(crate) fn config_all() -> String {
    with(|h| serde_json::to_string(&h.config).unwrap_or_else(|_| "{}".into()))
}

pub(crate) fn config_get(key: &str) -> Option<String> {
    with(|h| h.config.get(key).map(Value::to_string))
}

pub(crate) fn secret(name: &str) -> Result<Option<String>, HostFailure> {
    Ok(with(|h| h.secrets.get(name).cloned()))
}

pub(crate) fn state_get(key: &str) -> Result<Option<String>, HostFailure> {
    Ok(with(|h| h.state.get(key).cloned()))
}

pub(crate) fn state_set(key: &str, value: &str) -> Result<(), HostFailure> {
    with(|h| h.state.insert(key.to_owned(), value.to_owned()));
    Ok(())
}

pub(crate) fn state_delete(key: &str) -> Result<(), HostFailure> {
    with(|h| h.state.remove(key));
    Ok(())
}

pub(crate) fn state_list(prefix: &str, limit: u32) -> Result<Vec<String>, HostFailure> {
    Ok(with(|h| {
        h.state
            .keys()
            .filter(|k| k.starts_with(prefix))
            .take(limit as usize)
            .cloned()
            .collect()
    }))
}

pub(crate) fn http_send(request: &Request) -> Result<Response, PluginError> {
    with(|h| {
        h.requests.push(request.clone());
        h.routes
            .iter()
            .find(|(m, u, _)| *m == request.method && *u == request.url)
            .map(|(_, _, r)| r.clone())
            .ok_or_else(|| {
                PluginError::permanent(format!(
                    "testing: no mock for {} {}",
                    request.method, request.url
                ))
            })
    })
}

/// Queues a page for the next [`crate::ldap::search`] call.
///
/// ```
/// use rollcall_plugin_sdk::ldap::{self, Connection, Entry, Scope, SearchPage, SearchRequest};
/// use rollcall_plugin_sdk::testing;
/// testing::reset();
/// testing::mock_ldap_page(SearchPage {
///     entries: vec![Entry { dn: "uid=ada".into(), attributes: vec![("mail".into(), vec!["ada@example.com".into()])] }],
///     cookie: None,
/// });
/// let connection = Connection { url: "ldaps://dc1.example.com".into(), bind_dn: None, bind_password_secret: None, start_tls: false };
/// let request = SearchRequest { base_dn: "dc=example,dc=com".into(), scope: Scope::Subtree, filter: "(uid=*)".into(), attributes: vec![], page_size: 100, cookie: None };
/// let page = ldap::search(&connection, &request)?;
/// assert_eq!(page.entries[0].first("MAIL"), Some("ada@example.com"));
/// assert_eq!(testing::ldap_requests()[0].1.filter, "(uid=*)");
/// assert!(ldap::search(&connection, &request).is_err(), "nothing more queued");
/// # Ok::<(), rollcall_plugin_sdk::PluginError>(())
/// ```
pub fn mock_ldap_page(page: crate::ldap::SearchPage) {
    with(|h| h.ldap_pages.push_back(page));
}

/// The LDAP searches made so far, in order.
pub fn ldap_requests() -> Vec<(crate::ldap::Connection, crate::ldap::SearchRequest)> {
    with(|h| h.ldap_requests.clone())
}

pub(crate) fn ldap_search(
    connection: &crate::ldap::Connection,
    request: &crate::ldap::SearchRequest,
) -> Result<crate::ldap::SearchPage, HostFailure> {
    with(|h| {
        h.ldap_requests.push((connection.clone(), request.clone()));
        h.ldap_pages
            .pop_front()
            .ok_or_else(|| HostFailure::Unavailable("testing: no LDAP page queued".into()))
    })
}
