//! The OCMF records of one transaction checked together, as OCMF's "Signing and Verification
//! Process" asks of a check component: every signature verifies, the pagination is continuous
//! (no record removed or added in between), the first reading begins the transaction and the
//! last ends it, all records come from one meter, and no error or unusable quantity was
//! reported on the way. Only then is the energy (end − begin) billable; otherwise every problem
//! found is reported, not just the first, so that an operator sees the whole picture at once.

use super::reading::{MeterStatus, MilliWattHours, Reading, ReadingReason, Unit};
use super::signature::{verify, VerifyError};
use super::{parse, MeterKey, OcmfError, Pagination, PaginationContext, Record};
use chrono::{DateTime, Utc};

#[cfg(test)]
mod tests;

/// What the records of a transaction prove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Verified(Box<VerifiedTransaction>),
    /// Every problem found, in the order of the records.
    NotVerified(Vec<Problem>),
}

impl Verdict {
    pub fn is_verified(&self) -> bool {
        matches!(self, Verdict::Verified(_))
    }
}

/// A transaction whose records all verified and fit together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTransaction {
    pub meter_serial: String,
    /// The pagination of the first and the last record.
    pub first_page: Pagination,
    pub last_page: Pagination,
    /// The reading with TX `B`, and the one that ended the transaction (E, L, R, A or P).
    pub begin: Reading,
    pub end: Reading,
    /// end − begin.
    pub energy: MilliWattHours,
}

/// One reason a transaction's records do not prove its energy. `record` counts from 1, in
/// the order the records were given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("no OCMF records")]
    NoRecords,
    #[error("record {record} cannot be read: {error}")]
    Unreadable { record: usize, error: OcmfError },
    #[error("record {record}: {error}")]
    Signature { record: usize, error: VerifyError },
    #[error("record {record} is paginated {pagination}, outside any transaction (T)")]
    NotTransaction { record: usize, pagination: Pagination },
    #[error("record {record} is numbered {found}, but {expected} should follow the record before: records are missing or added")]
    PaginationGap { record: usize, expected: u64, found: u64 },
    #[error("record {record} is from meter {found:?}, the first from {expected:?}")]
    MeterChanged { record: usize, expected: String, found: String },
    #[error("record {record} is from gateway {found:?}, the first from {expected:?}")]
    GatewayChanged { record: usize, expected: Option<String>, found: Option<String> },
    #[error("no reading begins the transaction (TX B)")]
    NoBegin,
    #[error("no reading ends the transaction (TX E, L, R, A or P)")]
    NoEnd,
    #[error("record {record} has a reading ({reason}) before the transaction began")]
    BeforeBegin { record: usize, reason: String },
    #[error("record {record} begins the transaction a second time")]
    SecondBegin { record: usize },
    #[error("record {record} has a reading ({reason}) after the transaction ended")]
    AfterEnd { record: usize, reason: String },
    #[error("record {record}: the {reason} reading has no value")]
    NoValue { record: usize, reason: ReadingReason },
    #[error("record {record}: the reading is in {found}, not in an energy unit")]
    NotEnergy { record: usize, found: Unit },
    #[error("record {record}: the reading is in {found}, the readings before in {expected}")]
    UnitChanged { record: usize, expected: Unit, found: Unit },
    #[error("record {record}: the meter went backwards from {before} to {after}")]
    ValueBackwards { record: usize, before: MilliWattHours, after: MilliWattHours },
    #[error("record {record}: the reading's time {after} is before the previous reading's {before}")]
    TimeBackwards { record: usize, before: DateTime<Utc>, after: DateTime<Utc> },
    #[error("record {record}: the meter reports an error during charging (TX X)")]
    Exception { record: usize },
    #[error("record {record}: the meter flags the energy as unusable (EF E)")]
    EnergyUnusable { record: usize },
    #[error("record {record}: the meter flags the time as unusable (EF t)")]
    TimeUnusable { record: usize },
    #[error("record {record}: the meter's status is {status:?}, not good")]
    MeterStatus { record: usize, status: MeterStatus },
}

/// Checks the OCMF records a station sent for one transaction, in the order it sent them,
/// against the meter's key. The key must be the one registered for the meter serial the
/// records name; which meter that is, is the caller's knowledge, not the records'.
///
/// The billed register is the one (RI) of the first reading that begins or ends the
/// transaction: a record may carry several registers side by side (e.g. mains and device
/// energy, OCMF "Extension to Billing Relevant OBIS Representation"), each with its own begin
/// and end; the others are only checked for errors.
pub fn check_transaction<T: AsRef<str>>(records: &[T], key: &MeterKey) -> Verdict {
    let mut problems = Vec::new();
    if records.is_empty() {
        return Verdict::NotVerified(vec![Problem::NoRecords]);
    }
    let mut read: Vec<(usize, Record)> = Vec::with_capacity(records.len());
    for (index, text) in records.iter().enumerate() {
        let record = index + 1;
        match parse(text.as_ref()) {
            Ok(parsed) => {
                if let Err(error) = verify(&parsed, key) {
                    problems.push(Problem::Signature { record, error });
                }
                read.push((record, parsed));
            }
            Err(error) => problems.push(Problem::Unreadable { record, error }),
        }
    }
    check_sequence(&read, &mut problems);
    let pairing = check_readings(&read, &mut problems);
    match (pairing, read.first(), read.last()) {
        (Some((begin, end, energy)), Some((_, first)), Some((_, last))) if problems.is_empty() => {
            Verdict::Verified(Box::new(VerifiedTransaction {
                meter_serial: first.meter_serial.clone(),
                first_page: first.pagination,
                last_page: last.pagination,
                begin: begin.clone(),
                end: end.clone(),
                energy,
            }))
        }
        _ => Verdict::NotVerified(problems),
    }
}

/// Pagination and origin: transaction context throughout, consecutive numbers, one meter and
/// one gateway. An unreadable record in between is counted as the number it would have had,
/// so that it is reported once, as unreadable, not again as a gap.
fn check_sequence(read: &[(usize, Record)], problems: &mut Vec<Problem>) {
    let Some((_, first)) = read.first() else { return };
    for (record, r) in read {
        if r.pagination.context != PaginationContext::Transaction {
            problems.push(Problem::NotTransaction { record: *record, pagination: r.pagination });
        }
        if r.meter_serial != first.meter_serial {
            problems.push(Problem::MeterChanged {
                record: *record,
                expected: first.meter_serial.clone(),
                found: r.meter_serial.clone(),
            });
        }
        if r.gateway_serial != first.gateway_serial {
            problems.push(Problem::GatewayChanged {
                record: *record,
                expected: first.gateway_serial.clone(),
                found: r.gateway_serial.clone(),
            });
        }
    }
    for pair in read.windows(2) {
        let [(before_record, before), (record, r)] = pair else { continue };
        let step = u64::try_from(record - before_record).unwrap_or(u64::MAX);
        let expected = before.pagination.number.saturating_add(step);
        if r.pagination.number != expected {
            problems.push(Problem::PaginationGap { record: *record, expected, found: r.pagination.number });
        }
    }
}

/// Where a reading stands relative to the transaction it belongs to.
#[derive(PartialEq)]
enum Phase {
    Before,
    During,
    After,
}

/// Begin and end pairing, units, monotonic values and times on the billed register, and errors
/// on every register. Returns the begin and end readings and the energy between them when both
/// were found with an energy value; whenever it returns `None`, it has said why in `problems`.
fn check_readings<'r>(
    read: &'r [(usize, Record)],
    problems: &mut Vec<Problem>,
) -> Option<(&'r Reading, &'r Reading, MilliWattHours)> {
    let all = || read.iter().flat_map(|(record, r)| r.readings.iter().map(move |reading| (*record, reading)));
    for (record, reading) in all() {
        if reading.reason == Some(ReadingReason::Exception) {
            problems.push(Problem::Exception { record });
        }
        if reading.error_flags.energy {
            problems.push(Problem::EnergyUnusable { record });
        }
        if reading.error_flags.time {
            problems.push(Problem::TimeUnusable { record });
        }
        if reading.status != MeterStatus::Good {
            problems.push(Problem::MeterStatus { record, status: reading.status });
        }
    }
    let bounds = |r: &Reading| r.reason.is_some_and(|x| x == ReadingReason::Begin || x.ends_transaction());
    let register = all().find(|(_, r)| bounds(r)).map(|(_, r)| r.obis.clone());
    let Some(register) = register else {
        problems.push(Problem::NoBegin);
        problems.push(Problem::NoEnd);
        return None;
    };
    let mut phase = Phase::Before;
    let (mut begin, mut end) = (None, None);
    let mut unit: Option<Unit> = None;
    let mut last_energy: Option<MilliWattHours> = None;
    let mut last_time: Option<DateTime<Utc>> = None;
    for (record, reading) in all().filter(|(_, r)| r.obis == register) {
        let reason_text = || reading.reason.map_or("no TX".to_string(), |r| r.to_string());
        match reading.reason {
            Some(ReadingReason::Begin) if phase == Phase::Before => {
                phase = Phase::During;
                begin = Some(reading);
            }
            Some(ReadingReason::Begin) => problems.push(Problem::SecondBegin { record }),
            Some(r) if r.ends_transaction() && phase == Phase::During => {
                phase = Phase::After;
                end = Some(reading);
            }
            _ if phase == Phase::Before => problems.push(Problem::BeforeBegin { record, reason: reason_text() }),
            _ if phase == Phase::After => problems.push(Problem::AfterEnd { record, reason: reason_text() }),
            _ => {}
        }
        if let Some(reason) = reading.reason.filter(|r| *r == ReadingReason::Begin || r.ends_transaction()) {
            if reading.value.is_none() {
                problems.push(Problem::NoValue { record, reason });
            }
        }
        if let Some(t) = last_time.filter(|t| reading.time < *t) {
            problems.push(Problem::TimeBackwards { record, before: t, after: reading.time });
        }
        last_time = Some(reading.time);
        if reading.value.is_none() {
            continue;
        }
        if let Some(found) = reading.unit {
            match unit {
                Some(expected) if expected != found => problems.push(Problem::UnitChanged { record, expected, found }),
                Some(_) => {}
                None => unit = Some(found),
            }
        }
        match reading.energy() {
            Some(energy) => {
                if let Some(before) = last_energy.filter(|b| energy < *b) {
                    problems.push(Problem::ValueBackwards { record, before, after: energy });
                }
                last_energy = Some(energy);
            }
            None => {
                if let Some(found) = reading.unit {
                    problems.push(Problem::NotEnergy { record, found });
                }
            }
        }
    }
    if begin.is_none() {
        problems.push(Problem::NoBegin);
    }
    if end.is_none() {
        problems.push(Problem::NoEnd);
    }
    let (begin, end) = (begin?, end?);
    // Both were checked above: a begin or end without an energy value is a problem reported.
    let energy = end.energy()?.0.saturating_sub(begin.energy()?.0);
    Some((begin, end, MilliWattHours(energy)))
}
