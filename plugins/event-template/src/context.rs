//! The JSON value templates are evaluated against: the event's envelope
//! under `event`, its snapshot under `data` and the old values of changed
//! fields under `previous_attributes`.

use rollcall_plugin_sdk::Event;
use serde_json::{Value, json};

/// `{"event": {"id", "type", "organization_id", "directory_id",
/// "created_at", "idempotency_key", "attempt"}, "data": …,
/// "previous_attributes": …}` for `event`.
pub fn context(event: &Event) -> Value {
    json!({
        "event": {
            "id": event.id,
            "type": event.event_type,
            "organization_id": event.organization_id,
            "directory_id": event.directory_id,
            "created_at": event.created_at_micros,
            "idempotency_key": event.idempotency_key,
            "attempt": event.attempt,
        },
        "data": event.data,
        "previous_attributes": event.previous_attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_exposes_envelope_data_and_previous_attributes() {
        let event = Event {
            id: "event_1".into(),
            event_type: "dsync.user.updated".into(),
            organization_id: "org_1".into(),
            directory_id: Some("directory_1".into()),
            created_at_micros: 7,
            data: json!({"email": "ada@example.com"}),
            previous_attributes: Some(json!({"state": "active"})),
            idempotency_key: "event_1:inst".into(),
            attempt: 2,
        };
        let c = context(&event);
        assert_eq!(c["event"]["type"], "dsync.user.updated");
        assert_eq!(c["event"]["attempt"], 2);
        assert_eq!(c["data"]["email"], "ada@example.com");
        assert_eq!(c["previous_attributes"]["state"], "active");
    }
}
