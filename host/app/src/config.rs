//! One configuration, from defaults, an optional TOML file, `ROLLCALL_*`
//! environment variables and command-line flags (later sources win).
//!
//! Every setting is parsed and checked at start; a bad value stops the
//! process with a message naming the setting and where the value came from.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rollcall_runtime::SandboxPolicy;
use rollcall_store::SqliteSync;

/// A setting: its TOML key, environment variable, default and meaning.
pub struct Setting {
    pub key: &'static str,
    pub env: &'static str,
    pub default: Option<&'static str>,
    pub help: &'static str,
}

/// Every setting Rollcall reads. `docs/configuration.md` mirrors this table.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "listen",
        env: "ROLLCALL_LISTEN",
        default: Some("127.0.0.1:8080"),
        help: "address the HTTP server listens on (host:port)",
    },
    Setting {
        key: "data_dir",
        env: "ROLLCALL_DATA_DIR",
        default: Some("./rollcall-data"),
        help: "directory for the embedded database and the master key file",
    },
    Setting {
        key: "database_url",
        env: "ROLLCALL_DATABASE_URL",
        default: None,
        help: "postgres://… to use PostgreSQL; default: SQLite in data_dir",
    },
    Setting {
        key: "database_max_connections",
        env: "ROLLCALL_DATABASE_MAX_CONNECTIONS",
        default: Some("16"),
        help: "database connection pool size (2 to 1000)",
    },
    Setting {
        key: "sqlite_synchronous",
        env: "ROLLCALL_SQLITE_SYNCHRONOUS",
        default: Some("full"),
        help: "SQLite durability: full (fsync each commit) or normal (survives process crashes, not power loss)",
    },
    Setting {
        key: "public_url",
        env: "ROLLCALL_PUBLIC_URL",
        default: None,
        help: "base URL clients use to reach this server; default http://<listen>",
    },
    Setting {
        key: "bootstrap_admin_key",
        env: "ROLLCALL_BOOTSTRAP_ADMIN_KEY",
        default: None,
        help: "admin key to create at start (at least 32 characters); otherwise one is generated on first start and printed once",
    },
    Setting {
        key: "master_key",
        env: "ROLLCALL_MASTER_KEY",
        default: None,
        help: "base64 32-byte key that encrypts stored secrets; default: data_dir/master.key, created on first use",
    },
    Setting {
        key: "max_body_bytes",
        env: "ROLLCALL_MAX_BODY_BYTES",
        default: Some("1048576"),
        help: "largest accepted request body in bytes (1 KiB to 64 MiB)",
    },
    Setting {
        key: "scim_rate_limit",
        env: "ROLLCALL_SCIM_RATE_LIMIT",
        default: Some("1000"),
        help: "SCIM requests per second per directory before 429 (0 = unlimited)",
    },
    Setting {
        key: "scim_rate_burst",
        env: "ROLLCALL_SCIM_RATE_BURST",
        default: Some("2000"),
        help: "SCIM requests a directory may send at once before the rate limit applies",
    },
    Setting {
        key: "scim_bulk_max_operations",
        env: "ROLLCALL_SCIM_BULK_MAX_OPERATIONS",
        default: Some("1000"),
        help: "most operations in one SCIM /Bulk request (1 to 10000)",
    },
    Setting {
        key: "scim_bulk_max_payload_bytes",
        env: "ROLLCALL_SCIM_BULK_MAX_PAYLOAD_BYTES",
        default: Some("1048576"),
        help: "largest SCIM /Bulk body in bytes (1 KiB to 64 MiB)",
    },
    Setting {
        key: "scim_request_log_size",
        env: "ROLLCALL_SCIM_REQUEST_LOG_SIZE",
        default: Some("200"),
        help: "SCIM requests kept per directory in the request log (0 disables it)",
    },
    Setting {
        key: "webhook_retry_schedule",
        env: "ROLLCALL_WEBHOOK_RETRY_SCHEDULE",
        default: Some("5s,1m,5m,30m,2h,6h,12h,1d,1d"),
        help: "waits between webhook attempts (ms, s, m, h, d); after the last one a delivery is dead-lettered",
    },
    Setting {
        key: "webhook_concurrency",
        env: "ROLLCALL_WEBHOOK_CONCURRENCY",
        default: Some("64"),
        help: "webhook requests in flight at once per process (1 to 4096)",
    },
    Setting {
        key: "webhook_timeout_seconds",
        env: "ROLLCALL_WEBHOOK_TIMEOUT_SECONDS",
        default: Some("15"),
        help: "deadline of one webhook request, connect to last byte (1 to 300)",
    },
    Setting {
        key: "webhook_allow_http",
        env: "ROLLCALL_WEBHOOK_ALLOW_HTTP",
        default: Some("false"),
        help: "accept http:// webhook endpoint URLs (local development)",
    },
    Setting {
        key: "webhook_allow_private_network",
        env: "ROLLCALL_WEBHOOK_ALLOW_PRIVATE_NETWORK",
        default: Some("false"),
        help: "let webhook endpoints resolve to loopback, private, link-local or metadata addresses",
    },
    Setting {
        key: "lifecycle_retry_schedule",
        env: "ROLLCALL_LIFECYCLE_RETRY_SCHEDULE",
        default: Some("5s,1m,5m,30m,2h,6h,12h,1d,1d"),
        help: "waits between attempts of a lifecycle action after a retryable error; after the last one the execution is dead-lettered",
    },
    Setting {
        key: "lifecycle_concurrency",
        env: "ROLLCALL_LIFECYCLE_CONCURRENCY",
        default: Some("16"),
        help: "lifecycle actions running at once per process (1 to 1024)",
    },
    Setting {
        key: "sync_concurrency",
        env: "ROLLCALL_SYNC_CONCURRENCY",
        default: Some("4"),
        help: "pull-sync runs working at once over all replicas (0 disables pull sync on this process; up to 256)",
    },
    Setting {
        key: "sync_per_organization",
        env: "ROLLCALL_SYNC_PER_ORGANIZATION",
        default: Some("2"),
        help: "pull-sync runs working at once per organization (1 to 64)",
    },
    Setting {
        key: "sync_interval_minutes",
        env: "ROLLCALL_SYNC_INTERVAL_MINUTES",
        default: Some("30"),
        help: "minutes between scheduled runs of a pull directory without its own sync_interval_minutes setting (1 to 10080)",
    },
    Setting {
        key: "sync_page_size",
        env: "ROLLCALL_SYNC_PAGE_SIZE",
        default: Some("500"),
        help: "users, groups or members asked of a connector per page (10 to 1000; connectors may return fewer)",
    },
    Setting {
        key: "sync_lease_seconds",
        env: "ROLLCALL_SYNC_LEASE_SECONDS",
        default: Some("60"),
        help: "how long a claimed sync run stays reserved without a heartbeat; after a crash another process continues it this much later (5 to 600)",
    },
    Setting {
        key: "event_retention_days",
        env: "ROLLCALL_EVENT_RETENTION_DAYS",
        default: Some("30"),
        help: "days events (and their webhook deliveries) are kept (1 to 3650)",
    },
    Setting {
        key: "log_level",
        env: "ROLLCALL_LOG_LEVEL",
        default: Some("info"),
        help: "log filter: error, warn, info, debug, trace, or a tracing filter directive",
    },
    Setting {
        key: "log_format",
        env: "ROLLCALL_LOG_FORMAT",
        default: Some("auto"),
        help: "auto (pretty on a terminal, plain text otherwise), pretty, text or json",
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Auto,
    Pretty,
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// The database URL in effect (SQLite in `data_dir` unless set).
    pub database_url: String,
    pub database_max_connections: u32,
    pub sqlite_sync: SqliteSync,
    pub public_url: String,
    pub bootstrap_admin_key: Option<String>,
    pub master_key: Option<String>,
    pub max_body_bytes: usize,
    pub log_level: String,
    pub log_format: LogFormat,
    pub scim: rollcall_api::scim::ScimSettings,
    pub webhooks: rollcall_sync::WebhookSettings,
    pub lifecycle: rollcall_sync::LifecycleSettings,
    pub sync: rollcall_sync::PullSettings,
    pub event_retention: std::time::Duration,
    /// The plugin sandbox's platform limits (`ROLLCALL_PLUGIN_*`, see
    /// `rollcall_runtime::policy`).
    pub plugin_policy: SandboxPolicy,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

/// Where a value came from, for error messages.
#[derive(Debug, Clone)]
enum Source {
    Default,
    File(PathBuf),
    Env(&'static str),
    Flag(&'static str),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => write!(f, "default"),
            Source::File(p) => write!(f, "config file {}", p.display()),
            Source::Env(name) => write!(f, "environment variable {name}"),
            Source::Flag(name) => write!(f, "flag --{name}"),
        }
    }
}

/// Values given on the command line, by setting key.
pub type Flags = BTreeMap<&'static str, String>;

/// Reads the configuration. `env` is passed in so tests need not touch the
/// process environment.
pub fn load(
    file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    flags: &Flags,
) -> Result<Config, ConfigError> {
    let mut values: BTreeMap<&'static str, (String, Source)> = BTreeMap::new();
    for s in SETTINGS {
        if let Some(d) = s.default {
            values.insert(s.key, (d.to_owned(), Source::Default));
        }
    }
    let file = file
        .map(Path::to_path_buf)
        .or_else(|| env("ROLLCALL_CONFIG").map(PathBuf::from));
    if let Some(path) = &file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e| ConfigError(format!("config file {}: {e}", path.display())))?;
        for (key, value) in table {
            let setting = SETTINGS.iter().find(|s| s.key == key).ok_or_else(|| {
                ConfigError(format!(
                    "config file {}: unknown setting '{key}'; known: {}",
                    path.display(),
                    SETTINGS
                        .iter()
                        .map(|s| s.key)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(ConfigError(format!(
                        "config file {}: '{key}' must be a string or number, not {}",
                        path.display(),
                        other.type_str()
                    )));
                }
            };
            values.insert(setting.key, (text, Source::File(path.clone())));
        }
    }
    for s in SETTINGS {
        if let Some(v) = env(s.env) {
            values.insert(s.key, (v, Source::Env(s.env)));
        }
    }
    for (key, value) in flags {
        if let Some(s) = SETTINGS.iter().find(|s| s.key == *key) {
            values.insert(s.key, (value.clone(), Source::Flag(flag_name(s.key))));
        }
    }
    let mut config = build(&values)?;
    // The sandbox table (`rollcall_runtime::policy`) is read from the
    // environment only; its errors name the variable.
    config.plugin_policy =
        SandboxPolicy::from_lookup(env).map_err(|e| ConfigError(format!("plugin sandbox: {e}")))?;
    Ok(config)
}

fn flag_name(key: &'static str) -> &'static str {
    match key {
        "listen" => "listen",
        "data_dir" => "data-dir",
        "database_url" => "database-url",
        "public_url" => "public-url",
        "log_level" => "log-level",
        "log_format" => "log-format",
        other => other,
    }
}

fn bad(key: &str, source: &Source, problem: impl std::fmt::Display) -> ConfigError {
    let env = SETTINGS.iter().find(|s| s.key == key).map_or("", |s| s.env);
    ConfigError(format!("{key} ({env}) from {source}: {problem}"))
}

fn build(values: &BTreeMap<&'static str, (String, Source)>) -> Result<Config, ConfigError> {
    let get = |key: &str| {
        values
            .get(key)
            .map(|(v, s)| (v.trim().to_owned(), s.clone()))
    };
    let (listen_raw, src) = get("listen").unwrap_or_default_pair();
    let listen: SocketAddr = listen_raw.parse().map_err(|_| {
        bad(
            "listen",
            &src,
            format!("'{listen_raw}' is not host:port, e.g. 127.0.0.1:8080"),
        )
    })?;
    let (data_dir, _) = get("data_dir").unwrap_or_default_pair();
    let data_dir = PathBuf::from(data_dir);
    let database_url = match get("database_url") {
        Some((url, src)) if !url.is_empty() => {
            if !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:"))
            {
                return Err(bad(
                    "database_url",
                    &src,
                    "must start with postgres://, postgresql:// or sqlite:",
                ));
            }
            url
        }
        _ => format!("sqlite://{}", data_dir.join("rollcall.db").display()),
    };
    let (n, src) = get("database_max_connections").unwrap_or_default_pair();
    let database_max_connections: u32 = match n.parse() {
        Ok(v) if (2..=1000).contains(&v) => v,
        _ => {
            return Err(bad(
                "database_max_connections",
                &src,
                format!("'{n}' is not a number from 2 to 1000"),
            ));
        }
    };
    let (sync, src) = get("sqlite_synchronous").unwrap_or_default_pair();
    let sqlite_sync = match sync.to_ascii_lowercase().as_str() {
        "full" => SqliteSync::Full,
        "normal" => SqliteSync::Normal,
        other => {
            return Err(bad(
                "sqlite_synchronous",
                &src,
                format!("'{other}' is not full or normal"),
            ));
        }
    };
    let public_url = match get("public_url") {
        Some((url, src)) if !url.is_empty() => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad(
                    "public_url",
                    &src,
                    "must start with http:// or https://",
                ));
            }
            url.trim_end_matches('/').to_owned()
        }
        _ => {
            let host = if listen.ip().is_unspecified() {
                "localhost".to_owned()
            } else if listen.is_ipv6() {
                format!("[{}]", listen.ip())
            } else {
                listen.ip().to_string()
            };
            format!("http://{host}:{}", listen.port())
        }
    };
    let bootstrap_admin_key = match get("bootstrap_admin_key") {
        Some((k, src)) if !k.is_empty() => {
            if k.len() < 32
                || k.len() > 256
                || k.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(bad(
                    "bootstrap_admin_key",
                    &src,
                    "must be 32 to 256 characters without spaces",
                ));
            }
            Some(k)
        }
        _ => None,
    };
    let master_key = match get("master_key") {
        Some((k, src)) if !k.is_empty() => {
            rollcall_core::sealed::MasterKey::from_base64(&k)
                .map_err(|e| bad("master_key", &src, e))?;
            Some(k)
        }
        _ => None,
    };
    let (n, src) = get("max_body_bytes").unwrap_or_default_pair();
    let max_body_bytes: usize = match n.parse() {
        Ok(v) if (1024..=64 * 1024 * 1024).contains(&v) => v,
        _ => {
            return Err(bad(
                "max_body_bytes",
                &src,
                format!("'{n}' is not a number from 1024 to 67108864"),
            ));
        }
    };
    let (log_level, src) = get("log_level").unwrap_or_default_pair();
    if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
        return Err(bad(
            "log_level",
            &src,
            format!("'{log_level}' is not a valid log filter"),
        ));
    }
    let (fmt, src) = get("log_format").unwrap_or_default_pair();
    let log_format = match fmt.to_ascii_lowercase().as_str() {
        "auto" => LogFormat::Auto,
        "pretty" => LogFormat::Pretty,
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            return Err(bad(
                "log_format",
                &src,
                format!("'{other}' is not auto, pretty, text or json"),
            ));
        }
    };
    let number = |key: &str, min: u64, max: u64| -> Result<u64, ConfigError> {
        let (n, src) = get(key).unwrap_or_default_pair();
        match n.parse::<u64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(bad(
                key,
                &src,
                format!("'{n}' is not a number from {min} to {max}"),
            )),
        }
    };
    let scim = rollcall_api::scim::ScimSettings {
        rate_limit_per_second: number("scim_rate_limit", 0, 1_000_000)? as u32,
        rate_limit_burst: number("scim_rate_burst", 1, 10_000_000)? as u32,
        bulk_max_operations: number("scim_bulk_max_operations", 1, 10_000)? as usize,
        bulk_max_payload_bytes: number("scim_bulk_max_payload_bytes", 1024, 64 * 1024 * 1024)?
            as usize,
        request_log_keep: number("scim_request_log_size", 0, 100_000)? as i64,
    };
    let boolean = |key: &str| -> Result<bool, ConfigError> {
        let (v, src) = get(key).unwrap_or_default_pair();
        match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(bad(key, &src, format!("'{v}' is not true or false"))),
        }
    };
    let (schedule, src) = get("webhook_retry_schedule").unwrap_or_default_pair();
    let webhooks = rollcall_sync::WebhookSettings {
        retry: rollcall_core::webhook::RetrySchedule::parse(&schedule)
            .map_err(|e| bad("webhook_retry_schedule", &src, e))?,
        concurrency: number("webhook_concurrency", 1, 4096)? as usize,
        request_timeout: std::time::Duration::from_secs(number("webhook_timeout_seconds", 1, 300)?),
        allow_http: boolean("webhook_allow_http")?,
        allow_private_network: boolean("webhook_allow_private_network")?,
        ..rollcall_sync::WebhookSettings::default()
    };
    let (schedule, src) = get("lifecycle_retry_schedule").unwrap_or_default_pair();
    let lifecycle = rollcall_sync::LifecycleSettings {
        retry: rollcall_core::webhook::RetrySchedule::parse(&schedule)
            .map_err(|e| bad("lifecycle_retry_schedule", &src, e))?,
        concurrency: number("lifecycle_concurrency", 1, 1024)? as usize,
        ..rollcall_sync::LifecycleSettings::default()
    };
    let sync = rollcall_sync::PullSettings {
        concurrency: number("sync_concurrency", 0, 256)? as u32,
        per_organization: number("sync_per_organization", 1, 64)? as u32,
        default_interval_minutes: number("sync_interval_minutes", 1, 10_080)? as u32,
        page_size: number("sync_page_size", 10, 1000)? as u32,
        lease: std::time::Duration::from_secs(number("sync_lease_seconds", 5, 600)?),
        ..rollcall_sync::PullSettings::default()
    };
    let event_retention =
        std::time::Duration::from_secs(number("event_retention_days", 1, 3650)? * 86_400);
    Ok(Config {
        scim,
        webhooks,
        lifecycle,
        sync,
        event_retention,
        listen,
        data_dir,
        database_url,
        database_max_connections,
        sqlite_sync,
        public_url,
        bootstrap_admin_key,
        master_key,
        max_body_bytes,
        log_level,
        log_format,
        plugin_policy: SandboxPolicy::default(),
    })
}

trait OrDefaultPair {
    fn unwrap_or_default_pair(self) -> (String, Source);
}

impl OrDefaultPair for Option<(String, Source)> {
    fn unwrap_or_default_pair(self) -> (String, Source) {
        self.unwrap_or((String::new(), Source::Default))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load_with(
        env: &[(&str, &str)],
        flags: &[(&'static str, &str)],
        file: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let flags: Flags = flags.iter().map(|(k, v)| (*k, v.to_string())).collect();
        load(file, &|k| env.get(k).cloned(), &flags)
    }

    #[test]
    fn zero_config_defaults() {
        let c = load_with(&[], &[], None).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url, "sqlite://./rollcall-data/rollcall.db");
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert_eq!(c.sqlite_sync, SqliteSync::Full);
        assert_eq!(c.log_format, LogFormat::Auto);
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rollcall.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:7000\"\nmax_body_bytes = 4096\nlog_level = \"debug\"\n",
        )
        .unwrap();
        let c = load_with(&[("ROLLCALL_LISTEN", "127.0.0.1:7001")], &[], Some(&file)).unwrap();
        assert_eq!(c.listen.port(), 7001);
        assert_eq!(c.max_body_bytes, 4096);
        assert_eq!(c.log_level, "debug");
        let c = load_with(
            &[("ROLLCALL_LISTEN", "127.0.0.1:7001")],
            &[("listen", "127.0.0.1:7002")],
            Some(&file),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 7002);
    }

    #[test]
    fn errors_name_the_setting_and_source() {
        let e = load_with(&[("ROLLCALL_LISTEN", "nope")], &[], None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("listen") && e.contains("ROLLCALL_LISTEN") && e.contains("'nope'"),
            "{e}"
        );
        let e = load_with(&[("ROLLCALL_DATABASE_URL", "mysql://x")], &[], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("database_url"), "{e}");
        let e = load_with(&[("ROLLCALL_MASTER_KEY", "short")], &[], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("master_key"), "{e}");
        let e = load_with(&[("ROLLCALL_BOOTSTRAP_ADMIN_KEY", "tooshort")], &[], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("bootstrap_admin_key"), "{e}");
        let e = load_with(&[("ROLLCALL_LOG_FORMAT", "xml")], &[], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("log_format"), "{e}");
        let e = load_with(&[], &[("max_body_bytes", "12")], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_body_bytes"), "{e}");
    }

    #[test]
    fn plugin_sandbox_settings_are_checked_at_load() {
        let c = load_with(&[("ROLLCALL_PLUGIN_MEMORY_MIB", "32")], &[], None).unwrap();
        assert_eq!(c.plugin_policy.memory_bytes, 32 << 20);
        let e = load_with(&[("ROLLCALL_PLUGIN_MEMORY_MIB", "lots")], &[], None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid configuration: plugin sandbox: ROLLCALL_PLUGIN_MEMORY_MIB: 'lots' is not a whole number"
        );
        let e = load_with(
            &[("ROLLCALL_PLUGIN_ALLOW_PLAIN_HTTP", "sometimes")],
            &[],
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("ROLLCALL_PLUGIN_ALLOW_PLAIN_HTTP"), "{e}");
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rollcall.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:7000\"\n").unwrap();
        let e = load_with(&[], &[], Some(&file)).unwrap_err().to_string();
        assert!(e.contains("unknown setting 'lisen'"), "{e}");
    }

    #[test]
    fn unspecified_listen_gives_localhost_public_url() {
        let c = load_with(&[("ROLLCALL_LISTEN", "0.0.0.0:9000")], &[], None).unwrap();
        assert_eq!(c.public_url, "http://localhost:9000");
    }
}
