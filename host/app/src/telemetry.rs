//! Logging: `tracing` with an env-filter, pretty on a terminal, plain text
//! otherwise, JSON when asked (`ROLLCALL_LOG_FORMAT=json`). Logs go to stderr;
//! stdout is kept for command output.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{Config, LogFormat};

/// Installs the global subscriber. `quiet` (CLI commands) lowers the default
/// level to warnings so command output stays readable.
pub fn init(config: &Config, quiet: bool) {
    let level = if quiet && config.log_level == "info" {
        "warn"
    } else {
        config.log_level.as_str()
    };
    // Library crates are noisy at info; keep them at warn unless asked.
    let directive = if level.contains('=') || level.contains(',') {
        level.to_owned()
    } else {
        format!("{level},sqlx=warn,hyper=warn,tower_http=warn")
    };
    let filter = EnvFilter::try_new(&directive).unwrap_or_else(|_| EnvFilter::new("info"));
    let terminal = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::NONE);
    let result = match config.log_format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.pretty().with_ansi(terminal).try_init(),
        LogFormat::Auto if terminal => builder.compact().with_ansi(true).try_init(),
        LogFormat::Auto | LogFormat::Text => builder.with_ansi(false).try_init(),
    };
    // A second init (tests) is harmless.
    let _ = result;
}
