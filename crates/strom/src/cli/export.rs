//! `strom tx export`: transactions of a period as CSV (one row per session, with its energy and
//! times in plain numbers and units in the column names) or JSON, for a spreadsheet or another
//! system. It pages through the API, writing each page as it comes, so a long period never sits
//! in memory.

use super::{ApiArgs, Client};
use anyhow::{Context, Result};
use csms_api::csv_field;
use serde_json::Value;
use std::io::Write;
use std::path::Path;

/// The CSV's columns: (header, the transaction's field).
const COLUMNS: &[(&str, &str)] = &[
    ("transaction_id", "id"),
    ("station_id", "station_id"),
    ("evse_id", "evse_id"),
    ("connector_id", "connector_id"),
    ("id_token", "id_token"),
    ("started_at", "started_at"),
    ("stopped_at", "stopped_at"),
    ("duration_s", "duration_s"),
    ("charging_s", "charging_s"),
    ("idle_s", "idle_s"),
    ("meter_start_wh", "meter_start_wh"),
    ("meter_stop_wh", "meter_stop_wh"),
    ("energy_wh", "energy_wh"),
    ("stop_reason", "stop_reason"),
    ("start_auth_status", "start_auth_status"),
    ("flags", "flags"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated, a header line first (RFC 4180).
    Csv,
    /// One JSON array of the API's transaction objects.
    Json,
}

/// Writes every transaction `path` lists (the API's query, filters included) to `output`, or
/// to standard output, and says on standard error how many it wrote.
pub async fn transactions(args: &ApiArgs, path: &str, format: Format, output: Option<&Path>) -> Result<()> {
    let client = Client::new(args)?;
    let mut out: Box<dyn Write> = match output {
        Some(file) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(file).with_context(|| format!("creating {}", file.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match format {
        Format::Csv => writeln!(out, "{}", COLUMNS.iter().map(|(header, _)| *header).collect::<Vec<_>>().join(","))?,
        Format::Json => write!(out, "[")?,
    }
    let mut written = 0_usize;
    client
        .each_page(path, |page| {
            for tx in page {
                match format {
                    Format::Csv => writeln!(out, "{}", csv_row(tx))?,
                    Format::Json => write!(out, "{}{}", if written == 0 { "" } else { ",\n" }, tx)?,
                }
                written += 1;
            }
            Ok(())
        })
        .await?;
    if format == Format::Json {
        writeln!(out, "]")?;
    }
    out.flush()?;
    eprintln!("exported {written} transactions{}", output.map(|f| format!(" to {}", f.display())).unwrap_or_default());
    Ok(())
}

/// One transaction as a CSV line: numbers as they are, text quoted when it must be, flags joined
/// with `;`, nulls empty.
fn csv_row(tx: &Value) -> String {
    COLUMNS
        .iter()
        .map(|(_, field)| match &tx[*field] {
            Value::Null => String::new(),
            Value::String(text) => csv_field(text),
            Value::Array(items) => csv_field(
                &items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), String::from))
                    .collect::<Vec<_>>()
                    .join(";"),
            ),
            other => csv_field(&other.to_string()),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_row_has_every_column_with_plain_numbers_and_escaped_text() {
        let tx = json!({"id": 42, "station_id": "CP1", "evse_id": null, "connector_id": 1, "id_token": "A,\"B\"",
                        "started_at": "2026-12-07T10:00:00.000Z", "stopped_at": "2026-12-07T11:30:00.000Z",
                        "duration_s": 5400, "charging_s": 3600, "idle_s": 1800, "meter_start_wh": 1000.0,
                        "meter_stop_wh": 12345.5, "energy_wh": 11345.5, "stop_reason": "Local",
                        "start_auth_status": "Accepted", "flags": ["a", "b"]});
        assert_eq!(
            csv_row(&tx),
            "42,CP1,,1,\"A,\"\"B\"\"\",2026-12-07T10:00:00.000Z,2026-12-07T11:30:00.000Z,5400,3600,1800,1000.0,12345.5,\
             11345.5,Local,Accepted,a;b"
        );
        assert_eq!(csv_row(&json!({})).matches(',').count(), COLUMNS.len() - 1);
    }

    #[test]
    fn a_formula_is_kept_as_text() {
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(
            (csv_field("@SUM"), csv_field("-12.5"), csv_field("line\nbreak")),
            ("'@SUM".to_string(), "-12.5".to_string(), "\"line\nbreak\"".to_string())
        );
    }
}
