//! Rollcall's plugin runtime, the only crate that knows wasmtime.
//!
//! Plugins are WebAssembly components written against the versioned
//! `rollcall:plugin` WIT contract (`wit/`). This crate compiles and caches
//! them ([`engine`]), checks which world they implement ([`bindings`]),
//! runs each invocation in a fresh sandboxed store ([`invoke`]) under one
//! [`SandboxPolicy`] ([`policy`]), and provides the host imports: logging,
//! config, secrets, state ([`imports`]), filtered outgoing HTTP with
//! credential injection ([`outbound`], [`credentials`]) and LDAP for
//! connectors ([`ldap`], over the session in [`ldap_client`]), all outgoing
//! TLS trusting the roots of [`tls`]. Manifests
//! (`plugin.toml`) and config schemas are parsed in [`manifest`] and
//! [`schema`].

mod bindings;
pub mod builtin;
mod context;
mod convert;
pub mod credentials;
mod engine;
mod error;
mod host_state;
pub mod hosts;
mod imports;
mod invoke;
mod ldap;
mod ldap_client;
pub mod manifest;
mod outbound;
pub mod policy;
pub mod registry;
pub mod schema;
mod store_state;
pub mod tls;

pub use bindings::{CONNECTOR_EXPORT, LIFECYCLE_EXPORT};
pub use context::{
    BoxFuture, InvocationContext, MemoryState, StateBackend, StateError, StateScope, check_quota,
};
pub use convert::{Change, ChangePage, LifecycleEvent, Membership, Outcome, Page, PluginInfo};
pub use engine::{EPOCH_TICK, digest};
pub use error::{InstallError, InvokeError, PluginError};
pub use invoke::{ConnectorInstance, LifecycleInstance, LoadedPlugin, Runtime, RuntimeConfig};
pub use manifest::{Manifest, PluginKind};
pub use policy::SandboxPolicy;
pub use tls::TlsTrust;
