//! Calls to Microsoft Graph and the one place its answers become
//! [`PluginError`]s: Graph's error body (`{"error": {"code", "message"}}`),
//! throttling with `Retry-After`, expired delta tokens, missing
//! permissions, and a refused client-credentials exchange (which the host
//! reports as a failed request).

use rollcall_plugin_sdk::PluginError;
use rollcall_plugin_sdk::http::{self, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Wait assumed when a 429/503 carries no usable `Retry-After`.
const DEFAULT_RETRY_AFTER: u32 = 30;

/// The application permissions the connector needs, for error messages.
pub const PERMISSIONS: &str = "User.Read.All, Group.Read.All and GroupMember.Read.All (or Directory.Read.All), with admin consent";

/// Codes Graph uses for a delta token it no longer accepts.
const EXPIRED_TOKEN_CODES: &[&str] = &[
    "syncStateNotFound",
    "resyncRequired",
    "syncStateInvalid",
    "badRequest_ExpiredDeltaToken",
];

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorDetail,
}

#[derive(Deserialize, Default)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// One page of a collection: `value` and the links.
#[derive(Deserialize)]
pub struct Collection<T> {
    pub value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    pub next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    pub delta_link: Option<String>,
}

/// GETs `url` and parses the JSON answer, or maps the failure.
pub fn get<T: DeserializeOwned>(url: &str, max_page_size: Option<u32>) -> Result<T, PluginError> {
    let mut request = http::get(url).header("accept", "application/json");
    if let Some(n) = max_page_size {
        request = request.header("prefer", &format!("odata.maxpagesize={n}"));
    }
    let response = request.send().map_err(credential_refusal)?;
    check(response)?.json()
}

/// GETs one object; `None` when Graph answers 404 (it is gone).
pub fn get_object<T: DeserializeOwned>(url: &str) -> Result<Option<T>, PluginError> {
    match get(url, None) {
        Ok(v) => Ok(Some(v)),
        Err(PluginError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The host fails a request whose credential it cannot obtain with
/// `InternalError("credential: …")`, which the SDK reports as transient.
/// A token endpoint that answered 4xx refused the app's credentials
/// (wrong secret, unknown client or tenant): that is `Unauthorized`.
fn credential_refusal(e: PluginError) -> PluginError {
    match &e {
        PluginError::Transient(m) if m.contains("credential: token endpoint answered HTTP 4") => {
            let detail = m
                .split_once("credential: ")
                .map_or(m.as_str(), |(_, d)| d)
                .trim_end_matches(['"', ')']);
            PluginError::unauthorized(format!(
                "the client credentials were refused ({detail}); check the tenant in token_url, client_id and client_secret"
            ))
        }
        _ => e,
    }
}

/// Passes a success through; maps every failure to the kind the host acts on.
pub fn check(response: Response) -> Result<Response, PluginError> {
    let status = response.status;
    if (200..300).contains(&status) {
        return Ok(response);
    }
    let body: ErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
    let ErrorDetail { code, message } = body.error;
    let what = if code.is_empty() {
        format!("Graph answered HTTP {status}")
    } else {
        let message: String = message.chars().take(200).collect();
        format!("Graph answered HTTP {status} {code}: {message}")
    };
    if status == 410
        || EXPIRED_TOKEN_CODES
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&code))
    {
        return Err(PluginError::not_found(format!(
            "{what} (the delta token expired; a full sync is needed)"
        )));
    }
    Err(match status {
        401 => PluginError::unauthorized(what),
        403 => PluginError::unauthorized(format!(
            "{what}; the app registration needs the application permissions {PERMISSIONS}"
        )),
        404 => PluginError::not_found(what),
        429 | 503 => PluginError::rate_limited(retry_after(&response), what),
        400 => PluginError::invalid_config(format!(
            "{what}; check config.extra_attributes and config.api_base"
        )),
        500..=599 => PluginError::transient(what),
        _ => PluginError::permanent(what),
    })
}

/// Seconds from `Retry-After` (Graph sends delta-seconds).
fn retry_after(response: &Response) -> u32 {
    response
        .header("retry-after")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_RETRY_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> PluginError {
        check(Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        })
        .unwrap_err()
    }

    #[test]
    fn graph_errors_map_to_what_the_host_does() {
        let e = answer(
            429,
            &[("Retry-After", "7")],
            r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#,
        );
        assert_eq!(
            e,
            PluginError::rate_limited(7, "Graph answered HTTP 429 TooManyRequests: slow down")
        );
        assert!(matches!(
            answer(503, &[], ""),
            PluginError::RateLimited {
                retry_after_seconds: 30,
                ..
            }
        ));
        assert!(matches!(answer(410, &[], "{}"), PluginError::NotFound(_)));
        assert!(matches!(
            answer(
                400,
                &[],
                r#"{"error":{"code":"syncStateNotFound","message":"x"}}"#
            ),
            PluginError::NotFound(_)
        ));
        assert!(matches!(
            answer(401, &[], "{}"),
            PluginError::Unauthorized(_)
        ));
        let PluginError::Unauthorized(m) = answer(
            403,
            &[],
            r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}"#,
        ) else {
            panic!("403 is unauthorized")
        };
        assert!(m.contains("GroupMember.Read.All"), "{m}");
        assert!(matches!(
            answer(400, &[], "{}"),
            PluginError::InvalidConfig(_)
        ));
        assert!(matches!(
            answer(502, &[], "<html>"),
            PluginError::Transient(_)
        ));
        assert!(matches!(answer(405, &[], ""), PluginError::Permanent(_)));
    }

    #[test]
    fn a_refused_token_exchange_is_unauthorized() {
        let host = PluginError::transient(
            "HTTP request failed: InternalError(Some(\"credential: token endpoint answered HTTP 401: invalid_client: bad secret\"))",
        );
        let PluginError::Unauthorized(m) = credential_refusal(host) else {
            panic!("unauthorized")
        };
        assert!(m.starts_with("the client credentials were refused (token endpoint answered HTTP 401: invalid_client: bad secret)"), "{m}");
        let down = PluginError::transient(
            "HTTP request failed: InternalError(Some(\"credential: token endpoint answered HTTP 503\"))",
        );
        assert_eq!(credential_refusal(down.clone()), down);
    }
}
