//! Signed meter readings in the Open Charge Metering Format (OCMF, SAFE e.V.), which
//! German-calibration-law ("Eichrecht") stations send as OCPP SignedData: the record read, its
//! ECDSA signature verified against the meter's registered public key, and the records of one
//! transaction checked together (pagination, begin and end, one meter), so that the energy
//! billed is the energy the meter signed. No I/O: record text and key text in, facts out.
//!
//! A record is `OCMF|<payload JSON>|<signature JSON>`; the signature covers the payload's bytes
//! exactly as they stand between the pipes (OCMF "Sections"), so the payload is kept as text and
//! never re-serialised, and reading values keep the digits the meter wrote (OCMF table 7, RV).

mod key;
mod payload;
mod reading;
mod signature;
mod transaction;

#[cfg(test)]
mod tests;

pub use key::{KeyError, MeterKey};
pub use reading::{
    CurrentType, ErrorFlags, MeterStatus, MilliWattHours, Reading, ReadingReason, ReadingValue, TimeStatus, Unit,
};
pub use signature::{verify, Curve, Signature, SignatureAlgorithm, SignatureEncoding, VerifyError};
pub use transaction::{check_transaction, Problem, Verdict, VerifiedTransaction};

/// The header every OCMF record starts with (OCMF "Header").
const HEADER: &str = "OCMF";

/// One OCMF record, read. The payload fields Ström uses are typed; the whole text and the
/// signed payload text are kept, for storage and for verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    text: String,
    payload: String,
    /// FV: the format version the meter wrote, `<major>.<minor>`.
    pub format_version: Option<String>,
    /// GI, GS, GV: the signing component ("gateway"), its serial and software version.
    pub gateway_identification: Option<String>,
    pub gateway_serial: Option<String>,
    pub gateway_version: Option<String>,
    /// PG: which counter numbered this record, and its number.
    pub pagination: Pagination,
    /// MV, MM, MS, MF: the meter. Only the serial is mandatory (OCMF table 3).
    pub meter_vendor: Option<String>,
    pub meter_model: Option<String>,
    pub meter_serial: String,
    pub meter_firmware: Option<String>,
    /// IS, IL, IF, IT, ID: who charged, present exactly when the record belongs to a transaction.
    pub identification: Option<Identification>,
    /// TT: the tariff's text, for direct payment.
    pub tariff_text: Option<String>,
    /// CF: the charge controller's firmware version.
    pub charge_controller_firmware: Option<String>,
    /// CT, CI: the charge point, as an EVSE id or an OCPP charge box id and connector.
    pub charge_point_type: Option<String>,
    pub charge_point_id: Option<String>,
    /// RD, in the order written, each with the fields it inherits from the one before filled in.
    pub readings: Vec<Reading>,
    pub signature: Signature,
}

impl Record {
    /// The record as it was read (surrounding whitespace trimmed), for storage.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The bytes the signature covers: the payload section exactly as written.
    pub fn signed_data(&self) -> &[u8] {
        self.payload.as_bytes()
    }
}

/// The user assignment fields (OCMF table 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identification {
    /// IS: whether a user was assigned.
    pub assigned: bool,
    /// IL: how trustworthy the assignment is (OCMF table 11), as written.
    pub level: Option<String>,
    /// IF: how the user was identified (OCMF tables 13 to 16), as written.
    pub flags: Vec<String>,
    /// IT: the kind of identification data (OCMF table 17), as written.
    pub kind: Option<String>,
    /// ID: the identification data itself, e.g. an RFID UID.
    pub data: Option<String>,
}

/// PG: a record's place in one of the meter's counters (OCMF table 2). Each context counts on
/// its own, by one per record, so consecutive records of a transaction have consecutive numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pagination {
    pub context: PaginationContext,
    pub number: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaginationContext {
    /// `T`: readings of a transaction.
    Transaction,
    /// `F`: fiscal readings, outside any transaction.
    Fiscal,
}

impl Pagination {
    /// `T12`, `F3`: a context letter and a number without leading zeros.
    pub fn parse(text: &str) -> Option<Pagination> {
        let mut chars = text.chars();
        let context = match chars.next()? {
            'T' => PaginationContext::Transaction,
            'F' => PaginationContext::Fiscal,
            _ => return None,
        };
        let digits = chars.as_str();
        let well_formed = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !well_formed {
            return None;
        }
        Some(Pagination { context, number: digits.parse().ok()? })
    }
}

impl std::fmt::Display for Pagination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let letter = match self.context {
            PaginationContext::Transaction => 'T',
            PaginationContext::Fiscal => 'F',
        };
        write!(f, "{letter}{}", self.number)
    }
}

/// Why a text is not a readable OCMF record. Each names the part that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcmfError {
    #[error("the record does not start with the OCMF header (it starts with {0:?})")]
    NotOcmf(String),
    #[error("an OCMF record has three sections separated by '|', this one has {0}")]
    Sections(usize),
    #[error("the payload section is not the JSON object OCMF describes: {0}")]
    Payload(String),
    #[error("the signature section is not the JSON object OCMF describes: {0}")]
    SignatureSection(String),
    #[error("the payload has no {0}, which OCMF requires")]
    Missing(&'static str),
    #[error("{field} {value:?} is not valid: {reason}")]
    Invalid { field: &'static str, value: String, reason: &'static str },
    #[error("reading {index} has no {field}, which OCMF requires")]
    ReadingMissing { index: usize, field: &'static str },
    #[error("reading {index}: {field} {value:?} is not valid: {reason}")]
    ReadingInvalid { index: usize, field: &'static str, value: String, reason: &'static str },
}

/// Reads one OCMF record. Whitespace around the record (a trailing newline, say) is ignored;
/// the payload's own bytes are kept exactly, since they are what the meter signed.
pub fn parse(text: &str) -> Result<Record, OcmfError> {
    let text = text.trim();
    // The sections cannot contain '|' (OCMF "JSON based OCMF Format"), so splitting is exact.
    let sections: Vec<&str> = text.split('|').collect();
    if sections.first() != Some(&HEADER) {
        let start: String = text.chars().take(16).collect();
        return Err(OcmfError::NotOcmf(start));
    }
    let [_, payload, signature] = sections[..] else {
        return Err(OcmfError::Sections(sections.len()));
    };
    payload::read(text, payload, signature)
}
