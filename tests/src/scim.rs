//! A SCIM client for the in-process app: requests shaped like an identity
//! provider's (its `User-Agent`, optional query flags such as Entra's
//! `aadOptscim062020`), replies with headers, and readers for the
//! directory's event log and normalized users so sequence tests can assert
//! the final state.

use std::sync::Mutex;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::TestApp;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

/// User-Agents the providers send (or close to them).
pub const ENTRA_UA: &str = "Microsoft Azure AD SCIM provisioning 1.0";
pub const OKTA_UA: &str = "Okta SCIM Client 1.0.0";
pub const ONELOGIN_UA: &str = "OneLogin SCIM";
pub const JUMPCLOUD_UA: &str = "JumpCloud-SCIM/2.0";

/// A SCIM answer with its headers.
#[derive(Debug)]
pub struct ScimReply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl ScimReply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        &self.body
    }

    /// Asserts a well-formed SCIM error with this status (and `scimType`).
    #[track_caller]
    pub fn expect_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_scim_error(&self.body, status, scim_type);
    }

    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {}", self.body))
            .to_owned()
    }
}

/// Every SCIM 2.0 error: the Error URN, `status` as a string, the `scimType`.
#[track_caller]
pub fn assert_scim_error(body: &Value, status: u16, scim_type: Option<&str>) {
    assert_eq!(body["schemas"], json!([ERROR_SCHEMA]), "error body: {body}");
    assert_eq!(
        body["status"],
        json!(status.to_string()),
        "status must be a string: {body}"
    );
    if let Some(t) = scim_type {
        assert_eq!(body["scimType"], json!(t), "error body: {body}");
    }
}

/// Percent-encodes a query component (everything but unreserved characters).
pub fn enc(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One directory's SCIM endpoint as a given client sees it.
pub struct ScimClient<'a> {
    pub app: &'a TestApp,
    pub org: String,
    pub dir: String,
    pub token: String,
    /// `/scim/v2/{dir}` (or `/scim/v1/{dir}`).
    pub base: String,
    pub user_agent: Option<String>,
    /// Appended to every request's query string (e.g. `aadOptscim062020`).
    pub extra_query: Option<String>,
    cursor: Mutex<Option<String>>,
}

impl<'a> ScimClient<'a> {
    /// A new organization with one directory of `directory_type`.
    pub async fn setup(
        app: &'a TestApp,
        directory_type: &str,
        user_agent: Option<&str>,
    ) -> ScimClient<'a> {
        let org = app.create_org(&format!("org {directory_type}")).await;
        Self::for_new_directory(app, &org, directory_type, user_agent).await
    }

    pub async fn for_new_directory(
        app: &'a TestApp,
        org: &str,
        directory_type: &str,
        user_agent: Option<&str>,
    ) -> ScimClient<'a> {
        let created = app.create_directory(org, directory_type).await;
        let dir = created["id"].as_str().expect("directory id").to_owned();
        let token = created["scim"]["token"]
            .as_str()
            .expect("scim token")
            .to_owned();
        let version = if directory_type.ends_with("-v1") {
            "v1"
        } else {
            "v2"
        };
        let client = ScimClient {
            app,
            org: org.to_owned(),
            base: format!("/scim/{version}/{dir}"),
            dir,
            token,
            user_agent: user_agent.map(str::to_owned),
            extra_query: None,
            cursor: Mutex::new(None),
        };
        // Directory lifecycle events (activated, token created) are not SCIM's.
        client.mark_events().await;
        client
    }

    fn uri(&self, path: &str) -> String {
        let mut uri = format!("{}{}", self.base, path);
        if let Some(extra) = &self.extra_query {
            uri.push(if uri.contains('?') { '&' } else { '?' });
            uri.push_str(extra);
        }
        uri
    }

    /// Sends `method base+path` with raw body bytes and extra headers.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> ScimReply {
        let mut builder = Request::builder().method(method).uri(self.uri(path));
        if let Some(t) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(ua) = &self.user_agent {
            builder = builder.header(header::USER_AGENT, ua.as_str());
        }
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let response = self
            .app
            .router
            .clone()
            .oneshot(builder.body(Body::from(body)).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
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
        ScimReply {
            status,
            body,
            headers,
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> ScimReply {
        let (ct, bytes) = match body {
            Some(b) => (
                Some("application/scim+json"),
                serde_json::to_vec(b).expect("json"),
            ),
            None => (None, Vec::new()),
        };
        self.send_raw(method, path, Some(&self.token), ct, bytes, headers)
            .await
    }

    pub async fn get(&self, path: &str) -> ScimReply {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> ScimReply {
        self.send(Method::POST, path, Some(&body), &[]).await
    }

    pub async fn put(&self, path: &str, body: Value) -> ScimReply {
        self.send(Method::PUT, path, Some(&body), &[]).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> ScimReply {
        self.send(Method::PATCH, path, Some(&body), &[]).await
    }

    pub async fn delete(&self, path: &str) -> ScimReply {
        self.send(Method::DELETE, path, None, &[]).await
    }

    /// `GET /{endpoint}?filter=…` (the filter percent-encoded) plus `extra` query.
    pub async fn filter(&self, endpoint: &str, filter: &str, extra: &str) -> ScimReply {
        let mut path = format!("/{endpoint}?filter={}", enc(filter));
        if !extra.is_empty() {
            path.push('&');
            path.push_str(extra);
        }
        self.get(&path).await
    }

    /// A PatchOp body with these operations.
    pub fn patch_op(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP], "Operations": ops})
    }

    /// Every event of this directory, oldest first.
    pub async fn all_events(&self) -> Vec<Value> {
        self.events_after(None).await
    }

    async fn events_after(&self, mut after: Option<String>) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let mut path = format!("/api/v1/events?directory_id={}&limit=100", self.dir);
            if let Some(a) = &after {
                path.push_str(&format!("&after={a}"));
            }
            let r = self.app.get(&path).await;
            assert_eq!(r.status, StatusCode::OK, "events: {}", r.body);
            let data = r.body["data"].as_array().cloned().unwrap_or_default();
            let done = data.len() < 100;
            after = data
                .last()
                .and_then(|e| e["id"].as_str())
                .map(str::to_owned)
                .or(after);
            out.extend(data);
            if done {
                return out;
            }
        }
    }

    /// Events emitted since the previous call (or since the start).
    pub async fn new_events(&self) -> Vec<Value> {
        let after = self.cursor.lock().unwrap().clone();
        let events = self.events_after(after).await;
        if let Some(last) = events.last().and_then(|e| e["id"].as_str()) {
            *self.cursor.lock().unwrap() = Some(last.to_owned());
        }
        events
    }

    /// Skips the events so far.
    pub async fn mark_events(&self) {
        self.new_events().await;
    }

    /// The types of the events since the previous call.
    pub async fn new_event_types(&self) -> Vec<String> {
        event_types(&self.new_events().await)
    }

    /// The normalized Directory API user.
    pub async fn directory_user(&self, id: &str) -> Value {
        let r = self.app.get(&format!("/api/v1/directory_users/{id}")).await;
        assert_eq!(r.status, StatusCode::OK, "directory user {id}: {}", r.body);
        r.body
    }

    /// The normalized Directory API group.
    pub async fn directory_group(&self, id: &str) -> Value {
        let r = self
            .app
            .get(&format!("/api/v1/directory_groups/{id}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "directory group {id}: {}", r.body);
        r.body
    }

    /// Member ids of a group, sorted, read through SCIM.
    pub async fn member_ids(&self, group: &str) -> Vec<String> {
        let r = self.get(&format!("/Groups/{group}")).await;
        r.expect(200);
        member_values(&r.body)
    }
}

pub fn event_types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Sorted `members[].value` of a Group resource.
pub fn member_values(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|x| x["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

pub fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}
