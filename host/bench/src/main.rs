//! `rollcall-bench`: measures Rollcall's performance targets (DESIGN.md,
//! "Performance budget") on this machine. Prints a table, or with `--json`
//! one `{"scenario","figure","value","unit"}` object per line.
//!
//! Run with `cargo run --release -p rollcall-bench -- SCENARIO`.
//! Scenarios are small modules; later features add theirs here.

mod lifecycle;
mod plugin;
mod report;
mod scim;
mod stores;
mod sync;
mod upserts;
mod webhooks;

use clap::{Parser, Subcommand};

use crate::report::Report;

/// The allocator `rollcall` itself uses, so figures match the server.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "rollcall-bench",
    about = "Rollcall benchmarks (use a release build)"
)]
struct Cli {
    /// One JSON object per line instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Directory-state service: user upserts per second (create, update,
    /// unchanged) on SQLite and PostgreSQL.
    Upserts(upserts::Args),
    /// SCIM over HTTP: concurrent creates, `userName eq` lookups, list pages.
    Scim(scim::Args),
    /// Plugin runtime: fresh-store invocation and live-instance call of a
    /// trivial export, in µs per call and calls per second.
    Plugin(plugin::Args),
    /// Webhook delivery: events per second from the event log to a local
    /// receiver, and end-to-end latency under a steady stream.
    Webhooks(webhooks::Args),
    /// Lifecycle dispatch: events per second through a lifecycle plugin
    /// (fresh sandbox per event, execution log written).
    Lifecycle(lifecycle::Args),
    /// Pull sync: initial sync, no-change and 1 %-changed resyncs of a
    /// generated directory from a fake provider through its connector
    /// plugin, and peak memory.
    Sync(sync::Args),
    /// (internal) Serves a fake provider for `sync` in a child process.
    #[command(hide = true, name = "fake-provider")]
    FakeProvider(sync::FakeArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut report = Report::new(cli.json);
    match cli.scenario {
        Scenario::Upserts(args) => upserts::run(args, &mut report).await?,
        Scenario::Plugin(args) => plugin::run(args, &mut report).await?,
        Scenario::Scim(args) => scim::run(args, &mut report).await?,
        Scenario::Webhooks(args) => webhooks::run(args, &mut report).await?,
        Scenario::Lifecycle(args) => lifecycle::run(args, &mut report).await?,
        Scenario::Sync(args) => sync::run(args, &mut report).await?,
        Scenario::FakeProvider(args) => return sync::serve_fake(args).await,
    }
    report.finish();
    Ok(())
}
