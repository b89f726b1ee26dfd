//! What can go wrong installing or invoking a plugin, worded for operators.

use std::time::Duration;

use thiserror::Error;

/// A plugin refused at install (or at first load).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum InstallError {
    #[error("not a component: {0}")]
    NotAComponent(String),
    #[error("invalid component: {0}")]
    Invalid(String),
    /// The component does not export a supported `rollcall:plugin` world.
    #[error("unsupported plugin: {0}")]
    Unsupported(String),
    /// The component imports something this host does not provide.
    #[error("the component cannot be linked: {0}")]
    Link(String),
    #[error("{0}")]
    Manifest(String),
}

/// How a plugin reported failure (the WIT `plugin-error` variant).
#[derive(Debug, Error, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum PluginError {
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("rate limited, retry after {retry_after_seconds} s: {message}")]
    RateLimited {
        retry_after_seconds: u32,
        message: String,
    },
    #[error("transient failure: {0}")]
    Transient(String),
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// Why a plugin call did not produce a result.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// The call ran past its deadline and was interrupted.
    #[error("plugin call exceeded its deadline of {} ms and was interrupted", .0.as_millis())]
    Deadline(Duration),
    /// The guest tried to grow memory past its limit.
    #[error("plugin exceeded its memory limit of {} MiB", .0 / (1024 * 1024))]
    MemoryLimit(u64),
    /// The guest trapped (panic, unreachable, bad access …).
    #[error("plugin trapped: {0}")]
    Trap(String),
    /// The guest returned its error variant.
    #[error("plugin reported an error: {0}")]
    Plugin(PluginError),
    /// The guest returned something the host cannot accept.
    #[error("plugin returned invalid output: {0}")]
    BadOutput(String),
    /// This instance trapped or timed out before; it is never re-entered.
    #[error("the plugin instance was discarded after an earlier failure")]
    Discarded,
    /// No capacity: too many instances or calls at once.
    #[error("plugin runtime is at capacity: {0}")]
    Busy(String),
    #[error("cannot instantiate the plugin: {0}")]
    Instantiate(String),
    /// The data the host would pass into the call is over the sandbox's
    /// input limit; the guest was not called.
    #[error(
        "the call's input is {size} bytes, more than the plugin input limit of {limit} bytes (ROLLCALL_PLUGIN_MAX_INPUT_BYTES)"
    )]
    InputTooLarge { size: u64, limit: u64 },
}

impl InvokeError {
    /// Whether the instance must be thrown away after this error.
    pub fn discards_instance(&self) -> bool {
        matches!(
            self,
            InvokeError::Deadline(_)
                | InvokeError::MemoryLimit(_)
                | InvokeError::Trap(_)
                | InvokeError::Discarded
        )
    }
}
