//! Driving test guests through the real runtime: a runtime per sandbox
//! policy, the misbehaving guest with its manifest (or another manifest
//! for the same component), an invocation context with in-memory state,
//! and lifecycle events whose `data` picks the guest's behavior.

use std::sync::Arc;

use rollcall_runtime::builtin::test_guests;
use rollcall_runtime::{
    InvocationContext, LifecycleEvent, LoadedPlugin, Manifest, MemoryState, Runtime, RuntimeConfig,
    SandboxPolicy,
};
use serde_json::Value;

/// A runtime with `policy`, caching compiled components across test binaries.
pub fn runtime(policy: SandboxPolicy) -> Runtime {
    Runtime::new(RuntimeConfig {
        policy,
        cache_dir: Some(std::env::temp_dir().join("rollcall-test-plugin-cache")),
    })
    .expect("plugin runtime")
}

/// The development policy: loopback and plain HTTP allowed.
pub fn permissive() -> SandboxPolicy {
    SandboxPolicy {
        allow_private_network: true,
        allow_plain_http: true,
        ..SandboxPolicy::default()
    }
}

/// The misbehaving guest (`plugins/testing/misbehaving`) and its manifest.
pub fn misbehaving(runtime: &Runtime) -> (LoadedPlugin, Arc<Manifest>) {
    let wasm = test_guests::MISBEHAVING;
    let text = rollcall_runtime::manifest::embedded(wasm).expect("embedded manifest");
    let manifest = Manifest::parse(&text).expect("manifest");
    (
        runtime.load(wasm).expect("load misbehaving guest"),
        Arc::new(manifest),
    )
}

/// An invocation context of installation `installation_id` in `org_test`.
pub fn context(
    installation_id: &str,
    manifest: Arc<Manifest>,
    granted: &[&str],
    config: Value,
) -> InvocationContext {
    InvocationContext {
        installation_id: installation_id.to_owned(),
        organization_id: "org_test".into(),
        directory_id: None,
        manifest,
        granted_hosts: granted.iter().map(|h| h.to_string()).collect(),
        grant_limits: Default::default(),
        config: config.as_object().cloned().unwrap_or_default(),
        secrets: Default::default(),
        credentials: Default::default(),
        state: Arc::new(MemoryState::default()),
    }
}

/// A `dsync.user.created` event carrying `data`.
pub fn event(data: Value) -> LifecycleEvent {
    LifecycleEvent {
        id: "event_1".into(),
        event_type: "dsync.user.created".into(),
        organization_id: "org_test".into(),
        directory_id: None,
        created_at_micros: 0,
        data,
        previous_attributes: None,
        idempotency_key: "event_1:plugin_installation_test".into(),
        attempt: 1,
    }
}
