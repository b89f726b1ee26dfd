//! How an action's HTTP answer becomes its result: 2xx/3xx done; 404 on
//! DELETE done ("already gone"), so a revocation that was already applied
//! (or a redelivery after one) is not an error; otherwise the SDK's
//! mapping (401/403 unauthorized, 404 not-found, 429/503 rate-limited with
//! `Retry-After`, other 5xx transient, other 4xx permanent), with each
//! message prefixed by the action it came from.

use rollcall_plugin_sdk::PluginError;
use rollcall_plugin_sdk::http::Response;

use crate::action::Method;

/// The detail of a finished call, or the error the host should act on.
pub fn finish(label: &str, method: Method, response: Response) -> Result<String, PluginError> {
    if method == Method::Delete && response.status == 404 {
        return Ok(format!("{label}: already gone (HTTP 404)"));
    }
    let response = response
        .error_for_status()
        .map_err(|e| prefixed(label, e))?;
    Ok(format!("{label}: HTTP {}", response.status))
}

/// `e` with `label: ` before its message, its kind kept.
pub fn prefixed(label: &str, e: PluginError) -> PluginError {
    let with = |m: String| format!("{label}: {m}");
    match e {
        PluginError::InvalidConfig(m) => PluginError::InvalidConfig(with(m)),
        PluginError::Unauthorized(m) => PluginError::Unauthorized(with(m)),
        PluginError::NotFound(m) => PluginError::NotFound(with(m)),
        PluginError::RateLimited {
            retry_after_seconds,
            message,
        } => PluginError::rate_limited(retry_after_seconds, with(message)),
        PluginError::Transient(m) => PluginError::Transient(with(m)),
        PluginError::Permanent(m) => PluginError::Permanent(with(m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: b"no".to_vec(),
        }
    }

    type Case = (
        Method,
        u16,
        &'static [(&'static str, &'static str)],
        Result<String, PluginError>,
    );

    #[test]
    fn statuses_map_to_results() {
        let cases: [Case; 10] = [
            (Method::Post, 200, &[], Ok("a: HTTP 200".into())),
            (Method::Delete, 204, &[], Ok("a: HTTP 204".into())),
            (
                Method::Delete,
                404,
                &[],
                Ok("a: already gone (HTTP 404)".into()),
            ),
            (
                Method::Put,
                404,
                &[],
                Err(PluginError::not_found("a: HTTP 404")),
            ),
            (
                Method::Post,
                401,
                &[],
                Err(PluginError::unauthorized("a: HTTP 401")),
            ),
            (
                Method::Delete,
                403,
                &[],
                Err(PluginError::unauthorized("a: HTTP 403")),
            ),
            (
                Method::Post,
                429,
                &[("Retry-After", "12")],
                Err(PluginError::rate_limited(12, "a: HTTP 429")),
            ),
            (
                Method::Post,
                500,
                &[],
                Err(PluginError::transient("a: HTTP 500")),
            ),
            (
                Method::Patch,
                502,
                &[],
                Err(PluginError::transient("a: HTTP 502")),
            ),
            (
                Method::Post,
                422,
                &[],
                Err(PluginError::permanent("a: HTTP 422: no")),
            ),
        ];
        for (method, status, headers, expected) in cases {
            assert_eq!(
                finish("a", method, answer(status, headers)),
                expected,
                "{method:?} {status}"
            );
        }
    }
}
