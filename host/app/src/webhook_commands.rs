//! `rollcall webhook …` and `rollcall events tail`: webhook endpoints, their
//! delivery log, redelivery and replay, and the event log in the terminal.

use std::time::Duration;

use anyhow::{Result, anyhow};
use rollcall_core::event::{Event, EventType};
use rollcall_store::{
    DeliveryState, EventFilter, MAX_LIMIT, NewWebhookEndpoint, Order, PageRequest, Store,
    WebhookEndpoint, WebhookEndpointUpdate,
};

use crate::cli::{EventsCommand, WebhookCommand};
use crate::config::Config;
use crate::output::Output;

pub(crate) fn event_types(names: &[String]) -> Result<Vec<EventType>> {
    names
        .iter()
        .map(|n| {
            EventType::parse(n).ok_or_else(|| {
                anyhow!(
                    "unknown event type '{n}'; expected one of {}",
                    EventType::ALL.map(EventType::as_str).join(", ")
                )
            })
        })
        .collect()
}

fn describe(e: &WebhookEndpoint) -> String {
    let events = if e.events.is_empty() {
        "every event".to_owned()
    } else {
        e.events
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut s = format!(
        "{} {} ({})\n  organization: {}\n  events:       {events}\n  batch size:   {}\n  rate limit:   {}\n  secret:       …{}",
        e.id,
        e.url,
        match &e.disabled_reason {
            Some(r) => format!("disabled: {r}"),
            None => "enabled".into(),
        },
        e.organization_id,
        e.batch_size,
        e.rate_limit.map_or("none".into(), |r| format!("{r}/s")),
        e.secret_suffix,
    );
    if let Some(t) = e.previous_secret_expires_at {
        s.push_str(&format!(
            "\n  previous secret signs until {}",
            t.to_rfc3339()
        ));
    }
    s
}

pub async fn webhook(
    store: &Store,
    config: &Config,
    out: Output,
    command: WebhookCommand,
) -> Result<()> {
    let allow_http = config.webhooks.allow_http;
    match command {
        WebhookCommand::Create {
            organization_id,
            url,
            events,
            description,
            batch_size,
            rate_limit,
        } => {
            let (endpoint, secret) = store
                .create_webhook_endpoint(&NewWebhookEndpoint {
                    organization_id,
                    url,
                    description,
                    events: event_types(&events)?,
                    batch_size,
                    rate_limit,
                    allow_http,
                })
                .await?;
            let mut value = serde_json::to_value(&endpoint)?;
            value["secret"] = serde_json::Value::String(secret.clone());
            out.item(&value, || {
                format!(
                    "Created {}\n\n  Signing secret (shown only this once): {secret}",
                    describe(&endpoint)
                )
            });
        }
        WebhookCommand::List { organization_id } => {
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .list_webhook_endpoints(
                        organization_id.as_deref(),
                        &PageRequest {
                            limit: MAX_LIMIT,
                            before: None,
                            after: after.take(),
                            order: Order::Asc,
                        },
                    )
                    .await?;
                all.extend(page.data);
                match page.after {
                    Some(a) => after = Some(a),
                    None => break,
                }
            }
            out.table(
                &all,
                &["id", "organization", "state", "url", "events"],
                |e| {
                    vec![
                        e.id.clone(),
                        e.organization_id.clone(),
                        format!("{:?}", e.state).to_lowercase(),
                        e.url.clone(),
                        if e.events.is_empty() {
                            "*".into()
                        } else {
                            e.events
                                .iter()
                                .map(|t| t.as_str())
                                .collect::<Vec<_>>()
                                .join(",")
                        },
                    ]
                },
            );
        }
        WebhookCommand::Show { id } => {
            let e = store
                .get_webhook_endpoint(&id)
                .await?
                .ok_or_else(|| anyhow!("webhook endpoint {id} not found"))?;
            out.item(&e, || describe(&e));
        }
        WebhookCommand::Update {
            id,
            url,
            events,
            all_events,
            description,
            batch_size,
            rate_limit,
        } => {
            let events = if all_events {
                Some(Vec::new())
            } else if events.is_empty() {
                None
            } else {
                Some(event_types(&events)?)
            };
            let e = store
                .update_webhook_endpoint(
                    &id,
                    &WebhookEndpointUpdate {
                        url,
                        description,
                        events,
                        batch_size,
                        rate_limit: rate_limit.map(|r| (r > 0).then_some(r)),
                        allow_http,
                    },
                )
                .await?;
            out.item(&e, || format!("Updated {}", describe(&e)));
        }
        WebhookCommand::Disable { id } => {
            let e = store
                .set_webhook_endpoint_enabled(&id, false, Some("disabled with the CLI"))
                .await?;
            out.item(&e, || format!("Disabled {}", e.id));
        }
        WebhookCommand::Enable { id } => {
            let e = store.set_webhook_endpoint_enabled(&id, true, None).await?;
            out.item(&e, || format!("Enabled {}", e.id));
        }
        WebhookCommand::RotateSecret { id, grace_period } => {
            let (e, secret) = store
                .rotate_webhook_secret(&id, grace_period.unwrap_or(0))
                .await?;
            let mut value = serde_json::to_value(&e)?;
            value["secret"] = serde_json::Value::String(secret.clone());
            out.item(&value, || {
                format!(
                    "New signing secret for {} (shown only this once): {secret}",
                    e.id
                )
            });
        }
        WebhookCommand::Delete { id } => {
            store.delete_webhook_endpoint(&id).await?;
            out.item(&serde_json::json!({"id": id, "deleted": true}), || {
                format!("Deleted webhook endpoint {id}")
            });
        }
        WebhookCommand::Deliveries { id, state, limit } => {
            if store.get_webhook_endpoint(&id).await?.is_none() {
                return Err(anyhow!("webhook endpoint {id} not found"));
            }
            let state = state
                .map(|s| {
                    DeliveryState::parse(&s)
                        .ok_or_else(|| anyhow!("--state must be pending, delivered or dead"))
                })
                .transpose()?;
            if !(1..=MAX_LIMIT).contains(&limit) {
                return Err(anyhow!("--limit must be 1 to {MAX_LIMIT}"));
            }
            let page = store
                .list_webhook_deliveries(
                    &id,
                    state,
                    &PageRequest {
                        limit,
                        ..PageRequest::default()
                    },
                )
                .await?;
            out.table(
                &page.data,
                &[
                    "event", "type", "state", "attempts", "status", "latency", "error",
                ],
                |d| {
                    vec![
                        d.event_id.clone(),
                        d.event.as_str().to_owned(),
                        d.state.as_str().to_owned(),
                        d.attempts.to_string(),
                        d.last_status.map_or("-".into(), |s| s.to_string()),
                        d.last_latency_ms
                            .map_or("-".into(), |l| format!("{l:.1} ms")),
                        d.last_error.clone().unwrap_or_else(|| "-".into()),
                    ]
                },
            );
        }
        WebhookCommand::Redeliver { id, event_id } => {
            let d = store.redeliver_webhook_event(&id, &event_id).await?;
            out.item(&d, || format!("Scheduled {event_id} for delivery to {id}"));
        }
        WebhookCommand::Replay { id, from_event_id } => {
            let n = store.replay_webhook_events(&id, &from_event_id).await?;
            out.item(&serde_json::json!({"scheduled": n}), || {
                format!("Scheduled {n} events for delivery to {id}")
            });
        }
    }
    Ok(())
}

fn line(e: &Event) -> String {
    format!(
        "{}  {}  {:<26}  {}  {}",
        e.created_at.to_rfc3339(),
        e.id,
        e.event.as_str(),
        e.directory_id.as_deref().unwrap_or("-"),
        serde_json::to_string(&e.data).unwrap_or_default()
    )
}

pub async fn events(store: &Store, out: Output, command: EventsCommand) -> Result<()> {
    let EventsCommand::Tail {
        organization_id,
        directory_id,
        events,
        after,
        lines,
        follow,
    } = command;
    let mut filter = EventFilter {
        organization_id,
        directory_id,
        types: event_types(&events)?,
        after,
        limit: MAX_LIMIT,
        ..EventFilter::default()
    };
    let print = |e: &Event| out.item(e, || line(e));
    if filter.after.is_none() {
        let latest = store
            .latest_events(&EventFilter {
                limit: lines.clamp(1, 1000),
                ..filter.clone()
            })
            .await?;
        match latest.last() {
            Some(last) => filter.after = Some(last.id.clone()),
            None => {
                // An empty log: follow from whatever arrives first.
                if lines == 0 && !follow {
                    return Ok(());
                }
            }
        }
        if lines > 0 {
            latest.iter().for_each(print);
        }
    }
    loop {
        let page = store.list_events(&filter).await?;
        if let Some(last) = page.last() {
            filter.after = Some(last.id.clone());
        }
        let more = page.len() == MAX_LIMIT as usize;
        page.iter().for_each(print);
        if more {
            continue;
        }
        if !follow {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
