//! One charging session as an operator reads it (issue 26 item 3): `strom tx show ID` prints
//! the transaction's fields, then its readings as a table, one row per sample time, with
//! energy, power, and voltage and current per phase; `strom tx list` pages by time.

use super::{print, rows, table, text, ApiArgs, Client};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// `strom tx show ID`: the transaction, and with `readings` its meter values.
pub async fn show(args: &ApiArgs, transaction: i64, readings: bool) -> Result<()> {
    let client = Client::new(args)?;
    let tx = client.ok("GET", &format!("/api/v1/transactions/{transaction}"), None).await?;
    let meter = if readings {
        client.all(&format!("/api/v1/transactions/{transaction}/meter-values")).await?
    } else {
        Value::Null
    };
    print(args, &json!({"transaction": tx, "meter_values": meter}), |v| {
        let mut out = summary(&v["transaction"]);
        out.push_str("\n\n");
        out.push_str(&fields(&v["transaction"]));
        if readings {
            out.push_str("\n\n");
            out.push_str(&readings_table(&v["meter_values"]));
        }
        out
    })
}

/// The transaction `strom tx stop` means, with its station: the one given by id, or the one
/// running at `station` (on that EVSE and connector, when given; refused when it is not one).
pub(super) async fn to_stop(
    client: &Client,
    transaction: Option<i64>,
    station: Option<String>,
    (evse, connector): (Option<i64>, Option<i64>),
) -> Result<(i64, String)> {
    if let Some(transaction) = transaction {
        let tx = client.ok("GET", &format!("/api/v1/transactions/{transaction}"), None).await?;
        let station = tx["station_id"].as_str().context("the transaction has no station")?;
        return Ok((transaction, station.to_string()));
    }
    let station = station.context("a transaction id or --station")?;
    let running = client.all(&list_path(Some(station.clone()), true, None, None)).await?;
    let running: Vec<&Value> = rows(&running)
        .iter()
        .filter(|tx| evse.is_none_or(|e| tx["evse_id"].as_i64() == Some(e)))
        .filter(|tx| connector.is_none_or(|c| tx["connector_id"].as_i64() == Some(c)))
        .collect();
    let on = match (evse, connector) {
        (Some(e), Some(c)) => format!(" on EVSE {e} connector {c}"),
        (Some(e), None) => format!(" on EVSE {e}"),
        (None, Some(c)) => format!(" on connector {c}"),
        (None, None) => String::new(),
    };
    match running.as_slice() {
        [tx] => Ok((tx["id"].as_i64().context("a transaction without an id")?, station)),
        [] => bail!("{station} has no running transaction{on}"),
        several => {
            let ids: Vec<String> = several
                .iter()
                .map(|tx| match tx["evse_id"].as_i64() {
                    Some(evse) => format!("{} (EVSE {evse} connector {})", text(&tx["id"]), text(&tx["connector_id"])),
                    None => format!("{} (connector {})", text(&tx["id"]), text(&tx["connector_id"])),
                })
                .collect();
            bail!(
                "{station} has {} running transactions{on}: {}; say which with its id, --evse or --connector",
                ids.len(),
                ids.join(", ")
            )
        }
    }
}

/// The query of `strom tx list`: filters and the time range, in the API's words.
pub fn list_path(station: Option<String>, active: bool, since: Option<String>, until: Option<String>) -> String {
    let mut filters = Vec::new();
    if let Some(station) = station {
        filters.push(format!("station_id={station}"));
    }
    if active {
        filters.push("active=true".to_string());
    }
    if let Some(since) = since {
        filters.push(format!("from={since}"));
    }
    if let Some(until) = until {
        filters.push(format!("to={until}"));
    }
    match filters.is_empty() {
        true => "/api/v1/transactions".to_string(),
        false => format!("/api/v1/transactions?{}", filters.join("&")),
    }
}

/// Watt-hours as kWh with three decimals (a billing-grade reading has Wh resolution).
pub(super) fn kwh(wh: &Value) -> String {
    wh.as_f64().map_or_else(|| "-".into(), |wh| format!("{:.3} kWh", wh / 1000.0))
}

/// Watts as kW with two decimals.
pub(super) fn kw(w: &Value) -> String {
    w.as_f64().map_or_else(|| "-".into(), |w| format!("{:.2} kW", w / 1000.0))
}

/// Seconds as h:mm.
pub(super) fn hours_minutes(seconds: &Value) -> String {
    seconds.as_i64().map_or_else(|| "-".into(), |s| format!("{}:{:02}", s / 3600, s % 3600 / 60))
}

/// What an operator asks of a session first, with units: energy (so far), power now, duration,
/// charging and idle time.
fn summary(tx: &Value) -> String {
    let running = tx["active"] == true;
    let energy = if running { &tx["energy_so_far_wh"] } else { &tx["energy_wh"] };
    let lines = [
        ("energy", kwh(energy)),
        ("power now", if running { kw(&tx["power_w"]) } else { "-".into() }),
        ("duration", hours_minutes(&tx["duration_s"])),
        ("charging", hours_minutes(&tx["charging_s"])),
        ("idle", hours_minutes(&tx["idle_s"])),
    ];
    lines.iter().map(|(label, value)| format!("{label:<10}  {value}")).collect::<Vec<_>>().join("\n")
}

/// `field: value` lines, in the API's order, nulls left out.
pub(super) fn fields(value: &Value) -> String {
    let Some(map) = value.as_object() else {
        return text(value);
    };
    let width = map.keys().map(String::len).max().unwrap_or(0);
    map.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| format!("{k:<width$}  {}", text(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One row per sample time: each measurand (with its phase) a column, in normalised units.
fn readings_table(value: &Value) -> String {
    let mut columns: Vec<String> = Vec::new();
    let mut samples: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for reading in rows(value) {
        let measurand = reading["measurand"].as_str().unwrap_or("Energy.Active.Import.Register");
        let unit = reading["normalised_unit"].as_str().or(reading["unit"].as_str()).unwrap_or("");
        let column = match reading["phase"].as_str() {
            Some(phase) => format!("{measurand} {phase} ({unit})"),
            None => format!("{measurand} ({unit})"),
        };
        if !columns.contains(&column) {
            columns.push(column.clone());
        }
        let at = text(&reading["timestamp"]);
        samples.entry(at).or_default().insert(column, text(&reading["value"]));
    }
    let mut headers = vec!["TIME".to_string()];
    headers.extend(columns.iter().cloned());
    let rows = samples
        .into_iter()
        .map(|(at, values)| {
            let mut row = vec![at];
            row.extend(columns.iter().map(|c| values.get(c).cloned().unwrap_or_else(|| "-".into())));
            row
        })
        .collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    table(&headers, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_become_one_row_per_time_and_a_column_per_measurand_and_phase() {
        let readings = json!([
            {"timestamp": "10:05", "measurand": "Energy.Active.Import.Register", "phase": null, "value": 12500, "normalised_unit": "Wh"},
            {"timestamp": "10:05", "measurand": "Voltage", "phase": "L1-N", "value": 231.0, "normalised_unit": "V"},
            {"timestamp": "10:10", "measurand": "Energy.Active.Import.Register", "phase": null, "value": 15000, "normalised_unit": "Wh"},
            {"timestamp": "10:10", "measurand": "Current.Import", "phase": "L1", "value": 16.0, "normalised_unit": "A"},
        ]);
        let shown = readings_table(&readings);
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(
            lines[0].split("  ").filter(|c| !c.is_empty()).map(str::trim).collect::<Vec<_>>(),
            ["TIME", "Energy.Active.Import.Register (Wh)", "Voltage L1-N (V)", "Current.Import L1 (A)"]
        );
        assert_eq!(lines[1].split_whitespace().collect::<Vec<_>>(), ["10:05", "12500", "231.0", "-"]);
        assert_eq!(lines[2].split_whitespace().collect::<Vec<_>>(), ["10:10", "15000", "-", "16.0"]);
    }

    #[test]
    fn figures_are_shown_with_units() {
        assert_eq!((kwh(&json!(12345.0)), kwh(&Value::Null)), ("12.345 kWh".to_string(), "-".to_string()));
        assert_eq!(kw(&json!(11000.0)), "11.00 kW");
        assert_eq!((hours_minutes(&json!(3725)), hours_minutes(&json!(59))), ("1:02".to_string(), "0:00".to_string()));
        let ended = json!({"active": false, "energy_wh": 4500.0, "energy_so_far_wh": 4500.0, "power_w": 7000.0,
                           "duration_s": 5400, "charging_s": 3600, "idle_s": 1800});
        assert_eq!(
            summary(&ended),
            "energy      4.500 kWh\npower now   -\nduration    1:30\ncharging    1:00\nidle        0:30"
        );
        let running = json!({"active": true, "energy_so_far_wh": 1200.0, "power_w": 7400.0, "duration_s": 600});
        assert!(summary(&running).starts_with("energy      1.200 kWh\npower now   7.40 kW"), "{}", summary(&running));
    }

    #[test]
    fn fields_leave_nulls_out_and_align() {
        let shown = fields(&json!({"id": 7, "station_id": "CP1", "stopped_at": null}));
        assert_eq!(shown, "id          7\nstation_id  CP1");
    }

    #[test]
    fn the_list_query_carries_every_filter() {
        assert_eq!(list_path(None, false, None, None), "/api/v1/transactions");
        assert_eq!(
            list_path(
                Some("CP1".into()),
                true,
                Some("2026-12-01T00:00:00Z".into()),
                Some("2026-12-02T00:00:00Z".into())
            ),
            "/api/v1/transactions?station_id=CP1&active=true&from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z"
        );
    }
}
