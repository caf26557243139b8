//! What happened at a station, for an operator at a terminal (issue 26 item 3): `strom command
//! log STATION` (the operator commands sent to it and how each ended), `strom messages STATION`
//! (its OCPP traffic as a readable trace, newest last) and `strom fault list` (open faults
//! first). Tables by default, the API's JSON with `--json`.

use super::{print, rows, table, text, ApiArgs, Client};
use anyhow::Result;
use clap::Subcommand;
use csms_core::fault_kinds::FaultCategory;
use serde_json::Value;

#[derive(Subcommand)]
pub enum CommandLogCommand {
    /// The commands sent to a station, newest first: action, outcome, when, and the answer.
    Log {
        /// The station's identity (as in ws://…/ocpp/{identity}).
        station: String,
        /// At most this many (1-1000; the newest).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
    },
}

#[derive(Subcommand)]
pub enum FaultCommand {
    /// Faults, open ones first, then the newest: where, what, since when, whether cleared.
    List {
        /// Only this station's.
        #[arg(long)]
        station: Option<String>,
        /// Only open (not cleared) faults.
        #[arg(long)]
        open: bool,
        /// Only faults of this category.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(FaultCategory::ALL.iter().map(|c| c.as_str())))]
        category: Option<String>,
        /// Only faults that started at or after this time (RFC 3339, e.g. 2026-12-07T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
    },
    /// One fault: every field, the protocol's own words (`raw`) and the vendor's detail.
    Show {
        /// The fault's id (see `strom fault list`).
        fault: i64,
    },
}

/// `strom command log`.
pub async fn command_log(args: &ApiArgs, command: CommandLogCommand) -> Result<()> {
    let client = Client::new(args)?;
    let CommandLogCommand::Log { station, limit } = command;
    let page = client.ok("GET", &format!("/api/v1/stations/{station}/commands?limit={limit}"), None).await?;
    let items = page.get("items").cloned().unwrap_or(Value::Array(Vec::new()));
    print(args, &items, commands_table)
}

/// `strom messages STATION`: the newest `limit` frames, oldest first, as a trace.
pub async fn messages(args: &ApiArgs, station: &str, limit: u32) -> Result<()> {
    let client = Client::new(args)?;
    let page = client.ok("GET", &format!("/api/v1/stations/{station}/messages?limit={limit}"), None).await?;
    let mut items = page.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
    // The API answers newest first; a trace reads oldest first.
    items.reverse();
    print(args, &Value::Array(items), trace)
}

/// `strom fault list`.
pub async fn fault(args: &ApiArgs, command: FaultCommand) -> Result<()> {
    let client = Client::new(args)?;
    let (station, open, category, since) = match command {
        FaultCommand::List { station, open, category, since } => (station, open, category, since),
        FaultCommand::Show { fault } => {
            let value = client.ok("GET", &format!("/api/v1/faults/{fault}"), None).await?;
            return print(args, &value, super::sessions::fields);
        }
    };
    let mut filters = Vec::new();
    if let Some(station) = station {
        filters.push(format!("station_id={station}"));
    }
    if open {
        filters.push("open=true".to_string());
    }
    if let Some(category) = category {
        filters.push(format!("category={category}"));
    }
    if let Some(since) = since {
        filters.push(format!("from={since}"));
    }
    let path =
        if filters.is_empty() { "/api/v1/faults".to_string() } else { format!("/api/v1/faults?{}", filters.join("&")) };
    let mut faults = client.all(&path).await?;
    if let Value::Array(items) = &mut faults {
        // Open first; within each, the API's order (newest first) is kept: the sort is stable.
        items.sort_by_key(|f| f["open"] != true);
    }
    print(args, &faults, faults_table)
}

fn commands_table(value: &Value) -> String {
    let rows = rows(value)
        .iter()
        .map(|c| {
            let outcome = match (&c["response"], c["error_code"].as_str()) {
                (_, Some(code)) => format!("{code}: {}", text(&c["error_description"])),
                (Value::Object(response), None) => response.get("status").map(text).unwrap_or_else(|| "-".into()),
                _ => "-".into(),
            };
            vec![text(&c["id"]), text(&c["requested_at"]), text(&c["action"]), text(&c["status"]), outcome]
        })
        .collect();
    table(&["ID", "REQUESTED", "ACTION", "STATUS", "ANSWER"], rows)
}

/// One line per frame: time, `→` from the station or `←` to it, the OCPP-J frame.
fn trace(value: &Value) -> String {
    rows(value)
        .iter()
        .map(|m| {
            let arrow = if m["direction"] == "in" { "→" } else { "←" };
            let frame = match &m["frame"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{} {arrow} {frame}", text(&m["at"]))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `strom station show`: the station's facts, its connectors, and its open faults.
pub(super) fn station_page(value: &Value) -> String {
    let facts = [
        ("id", "id"),
        ("vendor", "vendor"),
        ("model", "model"),
        ("serial number", "serial_number"),
        ("firmware", "firmware_version"),
        ("OCPP", "ocpp_version"),
        ("registration", "registration_status"),
        ("security profile", "security_profile"),
        ("connected", "connected"),
        ("last boot", "last_boot_at"),
        ("last seen", "last_seen_at"),
        ("decommissioned", "decommissioned_at"),
    ];
    let mut out: Vec<String> =
        facts.iter().map(|(label, field)| format!("{label:<16}  {}", text(&value[*field]))).collect();
    out.push(String::new());
    let connectors = rows(&value["connectors"])
        .iter()
        .map(|c| {
            vec![
                text(&c["evse_id"]),
                text(&c["connector_id"]),
                text(&c["status"]),
                text(&c["error_code"]),
                text(&c["availability"]),
                text(&c["status_at"]),
            ]
        })
        .collect();
    out.push(table(&["EVSE", "CONNECTOR", "STATUS", "ERROR", "AVAILABILITY", "SINCE"], connectors));
    out.push(String::new());
    match rows(&value["open_faults"]).len() {
        0 => out.push("no open faults".into()),
        _ => out.push(faults_table(&value["open_faults"])),
    }
    out.join("\n")
}

fn faults_table(value: &Value) -> String {
    let rows = rows(value)
        .iter()
        .map(|f| {
            let place = match (f["evse_id"].as_i64(), f["connector_id"].as_i64()) {
                (Some(evse), Some(connector)) => format!("{evse}/{connector}"),
                (Some(evse), None) => format!("{evse}"),
                (None, Some(connector)) => format!("{connector}"),
                (None, None) => "station".into(),
            };
            // The vendor's words beside the kind: 1.6 vendorErrorCode and info, 2.0.1 techCode and techInfo.
            let detail = [&f["vendor"]["code"], &f["vendor"]["info"]]
                .into_iter()
                .filter(|v| !v.is_null())
                .map(text)
                .collect::<Vec<_>>()
                .join(" ");
            let state =
                if f["open"] == true { "open".to_string() } else { format!("cleared {}", text(&f["cleared_at"])) };
            vec![
                text(&f["id"]),
                text(&f["station_id"]),
                place,
                text(&f["category"]),
                text(&f["code"]),
                text(&f["severity"]),
                detail,
                text(&f["started_at"]),
                state,
            ]
        })
        .collect();
    table(&["ID", "STATION", "WHERE", "CATEGORY", "CODE", "SEVERITY", "DETAIL", "SINCE", "STATE"], rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_trace_shows_direction_and_frame_oldest_first() {
        let frames = json!([
            {"id": 1, "direction": "in", "at": "2026-12-07T10:00:00.000Z", "frame": [2, "1", "Heartbeat", {}]},
            {"id": 2, "direction": "out", "at": "2026-12-07T10:00:00.001Z", "frame": [3, "1", {"currentTime": "x"}]},
        ]);
        assert_eq!(
            trace(&frames),
            "2026-12-07T10:00:00.000Z → [2,\"1\",\"Heartbeat\",{}]\n2026-12-07T10:00:00.001Z ← [3,\"1\",{\"currentTime\":\"x\"}]"
        );
    }

    #[test]
    fn command_rows_show_the_answer_or_the_error() {
        let commands = json!([
            {"id": 2, "requested_at": "t2", "action": "Reset", "status": "Answered", "response": {"status": "Rejected"}},
            {"id": 1, "requested_at": "t1", "action": "ClearCache", "status": "Failed", "response": null,
             "error_code": "NotSupported", "error_description": "no"},
        ]);
        let shown = commands_table(&commands);
        let lines: Vec<&str> = shown.lines().collect();
        assert!(lines[1].starts_with("2") && lines[1].ends_with("Rejected"), "{shown}");
        assert!(lines[2].ends_with("NotSupported: no"), "{shown}");
    }

    #[test]
    fn a_station_page_has_its_facts_connectors_and_open_faults() {
        let station = json!({"id": "CP1", "vendor": "Acme", "model": "X", "firmware_version": "1.2", "ocpp_version": "1.6",
            "registration_status": "Accepted", "security_profile": 1, "connected": true,
            "connectors": [{"evse_id": null, "connector_id": 1, "status": "Faulted", "error_code": "HighTemperature",
                            "availability": "Operative", "status_at": "t"}],
            "open_faults": []});
        let shown = station_page(&station);
        assert!(shown.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["vendor", "Acme"]), "{shown}");
        assert!(
            shown.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["-", "1", "Faulted", "HighTemperature", "Operative", "t"]),
            "{shown}"
        );
        assert!(shown.ends_with("no open faults"), "{shown}");
    }

    #[test]
    fn fault_rows_say_where_what_and_whether_open() {
        let faults = json!([
            {"id": 7, "station_id": "CP1", "evse_id": null, "connector_id": 1, "severity": "Error", "category": "thermal",
             "code": "HighTemperature", "vendor": {"id": null, "code": null, "info": "cable 92C"}, "started_at": "t", "open": true},
            {"id": 3, "station_id": "CS2", "evse_id": 1, "connector_id": 1, "severity": "Error", "category": "thermal",
             "code": "HighTemperature", "vendor": {"code": "OverTemp", "info": null}, "started_at": "t0", "open": false, "cleared_at": "t1"},
        ]);
        let shown = faults_table(&faults);
        let lines: Vec<&str> = shown.lines().collect();
        let cells: Vec<&str> = lines[1].split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
        assert_eq!(
            cells,
            ["7", "CP1", "1", "thermal", "HighTemperature", "Error", "cable 92C", "t", "open"],
            "{shown}"
        );
        assert!(lines[2].contains(" 1/1 ") && lines[2].ends_with("cleared t1"), "{shown}");
    }
}
