//! The lifecycle dispatcher's settings (`ROLLCALL_LIFECYCLE_*`).

use std::time::Duration;

use rollcall_core::webhook::RetrySchedule;

#[derive(Debug, Clone)]
pub struct LifecycleSettings {
    /// Waits between attempts after a retryable failure; after the last
    /// one the execution is dead-lettered.
    pub retry: RetrySchedule,
    /// Executions running at once per process.
    pub concurrency: usize,
    /// How often to look for new events when idle.
    pub poll_interval: Duration,
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        LifecycleSettings {
            retry: RetrySchedule::default(),
            concurrency: 16,
            poll_interval: Duration::from_millis(100),
        }
    }
}

/// How long a claimed execution stays reserved: longer than the runtime's
/// outer timeout for one call.
pub(crate) const LEASE_SECONDS: i64 = 120;
