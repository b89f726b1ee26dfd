//! The delivery loop: fan out, claim, send with bounded concurrency,
//! record in batches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use rollcall_core::Timestamp;
use rollcall_store::{AttemptOutcome, AttemptRecord, DueDelivery, Store, WebhookEndpoint};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::recorder::record_loop;

use super::client;
use super::rate::RateLimits;
use super::send::{Target, send};
use super::settings::WebhookSettings;

/// Events fanned out per endpoint per round.
const FANOUT_BATCH: u32 = 2000;
/// Attempt records written per transaction, at most.
const RECORD_BATCH: usize = 512;
/// How long an endpoint's settings and secrets are cached.
const ENDPOINT_TTL: Duration = Duration::from_secs(10);

pub struct WebhookWorker {
    store: Store,
    settings: WebhookSettings,
    client: reqwest::Client,
    rates: Arc<RateLimits>,
}

struct CachedEndpoint {
    endpoint: WebhookEndpoint,
    target: Arc<Target>,
    loaded: Instant,
}

impl WebhookWorker {
    pub fn new(store: Store, settings: WebhookSettings) -> Result<Self> {
        let client = client::build(&settings)?;
        Ok(WebhookWorker {
            store,
            settings,
            client,
            rates: Arc::new(RateLimits::default()),
        })
    }

    /// Delivers until `shutdown` turns true, then lets requests in flight
    /// finish (up to the request timeout) and writes their records.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let permits = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let (records_tx, records_rx) = mpsc::unbounded_channel::<Vec<AttemptRecord>>();
        let recorder = tokio::spawn(record_loop(self.store.clone(), records_rx, RECORD_BATCH));
        let mut endpoints: HashMap<String, CachedEndpoint> = HashMap::new();
        tracing::info!(
            concurrency = self.settings.concurrency,
            retry_schedule = %self.settings.retry.to_config_string(),
            "webhook delivery started"
        );
        while !*shutdown.borrow() {
            let busy = match self.round(&permits, &records_tx, &mut endpoints).await {
                Ok(busy) => busy,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook delivery round failed; retrying");
                    false
                }
            };
            if !busy {
                tokio::select! {
                    _ = tokio::time::sleep(self.settings.poll_interval) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        // Wait for requests in flight, then flush their records.
        let all = self.settings.concurrency.max(1) as u32;
        let _ = tokio::time::timeout(
            self.settings.request_timeout + Duration::from_secs(1),
            permits.acquire_many(all),
        )
        .await;
        drop(records_tx);
        let _ = recorder.await;
        tracing::info!("webhook delivery stopped");
    }

    /// One round; answers whether there was work (then loop again at once).
    async fn round(
        &self,
        permits: &Arc<Semaphore>,
        records: &mpsc::UnboundedSender<Vec<AttemptRecord>>,
        endpoints: &mut HashMap<String, CachedEndpoint>,
    ) -> Result<bool> {
        let fanned = self.store.fan_out_webhooks(FANOUT_BATCH).await?;
        let free = permits.available_permits();
        if free == 0 {
            // Wait for a slot rather than spinning.
            drop(permits.acquire().await);
            return Ok(true);
        }
        let due = self
            .store
            .claim_webhook_deliveries((free * 4).min(1024) as u32, self.settings.lease_seconds())
            .await?;
        if due.is_empty() {
            return Ok(fanned > 0);
        }
        // Group per endpoint (batches are per endpoint).
        let mut by_endpoint: HashMap<String, Vec<DueDelivery>> = HashMap::new();
        for d in due {
            by_endpoint
                .entry(d.endpoint_id.clone())
                .or_default()
                .push(d);
        }
        for (endpoint_id, deliveries) in by_endpoint {
            let Some((endpoint, target)) = self.endpoint(endpoints, &endpoint_id).await? else {
                // Disabled or deleted meanwhile: give the leases back.
                let keys: Vec<(String, String)> = deliveries
                    .iter()
                    .map(|d| (d.endpoint_id.clone(), d.event.id.clone()))
                    .collect();
                self.store.release_webhook_leases(&keys).await?;
                continue;
            };
            let size = endpoint.batch_size.max(1) as usize;
            let mut rest = deliveries;
            while !rest.is_empty() {
                let chunk: Vec<DueDelivery> = rest.drain(..size.min(rest.len())).collect();
                let permit = permits.clone().acquire_owned().await?;
                let client = self.client.clone();
                let settings = self.settings.clone();
                let target = target.clone();
                let records = records.clone();
                let wait = endpoint
                    .rate_limit
                    .map(|r| self.rates.reserve(&endpoint.id, r))
                    .unwrap_or_default();
                tokio::spawn(async move {
                    let _permit = permit;
                    let out = if wait > Duration::from_secs(settings.lease_seconds() as u64 / 2) {
                        let at = Timestamp::from_micros(
                            Timestamp::now().as_micros() + wait.as_micros() as i64,
                        );
                        defer(&chunk, at)
                    } else {
                        tokio::time::sleep(wait).await;
                        send(&client, &settings, &target, &chunk).await
                    };
                    let _ = records.send(out);
                });
            }
        }
        Ok(true)
    }

    /// The endpoint's settings and signing target, cached for a while;
    /// `None` when it is no longer enabled.
    async fn endpoint(
        &self,
        cache: &mut HashMap<String, CachedEndpoint>,
        id: &str,
    ) -> Result<Option<(WebhookEndpoint, Arc<Target>)>> {
        if let Some(c) = cache.get(id)
            && c.loaded.elapsed() < ENDPOINT_TTL
        {
            return Ok(Some((c.endpoint.clone(), c.target.clone())));
        }
        cache.remove(id);
        let Some(endpoint) = self.store.get_webhook_endpoint(id).await? else {
            return Ok(None);
        };
        if endpoint.state != rollcall_store::EndpointState::Enabled {
            return Ok(None);
        }
        let secrets = self.store.webhook_signing_secrets(id).await?;
        let url = reqwest::Url::parse(&endpoint.url)?;
        let target = Arc::new(Target { url, secrets });
        cache.insert(
            id.to_owned(),
            CachedEndpoint {
                endpoint: endpoint.clone(),
                target: target.clone(),
                loaded: Instant::now(),
            },
        );
        Ok(Some((endpoint, target)))
    }
}

fn defer(chunk: &[DueDelivery], at: Timestamp) -> Vec<AttemptRecord> {
    chunk
        .iter()
        .map(|d| AttemptRecord {
            endpoint_id: d.endpoint_id.clone(),
            event_id: d.event.id.clone(),
            attempt: d.attempts,
            started_at: Timestamp::now(),
            duration_us: 0,
            status: None,
            error: None,
            response_excerpt: None,
            outcome: AttemptOutcome::Deferred(at),
        })
        .collect()
}
