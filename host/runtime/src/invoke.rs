//! Running plugins: [`Runtime`] loads components and makes instances; an
//! instance lives in its own fresh `Store` (one per lifecycle event, one
//! per sync run) and every call on it runs under a deadline enforced by
//! epoch interruption, an outer tokio timeout, and the process-wide
//! concurrency limit. An instance that trapped, ran out of memory or time
//! is discarded and never re-entered.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rollcall_core::directory_group::GroupInput;
use rollcall_core::directory_user::UserInput;
use tokio::sync::Semaphore;
use wasmtime::{Store, UpdateDeadline};

use crate::bindings::{Prepared, PreparedWorld, connector_world, lifecycle_world};
use crate::context::InvocationContext;
use crate::convert::{self, ChangePage, LifecycleEvent, Membership, Outcome, Page, PluginInfo};
use crate::engine::PluginEngine;
use crate::error::{InstallError, InvokeError, PluginError};
use crate::host_state::{HostState, LimitHit};
use crate::manifest::PluginKind;
use crate::policy::SandboxPolicy;

/// Extra time the outer timeout allows beyond the epoch deadline.
const OUTER_GRACE: Duration = Duration::from_millis(500);
/// Deadline for instantiation (running the component's start code).
const INSTANTIATE_TIMEOUT: Duration = Duration::from_secs(5);

/// Raised by the epoch callback when a call passes its deadline.
#[derive(Debug, thiserror::Error)]
#[error("deadline reached")]
struct DeadlineHit;

/// How the runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The platform maximum of every limit.
    pub policy: SandboxPolicy,
    /// Where compiled components are cached (`None`: compile in memory).
    pub cache_dir: Option<PathBuf>,
}

/// The plugin runtime: one per process is enough (it owns the engine).
pub struct Runtime {
    engine: Arc<PluginEngine>,
    platform: SandboxPolicy,
    permits: Arc<Semaphore>,
}

/// A compiled, type-checked component.
#[derive(Clone)]
pub struct LoadedPlugin {
    prepared: Arc<Prepared>,
}

impl LoadedPlugin {
    pub fn digest(&self) -> &str {
        &self.prepared.digest
    }

    pub fn kind(&self) -> PluginKind {
        self.prepared.kind()
    }

    /// Whether the component imports the host's `ldap` interface.
    pub fn imports_ldap(&self) -> bool {
        self.prepared.imports_ldap
    }
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Runtime> {
        let engine = PluginEngine::new(config.policy.memory_bytes, config.cache_dir)?;
        Ok(Runtime {
            engine,
            permits: Arc::new(Semaphore::new(config.policy.max_concurrency as usize)),
            platform: config.policy,
        })
    }

    /// The platform policy.
    pub fn policy(&self) -> &SandboxPolicy {
        &self.platform
    }

    /// Compiles (or loads from cache) and type-checks a component.
    pub fn load(&self, wasm: &[u8]) -> Result<LoadedPlugin, InstallError> {
        Ok(LoadedPlugin {
            prepared: self.engine.prepare(wasm)?,
        })
    }

    async fn instantiate(
        &self,
        plugin: &LoadedPlugin,
        ctx: InvocationContext,
    ) -> Result<Sandbox, InvokeError> {
        let policy = Arc::new(
            self.platform
                .narrowed(&ctx.manifest.limits, &ctx.grant_limits),
        );
        let mut store = Store::new(
            &self.engine.engine,
            HostState::new(Arc::new(ctx), policy.clone()),
        );
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                Err(DeadlineHit.into())
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store.data_mut().deadline = Instant::now() + INSTANTIATE_TIMEOUT;
        store.set_epoch_deadline(1);
        let world = match &plugin.prepared.pre {
            PreparedWorld::Connector(pre) => pre
                .instantiate_async(&mut store)
                .await
                .map(World::Connector),
            PreparedWorld::Lifecycle(pre) => pre
                .instantiate_async(&mut store)
                .await
                .map(World::Lifecycle),
        };
        let world = world.map_err(|e| match classify(&store, e, INSTANTIATE_TIMEOUT) {
            InvokeError::Trap(m) if m.contains("maximum concurrent") || m.contains("pooling") => {
                InvokeError::Busy(m)
            }
            InvokeError::Trap(m) => InvokeError::Instantiate(m),
            other => other,
        })?;
        Ok(Sandbox {
            store,
            world,
            policy,
            permits: self.permits.clone(),
            discarded: false,
        })
    }

    /// A connector instance for one sync run (all its pages).
    pub async fn connector(
        &self,
        plugin: &LoadedPlugin,
        ctx: InvocationContext,
    ) -> Result<ConnectorInstance, InvokeError> {
        if plugin.kind() != PluginKind::Connector {
            return Err(InvokeError::Instantiate(
                "this plugin is a lifecycle action, not a connector".into(),
            ));
        }
        Ok(ConnectorInstance(self.instantiate(plugin, ctx).await?))
    }

    /// A lifecycle instance for one event.
    pub async fn lifecycle(
        &self,
        plugin: &LoadedPlugin,
        ctx: InvocationContext,
    ) -> Result<LifecycleInstance, InvokeError> {
        if plugin.kind() != PluginKind::Lifecycle {
            return Err(InvokeError::Instantiate(
                "this plugin is a connector, not a lifecycle action".into(),
            ));
        }
        Ok(LifecycleInstance(self.instantiate(plugin, ctx).await?))
    }
}

enum World {
    Connector(connector_world::Connector),
    Lifecycle(lifecycle_world::Lifecycle),
}

/// A live instance in its own store.
struct Sandbox {
    store: Store<HostState>,
    world: World,
    policy: Arc<SandboxPolicy>,
    permits: Arc<Semaphore>,
    discarded: bool,
}

/// Turns a wasmtime error into what the host reports.
fn classify(store: &Store<HostState>, error: wasmtime::Error, timeout: Duration) -> InvokeError {
    if error.is::<DeadlineHit>() {
        return InvokeError::Deadline(timeout);
    }
    if let Some(LimitHit::Memory(limit)) = error.downcast_ref::<LimitHit>() {
        return InvokeError::MemoryLimit(*limit);
    }
    let mut message = match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => format!("{trap}"),
        None => format!("{error}"),
    };
    let stderr = store.data().stderr.contents();
    let stderr = String::from_utf8_lossy(&stderr);
    let stderr = stderr.trim();
    if !stderr.is_empty() {
        message.push_str(&format!(
            "; guest stderr: {}",
            crate::imports::truncate(stderr, 1024)
        ));
    }
    InvokeError::Trap(message)
}

/// Runs one export call on a sandbox: deadline, permit, outer timeout,
/// error mapping, and discarding on failure.
macro_rules! call {
    ($sandbox:expr, $timeout:expr, $world:ident, |$store:ident, $guest:ident| $body:expr) => {{
        let sandbox: &mut Sandbox = $sandbox;
        let timeout: Duration = $timeout;
        if sandbox.discarded {
            return Err(InvokeError::Discarded);
        }
        let _permit = tokio::time::timeout(timeout, sandbox.permits.clone().acquire_owned())
            .await
            .map_err(|_| InvokeError::Busy(format!("no call slot freed up within {} ms", timeout.as_millis())))?
            .map_err(|_| InvokeError::Busy("the runtime is shutting down".into()))?;
        sandbox.store.data_mut().deadline = Instant::now() + timeout;
        sandbox.store.set_epoch_deadline(1);
        let World::$world(instance) = &sandbox.world else {
            return Err(InvokeError::Instantiate("export called on the wrong world".into()));
        };
        let $store = &mut sandbox.store;
        let $guest = instance;
        let outcome = tokio::time::timeout(timeout + OUTER_GRACE, $body).await;
        let result = match outcome {
            Err(_) => Err(InvokeError::Deadline(timeout)),
            Ok(Err(e)) => Err(classify(&sandbox.store, e, timeout)),
            Ok(Ok(value)) => Ok(value),
        };
        if let Err(e) = &result {
            if e.discards_instance() {
                sandbox.discarded = true;
            }
            tracing::warn!(plugin = %sandbox.store.data().ctx.manifest.id, error = %e, "plugin call failed");
        }
        result
    }};
}

fn plugin_result<T, U>(
    r: Result<T, crate::bindings::wit::types::PluginError>,
    f: impl FnOnce(T) -> Result<U, InvokeError>,
) -> Result<U, InvokeError> {
    match r {
        Ok(v) => f(v),
        Err(e) => Err(InvokeError::Plugin(PluginError::from(e))),
    }
}

impl Sandbox {
    /// Refuses a call whose input (the strings the host copies into the
    /// guest) is over the policy's limit, before the guest runs.
    fn check_input(&self, parts: &[Option<&str>]) -> Result<(), InvokeError> {
        let size = parts.iter().flatten().map(|p| p.len() as u64).sum::<u64>();
        let limit = self.policy.max_input_bytes;
        if size > limit {
            let error = InvokeError::InputTooLarge { size, limit };
            tracing::warn!(plugin = %self.store.data().ctx.manifest.id, error = %error, "plugin call refused");
            return Err(error);
        }
        Ok(())
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = self
            .store
            .data()
            .notes
            .lock()
            .map(|n| n.clone())
            .unwrap_or_default();
        let dropped = self.store.data().log.dropped;
        if dropped > 0 {
            notes.push(format!("{dropped} log lines dropped by the rate limit"));
        }
        notes
    }
}

/// A connector instance: one per sync run, serving all its pages.
pub struct ConnectorInstance(Sandbox);

impl ConnectorInstance {
    fn timeout(&self) -> Duration {
        self.0.policy.page_timeout
    }

    /// Host-side notes (denied requests, dropped log lines, quota hits).
    pub fn notes(&self) -> Vec<String> {
        self.0.notes()
    }

    pub async fn describe(&mut self) -> Result<PluginInfo, InvokeError> {
        let t = self.timeout();
        let info = call!(&mut self.0, t, Connector, |store, g| g
            .rollcall_plugin_source()
            .call_describe(store))?;
        Ok(info.into())
    }

    pub async fn validate_config(&mut self) -> Result<(), InvokeError> {
        let t = self.timeout();
        let r = call!(&mut self.0, t, Connector, |store, g| g
            .rollcall_plugin_source()
            .call_validate_config(store))?;
        plugin_result(r, Ok)
    }

    pub async fn list_users(
        &mut self,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<UserInput>, InvokeError> {
        let t = self.timeout();
        self.0.check_input(&[cursor.as_deref()])?;
        let req = convert::page_request(cursor, limit);
        let r = call!(&mut self.0, t, Connector, |store, g| g
            .rollcall_plugin_source()
            .call_list_users(store, &req))?;
        plugin_result(r, |p| {
            Ok(Page {
                items: p
                    .users
                    .into_iter()
                    .map(convert::user)
                    .collect::<Result<_, _>>()?,
                next_cursor: p.next_cursor,
            })
        })
    }

    pub async fn list_groups(
        &mut self,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<GroupInput>, InvokeError> {
        let t = self.timeout();
        self.0.check_input(&[cursor.as_deref()])?;
        let req = convert::page_request(cursor, limit);
        let r = call!(&mut self.0, t, Connector, |store, g| g
            .rollcall_plugin_source()
            .call_list_groups(store, &req))?;
        plugin_result(r, |p| {
            Ok(Page {
                items: p
                    .groups
                    .into_iter()
                    .map(convert::group)
                    .collect::<Result<_, _>>()?,
                next_cursor: p.next_cursor,
            })
        })
    }

    pub async fn list_members(
        &mut self,
        group_idp_id: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<Membership>, InvokeError> {
        let t = self.timeout();
        self.0
            .check_input(&[Some(group_idp_id), cursor.as_deref()])?;
        let req = convert::page_request(cursor, limit);
        let r = call!(&mut self.0, t, Connector, |store, g| g
            .rollcall_plugin_source()
            .call_list_members(store, group_idp_id, &req))?;
        plugin_result(r, |p| {
            Ok(Page {
                items: p
                    .members
                    .into_iter()
                    .map(convert::membership)
                    .collect::<Result<_, _>>()?,
                next_cursor: p.next_cursor,
            })
        })
    }

    pub async fn changes(&mut self, checkpoint: Option<&str>) -> Result<ChangePage, InvokeError> {
        let t = self.timeout();
        self.0.check_input(&[checkpoint])?;
        let r = call!(&mut self.0, t, Connector, |store, g| g
            .rollcall_plugin_source()
            .call_changes(store, checkpoint))?;
        plugin_result(r, |p| {
            Ok(ChangePage {
                changes: p
                    .changes
                    .into_iter()
                    .map(convert::change)
                    .collect::<Result<_, _>>()?,
                checkpoint: p.checkpoint,
                has_more: p.has_more,
            })
        })
    }

    pub async fn map_scim_user(
        &mut self,
        resource: &serde_json::Value,
    ) -> Result<Option<UserInput>, InvokeError> {
        let t = self.timeout();
        let text = resource.to_string();
        self.0.check_input(&[Some(text.as_str())])?;
        let r = call!(&mut self.0, t, Connector, |store, g| g
            .rollcall_plugin_source()
            .call_map_scim_user(store, &text))?;
        plugin_result(r, |u| u.map(convert::user).transpose())
    }

    pub async fn map_scim_group(
        &mut self,
        resource: &serde_json::Value,
    ) -> Result<Option<GroupInput>, InvokeError> {
        let t = self.timeout();
        let text = resource.to_string();
        self.0.check_input(&[Some(text.as_str())])?;
        let r = call!(&mut self.0, t, Connector, |store, g| g
            .rollcall_plugin_source()
            .call_map_scim_group(store, &text))?;
        plugin_result(r, |u| u.map(convert::group).transpose())
    }
}

/// A lifecycle instance: one per event.
pub struct LifecycleInstance(Sandbox);

impl LifecycleInstance {
    fn timeout(&self) -> Duration {
        self.0.policy.action_timeout
    }

    /// Host-side notes (denied requests, dropped log lines, quota hits).
    pub fn notes(&self) -> Vec<String> {
        self.0.notes()
    }

    pub async fn describe(&mut self) -> Result<PluginInfo, InvokeError> {
        let t = self.timeout();
        let info = call!(&mut self.0, t, Lifecycle, |store, g| g
            .rollcall_plugin_action()
            .call_describe(store))?;
        Ok(info.into())
    }

    pub async fn validate_config(&mut self) -> Result<(), InvokeError> {
        let t = self.timeout();
        let r = call!(&mut self.0, t, Lifecycle, |store, g| g
            .rollcall_plugin_action()
            .call_validate_config(store))?;
        plugin_result(r, Ok)
    }

    pub async fn handle(&mut self, event: &LifecycleEvent) -> Result<Outcome, InvokeError> {
        let t = self.timeout();
        let wire = convert::event(event);
        self.0.check_input(&[
            Some(wire.id.as_str()),
            Some(wire.event_type.as_str()),
            Some(wire.organization_id.as_str()),
            wire.directory_id.as_deref(),
            Some(wire.data.as_str()),
            wire.previous_attributes.as_deref(),
            Some(wire.idempotency_key.as_str()),
        ])?;
        let r = call!(&mut self.0, t, Lifecycle, |store, g| g
            .rollcall_plugin_action()
            .call_handle(store, &wire))?;
        plugin_result(r, |o| Ok(o.into()))
    }
}
