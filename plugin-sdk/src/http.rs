//! A small blocking HTTP client over `wasi:http`. The host decides where a
//! request may go (manifest hosts ∩ installation grants, public addresses,
//! HTTPS) and may add credentials; a refused request fails with
//! [`PluginError::Permanent`].
//!
//! ```
//! use rollcall_plugin_sdk::{http, testing};
//! testing::mock_http("GET", "https://api.example.com/users?page=2", 200, r#"{"users":[]}"#);
//! let body: serde_json::Value = http::get("https://api.example.com/users")
//!     .query("page", "2")
//!     .send()?
//!     .error_for_status()?
//!     .json()?;
//! assert_eq!(body["users"], serde_json::json!([]));
//! # Ok::<(), rollcall_plugin_sdk::PluginError>(())
//! ```

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::PluginError;

/// Wait assumed when a 429/503 has no usable `Retry-After`.
const DEFAULT_RETRY_AFTER: u32 = 60;

/// A request being built.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub timeout: Option<Duration>,
}

/// A received response (body fully read; its size is capped by the host).
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Starts a GET request.
pub fn get(url: &str) -> Request {
    Request::new("GET", url)
}

/// Starts a POST request.
pub fn post(url: &str) -> Request {
    Request::new("POST", url)
}

/// Starts a PUT request.
pub fn put(url: &str) -> Request {
    Request::new("PUT", url)
}

/// Starts a PATCH request.
pub fn patch(url: &str) -> Request {
    Request::new("PATCH", url)
}

/// Starts a DELETE request.
pub fn delete(url: &str) -> Request {
    Request::new("DELETE", url)
}

/// Percent-encodes a query component.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

impl Request {
    pub fn new(method: &str, url: &str) -> Self {
        Request {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: None,
            timeout: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Appends `name=value` to the query string, encoded.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        self.url = format!("{}{sep}{}={}", self.url, encode(name), encode(value));
        self
    }

    /// Sends `value` as a JSON body.
    pub fn json<T: Serialize>(mut self, value: &T) -> Result<Self, PluginError> {
        self.body = Some(serde_json::to_vec(value)?);
        Ok(self.header("content-type", "application/json"))
    }

    /// Sends raw bytes as the body.
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.body = Some(bytes.into());
        self
    }

    /// Asks for a shorter response timeout than the host's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request and reads the whole response.
    pub fn send(self) -> Result<Response, PluginError> {
        crate::backend::http_send(&self)
    }
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| PluginError::permanent(format!("response is not the expected JSON: {e}")))
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Maps error statuses to the error kinds the host acts on: 401/403 →
    /// unauthorized, 404 → not-found, 429 and 503 → rate-limited with
    /// `Retry-After`, other 5xx → transient, other 4xx → permanent.
    ///
    /// ```
    /// use rollcall_plugin_sdk::{http::Response, PluginError};
    /// let r = Response { status: 429, headers: vec![("Retry-After".into(), "7".into())], body: vec![] };
    /// assert_eq!(r.error_for_status().unwrap_err(), PluginError::rate_limited(7, "HTTP 429"));
    /// ```
    pub fn error_for_status(self) -> Result<Response, PluginError> {
        let status = self.status;
        let message = format!("HTTP {status}");
        match status {
            200..=399 => Ok(self),
            401 | 403 => Err(PluginError::unauthorized(message)),
            404 => Err(PluginError::not_found(message)),
            429 | 503 => {
                let wait = self
                    .header("retry-after")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(DEFAULT_RETRY_AFTER);
                Err(PluginError::rate_limited(wait, message))
            }
            500..=599 => Err(PluginError::transient(message)),
            _ => Err(PluginError::permanent(format!(
                "{message}: {}",
                self.text().chars().take(200).collect::<String>()
            ))),
        }
    }

    /// The `rel="next"` URL of the RFC 8288 `Link` headers, for APIs that
    /// paginate that way (Okta, GitHub). Every `Link` header is read: some
    /// APIs (Okta) send `self` and `next` as two headers.
    ///
    /// ```
    /// use rollcall_plugin_sdk::http::Response;
    /// let r = Response { status: 200, body: vec![], headers: vec![("link".into(),
    ///     r#"<https://x.example/a?after=1>; rel="self", <https://x.example/a?after=2>; rel="next""#.into())] };
    /// assert_eq!(r.next_link().as_deref(), Some("https://x.example/a?after=2"));
    /// let two = Response { status: 200, body: vec![], headers: vec![
    ///     ("Link".into(), r#"<https://x.example/a?after=1>; rel="self""#.into()),
    ///     ("link".into(), r#"<https://x.example/a?after=2>; rel="next""#.into())] };
    /// assert_eq!(two.next_link().as_deref(), Some("https://x.example/a?after=2"));
    /// ```
    pub fn next_link(&self) -> Option<String> {
        self.headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("link"))
            .flat_map(|(_, value)| value.split(','))
            .find_map(|part| {
                let (url, params) = part.split_once(';')?;
                let is_next = params.split(';').any(|p| {
                    let p = p.trim().replace(' ', "");
                    p == "rel=\"next\"" || p == "rel=next"
                });
                is_next.then(|| {
                    url.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_owned()
                })
            })
    }

    /// A string at a JSON pointer of the body, for cursor-style pagination
    /// (`/@odata.nextLink`, `/nextPageToken`).
    ///
    /// ```
    /// use rollcall_plugin_sdk::http::Response;
    /// let r = Response { status: 200, headers: vec![], body: br#"{"nextPageToken":"t2"}"#.to_vec() };
    /// assert_eq!(r.cursor_at("/nextPageToken").as_deref(), Some("t2"));
    /// ```
    pub fn cursor_at(&self, pointer: &str) -> Option<String> {
        let value: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        value.pointer(pointer)?.as_str().map(str::to_owned)
    }
}

/// Splits `scheme://authority/path?query`.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn split_url(url: &str) -> Result<(&str, &str, String), PluginError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| PluginError::permanent(format!("invalid URL '{url}'")))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path
    };
    if authority.is_empty() {
        return Err(PluginError::permanent(format!("invalid URL '{url}'")));
    }
    Ok((scheme, authority, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_and_queries_encode() {
        assert_eq!(
            split_url("https://a.example/x?y=1").unwrap(),
            ("https", "a.example", "/x?y=1".to_owned())
        );
        assert_eq!(
            split_url("http://a.example:8080").unwrap(),
            ("http", "a.example:8080", "/".to_owned())
        );
        assert_eq!(split_url("https://a.example?q=1").unwrap().2, "/?q=1");
        assert!(split_url("nope").is_err());
        let r = get("https://a.example/u")
            .query("filter", "a b&c")
            .query("n", "1");
        assert_eq!(r.url, "https://a.example/u?filter=a%20b%26c&n=1");
    }

    #[test]
    fn statuses_map_to_error_kinds() {
        let r = |status| Response {
            status,
            headers: vec![],
            body: b"nope".to_vec(),
        };
        assert_eq!(r(200).error_for_status().unwrap().status, 200);
        assert_eq!(
            r(401).error_for_status().unwrap_err(),
            PluginError::unauthorized("HTTP 401")
        );
        assert_eq!(
            r(404).error_for_status().unwrap_err(),
            PluginError::not_found("HTTP 404")
        );
        assert_eq!(
            r(503).error_for_status().unwrap_err(),
            PluginError::rate_limited(60, "HTTP 503")
        );
        assert_eq!(
            r(502).error_for_status().unwrap_err(),
            PluginError::transient("HTTP 502")
        );
        assert_eq!(
            r(400).error_for_status().unwrap_err(),
            PluginError::permanent("HTTP 400: nope")
        );
    }
}
