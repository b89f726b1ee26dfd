//! The delivery worker's settings (`ROLLCALL_WEBHOOK_*`).

use std::time::Duration;

use rollcall_core::webhook::RetrySchedule;

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Waits between attempts; the last failure dead-letters the delivery.
    pub retry: RetrySchedule,
    /// Requests in flight at once, over all endpoints.
    pub concurrency: usize,
    /// Connect + response deadline of one request.
    pub request_timeout: Duration,
    /// How often to look for new events when idle.
    pub poll_interval: Duration,
    /// Whether endpoints may resolve to loopback, private, link-local or
    /// metadata addresses (local development and tests).
    pub allow_private_network: bool,
    /// Whether `http://` endpoint URLs are accepted.
    pub allow_http: bool,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            retry: RetrySchedule::default(),
            concurrency: 64,
            request_timeout: Duration::from_secs(15),
            poll_interval: Duration::from_millis(100),
            allow_private_network: false,
            allow_http: false,
        }
    }
}

impl WebhookSettings {
    /// How long a claimed delivery stays reserved for one worker: longer
    /// than any request may take, short enough to recover from a crash.
    pub(crate) fn lease_seconds(&self) -> i64 {
        self.request_timeout.as_secs() as i64 + 60
    }
}
