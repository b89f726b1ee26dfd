//! The pull worker: schedule, claim, run with a heartbeat, release on
//! shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rollcall_runtime::Runtime;
use rollcall_store::{ClaimLimits, Store, SyncRun};
use tokio::sync::{Semaphore, watch};

use super::runner::RunDriver;
use super::scheduler::enqueue_due;
use super::settings::PullSettings;

/// How long shutdown waits for runs to reach a page boundary.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(45);

pub struct PullWorker {
    driver: RunDriver,
    /// Identifies this process's leases.
    owner: String,
}

impl PullWorker {
    pub fn new(store: Store, runtime: Arc<Runtime>, settings: PullSettings) -> Self {
        PullWorker {
            driver: RunDriver {
                store,
                runtime,
                settings,
            },
            owner: format!(
                "{}-{}",
                std::process::id(),
                ulid::Ulid::new().to_string().to_lowercase()
            ),
        }
    }

    /// The lease owner name of this worker.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Works until `shutdown` turns true; then asks runs to stop at their
    /// next page boundary and releases every lease this process holds, so
    /// another replica continues them at once.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let settings = self.driver.settings.clone();
        if settings.concurrency == 0 {
            tracing::info!("pull sync disabled on this process (ROLLCALL_SYNC_CONCURRENCY=0)");
            return;
        }
        let this = Arc::new(self);
        let permits = Arc::new(Semaphore::new(settings.concurrency as usize));
        let stop = Arc::new(AtomicBool::new(false));
        tracing::info!(
            concurrency = settings.concurrency,
            per_organization = settings.per_organization,
            "pull sync started"
        );
        while !*shutdown.borrow() {
            let busy = match this.round(&permits, &stop).await {
                Ok(busy) => busy,
                Err(e) => {
                    tracing::warn!(error = %e, "pull sync round failed; retrying");
                    false
                }
            };
            if !busy {
                tokio::select! {
                    _ = tokio::time::sleep(settings.poll_interval) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        let all = settings.concurrency;
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, permits.acquire_many(all)).await;
        match this.driver.store.release_sync_leases(&this.owner).await {
            Ok(n) if n > 0 => tracing::info!(released = n, "sync run leases released"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not release sync run leases"),
        }
        tracing::info!("pull sync stopped");
    }

    async fn round(
        self: &Arc<Self>,
        permits: &Arc<Semaphore>,
        stop: &Arc<AtomicBool>,
    ) -> anyhow::Result<bool> {
        let settings = &self.driver.settings;
        enqueue_due(&self.driver.store, settings.default_interval_minutes).await?;
        let free = permits.available_permits() as u32;
        if free == 0 {
            return Ok(false);
        }
        let claimed = self
            .driver
            .store
            .claim_sync_runs(
                &self.owner,
                ClaimLimits {
                    take: free,
                    global: settings.concurrency,
                    per_organization: settings.per_organization,
                    lease_seconds: settings.lease_seconds(),
                },
            )
            .await?;
        let busy = !claimed.is_empty();
        for run in claimed {
            let permit = permits.clone().acquire_owned().await?;
            let this = self.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let _permit = permit;
                this.work(run, &stop).await;
            });
        }
        Ok(busy)
    }

    /// One claimed run with its heartbeat.
    async fn work(&self, run: SyncRun, stop: &Arc<AtomicBool>) {
        let result = self
            .driver
            .execute_leased(run, &self.owner, stop.clone(), &|_| {})
            .await;
        tracing::debug!(?result, "sync run attempt ended");
    }
}

/// Renews a run's lease every third of the lease; sets `lost` when the run
/// was taken over.
pub(crate) fn spawn_heartbeat(
    store: Store,
    run_id: String,
    owner: String,
    lease: Duration,
    lost: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let lease_seconds = lease.as_secs().max(5) as i64;
    tokio::spawn(async move {
        let every = lease / 3;
        loop {
            tokio::time::sleep(every).await;
            if stop.load(Ordering::Relaxed) && lost.load(Ordering::Relaxed) {
                return;
            }
            match store
                .heartbeat_sync_run(&run_id, &owner, lease_seconds)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    lost.store(true, Ordering::Relaxed);
                    return;
                }
                Err(e) => tracing::warn!(run = %run_id, error = %e, "sync heartbeat failed"),
            }
        }
    })
}
