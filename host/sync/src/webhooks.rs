//! Webhook delivery: the event log → signed HTTP requests.
//!
//! [`WebhookWorker::run`] loops: fan new events out to deliveries
//! ([`rollcall_store::Store::fan_out_webhooks`]), claim the due ones with a
//! lease, send each (or a batch per endpoint) with bounded concurrency and
//! an optional per-endpoint rate, and record every attempt. Several
//! replicas on one PostgreSQL share the work; a crash only delays
//! deliveries until their lease runs out.

mod client;
mod rate;
mod send;
mod settings;
mod worker;

pub use settings::WebhookSettings;
pub use worker::WebhookWorker;
