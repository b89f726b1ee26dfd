//! What a plugin's answer means for its execution.
//!
//! | answer | execution |
//! | --- | --- |
//! | `completed` / `skipped` | done |
//! | `not-found` | done (`skipped`): the thing to act on is already gone |
//! | `rate-limited(retry-after)` | retried after `retry-after` (at least the schedule's wait) |
//! | `transient`, deadline, trap, memory limit, bad output | retried per the schedule |
//! | `unauthorized`, `invalid-config` | retried per the schedule (an operator can fix the installation meanwhile); dead at the end |
//! | `permanent`, input too large | dead at once |
//! | runtime busy | deferred, no attempt counted |

use std::time::Duration;

use rollcall_core::Timestamp;
use rollcall_core::webhook::RetrySchedule;
use rollcall_runtime::{InvokeError, Outcome, PluginError};
use rollcall_store::ExecutionOutcome;

/// `(outcome, label, detail)` for an attempt.
pub(crate) fn classify(
    result: Result<Outcome, InvokeError>,
    schedule: &RetrySchedule,
    attempt_in_round: u32,
) -> (ExecutionOutcome, String, Option<String>) {
    let retry = |min: Duration| match schedule.next_wait(attempt_in_round) {
        Some(wait) => ExecutionOutcome::Retry(after(wait.max(min))),
        None => ExecutionOutcome::Dead,
    };
    match result {
        Ok(Outcome::Completed(detail)) => {
            let label = "completed".to_owned();
            (ExecutionOutcome::Completed(detail.clone()), label, detail)
        }
        Ok(Outcome::Skipped(reason)) => (
            ExecutionOutcome::Skipped(reason.clone()),
            "skipped".into(),
            Some(reason),
        ),
        Err(InvokeError::Plugin(e)) => {
            let text = e.to_string();
            match e {
                PluginError::NotFound(m) => (
                    ExecutionOutcome::Skipped(format!("not found: {m}")),
                    "not_found".into(),
                    Some(format!("not found: {m}")),
                ),
                PluginError::RateLimited {
                    retry_after_seconds,
                    ..
                } => (
                    retry(Duration::from_secs(
                        u64::from(retry_after_seconds).min(86_400),
                    )),
                    "rate_limited".into(),
                    Some(text),
                ),
                PluginError::Transient(_) => {
                    (retry(Duration::ZERO), "transient".into(), Some(text))
                }
                PluginError::Unauthorized(_) => {
                    (retry(Duration::ZERO), "unauthorized".into(), Some(text))
                }
                PluginError::InvalidConfig(_) => {
                    (retry(Duration::ZERO), "invalid_config".into(), Some(text))
                }
                PluginError::Permanent(_) => {
                    (ExecutionOutcome::Dead, "permanent".into(), Some(text))
                }
            }
        }
        Err(InvokeError::Busy(m)) => (
            ExecutionOutcome::Deferred(after(Duration::from_millis(500))),
            "busy".into(),
            Some(m),
        ),
        Err(e @ InvokeError::InputTooLarge { .. }) => (
            ExecutionOutcome::Dead,
            "input_too_large".into(),
            Some(e.to_string()),
        ),
        Err(e) => {
            let label = match &e {
                InvokeError::Deadline(_) => "timeout",
                InvokeError::MemoryLimit(_) => "memory_limit",
                InvokeError::Trap(_) | InvokeError::Discarded => "trap",
                InvokeError::BadOutput(_) => "bad_output",
                _ => "instantiate",
            };
            (retry(Duration::ZERO), label.into(), Some(e.to_string()))
        }
    }
}

fn after(wait: Duration) -> Timestamp {
    Timestamp::from_micros(Timestamp::now().as_micros() + wait.as_micros() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> RetrySchedule {
        RetrySchedule::parse("1s,1s").unwrap()
    }

    #[test]
    fn answers_map_to_outcomes() {
        let s = schedule();
        let (o, label, _) = classify(Ok(Outcome::Completed(Some("ok".into()))), &s, 1);
        assert!(matches!(o, ExecutionOutcome::Completed(Some(_))));
        assert_eq!(label, "completed");
        let (o, label, _) = classify(
            Err(InvokeError::Plugin(PluginError::NotFound("u".into()))),
            &s,
            1,
        );
        assert!(matches!(o, ExecutionOutcome::Skipped(_)));
        assert_eq!(label, "not_found");
        let (o, _, _) = classify(
            Err(InvokeError::Plugin(PluginError::Permanent("x".into()))),
            &s,
            1,
        );
        assert!(matches!(o, ExecutionOutcome::Dead));
        let (o, label, _) = classify(
            Err(InvokeError::Plugin(PluginError::Transient("x".into()))),
            &s,
            1,
        );
        assert!(matches!(o, ExecutionOutcome::Retry(_)));
        assert_eq!(label, "transient");
        // The schedule ends: dead.
        let (o, _, _) = classify(
            Err(InvokeError::Plugin(PluginError::Transient("x".into()))),
            &s,
            3,
        );
        assert!(matches!(o, ExecutionOutcome::Dead));
        let (o, _, _) = classify(Err(InvokeError::Busy("full".into())), &s, 9);
        assert!(matches!(o, ExecutionOutcome::Deferred(_)));
    }

    #[test]
    fn rate_limits_wait_at_least_retry_after() {
        let s = schedule();
        let (o, label, _) = classify(
            Err(InvokeError::Plugin(PluginError::RateLimited {
                retry_after_seconds: 120,
                message: "slow down".into(),
            })),
            &s,
            1,
        );
        assert_eq!(label, "rate_limited");
        let ExecutionOutcome::Retry(at) = o else {
            panic!("{o:?}")
        };
        assert!(at.as_micros() - Timestamp::now().as_micros() > 100_000_000);
    }
}
