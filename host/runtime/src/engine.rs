//! The one wasmtime [`Engine`] of a process and its caches.
//!
//! - Component model, async support, epoch interruption driven by a ticker
//!   thread (every [`EPOCH_TICK`]), the pooling allocator and copy-on-write
//!   memory initialization.
//! - Compiled components are cached on disk as `<digest>-<engine>.cwasm`,
//!   where `<engine>` hashes the wasmtime version and the engine
//!   configuration, so an upgrade or a config change never loads a stale
//!   artifact; loading a cached artifact takes milliseconds instead of a
//!   full compile.
//! - Pre-instantiated components ([`wasmtime::component::InstancePre`]) are
//!   cached in memory by digest, so an invocation only creates a store and
//!   instantiates.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::bindings::{self, Prepared};
use crate::error::InstallError;
use crate::host_state::HostState;

/// How often the epoch advances; deadlines are checked at this granularity.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Stated in the cache key besides wasmtime's own version check.
const WASMTIME_LINE: &str = "wasmtime-48";

/// Instance slots of the pooling allocator.
const POOL_COMPONENT_INSTANCES: u32 = 1_000;

/// Engine, linker, caches and the epoch ticker.
pub struct PluginEngine {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    cache_dir: Option<PathBuf>,
    engine_key: String,
    prepared: Mutex<HashMap<String, Arc<Prepared>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The sha256 digest of component bytes, as `sha256:<hex>`.
pub fn digest(wasm: &[u8]) -> String {
    let hash = Sha256::digest(wasm);
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn engine_config(max_memory_bytes: u64) -> Config {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_COMPONENT_INSTANCES)
        .total_core_instances(POOL_COMPONENT_INSTANCES * 8)
        .total_memories(POOL_COMPONENT_INSTANCES)
        .total_tables(POOL_COMPONENT_INSTANCES * 4)
        .max_memory_size(max_memory_bytes as usize)
        .table_elements(100_000);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

impl PluginEngine {
    /// A new engine whose memories may grow up to `max_memory_bytes`;
    /// compiled artifacts go to `cache_dir` when given.
    pub fn new(
        max_memory_bytes: u64,
        cache_dir: Option<PathBuf>,
    ) -> anyhow::Result<Arc<PluginEngine>> {
        let engine = Engine::new(&engine_config(max_memory_bytes))
            .map_err(|e| anyhow::anyhow!("cannot create the wasm engine: {e}"))?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = format!("{:016x}", hasher.finish() ^ fxhash(WASMTIME_LINE));
        let linker = bindings::linker(&engine)?;
        if let Some(dir) = &cache_dir {
            std::fs::create_dir_all(dir).map_err(|e| {
                anyhow::anyhow!("cannot create plugin cache {}: {e}", dir.display())
            })?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let ticker_engine = engine.clone();
        let ticker_stop = stop.clone();
        std::thread::Builder::new()
            .name("rollcall-epoch".into())
            .spawn(move || {
                while !ticker_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    ticker_engine.increment_epoch();
                }
            })?;
        Ok(Arc::new(PluginEngine {
            engine,
            linker,
            cache_dir,
            engine_key,
            prepared: Mutex::new(HashMap::new()),
            stop,
        }))
    }

    /// Compiles (or loads from the disk cache) and pre-instantiates a
    /// component; cached in memory by digest afterwards.
    pub(crate) fn prepare(&self, wasm: &[u8]) -> Result<Arc<Prepared>, InstallError> {
        let digest = digest(wasm);
        if let Some(p) = self.prepared.lock().expect("cache lock").get(&digest) {
            return Ok(p.clone());
        }
        check_format(wasm)?;
        let component = self.component(&digest, wasm)?;
        let prepared = Arc::new(bindings::prepare(&self.linker, &component, digest.clone())?);
        self.prepared
            .lock()
            .expect("cache lock")
            .insert(digest, prepared.clone());
        Ok(prepared)
    }

    fn component(&self, digest: &str, wasm: &[u8]) -> Result<Component, InstallError> {
        let Some(dir) = &self.cache_dir else {
            return Component::new(&self.engine, wasm)
                .map_err(|e| InstallError::Invalid(format!("{e:#}")));
        };
        let hex = digest.trim_start_matches("sha256:");
        let path = dir.join(format!("{hex}-{}.cwasm", self.engine_key));
        if path.exists() {
            // SAFETY: the file was written by `precompile_component` of an
            // engine with the same configuration (the name says so) into
            // our own cache directory, atomically by rename.
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable plugin cache entry")
                }
            }
        }
        let compiled = self
            .engine
            .precompile_component(wasm)
            .map_err(|e| InstallError::Invalid(format!("{e:#}")))?;
        let tmp = dir.join(format!(
            "{hex}-{}.{}.tmp",
            self.engine_key,
            std::process::id()
        ));
        if std::fs::write(&tmp, &compiled)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .is_err()
        {
            tracing::warn!(path = %path.display(), "cannot write the plugin cache; continuing without it");
            let _ = std::fs::remove_file(&tmp);
        }
        // SAFETY: `compiled` was produced just now by this engine.
        unsafe { Component::deserialize(&self.engine, &compiled) }
            .map_err(|e| InstallError::Invalid(format!("{e:#}")))
    }
}

/// Refuses bytes that are not a WebAssembly component, saying what they are.
pub fn check_format(wasm: &[u8]) -> Result<(), InstallError> {
    if wasmparser::Parser::is_core_wasm(wasm) {
        return Err(InstallError::NotAComponent(
            "this is a core wasm module; build with --target wasm32-wasip2 to get a component"
                .into(),
        ));
    }
    if !wasmparser::Parser::is_component(wasm) {
        return Err(InstallError::NotAComponent(
            "the file is not a WebAssembly component".into(),
        ));
    }
    Ok(())
}

/// A small stable hash of a string (FNV-1a), for the cache key.
fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}
