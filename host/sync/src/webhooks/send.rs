//! One webhook request: build the body, sign it (Standard Webhooks), send
//! it, and turn the answer into attempt records with their outcome.

use std::time::{Duration, Instant};

use rollcall_core::Timestamp;
use rollcall_core::ids::{IdKind, new_id};
use rollcall_core::webhook::{RetrySchedule, SigningSecret, signature_header};
use rollcall_store::{AttemptOutcome, AttemptRecord, DueDelivery, MAX_EXCERPT_BYTES};

use super::client::check_literal;
use super::settings::WebhookSettings;

/// Where and how to send, as the worker knows the endpoint.
pub(crate) struct Target {
    pub url: reqwest::Url,
    pub secrets: Vec<SigningSecret>,
}

/// What came back (or did not).
struct Answer {
    status: Option<u16>,
    error: Option<String>,
    excerpt: Option<String>,
    retry_after: Option<Duration>,
}

/// Sends `deliveries` (one, or a batch) to `target` in one request.
pub(crate) async fn send(
    client: &reqwest::Client,
    settings: &WebhookSettings,
    target: &Target,
    deliveries: &[DueDelivery],
) -> Vec<AttemptRecord> {
    let started_at = Timestamp::now();
    let clock = Instant::now();
    let answer = match body_and_id(deliveries) {
        Ok((id, body)) => request(client, settings, target, &id, body).await,
        Err(e) => Answer {
            status: None,
            error: Some(e),
            excerpt: None,
            retry_after: None,
        },
    };
    let duration_us = clock.elapsed().as_micros() as i64;
    deliveries
        .iter()
        .map(|d| {
            let attempt = d.attempts + 1;
            AttemptRecord {
                endpoint_id: d.endpoint_id.clone(),
                event_id: d.event.id.clone(),
                attempt,
                started_at,
                duration_us,
                status: answer.status,
                error: answer.error.clone(),
                response_excerpt: answer.excerpt.clone(),
                outcome: outcome(&settings.retry, &answer, attempt - d.round_start),
            }
        })
        .collect()
}

/// The `webhook-id` and body: the event itself, or `{"object":"list",
/// "data":[…]}` with a fresh message id for a batch.
fn body_and_id(deliveries: &[DueDelivery]) -> Result<(String, Vec<u8>), String> {
    match deliveries {
        [one] => serde_json::to_vec(&one.event)
            .map(|b| (one.event.id.clone(), b))
            .map_err(|e| format!("cannot encode the event: {e}")),
        many => {
            let events: Vec<_> = many.iter().map(|d| &d.event).collect();
            serde_json::to_vec(&serde_json::json!({"object": "list", "data": events}))
                .map(|b| (new_id(IdKind::WebhookMessage), b))
                .map_err(|e| format!("cannot encode the batch: {e}"))
        }
    }
}

async fn request(
    client: &reqwest::Client,
    settings: &WebhookSettings,
    target: &Target,
    id: &str,
    body: Vec<u8>,
) -> Answer {
    let failed = |error: String| Answer {
        status: None,
        error: Some(error),
        excerpt: None,
        retry_after: None,
    };
    if let Err(e) = check_literal(&target.url, settings) {
        return failed(e);
    }
    let timestamp = Timestamp::now().as_micros() / 1_000_000;
    let secrets: Vec<&SigningSecret> = target.secrets.iter().collect();
    let signature = signature_header(&secrets, id, timestamp, &body);
    let sent = client
        .post(target.url.clone())
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => return failed(describe(&e)),
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // Keep the first bytes of the answer; drain the rest so the
    // connection can be reused, within the request timeout.
    let mut excerpt = Vec::new();
    let mut body_error = None;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_EXCERPT_BYTES.saturating_sub(excerpt.len());
                excerpt.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) => break,
            Err(e) => {
                body_error = Some(format!("reading the response: {}", describe(&e)));
                break;
            }
        }
    }
    let excerpt = (!excerpt.is_empty()).then(|| String::from_utf8_lossy(&excerpt).into_owned());
    let error = if (200..300).contains(&status) {
        None
    } else {
        body_error.or_else(|| Some(format!("the endpoint answered HTTP {status}")))
    };
    Answer {
        status: Some(status),
        error,
        excerpt,
        retry_after,
    }
}

/// A readable reason for a transport failure, without internals.
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// 2xx delivered; 410 disables the endpoint; anything else is retried per
/// the schedule (`Retry-After` is honoured up to a day) until it is dead.
fn outcome(schedule: &RetrySchedule, answer: &Answer, attempt_in_round: u32) -> AttemptOutcome {
    let status = answer.status.unwrap_or(0);
    if (200..300).contains(&status) && answer.error.is_none() {
        return AttemptOutcome::Delivered;
    }
    let wait = schedule.next_wait(attempt_in_round);
    if status == 410 {
        let wait = wait.unwrap_or(Duration::from_secs(3600));
        return AttemptOutcome::Gone(after(wait));
    }
    match wait {
        Some(wait) => {
            let wait = match answer.retry_after {
                Some(ra) if ra > wait => ra.min(Duration::from_secs(86_400)),
                _ => wait,
            };
            AttemptOutcome::Retry(after(wait))
        }
        None => AttemptOutcome::Dead,
    }
}

fn after(wait: Duration) -> Timestamp {
    Timestamp::from_micros(Timestamp::now().as_micros() + wait.as_micros() as i64)
}
