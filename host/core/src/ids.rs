//! Prefixed, sortable, opaque identifiers (`org_01J…`, `directory_user_01J…`).
//!
//! The body is a ULID, so ids sort by creation time; that order is what the
//! cursor lists (`before` / `after`) rely on.

use std::sync::Mutex;

use thiserror::Error;

/// The kinds of object that have ids, each with its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Organization,
    Directory,
    DirectoryUser,
    DirectoryGroup,
    Event,
    ScimToken,
    AdminKey,
    Plugin,
    PluginInstallation,
    WebhookEndpoint,
    /// A batched webhook request (several events in one body).
    WebhookMessage,
    SyncRun,
}

impl IdKind {
    /// The prefix, without the trailing underscore.
    pub const fn prefix(self) -> &'static str {
        match self {
            IdKind::Organization => "org",
            IdKind::Directory => "directory",
            IdKind::DirectoryUser => "directory_user",
            IdKind::DirectoryGroup => "directory_group",
            IdKind::Event => "event",
            IdKind::ScimToken => "scim_token",
            IdKind::AdminKey => "admin_key",
            IdKind::Plugin => "plugin",
            IdKind::PluginInstallation => "plugin_installation",
            IdKind::WebhookEndpoint => "webhook_endpoint",
            IdKind::WebhookMessage => "msg",
            IdKind::SyncRun => "sync_run",
        }
    }
}

static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());

/// A new id of the given kind. Ids made by one process are strictly
/// increasing, even within one millisecond, so creation order is id order.
pub fn new_id(kind: IdKind) -> String {
    // `Ulid::new` (random, not monotonic) only if the generator's lock was
    // poisoned or its random part overflowed within one millisecond.
    let monotonic = GENERATOR.lock().ok().and_then(|mut g| g.generate().ok());
    let ulid = match monotonic {
        Some(u) => u,
        None => ulid::Ulid::new(),
    };
    format!("{}_{}", kind.prefix(), ulid)
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("'{value}' is not a valid {expected} id (expected {expected}_ followed by 26 characters)")]
pub struct InvalidId {
    pub value: String,
    pub expected: &'static str,
}

/// Checks that `value` is an id of `kind` (prefix and ULID body), so that a
/// malformed cursor or path parameter is reported instead of silently
/// matching nothing.
pub fn check_id(kind: IdKind, value: &str) -> Result<(), InvalidId> {
    let invalid = || InvalidId {
        value: value.chars().take(80).collect(),
        expected: kind.prefix(),
    };
    let body = value
        .strip_prefix(kind.prefix())
        .and_then(|rest| rest.strip_prefix('_'))
        .ok_or_else(invalid)?;
    ulid::Ulid::from_string(body).map_err(|_| invalid())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_carry_prefix_and_sort_by_time() {
        let a = new_id(IdKind::DirectoryUser);
        let b = new_id(IdKind::DirectoryUser);
        assert!(a.starts_with("directory_user_"));
        assert_eq!(a.len(), "directory_user_".len() + 26);
        assert!(a < b);
        check_id(IdKind::DirectoryUser, &a).unwrap();
    }

    #[test]
    fn check_id_rejects_wrong_prefix_and_garbage() {
        let org = new_id(IdKind::Organization);
        assert!(check_id(IdKind::Directory, &org).is_err());
        assert!(check_id(IdKind::Organization, "org_").is_err());
        assert!(check_id(IdKind::Organization, "org_not-a-ulid-at-all-xxxxxxx").is_err());
        // `directory_user_…` must not pass as a `directory_…` id.
        let user = new_id(IdKind::DirectoryUser);
        assert!(check_id(IdKind::Directory, &user).is_err());
    }
}
