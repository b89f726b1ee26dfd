//! Lifecycle dispatch: the event log → lifecycle-action plugins.
//!
//! [`LifecycleDispatcher::run`] loops like webhook delivery: fan new events
//! out to executions per lifecycle installation, claim the due ones (only
//! the oldest pending event of each user, so one user's events run in
//! order), run each in a fresh sandboxed instance with an idempotency key,
//! and record the outcome. The plugin's error variant decides what
//! happens next (see [`outcome`]).

mod outcome;
mod settings;
mod worker;

pub use settings::LifecycleSettings;
pub use worker::LifecycleDispatcher;
