//! The retry schedule: how long to wait before each retry of a failed
//! delivery, with jitter, and when to give up (dead-letter).
//!
//! The default waits 5 s, 1 min, 5 min, 30 min, 2 h, 6 h, 12 h, 24 h and
//! 24 h: ten attempts over about 2.9 days. Operators override it with a
//! comma-separated list of durations (`5s,1m,5m,30m,2h,6h,12h,1d,1d`).

use std::time::Duration;

use rand::Rng;
use thiserror::Error;

/// Most retries a schedule may list.
pub const MAX_RETRIES: usize = 50;
/// Longest single wait.
pub const MAX_WAIT: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    waits: Vec<Duration>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RetryScheduleError {
    #[error("'{0}' is not a duration (use e.g. 500ms, 5s, 1m, 2h, 1d)")]
    Duration(String),
    #[error("at most {MAX_RETRIES} retries")]
    TooMany,
    #[error("a single wait may be at most 7 days")]
    TooLong,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        let m = 60;
        let h = 3600;
        RetrySchedule {
            waits: [5, m, 5 * m, 30 * m, 2 * h, 6 * h, 12 * h, 24 * h, 24 * h]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
        }
    }
}

impl RetrySchedule {
    /// Parses `5s,1m,…`; an empty string means no retries.
    pub fn parse(text: &str) -> Result<Self, RetryScheduleError> {
        let mut waits = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let wait = parse_duration(part)?;
            if wait > MAX_WAIT {
                return Err(RetryScheduleError::TooLong);
            }
            waits.push(wait);
        }
        if waits.len() > MAX_RETRIES {
            return Err(RetryScheduleError::TooMany);
        }
        Ok(RetrySchedule { waits })
    }

    /// Attempts in total: the first one plus one per listed wait.
    pub fn max_attempts(&self) -> u32 {
        self.waits.len() as u32 + 1
    }

    /// The wait after the `attempts`-th failed attempt (1-based), with
    /// ±20 % jitter; `None` once the schedule is exhausted (dead-letter).
    pub fn next_wait(&self, attempts: u32) -> Option<Duration> {
        let base = *self.waits.get(attempts.checked_sub(1)? as usize)?;
        let factor = rand::rng().random_range(0.8..1.2);
        Some(base.mul_f64(factor))
    }

    /// The sum of all waits without jitter.
    pub fn total(&self) -> Duration {
        self.waits.iter().sum()
    }

    /// The schedule as it is written in configuration.
    pub fn to_config_string(&self) -> String {
        self.waits
            .iter()
            .map(|d| format_duration(*d))
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn parse_duration(text: &str) -> Result<Duration, RetryScheduleError> {
    let bad = || RetryScheduleError::Duration(text.chars().take(40).collect());
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let millis = match unit {
        "ms" => n,
        "s" => n.saturating_mul(1000),
        "m" => n.saturating_mul(60_000),
        "h" => n.saturating_mul(3_600_000),
        "d" => n.saturating_mul(86_400_000),
        _ => return Err(bad()),
    };
    Ok(Duration::from_millis(millis))
}

fn format_duration(d: Duration) -> String {
    let ms = d.as_millis() as u64;
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_about_three_days_in_ten_attempts() {
        let s = RetrySchedule::default();
        assert_eq!(s.max_attempts(), 10);
        let days = s.total().as_secs_f64() / 86_400.0;
        assert!((2.5..3.5).contains(&days), "{days}");
        assert_eq!(s.to_config_string(), "5s,1m,5m,30m,2h,6h,12h,1d,1d");
        assert_eq!(RetrySchedule::parse(&s.to_config_string()).unwrap(), s);
    }

    #[test]
    fn waits_have_jitter_and_end() {
        let s = RetrySchedule::parse("10s,100ms").unwrap();
        let w = s.next_wait(1).unwrap();
        assert!(
            w >= Duration::from_secs(8) && w <= Duration::from_secs(12),
            "{w:?}"
        );
        assert!(s.next_wait(2).unwrap() <= Duration::from_millis(120));
        assert_eq!(s.next_wait(3), None);
        assert_eq!(s.next_wait(0), None);
        assert_eq!(RetrySchedule::parse("").unwrap().max_attempts(), 1);
    }

    #[test]
    fn bad_schedules_are_refused() {
        assert!(matches!(
            RetrySchedule::parse("5x"),
            Err(RetryScheduleError::Duration(_))
        ));
        assert!(matches!(
            RetrySchedule::parse("s"),
            Err(RetryScheduleError::Duration(_))
        ));
        assert_eq!(RetrySchedule::parse("8d"), Err(RetryScheduleError::TooLong));
        let many = vec!["1s"; MAX_RETRIES + 1].join(",");
        assert_eq!(
            RetrySchedule::parse(&many),
            Err(RetryScheduleError::TooMany)
        );
    }
}
