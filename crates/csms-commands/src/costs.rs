//! The cost on the station's display: every `interval`, each connected station's running
//! transactions that a tariff prices are sent their cost so far (2.0.1 CostUpdated, including tax
//! as the schema says; 1.6 the Open Charge Alliance's California Pricing DataTransfer
//! `RunningCost`), and a 1.6 station is sent `FinalCost` as its transaction's record is written
//! (a 2.0.1 station has it in the Ended answer's totalCost). Sent as logged commands through the
//! station's session, one at a time like every CSMS call, never on a station's message path.
//!
//! What the station declared is honoured: a 2.0.1 station whose TariffCostCtrlr says cost is not
//! enabled or not available (`Enabled`/`Available`, instance `Cost`, as last reported) gets no
//! CostUpdated; a 1.6 station gets the DataTransfer messages only when its configuration has
//! `CustomDisplayCostAndPrice` = true (the whitepaper's switch, read-only on the station).

use crate::Commands;
use csms_core::events::EventKind;
use csms_store::{PageRequest, RunningCost, TransactionFilter};
use ocpp::OcppVersion;
use serde_json::json;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The vendor id of the California Pricing messages.
pub const COST_VENDOR: &str = "org.openchargealliance.costmsg";

#[derive(Debug, Clone, Copy)]
pub struct CostSettings {
    /// How often running costs are sent; `None` sends none (final costs still go).
    pub interval: Option<Duration>,
    pub time_zone: chrono_tz::Tz,
}

/// Runs until `shutdown`: the running costs every interval, the final costs as records are made.
pub async fn run(commands: Commands, settings: CostSettings, shutdown: CancellationToken) {
    let mut events = commands.store.subscribe_events();
    let mut tick = settings.interval.map(|every| tokio::time::interval_at(tokio::time::Instant::now() + every, every));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = async { tick.as_mut().expect("ticking").tick().await }, if tick.is_some() => {
                running_costs(&commands, settings.time_zone).await;
            }
            event = events.recv() => match event {
                Ok(event) if event.kind == EventKind::CdrCreated.as_str() => {
                    let commands = commands.clone();
                    tokio::spawn(async move {
                        let parsed: serde_json::Value = serde_json::from_str(&event.json).unwrap_or_default();
                        final_cost(&commands, &event.station_id, &parsed["data"]).await
                    });
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

/// Whether the station wants costs: 2.0.1 unless its TariffCostCtrlr says no; 1.6 only with
/// CustomDisplayCostAndPrice = true.
async fn wants_costs(commands: &Commands, station: &str, version: OcppVersion) -> bool {
    match version {
        OcppVersion::V201 => {
            let Ok(model) = commands.store.device_model(station).await else { return false };
            !model.iter().any(|v| {
                v.component == "TariffCostCtrlr"
                    && (v.variable == "Enabled" || v.variable == "Available")
                    && v.variable_instance.as_deref() == Some("Cost")
                    && v.attribute_type == "Actual"
                    && v.value.as_deref().is_some_and(|value| value.eq_ignore_ascii_case("false"))
            })
        }
        OcppVersion::V16 => {
            let Ok(configuration) = commands.store.configuration(station).await else { return false };
            configuration.iter().any(|c| {
                c.key == "CustomDisplayCostAndPrice"
                    && c.value.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("true"))
            })
        }
    }
}

/// A decimal amount as the wire's number.
fn amount(value: csms_core::tariffs::Decimal) -> f64 {
    value.to_string().parse().unwrap_or(0.0)
}

/// One round: the running transactions of connected stations, a task per station (its calls go
/// one at a time anyway); nothing read per station when no tariff is in force.
async fn running_costs(commands: &Commands, time_zone: chrono_tz::Tz) {
    match commands.store.tariffs().await {
        Ok(tariffs) if !tariffs.is_empty() => {}
        _ => return,
    }
    let filter = TransactionFilter { station_id: None, active: Some(true) };
    let mut page = PageRequest::first(1000);
    let mut by_station: std::collections::BTreeMap<String, Vec<i64>> = std::collections::BTreeMap::new();
    loop {
        let Ok(running) = commands.store.transactions(&filter, &page).await else { return };
        for tx in &running.items {
            by_station.entry(tx.station_id.clone()).or_default().push(tx.id);
        }
        match running.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    let mut sends = tokio::task::JoinSet::new();
    for (station, transactions) in by_station {
        let Some(session) = commands.registry().session(&station) else { continue };
        let commands = commands.clone();
        sends.spawn(async move { station_costs(&commands, &station, session.version, &transactions, time_zone).await });
    }
    while sends.join_next().await.is_some() {}
}

async fn station_costs(
    commands: &Commands,
    station: &str,
    version: OcppVersion,
    transactions: &[i64],
    time_zone: chrono_tz::Tz,
) {
    if !wants_costs(commands, station, version).await {
        return;
    }
    for &id in transactions {
        let now = commands.clock.now();
        let cost = match commands.store.running_cost(id, now, time_zone).await {
            Ok(Some(cost)) => cost,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(station, error = %e, "running cost not read");
                continue;
            }
        };
        let (action, payload) = running_message(&cost, version, now);
        if let Err(e) = commands.command(station, action, &payload.to_string()).await {
            tracing::debug!(station, error = %e, "running cost not sent");
        }
    }
}

/// The running-cost message in the station's version.
fn running_message(
    cost: &RunningCost,
    version: OcppVersion,
    now: csms_core::Timestamp,
) -> (&'static str, serde_json::Value) {
    let tx = cost.station_tx_id.clone().unwrap_or_else(|| cost.transaction_id.to_string());
    match version {
        OcppVersion::V201 => ("CostUpdated", json!({"totalCost": amount(cost.total_incl_vat), "transactionId": tx})),
        OcppVersion::V16 => {
            let data = json!({"transactionId": cost.transaction_id,
                "timestamp": csms_core::clock::format_timestamp(&now),
                "meterValue": amount(cost.energy_wh.round()) as i64,
                "cost": amount(cost.total_incl_vat),
                "state": if cost.charging { "Charging" } else { "Idle" }});
            ("DataTransfer", json!({"vendorId": COST_VENDOR, "messageId": "RunningCost", "data": data.to_string()}))
        }
    }
}

/// FinalCost to a connected 1.6 station that displays costs, from a `cdr.created` event.
async fn final_cost(commands: &Commands, station: &Option<String>, data: &serde_json::Value) {
    let Some(station) = station.as_deref() else { return };
    let Some(session) = commands.registry().session(station) else { return };
    let (Some(tx), Some(total)) = (data["transaction_id"].as_i64(), data["total_incl_vat"].as_f64()) else { return };
    if session.version != OcppVersion::V16 || !wants_costs(commands, station, OcppVersion::V16).await {
        return;
    }
    let currency = data["currency"].as_str().unwrap_or_default();
    let text =
        format!("{total:.2} {currency} incl. tax for {:.3} kWh", data["energy_wh"].as_f64().unwrap_or(0.0) / 1000.0);
    let message = json!({"transactionId": tx, "cost": total, "priceText": text});
    let payload = json!({"vendorId": COST_VENDOR, "messageId": "FinalCost", "data": message.to_string()});
    if let Err(e) = commands.command(station, "DataTransfer", &payload.to_string()).await {
        tracing::debug!(station, error = %e, "final cost not sent");
    }
}
