//! Event retention: deletes events older than the retention period (and
//! their webhook deliveries), in small batches so writers are never held
//! up for long.

use std::time::Duration;

use rollcall_core::Timestamp;
use rollcall_store::Store;
use tokio::sync::watch;

/// Events deleted per transaction.
const BATCH: u32 = 5_000;

/// Prunes once; answers how many events were deleted.
pub async fn prune_once(
    store: &Store,
    retention: Duration,
) -> Result<u64, rollcall_store::StoreError> {
    let cutoff =
        Timestamp::from_micros(Timestamp::now().as_micros() - retention.as_micros() as i64);
    let mut total = 0;
    loop {
        let n = store.prune_events(cutoff, BATCH).await?;
        total += n;
        if n < u64::from(BATCH) {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// Prunes every `every` until shutdown.
pub async fn run(
    store: Store,
    retention: Duration,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        match prune_once(&store, retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                events = n,
                retention_days = retention.as_secs() / 86_400,
                "pruned old events"
            ),
            Err(e) => tracing::warn!(error = %e, "pruning old events failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => {}
        }
    }
}
