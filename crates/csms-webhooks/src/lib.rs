//! Webhook deliveries. Every subscription has a worker of its own that follows the stored
//! domain events from the last one it moved past, picks those the subscription wants
//! (`csms_core::webhooks::Interest`), and posts each, in order, as the event's JSON with an
//! HMAC-SHA256 signature of the body under the subscription's secret:
//!
//! ```text
//! POST <url>
//! content-type: application/json
//! x-strom-event: fault.opened
//! x-strom-event-id: 812
//! x-strom-delivery-attempt: 1
//! x-strom-signature: sha256=<hex of HMAC-SHA256(secret, body)>
//! ```
//!
//! A 2xx answer delivers it; anything else (another status, no connection, no answer within the
//! timeout) is tried again after `retry_delay` (doubling from the base) up to `MAX_ATTEMPTS`,
//! then given up. Every attempt is logged. The workers read the store and write only their log
//! and cursor, through the writer like any write: a slow or failing endpoint holds up its own
//! subscription and nothing else. Delivery is at least once: a crash between a delivery and
//! its log entry sends the event again, with the same `x-strom-event-id`.

mod http;

use csms_core::events::{EventKind, KindFilter};
use csms_core::fault_kinds::FaultCategory;
use csms_core::faults::Severity;
use csms_core::ops::WebhookAttempt;
use csms_core::webhooks::{retry_delay, Interest, MAX_ATTEMPTS};
use csms_core::Clock;
use csms_store::{EventFilter, Store, StoredEvent, WebhookView};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub use http::{signature, Client};

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The wait after a first failed attempt, doubled after each further one.
    pub retry_base: Duration,
    /// How long one attempt may take, connection included.
    pub timeout: Duration,
    /// The certificates `https` endpoints are checked against (PEM); none: `https` fails.
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retry_base: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            ca_file: Some("/etc/ssl/certs/ca-certificates.crt".into()),
        }
    }
}

/// How often the set of subscriptions is read again (a new one starts within this).
const RESCAN: Duration = Duration::from_secs(1);
/// Events read from the store at once.
const READ_AT_ONCE: i64 = 200;

/// Runs the workers until `shutdown`: one per subscription, started and stopped as
/// subscriptions come and go.
pub async fn run(store: Store, clock: Arc<dyn Clock>, settings: Settings, shutdown: CancellationToken) {
    let client = Arc::new(Client::new(&settings));
    let mut workers: HashMap<i64, CancellationToken> = HashMap::new();
    loop {
        match store.all_webhooks().await {
            Ok(hooks) => {
                workers.retain(|id, stop| {
                    let keep = hooks.iter().any(|h| h.id == *id);
                    if !keep {
                        stop.cancel();
                    }
                    keep
                });
                for hook in hooks {
                    if workers.contains_key(&hook.id) {
                        continue;
                    }
                    let stop = shutdown.child_token();
                    workers.insert(hook.id, stop.clone());
                    let worker = Worker {
                        store: store.clone(),
                        clock: clock.clone(),
                        client: client.clone(),
                        retry_base: settings.retry_base,
                        stop,
                    };
                    tokio::spawn(worker.run(hook));
                }
            }
            Err(e) => tracing::warn!(error = %e, "webhooks: could not read the subscriptions"),
        }
        tokio::select! {
            _ = tokio::time::sleep(RESCAN) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

struct Worker {
    store: Store,
    clock: Arc<dyn Clock>,
    client: Arc<Client>,
    retry_base: Duration,
    stop: CancellationToken,
}

/// A subscription's filters as stored (the API checked them as they came).
fn interest(hook: &WebhookView) -> Interest {
    Interest {
        kinds: KindFilter::parse(&hook.kinds).unwrap_or_default(),
        categories: hook.categories.split(',').filter_map(FaultCategory::parse).collect(),
        min_severity: hook.min_severity.as_deref().and_then(Severity::parse),
        station_id: hook.station_id.clone(),
    }
}

impl Worker {
    async fn run(self, hook: WebhookView) {
        let interest = interest(&hook);
        // The store narrows by station and kind; the rest is `Interest::wants`.
        let filter = EventFilter { station_id: hook.station_id.clone(), kinds: interest.kinds.clone(), category: None };
        let mut live = self.store.subscribe_events();
        let mut cursor = hook.last_event_id;
        loop {
            let events = match self.store.events_after(cursor, &filter, READ_AT_ONCE).await {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(webhook = hook.id, error = %e, "webhooks: could not read the events");
                    Vec::new()
                }
            };
            if events.is_empty() {
                // Woken by the next event anyone commits, or after a while in any case.
                tokio::select! {
                    _ = live.recv() => {}
                    _ = tokio::time::sleep(RESCAN) => {}
                    _ = self.stop.cancelled() => return,
                }
                continue;
            }
            for event in events {
                if wanted(&interest, &event) && !self.deliver(&hook, &event).await {
                    return;
                }
                cursor = event.id;
            }
        }
    }

    /// Tries `event` until it is delivered or given up; false if the worker was stopped.
    async fn deliver(&self, hook: &WebhookView, event: &StoredEvent) -> bool {
        for attempt in 1..=MAX_ATTEMPTS {
            let started = Instant::now();
            let result = tokio::select! {
                result = self.client.post(&hook.url, &hook.secret, event, attempt) => result,
                _ = self.stop.cancelled() => return false,
            };
            let outcome = match &result {
                Ok(status) if (200..300).contains(status) => "delivered",
                _ if attempt == MAX_ATTEMPTS => "given_up",
                _ => "failed",
            };
            let (status_code, error) = match result {
                Ok(status) if (200..300).contains(&status) => (Some(i64::from(status)), None),
                Ok(status) => (Some(i64::from(status)), Some(format!("the endpoint answered HTTP {status}"))),
                Err(e) => (None, Some(e)),
            };
            let record = WebhookAttempt {
                webhook_id: hook.id,
                event_id: event.id,
                attempt: i64::from(attempt),
                outcome,
                status_code,
                error: error.clone(),
                duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
                at: self.clock.now(),
            };
            if let Err(e) = self.store.execute(record, Vec::new()).await {
                tracing::warn!(webhook = hook.id, error = %e, "webhooks: could not log a delivery");
            }
            if outcome != "failed" {
                if outcome == "given_up" {
                    tracing::warn!(webhook = hook.id, event = event.id, error = ?error, "webhook delivery given up");
                }
                return true;
            }
            tracing::debug!(webhook = hook.id, event = event.id, attempt, error = ?error, "webhook delivery failed");
            tokio::select! {
                _ = tokio::time::sleep(retry_delay(attempt, self.retry_base)) => {}
                _ = self.stop.cancelled() => return false,
            }
        }
        true
    }
}

/// Whether the subscription wants the event: its kind, station, and for a fault its category
/// and severity (read from the event's data).
fn wanted(interest: &Interest, event: &StoredEvent) -> bool {
    let Some(kind) = EventKind::parse(&event.kind) else { return false };
    let station = event.station_id.as_deref().unwrap_or_default();
    let severity = if kind.family() == "fault" {
        serde_json::from_str::<serde_json::Value>(&event.json)
            .ok()
            .and_then(|v| v["data"]["severity"].as_str().map(str::to_string))
    } else {
        None
    };
    interest.wants(kind, station, event.category.as_deref(), severity.as_deref())
}
