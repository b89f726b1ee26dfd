//! The sandbox policy: every limit and timeout a plugin runs under, in one
//! table with defaults, `ROLLCALL_PLUGIN_*` overrides, and the rule that the
//! effective value is `min(manifest request, installation grant, platform
//! maximum)`.
//!
//! An invalid override is an error at start-up, never a surprise later.

use std::time::Duration;

use thiserror::Error;

use crate::tls::TlsTrust;

/// One row of the policy table (also rendered in `docs/plugins/sandbox.md`).
pub struct Limit {
    pub key: &'static str,
    pub env: &'static str,
    pub default: u64,
    pub unit: &'static str,
    pub help: &'static str,
}

/// Every numeric limit, its environment override and default.
pub const LIMITS: &[Limit] = &[
    Limit {
        key: "memory_mib",
        env: "ROLLCALL_PLUGIN_MEMORY_MIB",
        default: 128,
        unit: "MiB",
        help: "linear memory per instance",
    },
    Limit {
        key: "page_timeout_ms",
        env: "ROLLCALL_PLUGIN_PAGE_TIMEOUT_MS",
        default: 30_000,
        unit: "ms",
        help: "deadline of one connector call (one page)",
    },
    Limit {
        key: "action_timeout_ms",
        env: "ROLLCALL_PLUGIN_ACTION_TIMEOUT_MS",
        default: 15_000,
        unit: "ms",
        help: "deadline of one lifecycle call",
    },
    Limit {
        key: "max_concurrency",
        env: "ROLLCALL_PLUGIN_MAX_CONCURRENCY",
        default: 64,
        unit: "calls",
        help: "plugin calls running at once in this process",
    },
    Limit {
        key: "http_connect_timeout_ms",
        env: "ROLLCALL_PLUGIN_HTTP_CONNECT_TIMEOUT_MS",
        default: 5_000,
        unit: "ms",
        help: "DNS + TCP + TLS for one outgoing request",
    },
    Limit {
        key: "http_response_timeout_ms",
        env: "ROLLCALL_PLUGIN_HTTP_RESPONSE_TIMEOUT_MS",
        default: 10_000,
        unit: "ms",
        help: "wait for the response head, and between body chunks",
    },
    Limit {
        key: "http_max_response_bytes",
        env: "ROLLCALL_PLUGIN_HTTP_MAX_RESPONSE_BYTES",
        default: 16 * 1024 * 1024,
        unit: "bytes",
        help: "largest response body a plugin may read",
    },
    Limit {
        key: "http_max_request_bytes",
        env: "ROLLCALL_PLUGIN_HTTP_MAX_REQUEST_BYTES",
        default: 16 * 1024 * 1024,
        unit: "bytes",
        help: "largest request body a plugin may send",
    },
    Limit {
        key: "max_input_bytes",
        env: "ROLLCALL_PLUGIN_MAX_INPUT_BYTES",
        default: 4 * 1024 * 1024,
        unit: "bytes",
        help: "largest data the host passes into one call (event, SCIM resource, cursor)",
    },
    Limit {
        key: "ldap_timeout_ms",
        env: "ROLLCALL_PLUGIN_LDAP_TIMEOUT_MS",
        default: 10_000,
        unit: "ms",
        help: "one LDAP page: connect, TLS, bind and search",
    },
    Limit {
        key: "ldap_max_page_size",
        env: "ROLLCALL_PLUGIN_LDAP_MAX_PAGE_SIZE",
        default: 1_000,
        unit: "entries",
        help: "entries in one LDAP page (larger requests are lowered)",
    },
    Limit {
        key: "ldap_max_page_bytes",
        env: "ROLLCALL_PLUGIN_LDAP_MAX_PAGE_BYTES",
        default: 16 * 1024 * 1024,
        unit: "bytes",
        help: "DNs, attribute names and values in one LDAP page",
    },
    Limit {
        key: "log_burst",
        env: "ROLLCALL_PLUGIN_LOG_BURST",
        default: 50,
        unit: "lines",
        help: "log lines a call may write at once before rate limiting",
    },
    Limit {
        key: "log_per_second",
        env: "ROLLCALL_PLUGIN_LOG_PER_SECOND",
        default: 10,
        unit: "lines/s",
        help: "sustained log lines per instance",
    },
    Limit {
        key: "log_line_bytes",
        env: "ROLLCALL_PLUGIN_LOG_LINE_BYTES",
        default: 2_048,
        unit: "bytes",
        help: "longer log lines are truncated",
    },
    Limit {
        key: "state_max_keys",
        env: "ROLLCALL_PLUGIN_STATE_MAX_KEYS",
        default: 1_000,
        unit: "keys",
        help: "state keys per installation",
    },
    Limit {
        key: "state_max_bytes",
        env: "ROLLCALL_PLUGIN_STATE_MAX_BYTES",
        default: 4 * 1024 * 1024,
        unit: "bytes",
        help: "state bytes (keys + values) per installation",
    },
    Limit {
        key: "state_max_value_bytes",
        env: "ROLLCALL_PLUGIN_STATE_MAX_VALUE_BYTES",
        default: 64 * 1024,
        unit: "bytes",
        help: "one state value",
    },
];

/// Operator switches (booleans), off by default.
pub const SWITCHES: &[(&str, &str, &str)] = &[
    (
        "allow_private_network",
        "ROLLCALL_PLUGIN_ALLOW_PRIVATE_NETWORK",
        "let plugins reach loopback, private, link-local and metadata addresses (tests, local development)",
    ),
    (
        "allow_plain_http",
        "ROLLCALL_PLUGIN_ALLOW_PLAIN_HTTP",
        "let plugins use http:// (otherwise HTTPS only)",
    ),
    (
        "allow_plain_ldap",
        "ROLLCALL_PLUGIN_ALLOW_PLAIN_LDAP",
        "let plugins use ldap:// without StartTLS (otherwise ldaps:// or StartTLS)",
    ),
];

/// Operator files: the variable, and what the file holds.
pub const FILES: &[(&str, &str)] = &[(
    "ROLLCALL_PLUGIN_EXTRA_CA_FILE",
    "PEM file of CA certificates trusted, besides the public webpki roots, by all outgoing TLS (plugin HTTPS, token endpoints, ldaps:// and StartTLS)",
)];

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("{env}: '{value}' is not a whole number")]
    NotANumber { env: &'static str, value: String },
    #[error("{env}: must be between 1 and {max}, got {value}")]
    OutOfRange {
        env: &'static str,
        value: u64,
        max: u64,
    },
    #[error("{env}: expected true or false, got '{value}'")]
    NotABool { env: &'static str, value: String },
    #[error("{env}: cannot use '{path}': {reason}")]
    BadFile {
        env: &'static str,
        path: String,
        reason: String,
    },
}

/// The numbers a plugin runs under. Used three ways: the platform maximum,
/// a manifest request / installation grant (where `None`-like fields are
/// filled from the platform), and the effective policy of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPolicy {
    pub memory_bytes: u64,
    pub page_timeout: Duration,
    pub action_timeout: Duration,
    pub max_concurrency: u64,
    pub http_connect_timeout: Duration,
    pub http_response_timeout: Duration,
    pub http_max_response_bytes: u64,
    pub http_max_request_bytes: u64,
    pub max_input_bytes: u64,
    pub ldap_timeout: Duration,
    pub ldap_max_page_size: u64,
    pub ldap_max_page_bytes: u64,
    pub log_burst: u64,
    pub log_per_second: u64,
    pub log_line_bytes: u64,
    pub state_max_keys: u64,
    pub state_max_bytes: u64,
    pub state_max_value_bytes: u64,
    pub allow_private_network: bool,
    pub allow_plain_http: bool,
    pub allow_plain_ldap: bool,
    /// Whom outgoing TLS trusts (`ROLLCALL_PLUGIN_EXTRA_CA_FILE`).
    pub tls: TlsTrust,
}

/// Optional narrowing of the platform policy, as a manifest or a grant
/// states it. Absent fields mean "no further restriction".
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_max_keys: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_max_bytes: Option<u64>,
}

impl Default for SandboxPolicy {
    fn default() -> Self {
        Self::from_lookup(&|_| None).expect("the defaults are valid")
    }
}

fn parse_u64(env: &'static str, value: &str, max: u64) -> Result<u64, PolicyError> {
    let n: u64 = value.trim().parse().map_err(|_| PolicyError::NotANumber {
        env,
        value: value.chars().take(40).collect(),
    })?;
    if n == 0 || n > max {
        return Err(PolicyError::OutOfRange { env, value: n, max });
    }
    Ok(n)
}

fn parse_bool(env: &'static str, value: &str) -> Result<bool, PolicyError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(PolicyError::NotABool {
            env,
            value: value.chars().take(40).collect(),
        }),
    }
}

impl SandboxPolicy {
    /// The platform policy: defaults, overridden by whatever `lookup`
    /// returns for each `ROLLCALL_PLUGIN_*` variable.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, PolicyError> {
        let n = |key: &str| -> Result<u64, PolicyError> {
            let limit = LIMITS.iter().find(|l| l.key == key).expect("known limit");
            match lookup(limit.env) {
                Some(v) => parse_u64(
                    limit.env,
                    &v,
                    limit.default.saturating_mul(1024).max(1 << 20),
                ),
                None => Ok(limit.default),
            }
        };
        let ms = |v: u64| Duration::from_millis(v);
        let mut policy = SandboxPolicy {
            memory_bytes: n("memory_mib")? * 1024 * 1024,
            page_timeout: ms(n("page_timeout_ms")?),
            action_timeout: ms(n("action_timeout_ms")?),
            max_concurrency: n("max_concurrency")?,
            http_connect_timeout: ms(n("http_connect_timeout_ms")?),
            http_response_timeout: ms(n("http_response_timeout_ms")?),
            http_max_response_bytes: n("http_max_response_bytes")?,
            http_max_request_bytes: n("http_max_request_bytes")?,
            max_input_bytes: n("max_input_bytes")?,
            ldap_timeout: ms(n("ldap_timeout_ms")?),
            ldap_max_page_size: n("ldap_max_page_size")?,
            ldap_max_page_bytes: n("ldap_max_page_bytes")?,
            log_burst: n("log_burst")?,
            log_per_second: n("log_per_second")?,
            log_line_bytes: n("log_line_bytes")?,
            state_max_keys: n("state_max_keys")?,
            state_max_bytes: n("state_max_bytes")?,
            state_max_value_bytes: n("state_max_value_bytes")?,
            allow_private_network: false,
            allow_plain_http: false,
            allow_plain_ldap: false,
            tls: TlsTrust::webpki(),
        };
        for (key, env, _) in SWITCHES {
            if let Some(v) = lookup(env) {
                let on = parse_bool(env, &v)?;
                match *key {
                    "allow_private_network" => policy.allow_private_network = on,
                    "allow_plain_http" => policy.allow_plain_http = on,
                    _ => policy.allow_plain_ldap = on,
                }
            }
        }
        let ca_env = FILES[0].0;
        if let Some(path) = lookup(ca_env).filter(|p| !p.trim().is_empty()) {
            policy.tls = TlsTrust::with_extra_ca_file(std::path::Path::new(path.trim())).map_err(
                |reason| PolicyError::BadFile {
                    env: ca_env,
                    path: path.chars().take(200).collect(),
                    reason,
                },
            )?;
        }
        Ok(policy)
    }

    /// Narrows this (platform) policy by a manifest request and an
    /// installation grant: each limit becomes the smallest of the three.
    /// Switches are never widened by either.
    pub fn narrowed(&self, manifest: &LimitRequest, grant: &LimitRequest) -> SandboxPolicy {
        let min3 = |platform: u64, a: Option<u64>, b: Option<u64>| {
            platform
                .min(a.unwrap_or(u64::MAX))
                .min(b.unwrap_or(u64::MAX))
        };
        let mib = |v: Option<u64>| v.map(|m| m.saturating_mul(1024 * 1024));
        let timeout = |platform: Duration| {
            Duration::from_millis(min3(
                platform.as_millis() as u64,
                manifest.call_timeout_ms,
                grant.call_timeout_ms,
            ))
        };
        SandboxPolicy {
            memory_bytes: min3(
                self.memory_bytes,
                mib(manifest.memory_mib),
                mib(grant.memory_mib),
            ),
            page_timeout: timeout(self.page_timeout),
            action_timeout: timeout(self.action_timeout),
            state_max_keys: min3(
                self.state_max_keys,
                manifest.state_max_keys,
                grant.state_max_keys,
            ),
            state_max_bytes: min3(
                self.state_max_bytes,
                manifest.state_max_bytes,
                grant.state_max_bytes,
            ),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_is_the_minimum_of_manifest_grant_and_platform() {
        let platform = SandboxPolicy::default();
        let manifest = LimitRequest {
            memory_mib: Some(64),
            call_timeout_ms: Some(60_000),
            ..Default::default()
        };
        let grant = LimitRequest {
            memory_mib: Some(256),
            call_timeout_ms: Some(2_000),
            ..Default::default()
        };
        let effective = platform.narrowed(&manifest, &grant);
        assert_eq!(effective.memory_bytes, 64 * 1024 * 1024);
        assert_eq!(effective.action_timeout, Duration::from_millis(2_000));
        assert_eq!(effective.page_timeout, Duration::from_millis(2_000));
        assert_eq!(effective.state_max_keys, platform.state_max_keys);
        let none = platform.narrowed(&LimitRequest::default(), &LimitRequest::default());
        assert_eq!(none, platform);
    }

    #[test]
    fn overrides_are_parsed_and_bad_ones_name_the_variable() {
        let p = SandboxPolicy::from_lookup(&|k| match k {
            "ROLLCALL_PLUGIN_MEMORY_MIB" => Some("32".into()),
            "ROLLCALL_PLUGIN_ALLOW_PRIVATE_NETWORK" => Some("true".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(p.memory_bytes, 32 << 20);
        assert!(p.allow_private_network);
        let bad = SandboxPolicy::from_lookup(&|k| {
            (k == "ROLLCALL_PLUGIN_PAGE_TIMEOUT_MS").then(|| "soon".into())
        });
        assert_eq!(
            bad.unwrap_err().to_string(),
            "ROLLCALL_PLUGIN_PAGE_TIMEOUT_MS: 'soon' is not a whole number"
        );
        let zero = SandboxPolicy::from_lookup(&|k| {
            (k == "ROLLCALL_PLUGIN_MAX_CONCURRENCY").then(|| "0".into())
        });
        assert!(matches!(zero, Err(PolicyError::OutOfRange { .. })));
        let switch = SandboxPolicy::from_lookup(&|k| {
            (k == "ROLLCALL_PLUGIN_ALLOW_PLAIN_HTTP").then(|| "maybe".into())
        });
        assert!(matches!(switch, Err(PolicyError::NotABool { .. })));
    }

    #[test]
    fn an_unusable_extra_ca_file_names_the_variable() {
        let missing = SandboxPolicy::from_lookup(&|k| {
            (k == "ROLLCALL_PLUGIN_EXTRA_CA_FILE").then(|| "/nonexistent/ca.pem".into())
        });
        let message = missing.unwrap_err().to_string();
        assert!(
            message.starts_with(
                "ROLLCALL_PLUGIN_EXTRA_CA_FILE: cannot use '/nonexistent/ca.pem': cannot read it"
            ),
            "{message}"
        );
        let unset = SandboxPolicy::from_lookup(&|k| {
            (k == "ROLLCALL_PLUGIN_EXTRA_CA_FILE").then(|| " ".into())
        });
        assert_eq!(unset.unwrap().tls.extra_ca_count(), 0);
    }
}
