//! `rollcall serve`: build the plugin runtime, open the store, make sure an
//! admin key exists, serve until SIGINT/SIGTERM, then drain in-flight
//! requests and close the database.

use std::sync::Arc;

use anyhow::{Context, Result};
use rollcall_api::{ApiConfig, AppState};

use crate::config::{Config, ConfigError};
use crate::{plugin_commands, setup};

pub async fn run(config: Config) -> Result<()> {
    // Before anything else: a plugin setting the runtime cannot honour
    // stops the start, instead of failing the first plugin request.
    let plugins = Arc::new(plugin_commands::runtime(&config).map_err(|e| {
        ConfigError(format!(
            "cannot start the plugin runtime (check the ROLLCALL_PLUGIN_* settings): {e:#}"
        ))
    })?);
    let store = setup::open_store(&config).await?;
    if let Some(secret) = setup::bootstrap_admin_key(&store, &config).await? {
        println!();
        println!("  Rollcall created an admin API key. It is shown only this once:");
        println!();
        println!("      {secret}");
        println!();
        println!("  Use it as: Authorization: Bearer <key>");
        println!();
    }
    let state = AppState::new(
        store.clone(),
        ApiConfig {
            public_url: config.public_url.clone(),
            max_body_bytes: config.max_body_bytes,
            scim: config.scim.clone(),
            webhooks_allow_http: config.webhooks.allow_http,
        },
        plugins.clone(),
    );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local = listener.local_addr()?;
    tracing::info!(
        address = %local,
        database = %setup::redact(&config.database_url),
        backend = store.kind().as_str(),
        public_url = %config.public_url,
        "rollcall is listening"
    );
    // Background work reads the event log; it stops after the listener.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let webhooks = rollcall_sync::WebhookWorker::new(store.clone(), config.webhooks.clone())?;
    let webhook_task = tokio::spawn(webhooks.run(stopped.clone()));
    let lifecycle = rollcall_sync::LifecycleDispatcher::new(
        store.clone(),
        plugins.clone(),
        config.lifecycle.clone(),
    );
    let lifecycle_task = tokio::spawn(lifecycle.run(stopped.clone()));
    let pull = rollcall_sync::PullWorker::new(store.clone(), plugins.clone(), config.sync.clone());
    let pull_task = tokio::spawn(pull.run(stopped.clone()));
    let retention_task = tokio::spawn(rollcall_sync::retention::run(
        store.clone(),
        config.event_retention,
        std::time::Duration::from_secs(3600),
        stopped,
    ));
    axum::serve(listener, rollcall_api::app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server error")?;
    tracing::info!("stopping background work");
    let _ = stop.send(true);
    let _ = webhook_task.await;
    let _ = lifecycle_task.await;
    let _ = pull_task.await;
    let _ = retention_task.await;
    tracing::info!("shutting down: closing the database");
    store.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received: finishing in-flight requests");
}
