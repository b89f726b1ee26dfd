//! Rollcall's background work, run by `rollcall serve` next to the HTTP
//! listener: everything that reads the event log and acts on it outside a
//! request handler.
//!
//! - [`webhooks`]: fans the event log out to webhook endpoints and delivers
//!   signed requests with retries, a dead-letter state and a delivery log.
//! - [`lifecycle`]: runs lifecycle-action plugins on the events their
//!   installations subscribe to, in order per user, with retries per the
//!   plugin's error variant and a dead-letter state.
//! - [`pull`]: the pull-sync scheduler and workers: connector plugins
//!   read providers' APIs; runs reconcile page by page, resumable after a
//!   crash, shared by any number of replicas.
//! - [`retention`]: prunes events (and their deliveries) past the
//!   retention period.
//!
//! Every worker takes a shutdown signal: a
//! `tokio::sync::watch::Receiver<bool>` that turns `true` on shutdown.

pub mod lifecycle;
pub mod pull;
mod recorder;
pub mod retention;
pub mod webhooks;

pub use lifecycle::{LifecycleDispatcher, LifecycleSettings};
pub use pull::{PullSettings, PullWorker, RunDriver, RunResult};
pub use webhooks::{WebhookSettings, WebhookWorker};
