//! Runs one matching action for one event: renders its URL (values
//! percent-encoded), headers and body from the event, sends the call with
//! an `Idempotency-Key` and turns the answer into a [`Step`].

use event_template::{Escape, RenderError};
use rollcall_plugin_sdk::{Event, PluginError, http};
use serde_json::Value;

use crate::action::{Action, IfMissing};
use crate::status;

/// What one action did.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Done(String),
    Skipped(String),
}

/// The `Idempotency-Key` of action `index`: the event's key and the
/// action's position, so two actions never share a key and a redelivery
/// repeats each action's own key.
pub fn idempotency_key(event: &Event, index: usize) -> String {
    format!("{}:{index}", event.idempotency_key)
}

/// Renders and sends `action` (at `index` in `config.actions`).
pub fn run(
    action: &Action,
    index: usize,
    event: &Event,
    context: &Value,
) -> Result<Step, PluginError> {
    let at = format!("actions[{index}]");
    let request = match build(action, index, event, context) {
        Ok(request) => request,
        Err(e) if action.if_missing == IfMissing::Skip => {
            return Ok(Step::Skipped(format!("{at}: {e}")));
        }
        Err(e) => return Err(PluginError::permanent(format!("{at}: {e}"))),
    };
    let label = format!("{at} {} {}", request.method, request.url);
    let response = request.send().map_err(|e| status::prefixed(&label, e))?;
    status::finish(&label, action.method, response).map(Step::Done)
}

fn build(
    action: &Action,
    index: usize,
    event: &Event,
    context: &Value,
) -> Result<http::Request, RenderError> {
    let url = action.url.render(context, Escape::Url)?;
    let mut request = http::Request::new(action.method.as_str(), &url);
    for (name, template) in &action.headers {
        let value = template.render(context, Escape::None)?;
        // A header value from event data must not smuggle a second header.
        let value: String = value.chars().filter(|c| !c.is_control()).collect();
        request = request.header(name, &value);
    }
    if !action
        .headers
        .iter()
        .any(|(name, _)| name == "idempotency-key")
    {
        request = request.header("idempotency-key", &idempotency_key(event, index));
    }
    if let Some(body) = &action.body {
        let bytes = serde_json::to_vec(&body.render(context)?).unwrap_or_default();
        request = request.body(bytes);
        if !action
            .headers
            .iter()
            .any(|(name, _)| name == "content-type")
        {
            request = request.header("content-type", "application/json");
        }
    }
    Ok(request)
}
