//! What a simulated station knows about its connectors, apart from any protocol: whether each
//! is operative (ChangeAvailability, a change scheduled while it charges), reserved and for
//! whom (ReserveNow, CancelReservation, expiry), charging, and the charging profiles that
//! limit it (SetChargingProfile, ClearChargingProfile). Both versions' answers change it; the
//! station loop reads it before a session and at every reading. Connectors are numbered from 1
//! (1.6 connectorId; 2.0.1 the EVSE id, each EVSE with one connector); 0 is the whole station.

use super::energy::Limit;
use std::time::SystemTime;

/// A reservation the station took (OCPP 1.6 §5.13, 2.0.1 H01).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Reservation {
    pub(super) id: i64,
    pub(super) id_token: String,
    pub(super) expiry: SystemTime,
}

#[derive(Debug, Clone, Default)]
struct Connector {
    operative: bool,
    /// An availability change accepted while charging, applied when the session ends
    /// (Scheduled; OCPP 1.6 §5.2, 2.0.1 G03.FR.05).
    scheduled: Option<bool>,
    reservation: Option<Reservation>,
    charging: bool,
}

/// Why a charging profile applies, in the words both versions share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// ChargePointMaxProfile / ChargingStationMaxProfile: the whole station.
    StationMax,
    TxDefault,
    /// Only for the transaction it names or, without one, the one running now.
    Tx,
}

/// A charging profile as the station keeps it: the schedule's periods, relative to when the
/// profile came (a `startSchedule` is not followed: the simulator treats every profile as
/// starting when it is set), each a limit in W or, `amps`, in A per phase.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Profile {
    pub(super) id: i64,
    /// 0: the whole station.
    pub(super) connector: usize,
    pub(super) purpose: Purpose,
    pub(super) stack_level: i64,
    pub(super) amps: bool,
    /// (startPeriod in seconds, limit), ascending.
    pub(super) periods: Vec<(i64, f64)>,
    pub(super) transaction_id: Option<String>,
    pub(super) set_at: SystemTime,
}

impl Profile {
    /// The limit the profile sets at `now`: its last period that has begun.
    fn limit(&self, now: SystemTime) -> Option<Limit> {
        let elapsed = now.duration_since(self.set_at).map_or(0, |d| d.as_secs() as i64);
        let (_, value) = self.periods.iter().rev().find(|(start, _)| *start <= elapsed)?;
        Some(if self.amps {
            Limit { watts: None, amps: Some(*value) }
        } else {
            Limit { watts: Some(*value), amps: None }
        })
    }
}

/// What ClearChargingProfile names; a profile matching all the given criteria goes.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ClearCriteria {
    pub(super) id: Option<i64>,
    pub(super) connector: Option<usize>,
    pub(super) purpose: Option<Purpose>,
    pub(super) stack_level: Option<i64>,
}

/// The answer to a ReserveNow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReserveOutcome {
    Accepted,
    Occupied,
    Unavailable,
    Rejected,
}

/// The connectors and the profiles over them.
#[derive(Debug, Clone)]
pub(super) struct Connectors {
    list: Vec<Connector>,
    profiles: Vec<Profile>,
}

impl Connectors {
    pub(super) fn new(count: usize) -> Connectors {
        Connectors {
            list: (0..count.max(1)).map(|_| Connector { operative: true, ..Connector::default() }).collect(),
            profiles: Vec::new(),
        }
    }

    pub(super) fn count(&self) -> usize {
        self.list.len()
    }

    fn get(&self, connector: usize) -> Option<&Connector> {
        connector.checked_sub(1).and_then(|i| self.list.get(i))
    }

    fn get_mut(&mut self, connector: usize) -> Option<&mut Connector> {
        connector.checked_sub(1).and_then(|i| self.list.get_mut(i))
    }

    pub(super) fn exists(&self, connector: usize) -> bool {
        self.get(connector).is_some()
    }

    pub(super) fn operative(&self, connector: usize) -> bool {
        self.get(connector).is_some_and(|c| c.operative)
    }

    pub(super) fn charging(&self, connector: usize) -> bool {
        self.get(connector).is_some_and(|c| c.charging)
    }

    /// Whether a session for `id_token` may start on `connector` now: operative, not charging,
    /// and not reserved for another token (OCPP 1.6 §5.13: only the reserved idTag may use it).
    pub(super) fn may_start(&self, connector: usize, id_token: &str, now: SystemTime) -> bool {
        self.get(connector).is_some_and(|c| {
            c.operative
                && !c.charging
                && c.reservation.as_ref().is_none_or(|r| r.expiry <= now || r.id_token == id_token)
        })
    }

    /// The first connector from `from` on (wrapping) where `id_token` may start now.
    pub(super) fn free_from(&self, from: usize, id_token: &str, now: SystemTime) -> Option<usize> {
        let n = self.count();
        (0..n).map(|k| (from.saturating_sub(1) + k) % n + 1).find(|&c| self.may_start(c, id_token, now))
    }

    /// The reservation on `connector` the session for `id_token` uses (and ends), if any.
    pub(super) fn take_reservation(&mut self, connector: usize, id_token: &str) -> Option<i64> {
        let c = self.get_mut(connector)?;
        let id = c.reservation.as_ref().filter(|r| r.id_token == id_token)?.id;
        c.reservation = None;
        Some(id)
    }

    pub(super) fn set_charging(&mut self, connector: usize, charging: bool) {
        if let Some(c) = self.get_mut(connector) {
            c.charging = charging;
        }
    }

    /// Applies a ChangeAvailability to `connector` (0: all). Returns whether it was scheduled
    /// because a session runs, and the connectors whose status changes now (to report).
    pub(super) fn change_availability(&mut self, connector: usize, operative: bool) -> Option<(bool, Vec<usize>)> {
        let targets: Vec<usize> = if connector == 0 { (1..=self.count()).collect() } else { vec![connector] };
        if targets.iter().any(|&t| !self.exists(t)) {
            return None;
        }
        let mut scheduled = false;
        let mut changed = Vec::new();
        for t in targets {
            let Some(c) = self.get_mut(t) else { continue };
            if c.charging && !operative {
                c.scheduled = Some(operative);
                scheduled = true;
            } else if c.operative != operative {
                c.operative = operative;
                c.scheduled = None;
                changed.push(t);
            }
        }
        Some((scheduled, changed))
    }

    /// The session on `connector` ended: a scheduled availability change takes effect. True
    /// when the connector is now inoperative.
    pub(super) fn session_ended(&mut self, connector: usize) -> bool {
        let Some(c) = self.get_mut(connector) else { return false };
        c.charging = false;
        if let Some(operative) = c.scheduled.take() {
            c.operative = operative;
        }
        !c.operative
    }

    /// Takes a reservation of `connector` (0: any connector, 1.6 §5.13) for `id_token`.
    pub(super) fn reserve(
        &mut self,
        connector: usize,
        reservation: Reservation,
        now: SystemTime,
    ) -> (ReserveOutcome, usize) {
        let connector = if connector == 0 {
            match self.free_from(1, &reservation.id_token, now) {
                Some(c) => c,
                None => return (ReserveOutcome::Occupied, 0),
            }
        } else {
            connector
        };
        let Some(c) = self.get_mut(connector) else { return (ReserveOutcome::Rejected, connector) };
        if !c.operative {
            return (ReserveOutcome::Unavailable, connector);
        }
        let held = c.reservation.as_ref().is_some_and(|r| r.expiry > now && r.id != reservation.id);
        if c.charging || held {
            return (ReserveOutcome::Occupied, connector);
        }
        c.reservation = Some(reservation);
        (ReserveOutcome::Accepted, connector)
    }

    /// Cancels reservation `id`: the connector it held, or None when there is no such one.
    pub(super) fn cancel_reservation(&mut self, id: i64) -> Option<usize> {
        let i = self.list.iter().position(|c| c.reservation.as_ref().is_some_and(|r| r.id == id))?;
        self.list[i].reservation = None;
        Some(i + 1)
    }

    /// Reservations past their expiry, removed: (reservation id, connector).
    pub(super) fn expire_reservations(&mut self, now: SystemTime) -> Vec<(i64, usize)> {
        let mut expired = Vec::new();
        for (i, c) in self.list.iter_mut().enumerate() {
            if let Some(r) = c.reservation.take_if(|r| r.expiry <= now) {
                expired.push((r.id, i + 1));
            }
        }
        expired
    }

    /// The earliest reservation expiry, for the loop to wake at.
    pub(super) fn next_expiry(&self) -> Option<SystemTime> {
        self.list.iter().filter_map(|c| c.reservation.as_ref().map(|r| r.expiry)).min()
    }

    /// Whether `connector` is reserved (and not past its expiry).
    pub(super) fn reserved(&self, connector: usize, now: SystemTime) -> bool {
        self.get(connector).and_then(|c| c.reservation.as_ref()).is_some_and(|r| r.expiry > now)
    }

    /// Keeps a profile; one with the same id, or the same purpose, stack level and connector,
    /// is replaced (OCPP 1.6 §3.13.2, 2.0.1 K01.FR.05). False for a connector the station lacks
    /// or a transaction profile with no transaction running there.
    pub(super) fn set_profile(&mut self, profile: Profile, running_tx: Option<&str>) -> bool {
        if profile.connector != 0 && !self.exists(profile.connector) {
            return false;
        }
        if profile.purpose == Purpose::Tx && (profile.connector == 0 || running_tx.is_none()) {
            return false;
        }
        let profile = match (profile.purpose, &profile.transaction_id) {
            (Purpose::Tx, None) => Profile { transaction_id: running_tx.map(str::to_string), ..profile },
            _ => profile,
        };
        self.profiles.retain(|p| {
            p.id != profile.id
                && !(p.purpose == profile.purpose
                    && p.stack_level == profile.stack_level
                    && p.connector == profile.connector)
        });
        self.profiles.push(profile);
        true
    }

    /// Removes the profiles matching `criteria`; false when none did.
    pub(super) fn clear_profiles(&mut self, criteria: ClearCriteria) -> bool {
        let before = self.profiles.len();
        self.profiles.retain(|p| {
            !(criteria.id.is_none_or(|id| p.id == id)
                && criteria.connector.is_none_or(|c| p.connector == c)
                && criteria.purpose.is_none_or(|purpose| p.purpose == purpose)
                && criteria.stack_level.is_none_or(|level| p.stack_level == level))
        });
        self.profiles.len() < before
    }

    /// The limit on `connector` at `now` while transaction `tx` runs there: of each purpose,
    /// the profile with the highest stack level that applies (on this connector, else on the
    /// whole station); a Tx profile overrides TxDefault; the station maximum caps the result.
    pub(super) fn limit(&self, connector: usize, tx: Option<&str>, now: SystemTime) -> Limit {
        let best = |purpose: Purpose| {
            let applies = |p: &&Profile| {
                p.purpose == purpose
                    && (purpose != Purpose::Tx || (tx.is_some() && p.transaction_id.as_deref() == tx))
                    && p.limit(now).is_some()
            };
            let on = |wanted: usize| {
                self.profiles.iter().filter(applies).filter(|p| p.connector == wanted).max_by_key(|p| p.stack_level)
            };
            on(connector).or_else(|| on(0)).and_then(|p| p.limit(now))
        };
        let session = best(Purpose::Tx).or_else(|| best(Purpose::TxDefault)).unwrap_or(Limit::NONE);
        let station = best(Purpose::StationMax).unwrap_or(Limit::NONE);
        let lower = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Limit { watts: lower(session.watts, station.watts), amps: lower(session.amps, station.amps) }
    }

    /// A session's transaction profiles go when it ends (OCPP 1.6 §3.13.4).
    pub(super) fn drop_tx_profiles(&mut self, tx: &str) {
        self.profiles.retain(|p| !(p.purpose == Purpose::Tx && p.transaction_id.as_deref() == Some(tx)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
    }

    fn profile(id: i64, connector: usize, purpose: Purpose, level: i64, periods: &[(i64, f64)]) -> Profile {
        Profile {
            id,
            connector,
            purpose,
            stack_level: level,
            amps: false,
            periods: periods.to_vec(),
            transaction_id: None,
            set_at: at(0),
        }
    }

    #[test]
    fn availability_changes_now_or_when_the_session_ends() {
        let mut c = Connectors::new(2);
        c.set_charging(1, true);
        assert_eq!(c.change_availability(0, false), Some((true, vec![2])), "connector 1 charges: scheduled");
        assert!(c.operative(1) && !c.operative(2));
        assert!(c.session_ended(1), "the scheduled change applies");
        assert_eq!(c.change_availability(2, true), Some((false, vec![2])));
        assert_eq!(c.change_availability(3, true), None, "no connector 3");
    }

    #[test]
    fn only_the_reserved_token_starts_on_a_reserved_connector_until_it_expires() {
        let mut c = Connectors::new(2);
        let r = Reservation { id: 5, id_token: "R".into(), expiry: at(60) };
        assert_eq!(c.reserve(1, r, at(0)), (ReserveOutcome::Accepted, 1));
        assert!(!c.may_start(1, "OTHER", at(10)) && c.may_start(1, "R", at(10)));
        assert_eq!(c.free_from(1, "OTHER", at(10)), Some(2));
        assert!(c.may_start(1, "OTHER", at(60)), "expired");
        assert_eq!(c.expire_reservations(at(60)), vec![(5, 1)]);
        let again = Reservation { id: 6, id_token: "R".into(), expiry: at(600) };
        assert_eq!(c.reserve(1, again, at(70)).0, ReserveOutcome::Accepted);
        assert_eq!(c.take_reservation(1, "R"), Some(6));
        assert_eq!(c.cancel_reservation(6), None, "used up");
        c.set_charging(2, true);
        let busy = Reservation { id: 7, id_token: "R".into(), expiry: at(600) };
        assert_eq!(c.reserve(2, busy, at(70)).0, ReserveOutcome::Occupied);
    }

    #[test]
    fn the_limit_is_the_highest_stack_level_capped_by_the_station_maximum() {
        let mut c = Connectors::new(2);
        assert_eq!(c.limit(1, Some("t"), at(0)), Limit::NONE);
        assert!(c.set_profile(profile(1, 0, Purpose::TxDefault, 0, &[(0, 11_000.0)]), None));
        assert!(c.set_profile(profile(2, 1, Purpose::TxDefault, 1, &[(0, 7_000.0), (60, 4_000.0)]), None));
        assert_eq!(c.limit(1, Some("t"), at(10)).watts, Some(7_000.0));
        assert_eq!(c.limit(1, Some("t"), at(61)).watts, Some(4_000.0), "the second period began");
        assert_eq!(c.limit(2, Some("t"), at(10)).watts, Some(11_000.0), "the station-wide default");
        assert!(!c.set_profile(profile(3, 1, Purpose::Tx, 0, &[(0, 2_000.0)]), None), "no transaction");
        assert!(c.set_profile(profile(3, 1, Purpose::Tx, 0, &[(0, 9_000.0)]), Some("t")));
        assert_eq!(c.limit(1, Some("t"), at(10)).watts, Some(9_000.0), "Tx overrides TxDefault");
        assert!(c.set_profile(profile(4, 0, Purpose::StationMax, 0, &[(0, 5_000.0)]), None));
        assert_eq!(c.limit(1, Some("t"), at(10)).watts, Some(5_000.0), "capped by the station maximum");
        assert!(c.clear_profiles(ClearCriteria { purpose: Some(Purpose::StationMax), ..ClearCriteria::default() }));
        c.drop_tx_profiles("t");
        assert_eq!(c.limit(1, Some("t"), at(10)).watts, Some(7_000.0));
        assert!(c.clear_profiles(ClearCriteria::default()));
        assert_eq!(c.limit(1, None, at(10)), Limit::NONE);
        assert!(!c.clear_profiles(ClearCriteria::default()), "nothing left to clear");
    }
}
