//! Per-directory token-bucket rate limiting for SCIM (answered with 429 and
//! `Retry-After`). The default is generous: identity providers pace
//! themselves (Entra ID stays around 25 requests/s per tenant), so the limit
//! only stops runaway clients.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_second` = 0 disables limiting.
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimiter {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(per_second).max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `None` if the request may proceed, else the seconds to wait.
    pub fn check(&self, key: &str) -> Option<u64> {
        if self.per_second <= 0.0 {
            return None;
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs() < 60);
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            None
        } else {
            Some(((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_asks_to_wait() {
        let limiter = RateLimiter::new(1, 3);
        assert!((0..3).all(|_| limiter.check("d").is_none()));
        assert_eq!(limiter.check("d"), Some(1));
        assert!(limiter.check("other").is_none(), "buckets are per key");
        assert!(
            RateLimiter::new(0, 0).check("d").is_none(),
            "0 disables limiting"
        );
    }
}
