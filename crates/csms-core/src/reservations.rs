//! Reservations: what happens to a reservation a station accepted as it is replaced, used by a
//! transaction, cancelled or ended by the station, when it has lapsed, and which tokens may use
//! it (OCPP 1.6 §5.13 ReserveNow, 2.0.1 functional block H). The station holds the reservation
//! and decides; Ström keeps a record of it that follows what the station reports.

use crate::Timestamp;

/// The state of a reservation as Ström records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationStatus {
    /// The station accepted it and has not reported its end.
    Active,
    /// A transaction named it (1.6 StartTransaction or 2.0.1 TransactionEvent `reservationId`).
    Used,
    /// The station accepted a CancelReservation for it.
    Cancelled,
    /// The station reported that it lapsed (2.0.1 ReservationStatusUpdate `Expired`).
    Expired,
    /// The station removed it, e.g. its EVSE became unavailable (2.0.1 ReservationStatusUpdate
    /// `Removed`).
    Removed,
}

impl ReservationStatus {
    pub const ALL: &'static [ReservationStatus] = &[
        ReservationStatus::Active,
        ReservationStatus::Used,
        ReservationStatus::Cancelled,
        ReservationStatus::Expired,
        ReservationStatus::Removed,
    ];

    /// The stored and API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Active => "Active",
            ReservationStatus::Used => "Used",
            ReservationStatus::Cancelled => "Cancelled",
            ReservationStatus::Expired => "Expired",
            ReservationStatus::Removed => "Removed",
        }
    }

    pub fn parse(text: &str) -> Option<ReservationStatus> {
        ReservationStatus::ALL.iter().copied().find(|s| s.as_str() == text)
    }
}

/// How a reservation ends other than by being used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationEnd {
    Cancelled,
    Expired,
    Removed,
}

impl ReservationEnd {
    /// The status the reservation takes.
    pub fn status(self) -> ReservationStatus {
        match self {
            ReservationEnd::Cancelled => ReservationStatus::Cancelled,
            ReservationEnd::Expired => ReservationStatus::Expired,
            ReservationEnd::Removed => ReservationStatus::Removed,
        }
    }
}

/// Something that happens to the reservation a station holds under one reservation id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationEvent {
    /// The station accepted a ReserveNow with this id.
    Made,
    /// A transaction named this id.
    UsedByTransaction,
    /// The station cancelled it, or reported that it expired or was removed.
    Ended(ReservationEnd),
}

/// What the record of a reservation becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationChange {
    /// A reservation with the request's facts, `Active`, used by no transaction, written over
    /// whatever was recorded under the id.
    Replace,
    /// The recorded reservation takes this status; when `Used`, it records the transaction.
    Becomes(ReservationStatus),
    /// Nothing changes: there is no reservation under the id, or it is no longer active.
    Unchanged,
}

/// Decides what `event` does to the reservation recorded under its id (`recorded`: its status,
/// `None` when Ström has none).
///
/// - An accepted ReserveNow whose id matches a reservation replaces it, whatever became of the
///   earlier one (OCPP 1.6 §5.13; 2.0.1 H01.FR.02).
/// - A transaction that names a reservation uses it up if it is still active (OCPP 1.6 §5.13,
///   2.0.1 H01.FR.23). Neither Ström's clock (an expiry) nor the token is judged here: the
///   station held the reservation and let this transaction have it, and the record follows the
///   station. A reservation that already ended keeps its end and its transaction.
/// - A cancellation or a station's report that the reservation expired or was removed (2.0.1
///   H04) ends an active reservation; one already used or ended stays as it is, so that a late or
///   repeated report does not undo a use.
pub fn change(recorded: Option<ReservationStatus>, event: ReservationEvent) -> ReservationChange {
    match (recorded, event) {
        (_, ReservationEvent::Made) => ReservationChange::Replace,
        (Some(ReservationStatus::Active), ReservationEvent::UsedByTransaction) => {
            ReservationChange::Becomes(ReservationStatus::Used)
        }
        (Some(ReservationStatus::Active), ReservationEvent::Ended(end)) => ReservationChange::Becomes(end.status()),
        (None, _) | (Some(_), ReservationEvent::UsedByTransaction | ReservationEvent::Ended(_)) => {
            ReservationChange::Unchanged
        }
    }
}

/// Whether a reservation expiring at `expiry` has lapsed at `now`: from its expiry on (OCPP 1.6
/// §5.13: it ends "when the time specified in expiryDate is reached"; 2.0.1 H01 expiryDateTime).
pub fn is_expired(expiry: Timestamp, now: Timestamp) -> bool {
    expiry <= now
}

/// The status a reservation is shown with at `now`: an active one past its expiry is `Expired`,
/// because a 1.6 station does not say when a reservation lapses (only 2.0.1 has
/// ReservationStatusUpdate). Any other status is what the station reported.
pub fn status_at(recorded: ReservationStatus, expiry: Timestamp, now: Timestamp) -> ReservationStatus {
    match recorded {
        ReservationStatus::Active if is_expired(expiry, now) => ReservationStatus::Expired,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 11, 26, h, m, 0).single().expect("valid")
    }

    #[test]
    fn change_table() {
        use ReservationChange::{Becomes, Replace, Unchanged};
        use ReservationEvent::{Ended, Made, UsedByTransaction};
        use ReservationStatus::*;
        let cases: &[(&str, Option<ReservationStatus>, ReservationEvent, ReservationChange)] = &[
            ("a new reservation", None, Made, Replace),
            ("the same id replaces an active one", Some(Active), Made, Replace),
            ("the same id replaces a used one", Some(Used), Made, Replace),
            ("the same id replaces a cancelled one", Some(Cancelled), Made, Replace),
            ("the same id replaces an expired one", Some(Expired), Made, Replace),
            ("the same id replaces a removed one", Some(Removed), Made, Replace),
            ("a transaction uses an active one", Some(Active), UsedByTransaction, Becomes(Used)),
            ("a used one is not used twice", Some(Used), UsedByTransaction, Unchanged),
            ("a cancelled one is not used", Some(Cancelled), UsedByTransaction, Unchanged),
            ("an expired one is not used", Some(Expired), UsedByTransaction, Unchanged),
            ("a removed one is not used", Some(Removed), UsedByTransaction, Unchanged),
            ("an unknown id is nothing to use", None, UsedByTransaction, Unchanged),
            ("a cancel ends an active one", Some(Active), Ended(ReservationEnd::Cancelled), Becomes(Cancelled)),
            ("an expiry ends an active one", Some(Active), Ended(ReservationEnd::Expired), Becomes(Expired)),
            ("a removal ends an active one", Some(Active), Ended(ReservationEnd::Removed), Becomes(Removed)),
            ("a late expiry does not undo a use", Some(Used), Ended(ReservationEnd::Expired), Unchanged),
            ("a cancel after a removal", Some(Removed), Ended(ReservationEnd::Cancelled), Unchanged),
            ("an expiry repeated", Some(Expired), Ended(ReservationEnd::Expired), Unchanged),
            ("a cancel of an unknown id", None, Ended(ReservationEnd::Cancelled), Unchanged),
        ];
        for (name, recorded, event, expected) in cases {
            assert_eq!(change(*recorded, *event), *expected, "{name}");
        }
    }

    #[test]
    fn expiry_table() {
        use ReservationStatus::*;
        let expiry = at(12, 0);
        let cases: &[(&str, ReservationStatus, Timestamp, bool, ReservationStatus)] = &[
            ("before its expiry", Active, at(11, 59), false, Active),
            ("at its expiry", Active, at(12, 0), true, Expired),
            ("after its expiry", Active, at(12, 1), true, Expired),
            ("a used one stays used", Used, at(13, 0), true, Used),
            ("a cancelled one stays cancelled", Cancelled, at(13, 0), true, Cancelled),
            ("a removed one stays removed", Removed, at(13, 0), true, Removed),
            ("reported expired early", Expired, at(11, 0), false, Expired),
        ];
        for (name, recorded, now, expired, shown) in cases {
            assert_eq!(is_expired(expiry, *now), *expired, "{name}: is_expired");
            assert_eq!(status_at(*recorded, expiry, *now), *shown, "{name}: status_at");
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for &status in ReservationStatus::ALL {
            assert_eq!(ReservationStatus::parse(status.as_str()), Some(status), "{status:?}");
        }
        assert_eq!(ReservationStatus::parse("active"), None, "the stored spelling exactly");
    }
}
