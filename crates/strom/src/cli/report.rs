//! `strom report availability`: the availability figures of a period per connector (uptime,
//! offline, faulted and Unavailable-status time, faults, mean time to repair) with the network's
//! totals, as a table, the API's CSV, or its JSON (`--json` too).

use super::{table, text, ApiArgs, Client};
use anyhow::Result;
use clap::Subcommand;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for people, then the network's totals.
    Table,
    /// The API's CSV: one row per connector, a header line first.
    Csv,
    /// The API's JSON: per station and connector, and the totals.
    Json,
}

#[derive(Subcommand)]
pub enum ReportCommand {
    /// Availability per connector over a period [from, to): uptime, offline, faulted and
    /// Unavailable time, faults, mean time to repair (README, "Availability").
    Availability {
        /// Start of the period, RFC 3339, e.g. 2026-11-01T00:00:00Z (default: 30 days before
        /// --to; at most 366 days before it).
        #[arg(long)]
        from: Option<String>,
        /// End of the period, not included, RFC 3339 (default: now).
        #[arg(long)]
        to: Option<String>,
        /// Only this station.
        #[arg(long)]
        station: Option<String>,
        /// table, csv or json.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// A query value with everything but unreserved characters percent-encoded (a time's `+`).
pub(super) fn encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn path(from: Option<&str>, to: Option<&str>, station: Option<&str>, csv: bool) -> String {
    let mut params: Vec<String> = [("from", from), ("to", to), ("station_id", station)]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| format!("{name}={}", encoded(v))))
        .collect();
    if csv {
        params.push("format=csv".into());
    }
    match params.is_empty() {
        true => "/api/v1/availability".into(),
        false => format!("/api/v1/availability?{}", params.join("&")),
    }
}

/// Seconds as hours with two decimals, for people.
fn hours(v: &Value) -> String {
    v.as_f64().map_or_else(|| text(v), |s| format!("{:.2} h", s / 3600.0))
}

fn percent(v: &Value) -> String {
    v.as_f64().map_or_else(|| "-".into(), |p| format!("{p:.3} %"))
}

fn minutes(v: &Value) -> String {
    v.as_f64().map_or_else(|| "-".into(), |s| format!("{:.1} min", s / 60.0))
}

fn availability_table(report: &Value) -> String {
    let mut rows = Vec::new();
    for station in report["stations"].as_array().into_iter().flatten() {
        for c in station["connectors"].as_array().into_iter().flatten() {
            let place = match c["evse_id"].as_i64() {
                Some(evse) => format!("{evse}/{}", c["connector_id"]),
                None => c["connector_id"].to_string(),
            };
            rows.push(vec![
                text(&station["station_id"]),
                place,
                hours(&c["known_s"]),
                percent(&c["uptime_percent"]),
                hours(&c["offline_s"]),
                hours(&c["faulted_s"]),
                hours(&c["unavailable_status_s"]),
                text(&c["faults"]),
                minutes(&c["mttr_s"]),
            ]);
        }
    }
    let headers = ["STATION", "CONNECTOR", "KNOWN", "UPTIME", "OFFLINE", "FAULTED", "UNAVAILABLE", "FAULTS", "MTTR"];
    let t = &report["totals"];
    format!(
        "{} to {}\n{}\n\n{} stations, {} connectors: uptime {}, unavailable {} (offline {}, faulted {}, status {}), {} faults, MTTR {}",
        text(&report["from"]),
        text(&report["to"]),
        table(&headers, rows),
        t["stations"],
        t["connectors"],
        percent(&t["uptime_percent"]),
        hours(&t["unavailable_s"]),
        hours(&t["offline_s"]),
        hours(&t["faulted_s"]),
        hours(&t["unavailable_status_s"]),
        t["faults"],
        minutes(&t["mttr_s"]),
    )
}

pub async fn report(args: &ApiArgs, command: ReportCommand) -> Result<()> {
    let client = Client::new(args)?;
    match command {
        ReportCommand::Availability { from, to, station, format } => {
            let (from, to, station) = (from.as_deref(), to.as_deref(), station.as_deref());
            if format == Format::Csv && !args.json {
                print!("{}", client.text(&path(from, to, station, true)).await?);
                return Ok(());
            }
            let value = client.ok("GET", &path(from, to, station, false), None).await?;
            if format == Format::Json || args.json {
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                println!("{}", availability_table(&value));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_carries_the_period_encoded() {
        assert_eq!(path(None, None, None, false), "/api/v1/availability");
        assert_eq!(
            path(Some("2026-11-01T00:00:00+01:00"), None, Some("CP 1"), true),
            "/api/v1/availability?from=2026-11-01T00:00:00%2B01:00&station_id=CP%201&format=csv"
        );
    }
}
