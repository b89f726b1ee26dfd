//! Scenario `plugin`: the cost of invoking a plugin. A fresh-store
//! invocation (new store + instantiate from the cached pre-instance + one
//! call of a trivial export, `describe`) is what every lifecycle event
//! pays; a call on a live instance is what each further page of a sync
//! run pays. Uses the built-in `http-action` component, sequentially and
//! with several tasks at once.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use rollcall_runtime::builtin::builtin;
use rollcall_runtime::{
    InvocationContext, LoadedPlugin, Manifest, MemoryState, Runtime, RuntimeConfig, SandboxPolicy,
};

use crate::report::Report;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Invocations per measurement.
    #[arg(long, default_value_t = 20_000)]
    calls: usize,
    /// Tasks invoking at once in the concurrent measurement.
    #[arg(long, default_value_t = 2)]
    tasks: usize,
}

fn context(manifest: &Arc<Manifest>) -> InvocationContext {
    InvocationContext {
        installation_id: "plugin_installation_bench".into(),
        organization_id: "org_bench".into(),
        directory_id: None,
        manifest: manifest.clone(),
        granted_hosts: Vec::new(),
        grant_limits: Default::default(),
        config: Default::default(),
        secrets: Default::default(),
        credentials: Default::default(),
        state: Arc::new(MemoryState::default()),
    }
}

async fn fresh_calls(
    runtime: &Runtime,
    plugin: &LoadedPlugin,
    manifest: &Arc<Manifest>,
    n: usize,
) -> Result<()> {
    for _ in 0..n {
        let mut instance = runtime.lifecycle(plugin, context(manifest)).await?;
        instance.describe().await?;
    }
    Ok(())
}

pub async fn run(args: Args, report: &mut Report) -> Result<()> {
    let wasm = builtin("http-action")
        .context("http-action is built in")?
        .wasm;
    let manifest = Arc::new(Manifest::parse(
        &rollcall_runtime::manifest::embedded(wasm).context("embedded manifest")?,
    )?);
    let cache = tempfile::tempdir()?;
    let runtime = Arc::new(Runtime::new(RuntimeConfig {
        policy: SandboxPolicy::default(),
        cache_dir: Some(cache.path().to_owned()),
    })?);
    let started = Instant::now();
    let plugin = runtime.load(wasm)?;
    report.add(
        "plugin",
        "compile_ms",
        started.elapsed().as_secs_f64() * 1e3,
        "ms",
    );

    // Warm up allocator slots and caches.
    fresh_calls(&runtime, &plugin, &manifest, 200).await?;

    let started = Instant::now();
    fresh_calls(&runtime, &plugin, &manifest, args.calls).await?;
    let secs = started.elapsed().as_secs_f64();
    report.add(
        "plugin",
        "fresh_store_call_us",
        secs * 1e6 / args.calls as f64,
        "µs",
    );
    report.add(
        "plugin",
        "fresh_store_calls_per_s",
        args.calls as f64 / secs,
        "calls/s",
    );

    let per_task = args.calls / args.tasks.max(1);
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..args.tasks.max(1) {
        let (runtime, plugin, manifest) = (runtime.clone(), plugin.clone(), manifest.clone());
        handles.push(tokio::spawn(async move {
            fresh_calls(&runtime, &plugin, &manifest, per_task).await
        }));
    }
    for h in handles {
        h.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    report.add(
        "plugin",
        "fresh_store_calls_per_s_concurrent",
        (per_task * args.tasks.max(1)) as f64 / secs,
        "calls/s",
    );

    let mut live = runtime.lifecycle(&plugin, context(&manifest)).await?;
    for _ in 0..1_000 {
        live.describe().await?;
    }
    let started = Instant::now();
    for _ in 0..args.calls {
        live.describe().await?;
    }
    let secs = started.elapsed().as_secs_f64();
    report.add(
        "plugin",
        "live_instance_call_us",
        secs * 1e6 / args.calls as f64,
        "µs",
    );
    report.add(
        "plugin",
        "live_instance_calls_per_s",
        args.calls as f64 / secs,
        "calls/s",
    );
    Ok(())
}
