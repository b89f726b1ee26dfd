//! What a connector's error means for a run.
//!
//! | error | run |
//! | --- | --- |
//! | `rate-limited(retry-after)` | waits `retry-after` and continues from its position (no attempt counted) |
//! | `transient`, trap, deadline, memory limit, runtime busy, database error | retried with exponential back-off and jitter; failed after the last attempt |
//! | `unauthorized` | failed; the directory becomes `invalid_credentials` (the schedule tries again at its normal interval, never sooner) |
//! | `invalid-config` | failed; the directory's sync status says it needs attention |
//! | `permanent`, bad output, input too large, no connector | failed with the message |

use std::time::Duration;

use rollcall_runtime::{InvokeError, PluginError};

/// What the worker does with a run after an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Continue later from the same position, without counting an attempt.
    Wait {
        after: Duration,
        kind: &'static str,
        message: String,
    },
    /// Count a failed attempt; retry with back-off unless it was the last.
    Retry { kind: &'static str, message: String },
    /// End the run as failed.
    Fail {
        kind: &'static str,
        message: String,
        invalid_credentials: bool,
        attention: bool,
    },
}

fn fail(kind: &'static str, message: String) -> Next {
    Next::Fail {
        kind,
        message,
        invalid_credentials: false,
        attention: false,
    }
}

pub fn classify(error: &InvokeError) -> Next {
    let message = error.to_string();
    match error {
        InvokeError::Plugin(e) => match e {
            PluginError::RateLimited {
                retry_after_seconds,
                ..
            } => Next::Wait {
                after: Duration::from_secs(u64::from((*retry_after_seconds).clamp(1, 3600))),
                kind: "rate_limited",
                message,
            },
            PluginError::Transient(_) => Next::Retry {
                kind: "transient",
                message,
            },
            PluginError::Unauthorized(_) => Next::Fail {
                kind: "unauthorized",
                message,
                invalid_credentials: true,
                attention: false,
            },
            PluginError::InvalidConfig(_) => Next::Fail {
                kind: "invalid_config",
                message,
                invalid_credentials: false,
                attention: true,
            },
            PluginError::Permanent(_) | PluginError::NotFound(_) => fail("permanent", message),
        },
        InvokeError::Deadline(_)
        | InvokeError::MemoryLimit(_)
        | InvokeError::Trap(_)
        | InvokeError::Discarded => Next::Retry {
            kind: "plugin",
            message,
        },
        InvokeError::Busy(_) => Next::Wait {
            after: Duration::from_secs(2),
            kind: "busy",
            message,
        },
        InvokeError::BadOutput(_) | InvokeError::InputTooLarge { .. } => fail("plugin", message),
        InvokeError::Instantiate(_) => fail("plugin", message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_map_to_actions() {
        let rl = InvokeError::Plugin(PluginError::RateLimited {
            retry_after_seconds: 7,
            message: "slow".into(),
        });
        assert!(
            matches!(classify(&rl), Next::Wait { after, kind: "rate_limited", .. } if after == Duration::from_secs(7))
        );
        let t = InvokeError::Plugin(PluginError::Transient("503".into()));
        assert!(matches!(
            classify(&t),
            Next::Retry {
                kind: "transient",
                ..
            }
        ));
        let u = InvokeError::Plugin(PluginError::Unauthorized("401".into()));
        assert!(matches!(
            classify(&u),
            Next::Fail {
                invalid_credentials: true,
                ..
            }
        ));
        let c = InvokeError::Plugin(PluginError::InvalidConfig("bad".into()));
        assert!(matches!(
            classify(&c),
            Next::Fail {
                attention: true,
                kind: "invalid_config",
                ..
            }
        ));
        let p = InvokeError::Plugin(PluginError::Permanent("no".into()));
        assert!(matches!(
            classify(&p),
            Next::Fail {
                kind: "permanent",
                invalid_credentials: false,
                ..
            }
        ));
        assert!(matches!(
            classify(&InvokeError::Trap("x".into())),
            Next::Retry { kind: "plugin", .. }
        ));
    }
}
