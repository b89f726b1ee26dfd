//! SCIM authentication with a short-lived in-process cache: a presented
//! bearer token → the directory it opens, answered by one joined query on a
//! miss and from memory on a hit.
//!
//! Invariants:
//! - Only successful authentications are cached, keyed by the token's
//!   SHA-256 digest (never the token), so unknown tokens cannot grow it.
//! - Every write in this process that can change the answer — token issue,
//!   rotation and revocation, directory update or delete, custom schema
//!   changes, directory state changes by pull sync, organization delete —
//!   calls [`Store::forget_scim_auth`] after its commit. A generation
//!   counter keeps a lookup that raced with such a write from putting its
//!   stale answer back.
//! - Writes made by another process (a second replica, the CLI) are seen
//!   within [`TTL`]. A token's own `expires_at` is checked on every hit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rollcall_core::Timestamp;
use rollcall_core::directory::Directory;
use rollcall_core::token::{self, MAX_TOKEN_LEN};
use sqlx::AssertSqlSafe;

use crate::backend::Store;
use crate::error::StoreError;
use crate::rows::{DIRECTORY_COLUMNS, DirectoryRow, qualified};

/// How long a cached authentication is trusted without asking the database.
pub const TTL: Duration = Duration::from_secs(2);
/// Entries kept before the cache is emptied (one per live token).
const MAX_ENTRIES: usize = 50_000;
/// `last_used_at` is written at most this often per token.
const LAST_USED_RESOLUTION_MICROS: i64 = 60 * 1_000_000;

#[derive(Clone)]
struct Entry {
    directory: Directory,
    expires_at: Option<i64>,
    checked: Instant,
}

/// The cache held by every clone of a [`Store`].
#[derive(Default)]
pub(crate) struct AuthCache {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    generation: AtomicU64,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthCache")
    }
}

impl AuthCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, digest: &[u8; 32], now: i64) -> Option<Directory> {
        let entries = self.lock();
        let entry = entries.get(digest)?;
        if entry.checked.elapsed() > TTL || entry.expires_at.is_some_and(|e| e <= now) {
            return None;
        }
        Some(entry.directory.clone())
    }

    fn put(&self, digest: [u8; 32], entry: Entry, generation: u64) {
        let mut entries = self.lock();
        // Checked under the lock: `clear` bumps the generation under it too.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(digest, entry);
    }

    fn clear(&self) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

#[derive(sqlx::FromRow)]
struct AuthRow {
    token_id: String,
    token_hash: Vec<u8>,
    last_used_at: Option<i64>,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    #[sqlx(flatten)]
    directory: DirectoryRow,
}

impl Store {
    /// The directory a presented SCIM bearer token opens, or `None` for an
    /// unknown, expired or revoked token.
    pub async fn authenticate_scim(
        &self,
        presented: &str,
    ) -> Result<Option<Directory>, StoreError> {
        if presented.is_empty() || presented.len() > MAX_TOKEN_LEN {
            return Ok(None);
        }
        let digest = token::hash(presented);
        let now = Timestamp::now().as_micros();
        if let Some(directory) = self.auth_cache.get(&digest, now) {
            return Ok(Some(directory));
        }
        let generation = self.auth_cache.generation.load(Ordering::Acquire);
        let sql = format!(
            "SELECT t.id AS token_id, t.token_hash, t.last_used_at, t.expires_at, t.revoked_at, {} \
             FROM scim_tokens t JOIN directories d ON d.id = t.directory_id WHERE t.token_hash = $1",
            qualified(DIRECTORY_COLUMNS, "d")
        );
        let row: Option<AuthRow> = on_read!(self, |pool| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(&digest[..])
                .fetch_optional(pool)
                .await?
        });
        let Some(row) = row else {
            return Ok(None);
        };
        if !token::digests_equal(&row.token_hash, &digest)
            || row.revoked_at.is_some()
            || row.expires_at.is_some_and(|e| e <= now)
        {
            return Ok(None);
        }
        if row
            .last_used_at
            .is_none_or(|t| now - t > LAST_USED_RESOLUTION_MICROS)
        {
            self.touch_scim_token(&row.token_id, now).await?;
        }
        let directory = Directory::try_from(row.directory)?;
        self.auth_cache.put(
            digest,
            Entry {
                directory: directory.clone(),
                expires_at: row.expires_at,
                checked: Instant::now(),
            },
            generation,
        );
        Ok(Some(directory))
    }

    /// The id of the directory a presented SCIM bearer token opens.
    pub async fn authenticate_scim_token(
        &self,
        presented: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self.authenticate_scim(presented).await?.map(|d| d.id))
    }

    /// Drops every cached SCIM authentication; called after each commit
    /// that changes tokens or directories.
    pub(crate) fn forget_scim_auth(&self) {
        self.auth_cache.clear();
    }

    async fn touch_scim_token(&self, token_id: &str, now: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query("UPDATE scim_tokens SET last_used_at = $2 WHERE id = $1")
                .bind(token_id)
                .bind(now)
                .execute(&mut *conn)
                .await?;
        });
        tx.commit().await
    }
}
