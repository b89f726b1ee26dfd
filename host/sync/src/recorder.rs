//! Writing attempt records in batches, off the send path, for both
//! workers. A failed write is retried a few times; if the records are
//! lost after all, the claimed rows' leases expire and they run again —
//! delivery stays at least once.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use rollcall_store::{AttemptRecord, ExecutionRecord, Store, StoreError};
use tokio::sync::mpsc;

type Write<'a> = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>>;

/// A record kind and the store call that writes a batch of it.
pub(crate) trait Record: Send + Sized + 'static {
    const WHAT: &'static str;
    fn write<'a>(store: &'a Store, batch: &'a [Self]) -> Write<'a>;
}

impl Record for AttemptRecord {
    const WHAT: &'static str = "webhook attempts";
    fn write<'a>(store: &'a Store, batch: &'a [Self]) -> Write<'a> {
        Box::pin(store.record_webhook_attempts(batch))
    }
}

impl Record for ExecutionRecord {
    const WHAT: &'static str = "lifecycle executions";
    fn write<'a>(store: &'a Store, batch: &'a [Self]) -> Write<'a> {
        Box::pin(store.record_lifecycle_attempts(batch))
    }
}

/// Writes what arrives on `rx`, up to `max` records per transaction,
/// until every sender is gone.
pub(crate) async fn record_loop<T: Record>(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<Vec<T>>,
    max: usize,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = first;
        while batch.len() < max {
            match rx.try_recv() {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        for attempt in 0..5u32 {
            match T::write(&store, &batch).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, attempt, records = batch.len(), "recording {} failed", T::WHAT);
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
            }
        }
    }
}
