//! Rollcall's storage boundary.
//!
//! One [`Store`] over either an embedded SQLite database (the default) or
//! PostgreSQL (hosted, several replicas). Every query is written once, with
//! `$n` placeholders that both backends accept; the few places where SQL must
//! differ live in [`backend`]. Above the repositories sits the directory-state
//! service ([`directory_state`]) that writes a change and the events that
//! describe it in one transaction — the invariant everything downstream
//! relies on.

#[macro_use]
mod backend;
#[macro_use]
mod sql;
mod admin_keys;
mod direct;
mod directories;
pub mod directory_state;
mod directory_sync;
mod error;
mod events;
mod fanout;
mod groups;
mod lifecycle_executions;
mod organizations;
mod page;
mod plugin_installations;
mod plugin_state;
mod plugins;
mod rows;
mod scim_auth;
pub mod scim_query;
mod scim_refs;
mod scim_requests;
mod scim_schemas;
mod scim_tokens;
mod sync_runs;
mod tx_statements;
mod users;
mod webhook_deliveries;
mod webhook_endpoints;
mod write_batcher;

pub use admin_keys::{AdminKey, AdminKeyScope};
pub use backend::{BackendKind, PoolStats, SqliteSync, Store, StoreOptions};
pub use directories::CreatedDirectory;
pub use directory_state::{SyncChange, SyncPage};
pub use directory_sync::{DirectorySync, SyncRefusal};
pub use error::StoreError;
pub use events::EventFilter;
pub use groups::GroupFilter;
pub use lifecycle_executions::{
    DueExecution, ExecutionOutcome, ExecutionRecord, ExecutionState, LifecycleAttempt,
    LifecycleExecution,
};
pub use page::{MAX_LIMIT, Order, Page, PageRequest};
pub use plugin_installations::{
    InstallationChanges, InstallationSecrets, MAX_INSTALLATION_SECRETS_BYTES, NewInstallation,
    PluginInstallation,
};
pub use plugin_state::{StateQuota, StateWrite};
pub use plugins::{NewPlugin, Plugin};
pub use scim_query::{Pushdown, ScimPage, ScimQuery, SortKey};
pub use scim_refs::RefPair;
pub use scim_requests::{ScimRequestLog, newest_per_directory};
pub use scim_schemas::{MAX_CUSTOM_SCHEMAS, StoredScimSchema};
pub use scim_tokens::{MAX_GRACE_SECONDS, ScimToken, TokenStatus};
pub use sync_runs::{
    ClaimLimits, RunEnd, SyncCounts, SyncMode, SyncPhase, SyncRun, SyncStatus, SyncTrigger,
};
pub use users::UserFilter;
pub use webhook_deliveries::{
    AttemptOutcome, AttemptRecord, DeliveryState, DueDelivery, MAX_EXCERPT_BYTES, WebhookAttempt,
    WebhookDelivery,
};
pub use webhook_endpoints::{
    EndpointState, MAX_BATCH_SIZE, MAX_DESCRIPTION_LEN, MAX_RATE_LIMIT, NewWebhookEndpoint,
    WebhookEndpoint, WebhookEndpointUpdate,
};
