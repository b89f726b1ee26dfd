//! Per-endpoint request rate: a token bucket per endpoint, in memory (per
//! replica).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
pub(crate) struct RateLimits {
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    /// When the next request may start.
    next: Instant,
}

impl RateLimits {
    /// Reserves a slot for one request to `endpoint` at `per_second`;
    /// answers how long to wait before sending.
    pub(crate) fn reserve(&self, endpoint: &str, per_second: u32) -> Duration {
        let interval = Duration::from_secs(1) / per_second.max(1);
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            return Duration::ZERO;
        };
        // Allow a burst of up to one second's worth after an idle spell.
        let earliest = now.checked_sub(Duration::from_secs(1)).unwrap_or(now);
        let bucket = buckets
            .entry(endpoint.to_owned())
            .or_insert(Bucket { next: earliest });
        if bucket.next < earliest {
            bucket.next = earliest;
        }
        let start = bucket.next.max(now);
        bucket.next += interval;
        start - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_spaces_requests_after_a_burst() {
        let r = RateLimits::default();
        let waits: Vec<Duration> = (0..30).map(|_| r.reserve("e", 10)).collect();
        // A one-second burst (10 requests) goes at once, then 100 ms apart.
        assert!(
            waits[..10].iter().all(|w| *w < Duration::from_millis(20)),
            "{waits:?}"
        );
        assert!(waits[29] > Duration::from_millis(1800), "{waits:?}");
        assert_eq!(r.reserve("other", 10), Duration::ZERO);
    }
}
