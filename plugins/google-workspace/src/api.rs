//! Calls to the Admin SDK Directory API and what its answers mean for the
//! host: Google's error body (`{"error": {"code", "message", "errors":
//! [{"domain", "reason", "message"}]}}`) decides between unauthorized,
//! rate-limited, invalid config and transient. The token itself is the
//! host's business; a token endpoint that refuses the credential reaches
//! the plugin as a failed request and is reported as unauthorized.

use rollcall_plugin_sdk::{PluginError, http};
use serde::Deserialize;

/// Wait suggested when Google throttles without a `Retry-After` header.
pub const DEFAULT_RETRY_AFTER: u32 = 10;

/// 403 reasons that mean "slow down", not "not allowed".
const RATE_LIMIT_REASONS: &[&str] = &[
    "userRateLimitExceeded",
    "rateLimitExceeded",
    "quotaExceeded",
];

/// A successful answer, or Google's "no such resource".
pub enum Answer {
    Found(http::Response),
    NotFound(String),
}

/// GETs `url` (JSON); errors are mapped to what the host acts on, 404 is
/// left to the caller.
pub fn get(url: &str) -> Result<Answer, PluginError> {
    let response = http::get(url)
        .header("accept", "application/json")
        .send()
        .map_err(refused_credential)?;
    match response.status {
        200..=299 => Ok(Answer::Found(response)),
        404 => Ok(Answer::NotFound(Failure::of(&response).message)),
        _ => Err(error_for(&response)),
    }
}

/// What Google said about a failed request.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    /// `errors[].reason`, e.g. `userRateLimitExceeded`, `forbidden`.
    pub reasons: Vec<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct ErrorItem {
    #[serde(default)]
    reason: String,
}

impl Failure {
    /// Google's error body, or the status line when the body is not one.
    pub fn of(response: &http::Response) -> Failure {
        match serde_json::from_slice::<ErrorBody>(&response.body) {
            Ok(body) => Failure {
                message: format!(
                    "HTTP {}: {}",
                    response.status,
                    body.error.message.chars().take(200).collect::<String>()
                ),
                reasons: body.error.errors.into_iter().map(|e| e.reason).collect(),
            },
            Err(_) => Failure {
                message: format!("HTTP {}", response.status),
                reasons: Vec::new(),
            },
        }
    }
}

/// The error kind of a non-2xx, non-404 answer.
pub fn error_for(response: &http::Response) -> PluginError {
    let failure = Failure::of(response);
    let retry_after = || {
        response
            .header("retry-after")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_RETRY_AFTER)
    };
    let throttled = failure
        .reasons
        .iter()
        .any(|r| RATE_LIMIT_REASONS.contains(&r.as_str()));
    match response.status {
        401 => PluginError::unauthorized(failure.message),
        403 if throttled => PluginError::rate_limited(retry_after(), failure.message),
        403 => PluginError::unauthorized(format!(
            "{} (check the Admin SDK API is enabled, the delegation scopes, and that the subject is an administrator)",
            failure.message
        )),
        429 => PluginError::rate_limited(retry_after(), failure.message),
        400 => PluginError::invalid_config(format!(
            "{} (check config.customer, config.domain and config.group_allow_list)",
            failure.message
        )),
        500..=599 => PluginError::transient(failure.message),
        _ => PluginError::permanent(failure.message),
    }
}

/// A token endpoint's refusal (HTTP 4xx: revoked refresh token, unknown
/// service account, delegation not granted) arrives as a failed request;
/// it is the credential that is wrong, not the network.
fn refused_credential(e: PluginError) -> PluginError {
    const MARK: &str = "credential: token endpoint answered HTTP 4";
    match e {
        PluginError::Transient(m) if m.contains(MARK) => {
            let start = m
                .find("credential: ")
                .map_or(0, |i| i + "credential: ".len());
            let reason = m[start..].trim_end_matches(['"', ')']);
            PluginError::unauthorized(format!("Google refused the credential: {reason}"))
        }
        other => other,
    }
}

/// Appends `name=value` (encoded) to `url`.
pub fn push_query(url: &mut String, name: &str, value: &str) {
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(name);
    url.push('=');
    url.push_str(&http::encode(value));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn response(status: u16, headers: &[(&str, &str)], body: serde_json::Value) -> http::Response {
        http::Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_string().into_bytes(),
        }
    }

    fn google(code: u16, reason: &str, message: &str) -> serde_json::Value {
        json!({"error": {"code": code, "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}]}})
    }

    #[test]
    fn google_errors_map_to_error_kinds() {
        let cases = [
            (
                response(401, &[], google(401, "authError", "Invalid Credentials")),
                PluginError::unauthorized("HTTP 401: Invalid Credentials"),
            ),
            (
                response(403, &[], google(403, "userRateLimitExceeded", "Slow down")),
                PluginError::rate_limited(10, "HTTP 403: Slow down"),
            ),
            (
                response(
                    403,
                    &[("Retry-After", "30")],
                    google(403, "quotaExceeded", "Quota"),
                ),
                PluginError::rate_limited(30, "HTTP 403: Quota"),
            ),
            (
                response(
                    429,
                    &[("retry-after", "7")],
                    google(429, "rateLimitExceeded", "Too many"),
                ),
                PluginError::rate_limited(7, "HTTP 429: Too many"),
            ),
            (
                response(429, &[], json!("not google")),
                PluginError::rate_limited(10, "HTTP 429"),
            ),
            (
                response(503, &[], google(503, "backendError", "Backend Error")),
                PluginError::transient("HTTP 503: Backend Error"),
            ),
            (
                response(409, &[], google(409, "duplicate", "Entity already exists.")),
                PluginError::permanent("HTTP 409: Entity already exists."),
            ),
        ];
        for (response, expected) in cases {
            assert_eq!(error_for(&response), expected, "{}", response.status);
        }
        let forbidden = error_for(&response(
            403,
            &[],
            google(
                403,
                "forbidden",
                "Not Authorized to access this resource/api",
            ),
        ));
        assert!(
            matches!(&forbidden, PluginError::Unauthorized(m) if m.starts_with("HTTP 403: Not Authorized to access this resource/api (check")),
            "{forbidden}"
        );
        let invalid = error_for(&response(400, &[], google(400, "invalid", "Invalid Input")));
        assert!(
            matches!(&invalid, PluginError::InvalidConfig(m) if m.starts_with("HTTP 400: Invalid Input")),
            "{invalid}"
        );
    }

    #[test]
    fn a_refused_credential_is_unauthorized() {
        let refused = PluginError::transient(
            "HTTP request failed: InternalError(Some(\"credential: token endpoint answered HTTP 400: invalid_grant: Bad Request\"))",
        );
        assert_eq!(
            refused_credential(refused),
            PluginError::unauthorized(
                "Google refused the credential: token endpoint answered HTTP 400: invalid_grant: Bad Request"
            )
        );
        let down = PluginError::transient(
            "HTTP request failed: InternalError(Some(\"credential: token endpoint answered HTTP 503\"))",
        );
        assert_eq!(refused_credential(down.clone()), down);
    }
}
