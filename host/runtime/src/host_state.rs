//! The data of one wasmtime `Store`: the WASI context (no files, env, args
//! or sockets), the HTTP context with the sandbox's hooks, the resource
//! limiter, the log rate limiter and the invocation context. A new one is
//! made for every lifecycle event and every sync run.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::context::{InvocationContext, StateScope};
use crate::outbound::Outbound;
use crate::policy::SandboxPolicy;

/// Core instances, tables and memories one plugin instance may create.
const MAX_INSTANCES: usize = 32;
const MAX_TABLES: usize = 32;
const MAX_MEMORIES: usize = 4;
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Raised (as the trap's error) when the guest grows past a limit.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LimitHit {
    #[error("memory limit of {0} bytes reached")]
    Memory(u64),
    #[error("table limit of {0} elements reached")]
    Table(usize),
}

/// Like `StoreLimits` with `trap_on_grow_failure(true)`, but the trap
/// carries a [`LimitHit`] so the host can report exactly which limit.
pub(crate) struct Limiter {
    memory_bytes: u64,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.memory_bytes {
            return Err(LimitHit::Memory(self.memory_bytes).into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            return Err(LimitHit::Table(MAX_TABLE_ELEMENTS).into());
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

/// Token bucket for guest log lines.
pub(crate) struct LogBucket {
    tokens: f64,
    burst: f64,
    per_second: f64,
    last: Instant,
    pub dropped: u64,
}

impl LogBucket {
    fn new(policy: &SandboxPolicy) -> Self {
        LogBucket {
            tokens: policy.log_burst as f64,
            burst: policy.log_burst as f64,
            per_second: policy.log_per_second as f64,
            last: Instant::now(),
            dropped: 0,
        }
    }

    /// Whether one more line may be written now.
    pub fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            self.dropped += 1;
            false
        }
    }
}

/// Host-side notes about an instance (denied requests, dropped log lines),
/// readable by the caller after a call.
pub type Notes = Arc<Mutex<Vec<String>>>;

pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    outbound: Outbound,
    pub(crate) limiter: Limiter,
    pub(crate) ctx: Arc<InvocationContext>,
    pub(crate) policy: Arc<SandboxPolicy>,
    pub(crate) scope: StateScope,
    pub(crate) log: LogBucket,
    pub(crate) notes: Notes,
    /// The guest's stderr (panic messages), kept for error reports.
    pub(crate) stderr: MemoryOutputPipe,
    /// When the current call must have returned.
    pub(crate) deadline: Instant,
    /// LDAP connections kept for this instance.
    pub(crate) ldap: crate::ldap::Sessions,
}

/// Bytes of guest stderr kept per instance.
const STDERR_BYTES: usize = 4 * 1024;

impl HostState {
    pub(crate) fn new(ctx: Arc<InvocationContext>, policy: Arc<SandboxPolicy>) -> HostState {
        let notes: Notes = Arc::default();
        let scope = StateScope {
            organization_id: ctx.organization_id.clone(),
            installation_id: ctx.installation_id.clone(),
            max_keys: policy.state_max_keys,
            max_bytes: policy.state_max_bytes,
        };
        let stderr = MemoryOutputPipe::new(STDERR_BYTES);
        HostState {
            // No preopened directories, environment, arguments, stdin or
            // network sockets: the builder's defaults grant nothing.
            wasi: WasiCtx::builder().stderr(stderr.clone()).build(),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            outbound: Outbound::new(ctx.clone(), policy.clone(), notes.clone()),
            limiter: Limiter {
                memory_bytes: policy.memory_bytes,
            },
            log: LogBucket::new(&policy),
            ctx,
            policy,
            scope,
            notes,
            stderr,
            deadline: Instant::now(),
            ldap: Default::default(),
        }
    }

    pub(crate) fn note(&self, text: String) {
        if let Ok(mut notes) = self.notes.lock()
            && notes.len() < 1_000
        {
            notes.push(text);
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}
