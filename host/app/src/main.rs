//! `rollcall`: the binary. Reads the configuration, sets up logging, opens
//! the database, and runs the server or one management command. All logic
//! lives in the library crates.

mod cli;
mod commands;
mod config;
mod output;
mod plugin_commands;
mod plugin_scaffold;
mod serve;
mod setup;
mod sync_commands;
mod telemetry;
mod webhook_commands;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::output::Output;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::parse();
    let config = match config::load(
        cli.global.config.as_deref(),
        &|name| std::env::var(name).ok(),
        &cli.flags(),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let serving = matches!(cli.command, Command::Serve(_));
    telemetry::init(&config, !serving);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // A setting that only turns out to be unusable while starting
            // (the plugin runtime) is still a configuration error.
            if e.downcast_ref::<config::ConfigError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn run(cli: Cli, config: config::Config) -> anyhow::Result<()> {
    let out = Output {
        json: cli.global.json,
    };
    let command = match cli.command {
        Command::Serve(_) => return serve::run(config).await,
        other => other,
    };
    let store = setup::open_store(&config).await?;
    let result = match command {
        Command::Serve(_) => Ok(()),
        Command::Migrate => {
            out.item(
                &serde_json::json!({"migrated": true, "backend": store.kind().as_str()}),
                || format!("Database is up to date ({}).", store.kind().as_str()),
            );
            Ok(())
        }
        Command::Org(c) => commands::org(&store, out, c).await,
        Command::Directory(c) => commands::directory(&store, &config, out, c).await,
        Command::AdminKey(c) => commands::admin_key(&store, out, c).await,
        Command::Plugin(c) => plugin_commands::plugin(&store, &config, out, c).await,
        Command::Webhook(c) => webhook_commands::webhook(&store, &config, out, c).await,
        Command::Events(c) => webhook_commands::events(&store, out, c).await,
        Command::Sync(c) => sync_commands::sync(&store, &config, out, c).await,
    };
    store.close().await;
    result
}
