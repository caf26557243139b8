//! The alerter: checks every alert rule (`csms_core::alerts`) against the store at an interval
//! and raises or resolves alerts, which the writer turns into `alert.raised` and
//! `alert.resolved` events (and so into webhook deliveries and the live stream).

use csms_core::alerts::changes;
use csms_core::ops::AlertChanges;
use csms_core::Clock;
use csms_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Checks the rules every `every` until `shutdown`.
pub async fn check_alerts(store: Store, clock: Arc<dyn Clock>, every: Duration, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        if let Err(e) = check_once(&store, clock.as_ref()).await {
            tracing::warn!(error = %e, "alert rules could not be checked");
        }
    }
}

/// One check of every rule; the alerts it changed are written together.
pub async fn check_once(store: &Store, clock: &dyn Clock) -> Result<(), String> {
    let read = |e: csms_store::StoreError| e.to_string();
    let now = clock.now();
    let mut holding = Vec::new();
    for rule in store.alert_rules().await.map_err(read)? {
        holding.extend(store.holding(&rule, now).await.map_err(read)?);
    }
    let open = store.open_alerts().await.map_err(read)?;
    let (raise, resolve) = changes(&open, &holding);
    if raise.is_empty() && resolve.is_empty() {
        return Ok(());
    }
    let op = AlertChanges { raise: raise.into_iter().cloned().collect(), resolve, now };
    store.execute(op, Vec::new()).await.map_err(|e| e.to_string())
}
