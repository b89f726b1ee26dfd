//! A pull directory's sync settings, read from the directory's `settings`
//! object: how often the schedule runs it, how often an incremental
//! connector still runs a full pass, and what happens to users the
//! provider no longer lists.

use serde_json::{Map, Value};

/// Default minutes between scheduled runs.
pub const DEFAULT_INTERVAL_MINUTES: u32 = 30;
/// Default hours between full passes for connectors with a checkpoint.
pub const DEFAULT_FULL_INTERVAL_HOURS: u32 = 24;

/// What happens to users a complete full pass did not see (and to users an
/// incremental run reports removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RemovedUsersPolicy {
    /// Deleted, with `dsync.user.deleted` (the default, as WorkOS does).
    #[default]
    Delete,
    /// Kept with `state: inactive`, with `dsync.user.updated`.
    Deactivate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectorySyncSettings {
    /// `sync_interval_minutes`, 1..=10080 (a week).
    pub interval_minutes: u32,
    /// `full_sync_interval_hours`, 1..=720 (30 days).
    pub full_interval_hours: u32,
    /// `removed_users`: `"delete"` or `"deactivate"`.
    pub removed_users: RemovedUsersPolicy,
}

impl DirectorySyncSettings {
    /// The settings with `default_interval` minutes when the directory
    /// does not set its own.
    pub fn defaults(default_interval: u32) -> Self {
        DirectorySyncSettings {
            interval_minutes: default_interval,
            full_interval_hours: DEFAULT_FULL_INTERVAL_HOURS,
            removed_users: RemovedUsersPolicy::Delete,
        }
    }

    /// Reads the sync keys of a directory's `settings`; other keys are
    /// left alone. The error names the key and what it accepts.
    pub fn parse(settings: &Map<String, Value>, default_interval: u32) -> Result<Self, String> {
        let mut out = Self::defaults(default_interval);
        if let Some(v) = settings.get("sync_interval_minutes") {
            out.interval_minutes = bounded(v, "sync_interval_minutes", 1, 10_080)?;
        }
        if let Some(v) = settings.get("full_sync_interval_hours") {
            out.full_interval_hours = bounded(v, "full_sync_interval_hours", 1, 720)?;
        }
        if let Some(v) = settings.get("removed_users") {
            out.removed_users = match v.as_str() {
                Some("delete") => RemovedUsersPolicy::Delete,
                Some("deactivate") => RemovedUsersPolicy::Deactivate,
                _ => {
                    return Err(
                        "settings.removed_users: must be \"delete\" or \"deactivate\"".into(),
                    );
                }
            };
        }
        Ok(out)
    }
}

fn bounded(v: &Value, key: &str, min: u64, max: u64) -> Result<u32, String> {
    match v.as_u64() {
        Some(n) if (min..=max).contains(&n) => Ok(n as u32),
        _ => Err(format!(
            "settings.{key}: must be a whole number from {min} to {max}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn defaults_and_overrides() {
        let d = DirectorySyncSettings::parse(&map(json!({"other": 1})), 30).unwrap();
        assert_eq!(d, DirectorySyncSettings::defaults(30));
        let s = DirectorySyncSettings::parse(
            &map(json!({"sync_interval_minutes": 5, "full_sync_interval_hours": 2, "removed_users": "deactivate"})),
            30,
        )
        .unwrap();
        assert_eq!(s.interval_minutes, 5);
        assert_eq!(s.full_interval_hours, 2);
        assert_eq!(s.removed_users, RemovedUsersPolicy::Deactivate);
    }

    #[test]
    fn bad_values_name_the_key() {
        for (v, key) in [
            (json!({"sync_interval_minutes": 0}), "sync_interval_minutes"),
            (
                json!({"sync_interval_minutes": "5"}),
                "sync_interval_minutes",
            ),
            (
                json!({"full_sync_interval_hours": 1000}),
                "full_sync_interval_hours",
            ),
            (json!({"removed_users": "archive"}), "removed_users"),
        ] {
            let e = DirectorySyncSettings::parse(&map(v), 30).unwrap_err();
            assert!(e.contains(key), "{e}");
        }
    }
}
