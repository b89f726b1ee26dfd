//! Scenario `upserts`: how fast the directory-state service stores users
//! with their events, one per transaction and in batches, on each backend.

use std::time::Instant;

use anyhow::Result;
use rollcall_core::directory_user::{UserInput, UserState};
use rollcall_store::Store;
use rollcall_store::directory_state::Change;
use serde_json::{Map, json};

use crate::report::Report;
use crate::stores::{self, Backend};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Users per batched pass.
    #[arg(long, default_value_t = 20_000)]
    users: usize,
    /// Users in the one-per-transaction pass.
    #[arg(long, default_value_t = 2_000)]
    single: usize,
    /// Changes per transaction in batched passes.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Which backends: sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    backend: String,
    /// PostgreSQL server (a scratch database is created and dropped).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
}

fn user(i: usize, generation: u32) -> UserInput {
    let mut custom = Map::new();
    custom.insert("department".into(), json!(format!("dept-{}", i % 40)));
    custom.insert("generation".into(), json!(generation));
    UserInput {
        idp_id: format!("00u{i:08}"),
        email: Some(format!("user{i}@example.com")),
        first_name: Some(format!("First{i}")),
        last_name: Some(format!("Last{i}")),
        username: Some(format!("user{i}@example.com")),
        state: UserState::Active,
        roles: vec![],
        custom_attributes: custom,
        raw_attributes: Map::new(),
    }
}

async fn directory(store: &Store) -> Result<String> {
    Ok(stores::bench_directory(store).await?.directory.id)
}

/// Runs `changes` in transactions of `batch` and returns changes per second.
async fn timed(store: &Store, dir: &str, changes: Vec<Change>, batch: usize) -> Result<f64> {
    let n = changes.len();
    let started = Instant::now();
    let mut iter = changes.into_iter().peekable();
    while iter.peek().is_some() {
        let chunk: Vec<Change> = iter.by_ref().take(batch).collect();
        store.apply_changes(dir, chunk).await?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

async fn measure(store: &Store, name: &str, args: &Args, report: &mut Report) -> Result<()> {
    let dir = directory(store).await?;
    let single: Vec<Change> = (0..args.single)
        .map(|i| Change::UpsertUser(user(1_000_000 + i, 0)))
        .collect();
    let rate = timed(store, &dir, single, 1).await?;
    report.add(
        "upserts",
        &format!("{name}_create_1_per_tx"),
        rate,
        "users/s",
    );
    let create: Vec<Change> = (0..args.users)
        .map(|i| Change::UpsertUser(user(i, 0)))
        .collect();
    let rate = timed(store, &dir, create, args.batch).await?;
    report.add(
        "upserts",
        &format!("{name}_create_batched"),
        rate,
        "users/s",
    );
    let update: Vec<Change> = (0..args.users)
        .map(|i| Change::UpsertUser(user(i, 1)))
        .collect();
    let rate = timed(store, &dir, update, args.batch).await?;
    report.add(
        "upserts",
        &format!("{name}_update_batched"),
        rate,
        "users/s",
    );
    let same: Vec<Change> = (0..args.users)
        .map(|i| Change::UpsertUser(user(i, 1)))
        .collect();
    let rate = timed(store, &dir, same, args.batch).await?;
    report.add(
        "upserts",
        &format!("{name}_unchanged_batched"),
        rate,
        "users/s",
    );
    Ok(())
}

pub async fn run(args: Args, report: &mut Report) -> Result<()> {
    for backend in Backend::parse_list(&args.backend)? {
        let scratch = stores::open(backend, &args.postgres_url).await?;
        let result = measure(&scratch.store, backend.name(), &args, report).await;
        scratch.finish().await?;
        result?;
    }
    Ok(())
}
