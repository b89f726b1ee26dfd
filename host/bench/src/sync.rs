//! Scenario `sync`: a full initial pull sync of a generated directory from a
//! fake provider API through the real connector plugin over HTTP on
//! loopback, then a no-change resync and a resync with 1 % of the users
//! changed; and the peak resident memory of the syncing process.
//!
//! The fake provider runs in a child process (`rollcall-bench fake-provider`,
//! driven over stdin), so `peak_rss_mib` is the memory of the engine, the
//! plugin runtime and the store only.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use rollcall_core::directory::{DirectoryType, NewDirectory};
use rollcall_core::organization::NewOrganization;
use rollcall_runtime::registry::{InstallationRequest, create_installation, install_builtins};
use rollcall_runtime::{Runtime, RuntimeConfig, SandboxPolicy};
use rollcall_store::{SyncRun, SyncTrigger};
use rollcall_sync::{PullSettings, RunDriver, RunResult};
use rollcall_tests::fake_directory::{FakeDirectory, SharedDirectory};
use serde_json::{Value, json};

use crate::report::Report;
use crate::stores::{self, Backend};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    #[arg(long, default_value_t = 5_000)]
    groups: usize,
    #[arg(long, default_value_t = 200_000)]
    memberships: usize,
    /// Which fake provider and connector: google or graph.
    #[arg(long, default_value = "google")]
    provider: String,
    /// Which backends: sqlite, postgres or both.
    #[arg(long, default_value = "sqlite")]
    backend: String,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
}

/// The hidden child-process command serving a fake provider.
#[derive(Debug, Clone, clap::Args)]
pub struct FakeArgs {
    #[arg(long)]
    provider: String,
    #[arg(long)]
    users: usize,
    #[arg(long)]
    groups: usize,
    #[arg(long)]
    memberships: usize,
}

/// Serves the fake on 127.0.0.1, prints one JSON line with how to bind the
/// connector, then applies `change N` lines from stdin (every N-th user
/// changes) and answers `ok <count>`.
pub async fn serve_fake(args: FakeArgs) -> Result<()> {
    let directory = SharedDirectory::new(FakeDirectory::generate(
        args.users,
        args.groups,
        args.memberships,
    ));
    let binding = match args.provider.as_str() {
        "graph" => {
            let fake = rollcall_tests::fake_graph::FakeGraph::start(directory.clone()).await;
            let binding = json!({
                "type": "azure-graph",
                "plugin": "azure-graph@0.1.0",
                "config": {"api_base": fake.base_url, "page_size": 999},
                "credentials": {"graph": fake.credential(rollcall_tests::fake_graph::CLIENT_SECRET)},
            });
            std::mem::forget(fake);
            binding
        }
        "google" => {
            let fake = rollcall_tests::fake_google::FakeGoogle::start(directory.clone()).await;
            let binding = json!({
                "type": "google-workspace",
                "plugin": "google-workspace@0.1.0",
                "config": {"api_base": fake.base_url},
                "credentials": {"google": fake.jwt_credential()},
            });
            std::mem::forget(fake);
            binding
        }
        other => bail!("--provider must be google or graph, not '{other}'"),
    };
    println!("{binding}");
    std::io::stdout().flush()?;
    let lines = tokio::task::spawn_blocking(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("change ") {
                let every: usize = n.trim().parse().unwrap_or(100);
                let changed = directory.lock().change_every(every);
                println!("ok {changed}");
                let _ = std::io::stdout().flush();
            }
        }
    });
    lines.await?;
    Ok(())
}

struct FakeProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    binding: Value,
}

impl FakeProcess {
    fn start(args: &Args) -> Result<FakeProcess> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args([
                "fake-provider",
                "--provider",
                &args.provider,
                "--users",
                &args.users.to_string(),
                "--groups",
                &args.groups.to_string(),
                "--memberships",
                &args.memberships.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start the fake provider process")?;
        let stdin = child.stdin.take().context("stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().context("stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let binding: Value = serde_json::from_str(line.trim())
            .with_context(|| format!("the fake provider said '{line}'"))?;
        Ok(FakeProcess {
            child,
            stdin,
            stdout,
            binding,
        })
    }

    fn change_every(&mut self, every: usize) -> Result<usize> {
        writeln!(self.stdin, "change {every}")?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        Ok(line
            .trim()
            .strip_prefix("ok ")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }
}

impl Drop for FakeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resets the kernel's peak-RSS mark of this process (Linux).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size of this process, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn one_run(driver: &RunDriver, directory_id: &str, full: bool) -> Result<(SyncRun, f64)> {
    let (run, _) = driver
        .store
        .enqueue_sync_run(directory_id, SyncTrigger::Manual, full)
        .await?;
    let started = Instant::now();
    let Some(claimed) = driver.store.claim_sync_run(&run.id, "bench", 600).await? else {
        bail!("could not claim the run");
    };
    let result = driver
        .execute(claimed, "bench", &AtomicBool::new(false), &|_| {})
        .await;
    let seconds = started.elapsed().as_secs_f64();
    match result {
        RunResult::Succeeded(run) => Ok((run, seconds)),
        other => bail!("the sync run did not succeed: {other:?}"),
    }
}

pub async fn run(args: Args, report: &mut Report) -> Result<()> {
    let runtime = Arc::new(Runtime::new(RuntimeConfig {
        policy: SandboxPolicy {
            allow_private_network: true,
            allow_plain_http: true,
            ..SandboxPolicy::default()
        },
        cache_dir: Some(std::env::temp_dir().join("rollcall-bench-plugin-cache")),
    })?);
    for backend in Backend::parse_list(&args.backend)? {
        let mut fake = FakeProcess::start(&args)?;
        reset_peak_rss();
        let name = format!("sync/{}", backend.name());
        let scratch = stores::open(backend, &args.postgres_url).await?;
        let store = scratch.store.clone();
        let org = store
            .create_organization(NewOrganization {
                name: "Nike".into(),
                ..Default::default()
            })
            .await?;
        let directory_type: DirectoryType =
            fake.binding["type"].as_str().unwrap_or_default().parse()?;
        let created = store
            .create_directory(NewDirectory {
                organization_id: org.id.clone(),
                name: "Bench".into(),
                directory_type,
                domain: None,
                settings: serde_json::Map::new(),
                secrets: serde_json::Map::new(),
            })
            .await?;
        let directory_id = created.directory.id.clone();
        install_builtins(&runtime, &store).await?;
        create_installation(
            &store,
            InstallationRequest {
                plugin: fake.binding["plugin"].as_str().unwrap_or_default().into(),
                organization_id: org.id,
                directory_id: Some(directory_id.clone()),
                config: fake.binding["config"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                grants: serde_json::from_value(json!({"hosts": ["127.0.0.1"]}))?,
                credentials: fake.binding["credentials"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                ..Default::default()
            },
        )
        .await?;
        let driver = RunDriver {
            store: store.clone(),
            runtime: runtime.clone(),
            settings: PullSettings::default(),
        };
        let (initial, initial_s) = one_run(&driver, &directory_id, true).await?;
        if initial.counts.users_created as usize != args.users {
            bail!(
                "the initial sync stored {} users, not {}",
                initial.counts.users_created,
                args.users
            );
        }
        report.add(&name, "initial_sync_s", initial_s, "s");
        report.add(
            &name,
            "initial_users_per_s",
            args.users as f64 / initial_s,
            "users/s",
        );
        report.add(
            &name,
            "initial_members_added",
            initial.counts.members_added as f64,
            "memberships",
        );
        report.add(&name, "initial_pages", initial.pages as f64, "pages");
        let (noop, noop_s) = one_run(&driver, &directory_id, true).await?;
        if noop.counts.users_unchanged as usize != args.users {
            bail!(
                "the no-change resync saw {} unchanged users",
                noop.counts.users_unchanged
            );
        }
        report.add(&name, "noop_resync_s", noop_s, "s");
        let changed = fake.change_every(100)?;
        let (delta, changed_s) = one_run(&driver, &directory_id, true).await?;
        if delta.counts.users_updated as usize != changed {
            bail!(
                "the changed resync updated {} users, the fake changed {changed}",
                delta.counts.users_updated
            );
        }
        report.add(&name, "changed_resync_s", changed_s, "s");
        report.add(&name, "changed_users", changed as f64, "users");
        report.add(&name, "peak_rss_mib", peak_rss_mib(), "MiB");
        drop(fake);
        scratch.finish().await?;
    }
    Ok(())
}
