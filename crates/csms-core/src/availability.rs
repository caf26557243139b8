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
}
