//! A transaction's charge detail record as it now stands: its readings read back, priced by the
//! tariff that applies (`csms_core::tariffs::select`), checked (`csms_core::integrity`, the
//! signed meter data against the station's meter key) and rendered as the JSON it is kept and
//! shown as. Runs on the settler's connection, off the writer.

use super::{anomaly_view, meter_data};
use crate::billing::{checked_transaction, choose, exact, zone_of, Listed, MeterData};
use crate::db::{query, Conn, Row};
use crate::ocpi::number;
use crate::writes::stored_flags;
use crate::StoreError;
use csms_core::clock::{format_timestamp, parse_timestamp};
use csms_core::integrity::{self, Anomaly};
use csms_core::ops::{NewCdr, RecordCdr};
use csms_core::tariffs::pricing::{price, Bill, Usage};
use csms_core::tariffs::{self, Decimal, Dimension, Tariff};
use csms_core::transactions::{EnergyFlag, TransactionFlag};
use csms_core::Timestamp;
use serde_json::{json, Map, Value};

/// Whether the transaction's signed meter data proves the energy billed.
struct Verification {
    /// `verified`; `unsigned` (no signed data), `unsupported` (signed, not OCMF), `no_meter_key`
    /// (none registered for the station), `failed` (see `problems`), or `mismatch` (the signed
    /// readings prove another energy than the one billed).
    status: &'static str,
    signed_energy_wh: Option<Decimal>,
    records: usize,
    problems: Vec<String>,
}

/// `key` is the station's registered meter key and, if the operator gave one, the serial of the
/// meter it belongs to: records of another meter (OCMF `MS`) prove nothing about this one, even
/// when its key signed them.
fn verify(meter: &MeterData, key: Option<(&str, Option<&str>)>, billed_wh: Decimal) -> Verification {
    let records = meter.signed.len();
    let outcome = |status, signed_energy_wh, problems| Verification { status, signed_energy_wh, records, problems };
    if meter.signed.is_empty() {
        let status = if meter.other_signed > 0 { "unsupported" } else { "unsigned" };
        return outcome(status, None, Vec::new());
    }
    let Some((key, serial)) = key else { return outcome("no_meter_key", None, Vec::new()) };
    let key = match csms_pki::ocmf::MeterKey::parse(key) {
        Ok(key) => key,
        Err(e) => return outcome("failed", None, vec![format!("the registered meter key cannot be used: {e}")]),
    };
    match csms_pki::ocmf::check_transaction(&meter.signed, &key) {
        csms_pki::ocmf::Verdict::Verified(v) => {
            let signed = Decimal::new(v.energy.0, 3);
            if let Some(registered) = serial.filter(|s| !s.trim().is_empty() && *s != v.meter_serial) {
                let problem = format!(
                    "the records are of meter {:?}, the station's registered meter is {registered:?}",
                    v.meter_serial
                );
                outcome("failed", None, vec![problem])
            } else if signed == billed_wh {
                outcome("verified", Some(signed), Vec::new())
            } else {
                let problem = format!("the signed readings give {signed} Wh, the record bills {billed_wh} Wh");
                outcome("mismatch", Some(signed), vec![problem])
            }
        }
        csms_pki::ocmf::Verdict::NotVerified(problems) => {
            outcome("failed", None, problems.iter().map(ToString::to_string).collect())
        }
    }
}

/// How the billed energy was got, for the record.
fn energy_rule(version: &str, flags: &[TransactionFlag], known: bool) -> &'static str {
    if !known {
        return "none: no register readings to take the energy from; billed as 0 Wh";
    }
    if flags.contains(&TransactionFlag::Superseded) && !flags.iter().any(|f| matches!(f, TransactionFlag::Energy(_))) {
        return "estimate: meter start to the last register reading before a newer transaction began on the connector";
    }
    if version == "1.6" {
        "StopTransaction.meterStop - StartTransaction.meterStart"
    } else {
        "last - first Energy.Active.Import.Register of the transaction's events"
    }
}

/// What the settler writes for transaction `id`'s latest end (`None`: no such transaction),
/// and the record's total after tax when a tariff priced it.
pub(super) async fn settle(
    conn: &mut Conn,
    book: &[Listed],
    tz: chrono_tz::Tz,
    id: i64,
    now: &Timestamp,
) -> Result<Option<(RecordCdr, Option<Decimal>)>, StoreError> {
    let Some(row) = query(concat!(
        "SELECT station_id, evse_id, connector_id, id_token, id_token_type, started_at, stopped_at, meter_start_wh, meter_stop_wh, \
         energy_wh, flags, ocpp_version, stop_reason, end_gen, settled_gen, ",
        crate::billing::station_time_zone!(),
        " FROM transactions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let end_gen: i64 = row.try_get("end_gen")?;
    if row.try_get::<i64, _>("settled_gen")? >= end_gen {
        // Settled already (handed over twice, or retried after its write went through): its
        // record stands, and nothing that changed since (a tariff, a meter key) makes a new one.
        let total = super::latest_total(conn, id).await?;
        return Ok(Some((RecordCdr { transaction_id: id, end_gen, cdr: None }, total)));
    }
    let (Some(started), Some(stopped)) =
        (row.try_get::<Option<String>, _>("started_at")?, row.try_get::<Option<String>, _>("stopped_at")?)
    else {
        // A stop for a transaction never seen to start: kept, flagged, for reconciliation.
        return Ok(Some((RecordCdr { transaction_id: id, end_gen, cdr: None }, None)));
    };
    let time = |t: &str| parse_timestamp(t).ok_or_else(|| StoreError::Corrupt(format!("{t:?} is no time")));
    let (started_at, stopped_at) = (time(&started)?, time(&stopped)?);
    let station: String = row.try_get("station_id")?;
    let token: Option<String> = row.try_get("id_token")?;
    // The token's group matters only to a tariff for groups: no read otherwise.
    let by_group = book.iter().any(|l| l.tariff.id_token_groups.is_some());
    let group: Option<String> = match &token {
        Some(t) if by_group => crate::db::query_scalar("SELECT parent_id_token FROM id_tokens WHERE id_token = $1")
            .bind(t.as_str())
            .fetch_optional(&mut *conn)
            .await?
            .flatten(),
        _ => None,
    };
    let meter = meter_data::read(conn, id).await?;
    let energy: Option<f64> = row.try_get("energy_wh")?;
    let usage = Usage {
        started_at,
        stopped_at,
        meter_start_wh: row.try_get::<Option<f64>, _>("meter_start_wh")?.map(exact),
        energy_wh: energy.map(exact).unwrap_or_default(),
        points: &meter.points,
    };
    let version: Option<String> = row.try_get("ocpp_version")?;
    let checked = checked_transaction(
        version.as_deref(),
        (Some(started_at), Some(stopped_at)),
        (row.try_get("meter_start_wh")?, row.try_get("meter_stop_wh")?),
    );
    let inputs =
        integrity::Inputs { sample_interval_s: meter_data::sample_interval(conn, &station).await?, max_power_w: None };
    let anomalies = integrity::anomalies(&checked, &meter.integrity, &inputs);
    let key = if meter.signed.is_empty() { None } else { meter_data::meter_key(conn, &station).await? };
    let verification = verify(&meter, key.as_ref().map(|(k, s)| (k.as_str(), s.as_deref())), usage.energy_wh);
    let chosen = choose(book, &station, group.as_deref(), started_at);
    let free = Tariff::unpriced();
    let tz = zone_of(row.try_get("station_time_zone")?, tz);
    let bill = price(chosen.map_or(&free, |l| &l.tariff), &usage, tz);
    let flags: Vec<TransactionFlag> = stored_flags(&row)?.iter().collect();
    let rule = energy_rule(version.as_deref().unwrap_or("2.0.1"), &flags, energy.is_some());
    let tariff = chosen.map(|l| (l.tariff.id.as_str(), l.version, l.body.as_str(), l.updated_at.as_str()));
    let place = (row.try_get::<Option<i64>, _>("evse_id")?, row.try_get::<Option<i64>, _>("connector_id")?);
    let token_type: Option<String> = row.try_get("id_token_type")?;
    let total = chosen.map(|_| bill.total_incl_vat());
    let previous = query("SELECT id, body FROM cdrs WHERE transaction_id = $1 ORDER BY id DESC LIMIT 1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let corrects: Option<i64> = previous.as_ref().map(|r: &Row| r.try_get("id")).transpose()?;
    let created_at = format_timestamp(now);
    let body = record(Record {
        transaction_id: id,
        station: &station,
        place,
        token: token.as_deref(),
        token_type: token_type.as_deref(),
        started: &started,
        stopped: &stopped,
        bill: &bill,
        tariff,
        currency: chosen.map(|l| l.tariff.currency.as_str()),
        rule,
        energy_flags: &flags,
        anomalies: &anomalies,
        verification: &verification,
        corrects,
        created_at: &created_at,
        time_zone: tz.name(),
    });
    if let Some(previous) = previous {
        let old: String = previous.try_get("body")?;
        let old: Value = serde_json::from_str(&old).map_err(|e| StoreError::Corrupt(format!("record of {id}: {e}")))?;
        if essence(&old) == essence(&body) {
            return Ok(Some((RecordCdr { transaction_id: id, end_gen, cdr: None }, total)));
        }
    }
    let cdr = NewCdr {
        station_id: station,
        id_token: token,
        start_date_time: started,
        end_date_time: stopped,
        energy_wh: bill.energy_wh.normalize(),
        currency: chosen.map(|l| l.tariff.currency.clone()),
        total_excl_vat: chosen.map(|_| bill.total.excl_vat),
        total_incl_vat: total,
        tariff_id: tariff.map(|t| t.0.to_string()),
        tariff_version: tariff.map(|t| t.1),
        corrects,
        created_at,
        body: body.to_string(),
    };
    Ok(Some((RecordCdr { transaction_id: id, end_gen, cdr: Some(cdr) }, total)))
}

/// A record without what differs between two records of the same facts (the one corrected,
/// when it was made).
fn essence(record: &Value) -> Value {
    let mut record = record.clone();
    if let Some(fields) = record.as_object_mut() {
        fields.remove("corrects");
        fields.remove("last_updated");
    }
    record
}

struct Record<'a> {
    transaction_id: i64,
    station: &'a str,
    place: (Option<i64>, Option<i64>),
    token: Option<&'a str>,
    token_type: Option<&'a str>,
    started: &'a str,
    stopped: &'a str,
    bill: &'a Bill,
    /// id, version, body, when saved.
    tariff: Option<(&'a str, i64, &'a str, &'a str)>,
    currency: Option<&'a str>,
    rule: &'static str,
    energy_flags: &'a [TransactionFlag],
    anomalies: &'a [Anomaly],
    verification: &'a Verification,
    created_at: &'a str,
    corrects: Option<i64>,
    /// The zone the tariff's local times were read in.
    time_zone: &'a str,
}

const MS_PER_HOUR: i64 = 3_600_000;

fn hours(ms: i64) -> Value {
    number((Decimal::from(ms) / Decimal::from(MS_PER_HOUR)).round_dp(6))
}

fn kwh(wh: Decimal) -> Value {
    number(wh / Decimal::ONE_THOUSAND)
}

/// OCPI's token types for 2.0.1's: a card is RFID, a contract (eMAID) an app user.
fn ocpi_token_type(token_type: Option<&str>) -> &'static str {
    match token_type {
        None | Some("ISO14443") | Some("ISO15693") => "RFID",
        Some("eMAID") => "APP_USER",
        Some("NoAuthorization") => "AD_HOC_USER",
        Some(_) => "OTHER",
    }
}

/// The record as the API shows it (less its id and creation time, which are the row's): an OCPI
/// 2.2.1 CDR's fields with Ström's beside them.
fn record(r: Record) -> Value {
    let b = r.bill;
    let cost = |d: Dimension| {
        b.dimensions
            .iter()
            .find(|(dim, _)| *dim == d)
            .map(|(_, p)| json!({"excl_vat": number(p.excl_vat), "incl_vat": p.incl_vat.map(number)}))
    };
    let priced = r.tariff.is_some();
    let periods: Vec<Value> = b
        .periods
        .iter()
        .map(|p| {
            let mut dims = vec![json!({"type": "ENERGY", "volume": kwh(p.energy_wh)})];
            if p.charging_ms > 0 {
                dims.push(json!({"type": "TIME", "volume": hours(p.charging_ms)}));
            }
            if p.parking_ms > 0 {
                dims.push(json!({"type": "PARKING_TIME", "volume": hours(p.parking_ms)}));
            }
            if let Some(w) = p.max_power_w {
                dims.push(json!({"type": "MAX_POWER", "volume": kwh(w)}));
            }
            json!({"start_date_time": format_timestamp(&p.start), "dimensions": dims, "tariff_id": r.tariff.map(|t| t.0)})
        })
        .collect();
    let lines: Vec<Value> = b
        .lines
        .iter()
        .map(|l| {
            let volume = match l.dimension {
                Dimension::Energy => kwh(l.volume),
                Dimension::Time | Dimension::ParkingTime => hours(l.volume.try_into().unwrap_or(0)),
                Dimension::Flat => number(l.volume),
            };
            json!({"type": l.dimension.as_str(), "element": l.element, "volume": volume, "price": number(l.price),
                   "vat": number(l.vat), "excl_vat": number(l.excl_vat.round_dp(6)), "incl_vat": number(l.incl_vat.round_dp(6))})
        })
        .collect();
    let tariffs: Vec<Value> = r
        .tariff
        .and_then(|(_, version, body, saved)| {
            let mut t: Map<String, Value> = serde_json::from_str(body).ok()?;
            t.insert("version".into(), version.into());
            t.insert("last_updated".into(), saved.into());
            Some(vec![Value::Object(t)])
        })
        .unwrap_or_default();
    let flags: Vec<&str> = r
        .energy_flags
        .iter()
        .filter_map(|f| match f {
            TransactionFlag::Energy(e) => Some(EnergyFlag::as_str(*e)),
            TransactionFlag::NoEnergyRegister => Some("no_energy_register"),
            _ => None,
        })
        .collect();
    let (evse, connector) = r.place;
    json!({
        "start_date_time": r.started,
        "end_date_time": r.stopped,
        "session_id": r.transaction_id.to_string(),
        "cdr_token": {"uid": r.token.unwrap_or(""), "type": ocpi_token_type(r.token_type), "contract_id": r.token.unwrap_or("")},
        "auth_method": "AUTH_REQUEST",
        "cdr_location": {"id": r.station, "evse_uid": format!("{}*{}", r.station, evse.unwrap_or(0)),
                         "evse_id": format!("{}*{}", r.station, evse.unwrap_or(0)),
                         "connector_id": connector.unwrap_or(0).to_string()},
        "currency": r.currency,
        "tariffs": tariffs,
        "charging_periods": periods,
        "total_cost": priced.then(|| json!({"excl_vat": number(b.total.excl_vat), "incl_vat": b.total.incl_vat.map(number)})),
        "total_fixed_cost": cost(Dimension::Flat),
        "total_energy": kwh(b.energy_wh),
        "total_energy_cost": cost(Dimension::Energy),
        "total_time": hours(b.charging_ms + b.parking_ms),
        "total_time_cost": cost(Dimension::Time),
        "total_parking_time": hours(b.parking_ms),
        "total_parking_cost": cost(Dimension::ParkingTime),
        "credit": false,
        "last_updated": r.created_at,
        "transaction_id": r.transaction_id,
        "station_id": r.station,
        "time_zone": r.time_zone,
        "evse_id": evse,
        "connector_id": connector,
        "id_token": r.token,
        "tariff_id": r.tariff.map(|t| t.0),
        "tariff_version": r.tariff.map(|t| t.1),
        "energy_wh": number(b.energy_wh),
        "energy_rule": r.rule,
        "energy_flags": flags,
        "energy_verified": r.verification.status == "verified",
        "energy_verification": {"status": r.verification.status, "signed_energy_wh": r.verification.signed_energy_wh.map(number),
                                "records": r.verification.records, "problems": r.verification.problems},
        "anomalies": r.anomalies.iter().map(anomaly_view).collect::<Vec<_>>(),
        "charging_time_s": b.charging_ms / 1000,
        "parking_time_s": b.parking_ms / 1000,
        "peak_power_w": b.peak_power_w.map(number),
        "bound": b.bound.map(|x| match x {
            tariffs::pricing::Bound::MinPrice => "min_price",
            tariffs::pricing::Bound::MaxPrice => "max_price",
        }),
        "cost_lines": lines,
        "corrects": r.corrects,
    })
}
