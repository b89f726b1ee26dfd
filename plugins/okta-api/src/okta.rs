//! One request to the Okta API and what its answer means: Okta's error body
//! (`errorCode`, `errorSummary`, `errorCauses`) becomes the error kind the
//! host acts on, 429 waits until `X-Rate-Limit-Reset` measured by the
//! server's own `Date`, and the `Link: <…>; rel="next"` URL is followed
//! only on the configured org.

use rollcall_plugin_sdk::PluginError;
use rollcall_plugin_sdk::http::{self, Response};
use serde::Deserialize;

use crate::settings::Settings;
use crate::time;

/// Wait assumed when a 429 carries no usable reset time.
const DEFAULT_WAIT_SECONDS: u32 = 60;

/// What a 404 means for the request being made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// A collection of the org: the org URL is wrong.
    Org,
    /// One object (a group): it is gone.
    Object,
}

/// Okta's error body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OktaError {
    #[serde(default)]
    pub error_code: String,
    #[serde(default)]
    pub error_summary: String,
    #[serde(default)]
    pub error_causes: Vec<ErrorCause>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorCause {
    #[serde(default)]
    pub error_summary: String,
}

impl OktaError {
    fn parse(body: &[u8]) -> OktaError {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// `E0000011 Invalid token provided (cause; cause)`, cut short.
    pub fn describe(&self) -> String {
        let mut text = format!("{} {}", self.error_code, self.error_summary);
        let causes: Vec<&str> = self
            .error_causes
            .iter()
            .map(|c| c.error_summary.as_str())
            .collect();
        if !causes.is_empty() {
            text.push_str(&format!(" ({})", causes.join("; ")));
        }
        text.trim().chars().take(300).collect()
    }
}

/// The server's clock, from `Date`, in milliseconds.
pub fn server_millis(response: &Response) -> Option<i64> {
    response.header("date").and_then(time::http_date_millis)
}

/// GETs `url` and maps every failure; the answer is a 2xx.
pub fn get(url: &str, missing: Missing) -> Result<Response, PluginError> {
    let response = http::get(url).header("accept", "application/json").send()?;
    check(response, url, missing)
}

/// Turns an error status into the error kind the host acts on.
pub fn check(response: Response, url: &str, missing: Missing) -> Result<Response, PluginError> {
    let status = response.status;
    if (200..300).contains(&status) {
        return Ok(response);
    }
    let error = OktaError::parse(&response.body);
    let path = url.split_once("/api/").map_or(url, |(_, p)| p);
    Err(match status {
        401 => PluginError::unauthorized(format!(
            "Okta refused the API token: {} (bind a valid token as credential api_token)",
            error.describe()
        )),
        403 => PluginError::unauthorized(format!(
            "the API token's admin may not read /api/{path}: {} (give the admin who created the token the Read-Only Administrator role)",
            error.describe()
        )),
        404 if missing == Missing::Org => PluginError::invalid_config(format!(
            "no Okta org answers /api/{path} (check config.org_url): HTTP 404 {}",
            error.describe()
        )),
        404 => PluginError::not_found(format!("/api/{path}: {}", error.describe())),
        429 => PluginError::rate_limited(
            retry_after(&response),
            format!("Okta rate limit on /api/{path}: {}", error.describe()),
        ),
        500..=599 => PluginError::transient(format!("Okta answered HTTP {status} on /api/{path}")),
        _ => PluginError::permanent(format!(
            "Okta answered HTTP {status} on /api/{path}: {}",
            error.describe()
        )),
    })
}

/// Seconds until `X-Rate-Limit-Reset` (epoch seconds) by the server's
/// `Date`, at least 1; else `Retry-After`; else a minute.
pub fn retry_after(response: &Response) -> u32 {
    let reset = response
        .header("x-rate-limit-reset")
        .and_then(|v| v.trim().parse::<i64>().ok());
    match (reset, server_millis(response)) {
        (Some(reset), Some(now)) => (reset - now / 1000).clamp(1, i64::from(u32::MAX)) as u32,
        _ => response
            .header("retry-after")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_WAIT_SECONDS),
    }
}

/// The `rel="next"` URL, if it stays on the org (never follow elsewhere).
/// Okta sends `self` and `next` as two `Link` headers; the SDK reads all.
pub fn next_link(settings: &Settings, response: &Response) -> Result<Option<String>, PluginError> {
    match response.next_link() {
        None => Ok(None),
        Some(url) if settings.owns(&url) => Ok(Some(url)),
        Some(url) => Err(PluginError::permanent(format!(
            "Okta's next link leaves the org ({}); refusing to follow it",
            url.chars().take(120).collect::<String>()
        ))),
    }
}

/// A cursor handed back by the host: a URL on the org.
pub fn cursor_url<'a>(settings: &Settings, cursor: &'a str) -> Result<&'a str, PluginError> {
    if settings.owns(cursor) {
        Ok(cursor)
    } else {
        Err(PluginError::permanent(
            "the cursor is not a URL of the configured org (org_url changed?); start over",
        ))
    }
}
