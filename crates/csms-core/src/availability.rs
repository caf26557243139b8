//! Which accepted ChangeAvailability governs a connector. An operator may set the whole
//! station, an EVSE (2.0.1) or one connector operative or inoperative (OCPP 1.6 §5.2, 2.0.1
//! G03/G04); a station applies the narrowest setting that covers a connector, so Ström shows
//! the same.

/// One setting the station accepted (or scheduled). `evse_id` is absent for the whole station
/// (OCPP 1.6 connector 0; a 2.0.1 request without an EVSE); EVSE 0 without a connector is the
/// whole station too. 1.6 connectors have EVSE 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvailabilitySetting {
    pub evse_id: Option<i64>,
    pub connector_id: Option<i64>,
    pub operative: bool,
    /// The station answered Scheduled: it applies the change once the running transaction ends.
    pub scheduled: bool,
}

impl AvailabilitySetting {
    /// As the store keeps it: −1 for no EVSE or connector, `operational` and `status` as the
    /// station was asked and answered.
    pub fn from_stored(evse_id: i64, connector_id: i64, operational: &str, status: &str) -> AvailabilitySetting {
        let number = |v: i64| (v >= 0).then_some(v);
        AvailabilitySetting {
            evse_id: number(evse_id),
            connector_id: number(connector_id),
            operative: operational == "Operative",
            scheduled: status == "Scheduled",
        }
    }

    /// How narrow the setting is where it covers the connector: 0 the station, 1 its EVSE, 2
    /// the connector itself; `None` where it does not cover it.
    fn narrowness(&self, evse_id: i64, connector_id: i64) -> Option<u8> {
        match (self.evse_id, self.connector_id) {
            (None, None) | (Some(0), None) => Some(0),
            (Some(e), None) => (e == evse_id).then_some(1),
            (Some(e), Some(c)) => (e == evse_id && c == connector_id).then_some(2),
            // Not a shape any request makes: a connector without its EVSE covers nothing.
            (None, Some(_)) => None,
        }
    }
}

/// The setting that governs connector `connector_id` of EVSE `evse_id` (0 for 1.6): the
/// narrowest that covers it, or `None` when no setting does (the connector is as the station
/// left it, operative unless the station says otherwise in its status).
pub fn governing(settings: &[AvailabilitySetting], evse_id: i64, connector_id: i64) -> Option<AvailabilitySetting> {
    settings
        .iter()
        .filter_map(|s| s.narrowness(evse_id, connector_id).map(|n| (n, *s)))
        .max_by_key(|(n, _)| *n)
        .map(|(_, s)| s)
}

/// The earlier settings an accepted (or scheduled) ChangeAvailability replaces: a setting of the
/// whole station replaces every other, one of an EVSE replaces the EVSE's own and its
/// connectors', and one of a connector the connector's own. The station keeps one setting per
/// place and applies the newest to everything it covers (OCPP 1.6 §5.2: connector 0 changes the
/// whole Charge Point and all its connectors; 2.0.1 G03/G04: without an EVSE the whole station,
/// with an EVSE all its connectors); a narrower setting left behind would govern its connector
/// (`governing`) against the newer wider one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replaced {
    /// Every setting of the station.
    All,
    /// The settings of this EVSE and of its connectors.
    Evse(i64),
    /// The setting of this very place only.
    Place { evse_id: Option<i64>, connector_id: Option<i64> },
}

impl Replaced {
    /// Whether a stored setting of this place is among the replaced.
    pub fn includes(self, evse_id: Option<i64>, connector_id: Option<i64>) -> bool {
        match self {
            Replaced::All => true,
            Replaced::Evse(e) => evse_id == Some(e),
            Replaced::Place { evse_id: e, connector_id: c } => evse_id == e && connector_id == c,
        }
    }
}

/// Which stored settings the accepted setting of `evse_id`/`connector_id` replaces (the shapes
/// of `AvailabilitySetting`: EVSE 0 without a connector is the whole station too).
pub fn replaced_by(evse_id: Option<i64>, connector_id: Option<i64>) -> Replaced {
    match (evse_id, connector_id) {
        (None, None) | (Some(0), None) => Replaced::All,
        (Some(e), None) => Replaced::Evse(e),
        // A connector's setting, or a shape no request makes (a connector without its EVSE),
        // which covers nothing and replaces only itself.
        (e, Some(c)) => Replaced::Place { evse_id: e, connector_id: Some(c) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(evse_id: Option<i64>, connector_id: Option<i64>, operative: bool) -> AvailabilitySetting {
        AvailabilitySetting { evse_id, connector_id, operative, scheduled: false }
    }

    #[test]
    fn the_narrowest_covering_setting_governs() {
        let station_off = set(None, None, false);
        let station_zero_off = set(Some(0), None, false);
        let evse1_on = set(Some(1), None, true);
        let evse2_off = set(Some(2), None, false);
        let c1_on_16 = set(Some(0), Some(1), true);
        let e1c2_off = set(Some(1), Some(2), false);
        // (settings, evse, connector, governing setting)
        let table: &[(&[AvailabilitySetting], i64, i64, Option<AvailabilitySetting>)] = &[
            (&[], 0, 1, None),
            (&[station_off], 0, 1, Some(station_off)),
            (&[station_zero_off], 3, 1, Some(station_zero_off)),
            (&[station_off, c1_on_16], 0, 1, Some(c1_on_16)),
            (&[station_off, c1_on_16], 0, 2, Some(station_off)),
            (&[c1_on_16], 0, 2, None),
            (&[station_off, evse1_on], 1, 1, Some(evse1_on)),
            (&[station_off, evse1_on], 2, 1, Some(station_off)),
            (&[evse2_off], 1, 1, None),
            (&[evse2_off], 2, 7, Some(evse2_off)),
            (&[evse1_on, e1c2_off, station_off], 1, 2, Some(e1c2_off)),
            (&[evse1_on, e1c2_off, station_off], 1, 1, Some(evse1_on)),
            (&[set(None, Some(1), false)], 0, 1, None),
        ];
        for (settings, evse, connector, expected) in table {
            assert_eq!(governing(settings, *evse, *connector), *expected, "{settings:?} for {evse}/{connector}");
        }
    }

    #[test]
    fn replaced_table() {
        // (EVSE, connector): the accepted setting's place and a stored setting's.
        type Place = (Option<i64>, Option<i64>);
        let cases: &[(&str, Place, Place, bool)] = &[
            ("station replaces station", (None, None), (None, None), true),
            ("station replaces an EVSE", (None, None), (Some(2), None), true),
            ("station replaces a 2.0.1 connector", (None, None), (Some(2), Some(1)), true),
            ("station replaces a 1.6 connector", (None, None), (Some(0), Some(3)), true),
            ("EVSE 0 is the station", (Some(0), None), (Some(1), None), true),
            ("EVSE 0 replaces the station's other form", (Some(0), None), (None, None), true),
            ("station replaces EVSE 0", (None, None), (Some(0), None), true),
            ("EVSE replaces itself", (Some(1), None), (Some(1), None), true),
            ("EVSE replaces its connectors", (Some(1), None), (Some(1), Some(2)), true),
            ("EVSE leaves another EVSE", (Some(1), None), (Some(2), None), false),
            ("EVSE leaves another EVSE's connector", (Some(1), None), (Some(2), Some(1)), false),
            ("EVSE leaves the station's", (Some(1), None), (None, None), false),
            ("connector replaces itself", (Some(1), Some(2)), (Some(1), Some(2)), true),
            ("connector leaves its EVSE's", (Some(1), Some(2)), (Some(1), None), false),
            ("connector leaves a sibling", (Some(1), Some(2)), (Some(1), Some(1)), false),
            ("connector leaves the same number elsewhere", (Some(1), Some(2)), (Some(3), Some(2)), false),
            ("connector leaves the station's", (Some(0), Some(1)), (None, None), false),
            ("1.6 connector replaces itself", (Some(0), Some(1)), (Some(0), Some(1)), true),
            ("a connector without EVSE is only itself", (None, Some(1)), (None, Some(1)), true),
            ("a connector without EVSE covers nothing", (None, Some(1)), (Some(0), Some(1)), false),
        ];
        for (name, (evse, connector), (stored_evse, stored_connector), expected) in cases {
            assert_eq!(replaced_by(*evse, *connector).includes(*stored_evse, *stored_connector), *expected, "{name}");
        }
    }

    /// After a replacement the accepted setting governs every connector it covers, whatever was
    /// stored before: the two rules agree.
    #[test]
    fn the_accepted_setting_governs_what_it_covers() {
        let stored = [
            set(None, None, true),
            set(Some(0), None, true),
            set(Some(1), None, true),
            set(Some(1), Some(1), true),
            set(Some(1), Some(2), true),
            set(Some(2), None, true),
            set(Some(2), Some(1), true),
            set(Some(0), Some(1), true),
        ];
        let connectors = [(0, 1), (0, 2), (1, 1), (1, 2), (2, 1), (2, 2)];
        for accepted in [
            set(None, None, false),
            set(Some(0), None, false),
            set(Some(1), None, false),
            set(Some(2), Some(1), false),
            set(Some(0), Some(1), false),
        ] {
            let replaced = replaced_by(accepted.evse_id, accepted.connector_id);
            let mut after: Vec<AvailabilitySetting> =
                stored.iter().copied().filter(|s| !replaced.includes(s.evse_id, s.connector_id)).collect();
            after.push(accepted);
            for (evse, connector) in connectors {
                if accepted.narrowness(evse, connector).is_some() {
                    assert_eq!(
                        governing(&after, evse, connector),
                        Some(accepted),
                        "{accepted:?} at {evse}/{connector}"
                    );
                }
            }
        }
    }
}
