//! The dispatch loop: fan out, claim, run each execution in a fresh
//! instance with bounded concurrency, record in batches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rollcall_core::Timestamp;
use rollcall_runtime::registry::prepare_installation;
use rollcall_runtime::{InvocationContext, LifecycleEvent, LoadedPlugin, Runtime};
use rollcall_store::{DueExecution, ExecutionOutcome, ExecutionRecord, Store};
use tokio::sync::{Mutex, Semaphore, mpsc, watch};

use crate::recorder::record_loop;

use super::outcome::classify;
use super::settings::{LEASE_SECONDS, LifecycleSettings};

/// Events fanned out per installation per round.
const FANOUT_BATCH: u32 = 2000;
/// How long a prepared installation (component + context) is reused.
const PREPARED_TTL: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Prepared {
    plugin: LoadedPlugin,
    context: InvocationContext,
    updated_at: Timestamp,
    loaded: Instant,
}

pub struct LifecycleDispatcher {
    store: Store,
    runtime: Arc<Runtime>,
    settings: LifecycleSettings,
    prepared: Arc<Mutex<HashMap<String, Prepared>>>,
}

impl LifecycleDispatcher {
    pub fn new(store: Store, runtime: Arc<Runtime>, settings: LifecycleSettings) -> Self {
        LifecycleDispatcher {
            store,
            runtime,
            settings,
            prepared: Arc::default(),
        }
    }

    /// Dispatches until `shutdown` turns true, then lets running
    /// executions finish and writes their records.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let permits = Arc::new(Semaphore::new(this.settings.concurrency.max(1)));
        let (records_tx, records_rx) = mpsc::unbounded_channel::<Vec<ExecutionRecord>>();
        let recorder = tokio::spawn(record_loop(this.store.clone(), records_rx, 256));
        tracing::info!(
            concurrency = this.settings.concurrency,
            "lifecycle dispatch started"
        );
        while !*shutdown.borrow() {
            let busy = match this.round(&permits, &records_tx).await {
                Ok(busy) => busy,
                Err(e) => {
                    tracing::warn!(error = %e, "lifecycle dispatch round failed; retrying");
                    false
                }
            };
            if !busy {
                tokio::select! {
                    _ = tokio::time::sleep(this.settings.poll_interval) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        let all = this.settings.concurrency.max(1) as u32;
        let _ = tokio::time::timeout(Duration::from_secs(60), permits.acquire_many(all)).await;
        drop(records_tx);
        let _ = recorder.await;
        tracing::info!("lifecycle dispatch stopped");
    }

    async fn round(
        self: &Arc<Self>,
        permits: &Arc<Semaphore>,
        records: &mpsc::UnboundedSender<Vec<ExecutionRecord>>,
    ) -> anyhow::Result<bool> {
        let fanned = self.store.fan_out_lifecycle(FANOUT_BATCH).await?;
        let free = permits.available_permits();
        if free == 0 {
            drop(permits.acquire().await);
            return Ok(true);
        }
        let due = self
            .store
            .claim_lifecycle_executions(free as u32, LEASE_SECONDS)
            .await?;
        if due.is_empty() {
            return Ok(fanned > 0);
        }
        for execution in due {
            let permit = permits.clone().acquire_owned().await?;
            let this = self.clone();
            let records = records.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let record = this.execute(execution).await;
                let _ = records.send(vec![record]);
            });
        }
        Ok(true)
    }

    /// The installation's component and context, prepared once and reused
    /// while the installation is unchanged.
    async fn prepare(&self, installation_id: &str) -> Result<Option<Prepared>, String> {
        let installation = match self.store.get_plugin_installation(installation_id).await {
            Ok(Some(i)) => i,
            Ok(None) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        {
            let cache = self.prepared.lock().await;
            if let Some(p) = cache.get(installation_id)
                && p.updated_at == installation.updated_at
                && p.loaded.elapsed() < PREPARED_TTL
            {
                return Ok(Some(p.clone()));
            }
        }
        let (plugin, context) = prepare_installation(&self.runtime, &self.store, &installation)
            .await
            .map_err(|e| e.to_string())?;
        let prepared = Prepared {
            plugin,
            context,
            updated_at: installation.updated_at,
            loaded: Instant::now(),
        };
        self.prepared
            .lock()
            .await
            .insert(installation_id.to_owned(), prepared.clone());
        Ok(Some(prepared))
    }

    async fn execute(&self, due: DueExecution) -> ExecutionRecord {
        let attempt = due.attempts + 1;
        let started_at = Timestamp::now();
        let clock = Instant::now();
        let record =
            |outcome: ExecutionOutcome, label: String, detail: Option<String>| ExecutionRecord {
                installation_id: due.installation_id.clone(),
                event_id: due.event.id.clone(),
                attempt,
                started_at,
                duration_us: clock.elapsed().as_micros() as i64,
                outcome_label: label,
                detail,
                outcome,
            };
        let prepared = match self.prepare(&due.installation_id).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                return record(
                    ExecutionOutcome::Dead,
                    "removed".into(),
                    Some("the installation no longer exists".into()),
                );
            }
            Err(e) => {
                // A disabled installation is not claimed; this is a broken
                // one (e.g. a credential removed): retry per the schedule.
                let outcome = match self.settings.retry.next_wait(attempt - due.round_start) {
                    Some(wait) => ExecutionOutcome::Retry(Timestamp::from_micros(
                        Timestamp::now().as_micros() + wait.as_micros() as i64,
                    )),
                    None => ExecutionOutcome::Dead,
                };
                return record(outcome, "prepare_failed".into(), Some(e));
            }
        };
        let event = LifecycleEvent::from_event(&due.event, &due.installation_id, attempt);
        let result = match self
            .runtime
            .lifecycle(&prepared.plugin, prepared.context.clone())
            .await
        {
            Ok(mut instance) => {
                let result = instance.handle(&event).await;
                for note in instance.notes() {
                    tracing::info!(installation = %due.installation_id, event = %due.event.id, note, "plugin note");
                }
                result
            }
            Err(e) => Err(e),
        };
        let (outcome, label, detail) =
            classify(result, &self.settings.retry, attempt - due.round_start);
        if matches!(outcome, ExecutionOutcome::Deferred(_)) {
            // Not attempted: keep the attempt count.
            let mut r = record(outcome, label, detail);
            r.attempt = due.attempts;
            return r;
        }
        record(outcome, label, detail)
    }
}
