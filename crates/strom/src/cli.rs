//! The command line over the operator API: `strom station ...`, `strom tx ...`, `strom cdr ...`, `strom tag ...`,
//! `strom config ...`, `strom token list|revoke`. It speaks HTTP/1.1 to a running Ström (plain
//! HTTP; put TLS in front of Ström with a proxy and point `--url` at it from inside), prints
//! tables or, with `--json`, the API's JSON. A list is printed whole: the CLI follows the API's
//! pages to the last.

mod cdr;
pub mod export;
pub mod logs;
mod report;
pub mod sessions;
mod tags;

pub use cdr::{cdr, CdrCommand};
pub use report::{report, ReportCommand};
pub use tags::{tag, TagCommand};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Args, Clone)]
pub struct ApiArgs {
    /// Base URL of a running Ström.
    #[arg(long, global = true, env = "STROM_URL", default_value = "http://127.0.0.1:8180")]
    url: String,
    /// API token (see `strom token create`).
    #[arg(long, global = true, env = "STROM_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print the API's JSON instead of a table (for a list, the items of all its pages).
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
pub enum StationCommand {
    /// List stations.
    List,
    /// Show one station: who made it, its firmware, registration, security, its connectors and
    /// its open faults.
    Show {
        /// The station's identity (as in ws://…/ocpp/{identity}).
        station: String,
    },
    /// Reset a station (soft unless --hard).
    Reset {
        /// The station's identity (as in ws://…/ocpp/{identity}).
        station: String,
        /// A hard reset (a reboot; 2.0.1 Immediate) instead of a soft one (1.6 Soft, 2.0.1 OnIdle).
        #[arg(long)]
        hard: bool,
    },
    /// Unlock a connector.
    Unlock {
        /// The station's identity (as in ws://…/ocpp/{identity}).
        station: String,
        /// The connector (1.6: its number; 2.0.1: its number on the EVSE).
        #[arg(long)]
        connector: i64,
        /// The EVSE (2.0.1 only).
        #[arg(long)]
        evse: Option<i64>,
    },
    /// Decommission a station: it may no longer connect (a live session is closed now); its
    /// transactions, faults and messages stay.
    Remove {
        /// The station's identity (as in ws://…/ocpp/{identity}).
        station: String,
    },
    /// Accept a Pending or Rejected station (it learns at its next boot).
    Accept {
        /// The station's identity (as in ws://…/ocpp/{identity}).
        station: String,
    },
    /// The station's certificates: those Ström signed for it and those it holds, with the days
    /// left until each expires, and its security events about certificates.
    Certificates {
        /// The station's identity (as in ws://…/ocpp/{identity}).
        station: String,
    },
    /// Ask the station to renew its certificate: it sends a CSR, which Ström's CA signs.
    RenewCertificate {
        /// The station's identity (as in ws://…/ocpp/{identity}).
        station: String,
    },
    /// Set a station's security profile and its Basic-auth password (write-only: stored as a
    /// hash, never shown). A station not yet known is registered.
    Set {
        /// The station's identity (as in ws://…/ocpp/{identity}).
        station: String,
        /// 0: no authentication; 1: HTTP Basic auth (user = station identity); 2: Basic auth over
        /// TLS; 3: TLS client certificate (CN = station identity). A station is also held to the
        /// highest profile it has connected with.
        #[arg(long)]
        security_profile: Option<i64>,
        /// 16-40 printable ASCII characters (the station's AuthorizationKey / BasicAuthPassword).
        /// Prefer the environment variable: a flag is visible to other users in the process list.
        #[arg(long, env = "STROM_BASIC_AUTH_PASSWORD", hide_env_values = true)]
        basic_auth_password: Option<String>,
    },
    /// Give a connected station a new Basic-auth password (1.6 AuthorizationKey, 2.0.1
    /// SecurityCtrlr.BasicAuthPassword). It replaces the old one only if the station takes it;
    /// then it is printed, this once. Exits non-zero if the station keeps its old password.
    RotatePassword {
        /// The station's identity (as in ws://…/ocpp/{identity}).
        station: String,
        /// The new password (1.6: 16-20 printable ASCII characters, 2.0.1: 16-40); without it
        /// Ström makes one. Prefer the environment variable: a flag shows in the process list.
        #[arg(long, env = "STROM_NEW_STATION_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum TxCommand {
    /// List transactions, newest first: every one, page after page, unless --limit.
    List {
        /// Only this station's.
        #[arg(long)]
        station: Option<String>,
        /// Only transactions still running.
        #[arg(long)]
        active: bool,
        /// Only those started at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Only those started before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// At most this many, the newest (1-1000); says so when there are more.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: Option<u32>,
    },
    /// Show one transaction (Ström's id): every field, and with --readings its meter values,
    /// one row per sample time with energy, power, voltage and current per phase.
    Show {
        /// Ström's id of the transaction (see `strom tx list`).
        transaction: i64,
        /// Also every reading, one row per sample time.
        #[arg(long)]
        readings: bool,
    },
    /// Ask a station to start a transaction.
    Start {
        /// The station's identity (as in ws://…/ocpp/{identity}).
        station: String,
        /// The id token to start with (e.g. an RFID tag's id).
        #[arg(long)]
        id_token: String,
        /// The connector (1.6; 2.0.1: on the EVSE); absent: the station chooses.
        #[arg(long)]
        connector: Option<i64>,
        /// The EVSE (2.0.1 only); absent: the station chooses.
        #[arg(long)]
        evse: Option<i64>,
        /// Send it even for a token Ström knows as Blocked, Expired, Invalid, … or not at all
        /// (refused otherwise, since the station would be told the token is refused).
        #[arg(long)]
        force: bool,
    },
    /// Ask the station of a transaction to stop it: by Ström's id, or by --station (its one
    /// running transaction, or the one on --connector).
    Stop {
        /// Ström's id of the transaction (see `tx list --active`).
        #[arg(required_unless_present = "station", conflicts_with = "station")]
        transaction: Option<i64>,
        /// The station whose running transaction to stop.
        #[arg(long)]
        station: Option<String>,
        /// With --station: the EVSE whose transaction to stop (2.0.1).
        #[arg(long, requires = "station")]
        evse: Option<i64>,
        /// With --station: the connector whose transaction to stop.
        #[arg(long, requires = "station")]
        connector: Option<i64>,
    },
    /// Write the transactions of a period, every one, as CSV (default) or JSON: one row per
    /// session with energy (Wh), times (s), token, stop reason, authorization and flags.
    Export {
        /// Only this station's.
        #[arg(long)]
        station: Option<String>,
        /// Only those started at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Only those started before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// csv or json.
        #[arg(long, value_enum, default_value_t = export::Format::Csv)]
        format: export::Format,
        /// The file to write; standard output without it.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Read configuration from the station (1.6 keys; 2.0.1 Component.Variable names).
    Get {
        /// The station's identity (as in ws://…/ocpp/{identity}).
        station: String,
        /// The keys to read (1.6 configuration keys, 2.0.1 Component.Variable); none: all.
        keys: Vec<String>,
    },
    /// Change one configuration value on the station.
    Set {
        /// The station's identity (as in ws://…/ocpp/{identity}).
        station: String,
        /// The key (1.6 configuration key, 2.0.1 Component.Variable).
        key: String,
        /// The new value.
        value: String,
    },
}

/// A minimal HTTP/1.1 client for the API, one connection per request.
struct Client {
    authority: String,
    token: Option<String>,
}

impl Client {
    fn new(args: &ApiArgs) -> Result<Client> {
        let Some(rest) = args.url.strip_prefix("http://") else {
            bail!("--url must be http://HOST:PORT, not {:?}", args.url);
        };
        Ok(Client { authority: rest.trim_end_matches('/').to_string(), token: args.token.clone() })
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<(u16, Value)> {
        let (status, bytes) = self.send(method, path, body).await?;
        let value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        Ok((status, value))
    }

    /// A GET whose answer is text (CSV), which must succeed.
    async fn text(&self, path: &str) -> Result<String> {
        let (status, bytes) = self.send("GET", path, None).await?;
        if !(200..300).contains(&status) {
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let message = value.get("error").and_then(Value::as_str).unwrap_or("no message");
            bail!("GET {path}: HTTP {status}: {message}");
        }
        String::from_utf8(bytes.to_vec()).context("the answer is not UTF-8")
    }

    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Result<(u16, Bytes)> {
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .with_context(|| format!("connecting to Ström at {}", self.authority))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.authority)
            .header("content-type", "application/json");
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let response = sender.send_request(request.body(Full::new(Bytes::from(body)))?).await?;
        let status = response.status().as_u16();
        Ok((status, response.into_body().collect().await?.to_bytes()))
    }

    /// A call that must succeed; an API error becomes the command's error, with its message.
    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let (status, value) = self.call(method, path, body).await?;
        if !(200..300).contains(&status) {
            let message = value.get("error").and_then(Value::as_str).unwrap_or("no message");
            bail!("{method} {path}: HTTP {status}: {message}");
        }
        Ok(value)
    }

    /// Every item of a list, page after page: the API answers a page (`items`) and the cursor of
    /// the next (`next_cursor`, null on the last).
    async fn all(&self, path: &str) -> Result<Value> {
        let mut items = Vec::new();
        self.each_page(path, |page| {
            items.extend_from_slice(page);
            Ok(())
        })
        .await?;
        Ok(Value::Array(items))
    }

    /// Hands each page of a list to `take` as it arrives, pages of 1,000.
    async fn each_page(&self, path: &str, mut take: impl FnMut(&[Value]) -> Result<()>) -> Result<()> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut next = self.ok("GET", &format!("{path}{separator}limit=1000"), None).await?;
        loop {
            let Some(page) = next.get("items").and_then(Value::as_array) else {
                bail!("GET {path}: the answer is not a page of items");
            };
            take(page)?;
            match next.get("next_cursor").and_then(Value::as_str) {
                Some(cursor) => {
                    next = self.ok("GET", &format!("{path}{separator}limit=1000&cursor={cursor}"), None).await?;
                }
                None => return Ok(()),
            }
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Prints rows under headers, each column as wide as its widest cell.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(headers.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}

fn print(args: &ApiArgs, value: &Value, render: impl FnOnce(&Value) -> String) -> Result<()> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", render(value));
    }
    Ok(())
}

fn rows(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn stations_table(value: &Value) -> String {
    let rows = rows(value)
        .iter()
        .map(|s| {
            let connectors: Vec<String> = rows(&s["connectors"])
                .iter()
                .map(|c| match c["evse_id"].as_i64() {
                    Some(evse) => format!("{evse}/{}:{}", text(&c["connector_id"]), text(&c["status"])),
                    None => format!("{}:{}", text(&c["connector_id"]), text(&c["status"])),
                })
                .collect();
            vec![
                text(&s["id"]),
                text(&s["ocpp_version"]),
                text(&s["registration_status"]),
                if s["connected"] == true { "yes".into() } else { "no".into() },
                text(&s["last_seen_at"]),
                connectors.join(" "),
            ]
        })
        .collect();
    table(&["ID", "OCPP", "REGISTRATION", "CONNECTED", "LAST SEEN", "CONNECTORS"], rows)
}

fn station_security(value: &Value) -> String {
    let password = if value["basic_auth_password_set"] == true { "set" } else { "not set" };
    table(
        &["ID", "SECURITY PROFILE", "PASSWORD"],
        vec![vec![text(&value["id"]), text(&value["security_profile"]), password.into()]],
    )
}

fn rotation_table(value: &Value) -> String {
    let changed = if value["changed"] == true { "yes" } else { "no (the old password stays)" };
    table(
        &["ID", "STATION ANSWERED", "CHANGED", "NEW PASSWORD", "SECURITY PROFILE"],
        vec![vec![
            text(&value["station_id"]),
            text(&value["status"]),
            changed.into(),
            text(&value["password"]),
            text(&value["security_profile"]),
        ]],
    )
}

fn transactions_table(value: &Value) -> String {
    let rows = rows(value)
        .iter()
        .map(|t| {
            let running = t["active"] == true;
            // Energy so far while running, the session's energy once ended.
            let energy = if running { &t["energy_so_far_wh"] } else { &t["energy_wh"] };
            vec![
                text(&t["id"]),
                text(&t["station_id"]),
                text(&t["connector_id"]),
                text(&t["id_token"]),
                text(&t["start_auth_status"]),
                text(&t["started_at"]),
                if running { "running".into() } else { text(&t["stopped_at"]) },
                sessions::kwh(energy),
                if running { sessions::kw(&t["power_w"]) } else { "-".into() },
                sessions::hours_minutes(&t["duration_s"]),
                sessions::hours_minutes(&t["charging_s"]),
                text(&t["stop_reason"]),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "STATION",
            "CONNECTOR",
            "ID TOKEN",
            "AUTH",
            "STARTED",
            "STOPPED",
            "ENERGY",
            "POWER",
            "DURATION",
            "CHARGING",
            "REASON",
        ],
        rows,
    )
}

fn api_tokens_table(value: &Value) -> String {
    let rows = rows(value)
        .iter()
        .map(|t| {
            vec![
                text(&t["id"]),
                text(&t["role"]),
                text(&t["name"]),
                text(&t["created_at"]),
                text(&t["expires_at"]),
                text(&t["revoked_at"]),
            ]
        })
        .collect();
    table(&["ID", "ROLE", "NAME", "CREATED", "EXPIRES", "REVOKED"], rows)
}

/// Certificates as rows: what they are, whose, until when and how many days are left.
fn certificates_table(items: &[Value], kind: impl Fn(&Value) -> String) -> String {
    let rows = items
        .iter()
        .map(|c| {
            let state = if c["status"].is_null() { text(&c["source"]) } else { text(&c["status"]) };
            vec![
                text(&c["station_id"]),
                kind(c),
                text(&c["certificate_type"]),
                text(&c["serial_number"]),
                text(&c["subject"]),
                text(&c["not_after"]),
                text(&c["days_left"]),
                state,
            ]
        })
        .collect();
    table(&["STATION", "KIND", "TYPE", "SERIAL", "SUBJECT", "EXPIRES", "DAYS LEFT", "STATE"], rows)
}

fn station_certificates(value: &Value) -> String {
    let tagged = |list: &Value, kind: &str| -> Vec<Value> {
        rows(list)
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c["kind"] = json!(kind);
                c
            })
            .collect()
    };
    let mut items = tagged(&value["issued"], "issued");
    items.extend(tagged(&value["installed"], "installed"));
    let mut out = certificates_table(&items, |c| text(&c["kind"]));
    for event in rows(&value["security_events"]) {
        let (status, at, detail) = (text(&event["status"]), text(&event["at"]), text(&event["detail"]));
        out.push_str(&format!("\nsecurity event {status} at {at}: {detail}"));
    }
    out
}

/// The station's answer to a command, as `key: value` lines.
fn answer(value: &Value) -> String {
    match value.as_object() {
        Some(map) if !map.is_empty() => {
            map.iter().map(|(k, v)| format!("{k}: {}", text(v))).collect::<Vec<_>>().join("\n")
        }
        _ => text(value),
    }
}

/// The words with which a station refuses or fails a command (Reset, UnlockConnector,
/// ChangeConfiguration, RemoteStart…, 1.6 and 2.0.1): the command then exits non-zero.
const REFUSALS: [&str; 11] = [
    "Rejected",
    "NotSupported",
    "Failed",
    "UnlockFailed",
    "UnknownConnector",
    "OngoingAuthorizedTransaction",
    "Occupied",
    "Faulted",
    "Unavailable",
    "UnknownVendorId",
    "UnknownMessageId",
];

/// Prints a station's answer to a command; an answer that refuses makes the command fail.
fn answered(args: &ApiArgs, value: &Value) -> Result<()> {
    print(args, value, answer)?;
    match value.get("status").and_then(Value::as_str) {
        Some(status) if REFUSALS.contains(&status) => bail!("the station answered {status}"),
        _ => Ok(()),
    }
}

pub async fn station(args: &ApiArgs, command: StationCommand) -> Result<()> {
    let client = Client::new(args)?;
    match command {
        StationCommand::List => print(args, &client.all("/api/v1/stations").await?, stations_table),
        StationCommand::Show { station } => {
            let mut value = client.ok("GET", &format!("/api/v1/stations/{station}"), None).await?;
            let faults = client.all(&format!("/api/v1/faults?station_id={station}&open=true")).await?;
            value["open_faults"] = faults;
            print(args, &value, logs::station_page)
        }
        StationCommand::Reset { station, hard } => {
            let body = json!({"type": if hard { "hard" } else { "soft" }});
            answered(args, &client.ok("POST", &format!("/api/v1/stations/{station}/reset"), Some(body)).await?)
        }
        StationCommand::Unlock { station, connector, evse } => {
            let body = json!({"connector_id": connector, "evse_id": evse});
            answered(args, &client.ok("POST", &format!("/api/v1/stations/{station}/unlock"), Some(body)).await?)
        }
        StationCommand::Set { station, security_profile, basic_auth_password } => {
            let mut body = serde_json::Map::new();
            if let Some(profile) = security_profile {
                body.insert("security_profile".into(), json!(profile));
            }
            if let Some(password) = basic_auth_password {
                body.insert("basic_auth_password".into(), json!(password));
            }
            if body.is_empty() {
                bail!("nothing to set: give --security-profile or --basic-auth-password");
            }
            let value = client.ok("PUT", &format!("/api/v1/stations/{station}"), Some(Value::Object(body))).await?;
            print(args, &value, station_security)
        }
        StationCommand::RotatePassword { station, password } => {
            let body = password.map_or_else(|| json!({}), |p| json!({"password": p}));
            let path = format!("/api/v1/stations/{station}/password");
            let (status, value) = client.call("POST", &path, Some(body)).await?;
            if value.get("changed").is_none() {
                let message = value.get("error").and_then(Value::as_str).unwrap_or("no message");
                bail!("POST {path}: HTTP {status}: {message}");
            }
            print(args, &value, rotation_table)?;
            if value["changed"] != true {
                bail!("station {station} kept its old password: it answered {}", text(&value["status"]));
            }
            Ok(())
        }
        StationCommand::Certificates { station } => {
            let value = client.ok("GET", &format!("/api/v1/stations/{station}/certificates"), None).await?;
            print(args, &value, station_certificates)
        }
        StationCommand::RenewCertificate { station } => {
            let path = format!("/api/v1/stations/{station}/certificates/renew");
            answered(args, &client.ok("POST", &path, None).await?)
        }
        StationCommand::Remove { station } => {
            client.ok("DELETE", &format!("/api/v1/stations/{station}"), None).await?;
            print(args, &json!({"decommissioned": station}), answer)
        }
        StationCommand::Accept { station } => {
            let body = json!({"registration_status": "Accepted"});
            let value = client.ok("PUT", &format!("/api/v1/stations/{station}"), Some(body)).await?;
            print(args, &value, |v| stations_table(&json!([v])))
        }
    }
}

pub async fn tx(args: &ApiArgs, command: TxCommand) -> Result<()> {
    let client = Client::new(args)?;
    match command {
        TxCommand::List { station, active, since, until, limit } => {
            let path = sessions::list_path(station, active, since, until);
            let Some(limit) = limit else {
                return print(args, &client.all(&path).await?, transactions_table);
            };
            let separator = if path.contains('?') { '&' } else { '?' };
            let page = client.ok("GET", &format!("{path}{separator}limit={limit}"), None).await?;
            let items = page.get("items").cloned().unwrap_or(Value::Array(Vec::new()));
            print(args, &items, transactions_table)?;
            if !page["next_cursor"].is_null() {
                eprintln!("(the newest {limit}; there are more: a larger --limit, or none for all)");
            }
            Ok(())
        }
        TxCommand::Show { transaction, readings } => sessions::show(args, transaction, readings).await,
        TxCommand::Start { station, id_token, connector, evse, force } => {
            let body = json!({"id_token": id_token, "connector_id": connector, "evse_id": evse, "force": force});
            answered(args, &client.ok("POST", &format!("/api/v1/stations/{station}/remote-start"), Some(body)).await?)
        }
        TxCommand::Stop { transaction, station, evse, connector } => {
            let (transaction, station) = sessions::to_stop(&client, transaction, station, (evse, connector)).await?;
            let body = json!({"transaction_id": transaction});
            answered(args, &client.ok("POST", &format!("/api/v1/stations/{station}/remote-stop"), Some(body)).await?)
        }
        TxCommand::Export { station, since, until, format, output } => {
            let path = sessions::list_path(station, false, since, until);
            export::transactions(args, &path, format, output.as_deref()).await
        }
    }
}

pub async fn certificates_expiring(args: &ApiArgs, days: u32) -> Result<()> {
    let client = Client::new(args)?;
    let value = client.ok("GET", &format!("/api/v1/certificates?expiring_within_days={days}"), None).await?;
    print(args, &value, |v| certificates_table(rows(v), |c| text(&c["kind"])))
}

/// `strom token list`: every API token, revoked and expired ones included.
pub async fn token_list(args: &ApiArgs) -> Result<()> {
    let client = Client::new(args)?;
    print(args, &client.all("/api/v1/tokens").await?, api_tokens_table)
}

/// `strom token revoke ID`.
pub async fn token_revoke(args: &ApiArgs, id: i64) -> Result<()> {
    let client = Client::new(args)?;
    client.ok("DELETE", &format!("/api/v1/tokens/{id}"), None).await?;
    print(args, &json!({"revoked": id}), answer)
}

pub async fn config(args: &ApiArgs, command: ConfigCommand) -> Result<()> {
    let client = Client::new(args)?;
    match command {
        ConfigCommand::Get { station, keys } => {
            let body = json!({"keys": keys});
            let value =
                client.ok("POST", &format!("/api/v1/stations/{station}/configuration/fetch"), Some(body)).await?;
            print(args, &value, |v| {
                // 1.6 answers configurationKey[]; 2.0.1 getVariableResult[].
                let mut rows: Vec<Vec<String>> = rows(&v["configurationKey"])
                    .iter()
                    .map(|k| {
                        vec![
                            text(&k["key"]),
                            text(&k["value"]),
                            if k["readonly"] == true { "yes".into() } else { "no".into() },
                        ]
                    })
                    .collect();
                rows.extend(rows_201(v));
                table(&["KEY", "VALUE", "READONLY"], rows)
            })
        }
        ConfigCommand::Set { station, key, value } => {
            let body = json!({"value": value});
            let path = format!("/api/v1/stations/{station}/configuration/{key}");
            answered(args, &client.ok("PUT", &path, Some(body)).await?)
        }
    }
}

fn rows_201(v: &Value) -> Vec<Vec<String>> {
    rows(&v["getVariableResult"])
        .iter()
        .map(|r| {
            let key = format!("{}.{}", text(&r["component"]["name"]), text(&r["variable"]["name"]));
            vec![key, text(&r["attributeValue"]), text(&r["attributeStatus"])]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let out = table(&["A", "LONGER"], vec![vec!["wide cell".into(), "x".into()]]);
        assert_eq!(out, "A          LONGER\nwide cell  x");
    }

    #[test]
    fn api_token_rows_show_no_secret() {
        let tokens = json!([{"id": 1, "role": "admin", "name": null, "created_at": "2026-12-07T09:00:00.000Z",
            "expires_at": null, "revoked_at": null}]);
        assert_eq!(
            api_tokens_table(&tokens),
            "ID  ROLE   NAME  CREATED                   EXPIRES  REVOKED\n1   admin  -     2026-12-07T09:00:00.000Z  -        -"
        );
    }

    #[test]
    fn certificate_rows_show_expiry_and_state() {
        let value = json!({"issued": [{"station_id": "CP1", "certificate_type": "ChargingStationCertificate",
            "serial_number": "4f1", "subject": "CN=CP1", "not_after": "2027-12-07T09:00:00.000Z", "days_left": 365,
            "status": "accepted"}],
            "installed": [{"station_id": "CP1", "certificate_type": "CSMSRootCertificate", "serial_number": "9",
            "subject": null, "not_after": null, "days_left": null, "source": "reported"}],
            "security_events": [{"status": "InvalidChargingStationCertificate", "at": "t", "detail": "bad chain"}]});
        let out = station_certificates(&value);
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[1].starts_with("CP1")
                && lines[1].contains("issued")
                && lines[1].contains("365")
                && lines[1].ends_with("accepted"),
            "{out}"
        );
        assert!(lines[2].contains("installed") && lines[2].ends_with("reported"), "{out}");
        assert_eq!(lines[3], "security event InvalidChargingStationCertificate at t: bad chain");
    }

    #[test]
    fn station_rows_show_connectors() {
        let stations = json!([{"id": "CP1", "ocpp_version": "1.6", "registration_status": "Accepted", "connected": true,
            "last_seen_at": "t", "connectors": [{"evse_id": null, "connector_id": 1, "status": "Charging"}]}]);
        assert!(stations_table(&stations)
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("CP1") && l.ends_with("1:Charging")));
    }
}
