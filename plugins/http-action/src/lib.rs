//! `http-action`: a lifecycle action that POSTs each matching event to the
//! application's endpoint as
//! `{"id", "event", "organization_id", "directory_id", "data",
//! "previous_attributes", "attempt"}` with `Idempotency-Key` set, so the
//! receiver can dedupe redeliveries. Authentication is the host's job: bind
//! a credential to the installation and the host adds `Authorization`.
//!
//! Config: `{"url": "https://…", "events": ["dsync.user.deleted", …]}`.

use rollcall_plugin_sdk::*;
use serde_json::json;

pub struct HttpAction;

fn wanted(event_type: &str) -> Result<bool, PluginError> {
    let filter: Option<Vec<String>> = config::get("events")?;
    Ok(filter.is_none_or(|types| types.iter().any(|t| t == event_type)))
}

impl LifecycleAction for HttpAction {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "http-action",
            env!("CARGO_PKG_VERSION"),
            "POSTs events to your endpoint",
        )
    }

    fn validate_config() -> Result<(), PluginError> {
        let url: String = config::require("url")?;
        if !url.starts_with("https://") && !url.starts_with("http://") {
            return Err(PluginError::invalid_config("url must start with https://"));
        }
        Ok(())
    }

    fn handle(event: Event) -> Result<Outcome, PluginError> {
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
}

export_lifecycle!(HttpAction);

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str) -> Event {
        Event {
            id: "event_1".into(),
            event_type: event_type.into(),
            organization_id: "org_1".into(),
            directory_id: None,
            created_at_micros: 0,
            data: json!({"id": "directory_user_1"}),
            previous_attributes: None,
            idempotency_key: "event_1:inst".into(),
            attempt: 1,
        }
    }

    #[test]
    fn posts_matching_events_with_an_idempotency_key() {
        testing::reset();
        testing::set_config(
            json!({"url": "https://app.example.com/hook", "events": ["dsync.user.deleted"]}),
        );
        testing::mock_http("POST", "https://app.example.com/hook", 202, "");
        let outcome = HttpAction::handle(event("dsync.user.deleted")).unwrap();
        assert_eq!(outcome, Outcome::Completed(Some("HTTP 202".into())));
        let sent = &testing::requests()[0];
        assert!(
            sent.headers
                .contains(&("idempotency-key".into(), "event_1:inst".into()))
        );
        let skipped = HttpAction::handle(event("dsync.user.created")).unwrap();
        assert!(matches!(skipped, Outcome::Skipped(_)));
    }

    #[test]
    fn server_errors_are_transient() {
        testing::reset();
        testing::set_config(json!({"url": "https://app.example.com/hook"}));
        testing::mock_http("POST", "https://app.example.com/hook", 502, "");
        assert_eq!(
            HttpAction::handle(event("dsync.user.created")).unwrap_err(),
            PluginError::transient("HTTP 502")
        );
    }
}
