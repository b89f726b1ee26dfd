//! Pull-sync settings (`ROLLCALL_SYNC_*`).

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct PullSettings {
    /// Runs working at once over every replica (0 disables pull sync on
    /// this process).
    pub concurrency: u32,
    /// Runs working at once per organization.
    pub per_organization: u32,
    /// Minutes between scheduled runs of a directory that does not set
    /// `sync_interval_minutes`.
    pub default_interval_minutes: u32,
    /// Users (and groups, members) asked for per connector page.
    pub page_size: u32,
    /// Failed attempts (transient errors, traps, timeouts) before a run fails.
    pub max_attempts: u32,
    /// First back-off after a failed attempt; doubles each time (±20 %).
    pub backoff: Duration,
    /// Longest back-off.
    pub max_backoff: Duration,
    /// How long a claimed run is reserved without a heartbeat.
    pub lease: Duration,
    /// How often the scheduler and the claim loop look for work.
    pub poll_interval: Duration,
}

impl Default for PullSettings {
    fn default() -> Self {
        PullSettings {
            concurrency: 4,
            per_organization: 2,
            default_interval_minutes: rollcall_core::sync_settings::DEFAULT_INTERVAL_MINUTES,
            page_size: 500,
            max_attempts: 8,
            backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(30 * 60),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
        }
    }
}

impl PullSettings {
    pub(crate) fn lease_seconds(&self) -> i64 {
        self.lease.as_secs().max(5) as i64
    }

    /// The wait before retrying after `attempts` failed attempts.
    pub(crate) fn backoff_after(&self, attempts: u32) -> Duration {
        let exp = self
            .backoff
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(16));
        let base = exp.min(self.max_backoff);
        let jitter = 0.8 + rand::random::<f64>() * 0.4;
        base.mul_f64(jitter)
    }
}
