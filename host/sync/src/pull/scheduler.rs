//! The schedule: queue a run for every pull directory whose time has come.
//! Replicas may all do this; the one-active-run-per-directory index makes
//! a second enqueue answer the existing run.

use rollcall_core::Timestamp;
use rollcall_core::directory::Ingress;
use rollcall_core::sync_settings::DirectorySyncSettings;
use rollcall_store::{Store, SyncTrigger};

/// Directories looked at per round.
const DUE_BATCH: u32 = 200;

/// Queues the due directories' runs; answers how many were queued.
pub(crate) async fn enqueue_due(store: &Store, default_interval: u32) -> anyhow::Result<usize> {
    let now = Timestamp::now();
    let due = store.due_sync_directories(now, DUE_BATCH).await?;
    let mut queued = 0;
    for directory_id in due {
        let Some(directory) = store.get_directory(&directory_id).await? else {
            continue;
        };
        let settings = DirectorySyncSettings::parse(&directory.settings, default_interval)
            .unwrap_or_else(|_| DirectorySyncSettings::defaults(default_interval));
        let next = now.plus_seconds(i64::from(settings.interval_minutes) * 60);
        if directory.directory_type.ingress() == Ingress::Pull {
            let (run, created) = store
                .enqueue_sync_run(&directory.id, SyncTrigger::Schedule, false)
                .await?;
            if created {
                queued += 1;
                tracing::debug!(directory = %directory.id, run = %run.id, "scheduled sync run queued");
            }
        }
        // Push directories with a mapping connector are not pulled; they
        // are pushed out of the due list for a day.
        let next = if directory.directory_type.ingress() == Ingress::Pull {
            next
        } else {
            now.plus_seconds(86_400)
        };
        store.schedule_sync(&directory.id, next).await?;
    }
    Ok(queued)
}
