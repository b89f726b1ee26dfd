//! What one invocation runs with: who the plugin is and for which tenant,
//! its manifest, grants, config, secrets, bound credentials, and where its
//! state lives.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::credentials::Credential;
use crate::manifest::Manifest;
use crate::policy::LimitRequest;

/// Scope and quotas of one installation's state.
#[derive(Debug, Clone)]
pub struct StateScope {
    pub organization_id: String,
    pub installation_id: String,
    pub max_keys: u64,
    pub max_bytes: u64,
}

/// Why a state operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    QuotaExceeded(String),
    Unavailable(String),
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Storage for plugin state; the database in production, memory in
/// benchmarks and unit tests.
pub trait StateBackend: Send + Sync {
    fn get<'a>(
        &'a self,
        scope: &'a StateScope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StateError>>;
    fn set<'a>(
        &'a self,
        scope: &'a StateScope,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), StateError>>;
    fn delete<'a>(
        &'a self,
        scope: &'a StateScope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), StateError>>;
    fn list_keys<'a>(
        &'a self,
        scope: &'a StateScope,
        prefix: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<String>, StateError>>;
}

/// Everything an invocation needs besides the component.
#[derive(Clone)]
pub struct InvocationContext {
    pub installation_id: String,
    pub organization_id: String,
    pub directory_id: Option<String>,
    pub manifest: Arc<Manifest>,
    /// Hosts the installation grants (intersected with the manifest's).
    pub granted_hosts: Vec<String>,
    /// Limits the installation grants (narrowing the platform's).
    pub grant_limits: LimitRequest,
    /// The validated config object.
    pub config: Map<String, Value>,
    pub secrets: BTreeMap<String, String>,
    /// Credentials the host injects, by the manifest's slot name.
    pub credentials: BTreeMap<String, Credential>,
    pub state: Arc<dyn StateBackend>,
}

impl std::fmt::Debug for InvocationContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvocationContext")
            .field("plugin", &self.manifest.id)
            .field("installation_id", &self.installation_id)
            .field("organization_id", &self.organization_id)
            .field("directory_id", &self.directory_id)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// State kept in memory: for benchmarks, tests and `rollcall plugin` dry runs.
#[derive(Default)]
pub struct MemoryState {
    data: std::sync::Mutex<BTreeMap<(String, String, String), String>>,
}

impl MemoryState {
    fn scoped(&self, scope: &StateScope) -> Vec<(String, usize)> {
        let data = self.data.lock().expect("state lock");
        data.iter()
            .filter(|((o, i, _), _)| *o == scope.organization_id && *i == scope.installation_id)
            .map(|((_, _, k), v)| (k.clone(), k.len() + v.len()))
            .collect()
    }
}

fn key_of(scope: &StateScope, key: &str) -> (String, String, String) {
    (
        scope.organization_id.clone(),
        scope.installation_id.clone(),
        key.to_owned(),
    )
}

/// The quota rule both backends apply: after the write, the installation
/// holds at most `max_keys` keys and `max_bytes` bytes of keys + values.
pub fn check_quota(
    scope: &StateScope,
    keys_after: u64,
    bytes_after: u64,
) -> Result<(), StateError> {
    if keys_after > scope.max_keys {
        return Err(StateError::QuotaExceeded(format!(
            "state quota exceeded: at most {} keys per installation",
            scope.max_keys
        )));
    }
    if bytes_after > scope.max_bytes {
        return Err(StateError::QuotaExceeded(format!(
            "state quota exceeded: at most {} bytes per installation",
            scope.max_bytes
        )));
    }
    Ok(())
}

impl StateBackend for MemoryState {
    fn get<'a>(
        &'a self,
        scope: &'a StateScope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StateError>> {
        Box::pin(async move {
            Ok(self
                .data
                .lock()
                .expect("state lock")
                .get(&key_of(scope, key))
                .cloned())
        })
    }

    fn set<'a>(
        &'a self,
        scope: &'a StateScope,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async move {
            let existing = self.scoped(scope);
            let others: Vec<_> = existing.iter().filter(|(k, _)| k != key).collect();
            let bytes = others.iter().map(|(_, n)| *n as u64).sum::<u64>()
                + (key.len() + value.len()) as u64;
            check_quota(scope, others.len() as u64 + 1, bytes)?;
            self.data
                .lock()
                .expect("state lock")
                .insert(key_of(scope, key), value.to_owned());
            Ok(())
        })
    }

    fn delete<'a>(
        &'a self,
        scope: &'a StateScope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async move {
            self.data
                .lock()
                .expect("state lock")
                .remove(&key_of(scope, key));
            Ok(())
        })
    }

    fn list_keys<'a>(
        &'a self,
        scope: &'a StateScope,
        prefix: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<String>, StateError>> {
        Box::pin(async move {
            Ok(self
                .scoped(scope)
                .into_iter()
                .map(|(k, _)| k)
                .filter(|k| k.starts_with(prefix))
                .take(limit as usize)
                .collect())
        })
    }
}
