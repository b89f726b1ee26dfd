//! Pull sync: the scheduler and workers that run connector plugins
//! against providers' APIs and reconcile what they list with the store.
//!
//! - [`scheduler`]: queues a run for every pull directory whose schedule
//!   is due (`sync_interval_minutes`, default 30).
//! - [`worker`]: claims queued runs under a lease (any number of replicas
//!   share the work; a directory never runs twice at once), renews the
//!   lease while working, retries or fails per the plugin's error variant,
//!   and releases leases on shutdown.
//! - [`runner`]: drives one run page by page: a full pass (users, groups,
//!   members of each group, then removal of what was not seen) or an
//!   incremental pass from the stored checkpoint; every page is committed
//!   with the run's position, so a run resumes after a crash.
//! - [`outcome`]: what a connector error means for the run.

mod outcome;
pub mod runner;
mod scheduler;
mod settings;
mod worker;

pub use runner::{RunDriver, RunResult};
pub use settings::PullSettings;
pub use worker::PullWorker;
