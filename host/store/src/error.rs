//! The store's error type: what callers must tell apart.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// The named object does not exist (or is not visible in this scope).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule was violated; the message names it.
    #[error("{0}")]
    Conflict(String),
    /// The request was well-formed JSON but not acceptable.
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// An optimistic-concurrency check failed (SCIM `If-Match`, PATCH retry).
    #[error("version {actual} does not match the expected {expected}")]
    VersionMismatch { expected: i64, actual: i64 },
    #[error("{0}")]
    Internal(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::Conflict(unique_message(db.message()));
        }
        StoreError::Database(e)
    }
}

/// A readable conflict message from a unique-violation, without leaking SQL.
pub(crate) fn unique_message(raw: &str) -> String {
    let raw = raw.to_ascii_lowercase();
    if raw.contains("username_key") {
        "userName is already taken in this directory".into()
    } else if raw.contains("external_id") {
        "an organization with this external_id already exists".into()
    } else if raw.contains("idp_id") {
        "an object with this idp_id already exists in the directory".into()
    } else {
        "the object conflicts with an existing one".into()
    }
}
