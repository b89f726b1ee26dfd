//! `rollcall sync …`: run a pull directory's sync now with live progress,
//! list its runs, show its sync state.
//!
//! `sync run` queues a manual run and drives it in this process when it can
//! take the run's lease; when a server already works on it, it follows the
//! run's progress from the database instead. Either way the same counters
//! are shown: a redrawn line on a terminal, plain lines otherwise.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use rollcall_core::Timestamp;
use rollcall_store::{Order, PageRequest, Store, SyncRun, SyncStatus, SyncTrigger};
use rollcall_sync::{RunDriver, RunResult};

use crate::cli::SyncCommand;
use crate::config::Config;
use crate::output::Output;
use crate::plugin_commands;

pub async fn sync(store: &Store, config: &Config, out: Output, command: SyncCommand) -> Result<()> {
    match command {
        SyncCommand::Run { directory, full } => run(store, config, out, &directory, full).await,
        SyncCommand::Runs { directory, limit } => {
            require_directory(store, &directory).await?;
            let page = store
                .list_sync_runs(
                    &directory,
                    &PageRequest {
                        limit: limit.clamp(1, 100),
                        order: Order::Desc,
                        ..Default::default()
                    },
                )
                .await?;
            out.table(
                &page.data,
                &[
                    "RUN",
                    "STATUS",
                    "MODE",
                    "STARTED",
                    "DURATION",
                    "PAGES",
                    "USERS +/~/-",
                    "ERROR",
                ],
                |r| {
                    vec![
                        r.id.clone(),
                        r.status.as_str().into(),
                        r.mode.as_str().into(),
                        r.started_at.map_or("-".into(), |t| t.to_rfc3339()),
                        r.duration_ms
                            .map_or("-".into(), |d| format!("{:.1}s", d as f64 / 1000.0)),
                        r.pages.to_string(),
                        format!(
                            "{}/{}/{}",
                            r.counts.users_created, r.counts.users_updated, r.counts.users_deleted
                        ),
                        r.error.clone().unwrap_or_default(),
                    ]
                },
            );
            Ok(())
        }
        SyncCommand::Status { directory } => {
            require_directory(store, &directory).await?;
            let state = store.directory_sync(&directory).await?;
            match state {
                None => out.item(&serde_json::json!({"directory_id": directory, "synced": false}), || {
                    format!("{directory}: never synced")
                }),
                Some(s) => out.item(&s, || {
                    let when = |t: Option<Timestamp>| t.map_or("never".into(), |t| t.to_rfc3339());
                    let mut text = format!(
                        "{}\n  next run:        {}\n  last success:    {}\n  last full pass:  {}\n  checkpoint:      {}",
                        s.directory_id,
                        s.next_run_at.map_or("as soon as possible".into(), |t| t.to_rfc3339()),
                        when(s.last_success_at),
                        when(s.last_full_sync_at),
                        if s.has_checkpoint { "stored" } else { "none" },
                    );
                    if let Some(a) = &s.attention {
                        text.push_str(&format!("\n  needs attention: {a}"));
                    }
                    text
                }),
            }
            Ok(())
        }
    }
}

async fn require_directory(store: &Store, id: &str) -> Result<rollcall_core::directory::Directory> {
    store
        .get_directory(id)
        .await?
        .ok_or_else(|| anyhow!("directory {id} not found"))
}

async fn run(store: &Store, config: &Config, out: Output, id: &str, full: bool) -> Result<()> {
    let directory = require_directory(store, id).await?;
    if let Err(refusal) = store.sync_connector(&directory).await? {
        bail!("{refusal}");
    }
    let (queued, _) = store
        .enqueue_sync_run(id, SyncTrigger::Manual, full)
        .await?;
    let display = Arc::new(Progress::new(!out.json && std::io::stderr().is_terminal()));
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            stop.store(true, Ordering::Relaxed);
        });
    }
    let runtime = Arc::new(plugin_commands::runtime(config)?);
    let driver = RunDriver {
        store: store.clone(),
        runtime,
        settings: config.sync.clone(),
    };
    let owner = format!("cli-{}", std::process::id());
    let finished = loop {
        if stop.load(Ordering::Relaxed) {
            store.release_sync_leases(&owner).await?;
            display.clear();
            bail!(
                "stopped; run {} continues when a server (rollcall serve) picks it up",
                queued.id
            );
        }
        let lease = config.sync.lease.as_secs().max(5) as i64;
        match store.claim_sync_run(&queued.id, &owner, lease).await? {
            Some(run) => {
                let shown = display.clone();
                let result = driver
                    .execute_leased(run, &owner, stop.clone(), &move |r| shown.show(r))
                    .await;
                match result {
                    RunResult::Succeeded(r) | RunResult::Failed(r) => break r,
                    RunResult::Deferred(r) => {
                        display.note(&format!(
                            "waiting: {}",
                            r.error.clone().unwrap_or_else(|| "retry".into())
                        ));
                        wait_until(r.next_attempt_at, &stop).await;
                    }
                    RunResult::Stopped => {}
                }
            }
            None => {
                // A server works on it: follow its progress.
                let Some(r) = store.get_sync_run(&queued.id).await? else {
                    bail!("run {} disappeared", queued.id);
                };
                if matches!(
                    r.status,
                    SyncStatus::Succeeded | SyncStatus::Failed | SyncStatus::Cancelled
                ) {
                    break r;
                }
                display.show(&r);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    };
    display.clear();
    out.item(&finished, || summary(&finished));
    if finished.status != SyncStatus::Succeeded {
        bail!(
            "sync run {} failed: {}",
            finished.id,
            finished
                .error
                .clone()
                .unwrap_or_else(|| "unknown error".into())
        );
    }
    Ok(())
}

async fn wait_until(at: Option<Timestamp>, stop: &AtomicBool) {
    let Some(at) = at else { return };
    while Timestamp::now().as_micros() < at.as_micros() && !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn summary(r: &SyncRun) -> String {
    let c = &r.counts;
    format!(
        "{} {} ({} pass, {} pages, {})\n  users:   {} created, {} updated, {} deleted, {} unchanged{}\n  groups:  {} created, {} updated, {} deleted, {} unchanged\n  members: {} added, {} removed, {} unchanged{}{}",
        r.id,
        r.status.as_str(),
        r.mode.as_str(),
        r.pages,
        r.duration_ms
            .map_or("-".into(), |d| format!("{:.1} s", d as f64 / 1000.0)),
        c.users_created,
        c.users_updated,
        c.users_deleted,
        c.users_unchanged,
        if c.users_skipped > 0 {
            format!(", {} skipped", c.users_skipped)
        } else {
            String::new()
        },
        c.groups_created,
        c.groups_updated,
        c.groups_deleted,
        c.groups_unchanged,
        c.members_added,
        c.members_removed,
        c.members_unchanged,
        if c.members_skipped > 0 {
            format!(", {} skipped", c.members_skipped)
        } else {
            String::new()
        },
        r.warning
            .as_ref()
            .map_or(String::new(), |w| format!("\n  warning: {w}")),
    )
}

/// Live progress on stderr: one redrawn line on a terminal, a plain line
/// every few seconds (and at each phase change) otherwise.
struct Progress {
    terminal: bool,
    started: Instant,
    state: Mutex<(Instant, String)>,
}

impl Progress {
    fn new(terminal: bool) -> Self {
        Progress {
            terminal,
            started: Instant::now(),
            state: Mutex::new((Instant::now() - Duration::from_secs(60), String::new())),
        }
    }

    fn line(&self, r: &SyncRun) -> String {
        let c = &r.counts;
        let users = c.users_created + c.users_updated + c.users_unchanged + c.users_skipped;
        let groups = c.groups_created + c.groups_updated + c.groups_unchanged;
        let members = c.members_added + c.members_unchanged;
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        format!(
            "{} · pages {} · users {} (+{} ~{} -{}) · groups {} · members {} (+{} -{}) · {:.0} users/s",
            r.phase.as_str(),
            r.pages,
            users,
            c.users_created,
            c.users_updated,
            c.users_deleted,
            groups,
            members,
            c.members_added,
            c.members_removed,
            users as f64 / secs,
        )
    }

    fn show(&self, r: &SyncRun) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let phase = r.phase.as_str().to_owned();
        let every = if self.terminal {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(2)
        };
        if state.0.elapsed() < every && state.1 == phase {
            return;
        }
        *state = (Instant::now(), phase);
        let line = self.line(r);
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    fn note(&self, text: &str) {
        self.clear();
        eprintln!("{text}");
    }

    fn clear(&self) {
        if self.terminal {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}
