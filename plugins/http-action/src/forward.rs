//! The default mode (no `actions` in config): POST every event whose type
//! is in `config.events` (all when absent) to `config.url` as
//! `{"id", "event", "organization_id", "directory_id", "data",
//! "previous_attributes", "attempt"}` with the event's `Idempotency-Key`.

use rollcall_plugin_sdk::*;
use serde_json::json;

/// Checks `url` (required in this mode).
pub fn validate() -> Result<(), PluginError> {
    let url: String = config::require("url")?;
    if !url.starts_with("https://") && !url.starts_with("http://") {
        return Err(PluginError::invalid_config("url must start with https://"));
    }
    Ok(())
}

fn wanted(event_type: &str) -> Result<bool, PluginError> {
    let filter: Option<Vec<String>> = config::get("events")?;
    Ok(filter.is_none_or(|types| types.iter().any(|t| t == event_type)))
}

/// POSTs `event` when it is wanted.
pub fn handle(event: Event) -> Result<Outcome, PluginError> {
    validate()?;
    if !wanted(&event.event_type)? {
        return Ok(Outcome::Skipped(format!(
            "{} is not in config.events",
            event.event_type
        )));
    }
    let url: String = config::require("url")?;
    let body = json!({
        "id": event.id,
        "event": event.event_type,
        "organization_id": event.organization_id,
        "directory_id": event.directory_id,
        "data": event.data,
        "previous_attributes": event.previous_attributes,
        "attempt": event.attempt,
    });
    let response = http::post(&url)
        .header("idempotency-key", &event.idempotency_key)
        .json(&body)?
        .send()?
        .error_for_status()?;
    log::info(&format!("delivered {} ({})", event.id, response.status));
    Ok(Outcome::Completed(Some(format!(
        "HTTP {}",
        response.status
    ))))
}
