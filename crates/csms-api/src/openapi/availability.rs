//! The availability report's operation and schemas (`crate::availability`), apart from the rest
//! of the document because they are one report's many fields.

use super::schemas::{integer, nullable, number, object, reference, string, timestamp};
use super::{op, query, Op, Success};
use serde_json::{json, Map, Value};

/// The fields of every level's figures, with their descriptions.
fn figure_fields() -> Vec<(&'static str, Value)> {
    let seconds =
        |description: &str| json!({"type": "number", "format": "double", "minimum": 0, "description": description});
    let categories: Map<String, Value> = csms_core::fault_kinds::FaultCategory::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), json!({"type": "integer", "format": "int64", "minimum": 0})))
        .collect();
    let names: Vec<&String> = categories.keys().collect();
    let by_category = json!({"type": "object", "properties": categories, "required": names, "additionalProperties": false,
        "description": "Faults (any severity) that began in the period, by category"});
    vec![
        ("known_s", seconds("Time in the period that Ström knew (of the connectors: from each one's first status)")),
        ("uptime_percent", {
            let mut uptime = nullable(number());
            uptime["description"] =
                json!("(known − unavailable) / known × 100, three decimals; null without known time");
            uptime
        }),
        ("unavailable_s", seconds("offline_s + faulted_s + unavailable_status_s")),
        ("offline_s", seconds("Unavailable because the station was offline (Ström's CommunicationLost faults)")),
        ("faulted_s", seconds("Unavailable because of a fault of severity Error, and not offline")),
        (
            "unavailable_status_s",
            seconds("Unavailable or Faulted by the reported status, and neither offline nor faulted"),
        ),
        (
            "faults",
            json!({"type": "integer", "format": "int64", "minimum": 0, "description": "Faults that began in the period"}),
        ),
        ("faults_by_category", by_category),
        (
            "repairs",
            json!({"type": "integer", "format": "int64", "minimum": 0,
            "description": "Faults of severity Error cleared in the period"}),
        ),
        ("mttr_s", {
            let mut mttr = nullable(number());
            mttr["description"] = json!(
                "Mean time to repair: the mean of cleared − started of those repairs, in seconds; null without any"
            );
            mttr
        }),
    ]
}

fn figures_example() -> Vec<(&'static str, Value)> {
    let mut by_category: Map<String, Value> =
        csms_core::fault_kinds::FaultCategory::ALL.iter().map(|c| (c.as_str().to_string(), json!(0))).collect();
    by_category.insert("thermal".into(), json!(1));
    by_category.insert("communication".into(), json!(1));
    vec![
        ("known_s", json!(86400.0)),
        ("uptime_percent", json!(98.75)),
        ("unavailable_s", json!(1080.0)),
        ("offline_s", json!(600.0)),
        ("faulted_s", json!(300.0)),
        ("unavailable_status_s", json!(180.0)),
        ("faults", json!(2)),
        ("faults_by_category", Value::Object(by_category)),
        ("repairs", json!(2)),
        ("mttr_s", json!(450.0)),
    ]
}

/// An object whose fields are `head` then the figures, all required, with an example.
fn with_figures(head: Vec<(&'static str, Value)>, example: Vec<(&'static str, Value)>) -> Value {
    let mut fields = head;
    fields.extend(figure_fields());
    let required: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    let mut schema = object(&fields, &required);
    let mut example: Map<String, Value> = example.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    example.extend(figures_example().into_iter().map(|(k, v)| (k.to_string(), v)));
    schema["example"] = Value::Object(example);
    schema
}

fn connector() -> Value {
    with_figures(
        vec![
            (
                "evse_id",
                nullable(
                    json!({"type": "integer", "format": "int64", "description": "The EVSE (2.0.1); null for 1.6"}),
                ),
            ),
            ("connector_id", integer()),
            ("known_from", {
                let mut from = nullable(timestamp());
                from["description"] = json!("From when in the period the connector is known; null if not at all");
                from
            }),
        ],
        vec![("evse_id", json!(null)), ("connector_id", json!(1)), ("known_from", json!("2026-12-01T00:00:00.000Z"))],
    )
}

fn station() -> Value {
    let mut station = with_figures(
        vec![
            ("station_id", string()),
            (
                "station_known_s",
                json!({"type": "number", "format": "double", "minimum": 0,
                "description": "Time in the period the station was known (registered, not decommissioned)"}),
            ),
            (
                "station_offline_s",
                json!({"type": "number", "format": "double", "minimum": 0,
                "description": "Time in it the station was offline"}),
            ),
            ("connectors", json!({"type": "array", "items": reference("AvailabilityConnector")})),
        ],
        vec![("station_id", json!("CP1")), ("station_known_s", json!(86400.0)), ("station_offline_s", json!(600.0))],
    );
    station["description"] = json!("A station: its connectors' times summed, its faults and repairs each counted once");
    station["example"]["connectors"] = json!([connector()["example"].clone()]);
    station
}

fn totals() -> Value {
    let mut totals = with_figures(
        vec![
            ("stations", integer()),
            ("connectors", integer()),
            ("station_known_s", json!({"type": "number", "format": "double", "minimum": 0})),
            ("station_offline_s", json!({"type": "number", "format": "double", "minimum": 0})),
        ],
        vec![
            ("stations", json!(1)),
            ("connectors", json!(1)),
            ("station_known_s", json!(86400.0)),
            ("station_offline_s", json!(600.0)),
        ],
    );
    totals["description"] = json!("The network: every station's figures summed, each fault counted once");
    totals
}

pub(super) fn schemas() -> Vec<(String, Value)> {
    let station = station();
    let mut report = object(
        &[
            ("from", timestamp()),
            ("to", timestamp()),
            ("generated_at", timestamp()),
            ("stations", json!({"type": "array", "items": reference("AvailabilityStation")})),
            ("totals", reference("AvailabilityTotals")),
        ],
        &["from", "to", "generated_at", "stations", "totals"],
    );
    report["example"] = json!({
        "from": "2026-11-30T00:00:00.000Z", "to": "2026-12-01T00:00:00.000Z", "generated_at": "2026-12-01T10:00:00.000Z",
        "stations": [station["example"].clone()], "totals": totals()["example"].clone(),
    });
    vec![
        ("AvailabilityConnector".into(), connector()),
        ("AvailabilityStation".into(), station),
        ("AvailabilityTotals".into(), totals()),
        ("AvailabilityReport".into(), report),
    ]
}

const CSV_EXAMPLE: &str = "station_id,evse_id,connector_id,from,to,known_from,known_s,uptime_percent,unavailable_s,offline_s,\
faulted_s,unavailable_status_s,faults,repairs,faults_thermal,faults_power_loss,faults_communication,\
faults_electrical_protection,faults_connector,faults_meter,faults_internal,faults_other,mttr_s\n\
CP1,,1,2026-11-30T00:00:00.000Z,2026-12-01T00:00:00.000Z,2026-11-30T00:00:00.000Z,86400.0,98.75,1080.0,600.0,300.0,180.0,\
2,2,1,0,1,0,0,0,0,0,450.0\n";

pub(super) fn operation() -> Op {
    op(
        "availabilityReport",
        "Availability per connector and station over a period [from, to): uptime, unavailable time and why \
         (offline, faulted, an Unavailable or Faulted status), faults by category, mean time to repair",
        "viewer",
        vec![
            query(
                "from",
                "Start of the period (default: 30 days before to); a period longer than 366 days \
                is cut to the 366 days before to, and the answer's from says so",
                json!({"type": "string", "format": "date-time"}),
            ),
            query(
                "to",
                "End of the period, not included (default: now; time after now is not known yet); \
                at or before from: an empty period",
                json!({"type": "string", "format": "date-time"}),
            ),
            query("station_id", "Only this station (one Ström does not know: no stations)", string()),
            query(
                "format",
                "json (default) or csv: one row per connector, a header line first",
                json!({"type": "string", "enum": ["json", "csv"]}),
            ),
        ],
        Success::JsonOrCsv("The figures (text/csv with format=csv)", "AvailabilityReport", CSV_EXAMPLE),
    )
    .errors(&["400"])
}
