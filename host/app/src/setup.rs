//! Opening the database the configuration names: data directory, master
//! key, connection, migrations, and the first admin key.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use rollcall_core::sealed::MasterKey;
use rollcall_store::{Store, StoreOptions};

use crate::config::Config;

const MASTER_KEY_FILE: &str = "master.key";

/// Connects and migrates.
pub async fn open_store(config: &Config) -> Result<Store> {
    let sqlite = config.database_url.starts_with("sqlite:");
    if sqlite || config.master_key.is_none() {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create data directory {}", config.data_dir.display())
        })?;
    }
    let master_key = master_key(config)?;
    let store = Store::connect(StoreOptions {
        url: config.database_url.clone(),
        max_connections: config.database_max_connections,
        sqlite_sync: config.sqlite_sync,
        master_key,
    })
    .await
    .with_context(|| format!("cannot open database {}", redact(&config.database_url)))?;
    store.migrate().await.context("database migration failed")?;
    Ok(store)
}

/// The key that seals stored secrets: `ROLLCALL_MASTER_KEY`, else
/// `data_dir/master.key` (created with mode 0600 on first use).
fn master_key(config: &Config) -> Result<MasterKey> {
    if let Some(k) = &config.master_key {
        return Ok(MasterKey::from_base64(k)?);
    }
    let path = config.data_dir.join(MASTER_KEY_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return MasterKey::from_base64(&text)
            .with_context(|| format!("{} does not hold a valid master key", path.display()));
    }
    if config.database_url.starts_with("postgres") {
        tracing::warn!(
            path = %path.display(),
            "no ROLLCALL_MASTER_KEY set: generating a local key file; every replica sharing this database needs the same key"
        );
    }
    let key = MasterKey::generate();
    write_private(&path, key.to_base64().as_bytes())?;
    Ok(key)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// Makes sure there is a way in: the configured bootstrap key, or on a
/// database without any key, a generated one that is returned to be shown once.
pub async fn bootstrap_admin_key(store: &Store, config: &Config) -> Result<Option<String>> {
    if let Some(key) = &config.bootstrap_admin_key {
        if store.ensure_admin_key("bootstrap", key).await? {
            tracing::info!("created the admin key from ROLLCALL_BOOTSTRAP_ADMIN_KEY");
        }
        return Ok(None);
    }
    if store.has_admin_keys().await? {
        return Ok(None);
    }
    let (_, secret) = store.create_admin_key("bootstrap", None).await?;
    Ok(Some(secret))
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://./x.db"), "sqlite://./x.db");
    }
}
