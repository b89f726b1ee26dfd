//! `http-action`: a lifecycle action that calls the application's HTTP API
//! for directory events. Authentication is the host's job: bind a
//! credential to the installation and the host adds `Authorization`.
//!
//! Two modes, chosen by config (reference: `docs/lifecycle-plugins.md`):
//!
//! - default, `{"url": "https://…", "events": ["dsync.user.deleted", …]}`:
//!   POST each matching event as JSON with its `Idempotency-Key`
//!   ([`forward`]);
//! - `{"url": "https://app.example.com", "actions": [{"on": [...],
//!   "when": {...}, "method": "DELETE", "url": "/users/{{data.email}}/sessions",
//!   "body": …, "headers": {…}, "if_missing": "fail"|"skip"}]}`: every
//!   action whose event types and condition match runs, in order, with its
//!   URL (relative to `url`, or absolute), headers and body rendered from
//!   the event ([`action`], [`run`]).

pub mod action;
pub mod body;
pub mod condition;
pub mod forward;
pub mod run;
pub mod status;

use rollcall_plugin_sdk::*;

use crate::action::Action;
use crate::run::Step;

pub struct HttpAction;

impl LifecycleAction for HttpAction {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "http-action",
            env!("CARGO_PKG_VERSION"),
            "Calls your API for directory events",
        )
    }

    fn validate_config() -> Result<(), PluginError> {
        match action::load()? {
            Some(_) => Ok(()),
            None => forward::validate(),
        }
    }

    fn handle(event: Event) -> Result<Outcome, PluginError> {
        match action::load()? {
            Some(actions) => run_actions(&actions, &event),
            None => forward::handle(event),
        }
    }
}

/// Runs every action for `event` in order; the first error stops the
/// rest (a redelivery runs them all again under the same keys).
fn run_actions(actions: &[Action], event: &Event) -> Result<Outcome, PluginError> {
    let context = event_template::context(event);
    let mut done = Vec::new();
    let mut skipped = Vec::new();
    for (index, action) in actions.iter().enumerate() {
        if !action.is_for(&event.event_type) {
            continue;
        }
        if let Some(why) = action.when.unmet(event, &context) {
            skipped.push(format!("actions[{index}]: {why}"));
            continue;
        }
        match run::run(action, index, event, &context)? {
            Step::Done(detail) => done.push(detail),
            Step::Skipped(why) => skipped.push(why),
        }
    }
    if !done.is_empty() {
        log::info(&format!("{}: {}", event.id, done.join("; ")));
        return Ok(Outcome::Completed(Some(done.join("; "))));
    }
    if skipped.is_empty() {
        return Ok(Outcome::Skipped(format!(
            "no action is for {}",
            event.event_type
        )));
    }
    Ok(Outcome::Skipped(skipped.join("; ")))
}

export_lifecycle!(HttpAction);

#[cfg(test)]
mod tests;
