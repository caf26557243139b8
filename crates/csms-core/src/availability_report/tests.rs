use super::*;

/// Seconds as milliseconds, to keep the tables readable.
const fn s(seconds: i64) -> Millis {
    seconds * 1000
}

fn span(start: i64, end: i64) -> Span {
    Span::new(s(start), s(end))
}

const C1: Place = Place { evse_id: 0, connector_id: 1 };
const C2: Place = Place { evse_id: 0, connector_id: 2 };

fn status(place: Place, at: i64, text: &str) -> StatusChange {
    StatusChange { place, at: s(at), down: status_is_down(text) }
}

fn fault(place: Place, started: i64, cleared: Option<i64>) -> FaultRecord {
    FaultRecord {
        place,
        category: FaultCategory::Thermal,
        severity: Severity::Error,
        offline: false,
        started_at: s(started),
        cleared_at: cleared.map(s),
    }
}

fn offline(started: i64, cleared: Option<i64>) -> FaultRecord {
    FaultRecord { category: FaultCategory::Communication, offline: true, ..fault(Place::STATION, started, cleared) }
}

fn warning(place: Place, started: i64, cleared: Option<i64>) -> FaultRecord {
    FaultRecord {
        severity: Severity::Warning,
        category: FaultCategory::ElectricalProtection,
        ..fault(place, started, cleared)
    }
}

fn history(statuses: Vec<StatusChange>, faults: Vec<FaultRecord>) -> StationHistory {
    StationHistory { station_id: "CP1".into(), created_at: s(-1000), decommissioned_at: None, statuses, faults }
}

/// The period [0, 100 s), made at 200 s.
const PERIOD: Period = Period { from: 0, to: 100_000, now: 200_000 };

/// (spans, window, to subtract, expected)
type SpanCase<'a> = (&'a [Span], Span, &'a [Span], &'a [Span]);

#[test]
fn spans_unite_clip_and_subtract() {
    let cases: [SpanCase<'_>; 5] = [
        // Overlapping and touching spans merge; an empty one vanishes.
        (&[span(10, 20), span(15, 30), span(30, 35), span(50, 50)], span(0, 100), &[], &[span(10, 35)]),
        // Cut to the window at both edges.
        (&[span(-10, 5), span(90, 120)], span(0, 100), &[], &[span(0, 5), span(90, 100)]),
        // A hole punched in the middle, and an end taken off.
        (&[span(0, 50)], span(0, 100), &[span(10, 20), span(40, 60)], &[span(0, 10), span(20, 40)]),
        // Wholly subtracted.
        (&[span(10, 20)], span(0, 100), &[span(0, 30)], &[]),
        // Nothing in the window.
        (&[span(200, 300)], span(0, 100), &[span(0, 30)], &[]),
    ];
    for (spans, window, cut, expected) in cases {
        let got = subtract(&clip(&union(spans.iter().copied()), window), cut);
        assert_eq!(got, expected, "{spans:?} in {window:?} without {cut:?}");
    }
    assert_eq!(total(&[span(0, 10), span(20, 25)]), s(15));
}

#[test]
fn places_cover_their_connectors() {
    let cases = [
        (Place::STATION, C1, true),
        (C1, C1, true),
        (C1, C2, false),
        (Place::new(1, 0), Place::new(1, 1), true),
        (Place::new(1, 0), Place::new(2, 1), false),
        (Place::new(1, 1), Place::new(1, 2), false),
        // A 1.6 connector's "EVSE" is 0, which is the station.
        (Place::new(0, 0), Place::new(0, 3), true),
    ];
    for (place, connector, covers) in cases {
        assert_eq!(place.covers(connector), covers, "{place:?} {connector:?}");
    }
}

/// (what, history, period, expected of C1: known, offline, faulted, unavailable status, in s)
type Case = (&'static str, StationHistory, Period, (i64, i64, i64, i64));

fn cases() -> Vec<Case> {
    let available = || status(C1, -50, "Available");
    vec![
        ("all well", history(vec![available()], vec![]), PERIOD, (100, 0, 0, 0)),
        (
            "a fault and an Unavailable status overlap: each second once, the fault first",
            history(
                vec![available(), status(C1, 20, "Unavailable"), status(C1, 40, "Available")],
                vec![fault(C1, 10, Some(30))],
            ),
            PERIOD,
            (100, 0, 20, 10),
        ),
        (
            "a fault across both edges of the period",
            history(vec![available()], vec![fault(C1, -50, Some(150))]),
            PERIOD,
            (100, 0, 100, 0),
        ),
        (
            "a fault of the whole station covers every connector",
            history(vec![available()], vec![fault(Place::STATION, 10, Some(20))]),
            PERIOD,
            (100, 0, 10, 0),
        ),
        (
            "another connector's fault does not",
            history(vec![available()], vec![fault(C2, 10, Some(20))]),
            PERIOD,
            (100, 0, 0, 0),
        ),
        (
            "an open fault lasts until now, and time after now is not known",
            history(vec![available()], vec![fault(C1, 90, None)]),
            Period { now: s(95), ..PERIOD },
            (95, 0, 5, 0),
        ),
        (
            "an open fault lasts to the end of a past period",
            history(vec![available()], vec![fault(C1, 90, None)]),
            PERIOD,
            (100, 0, 10, 0),
        ),
        (
            "a warning does not stop charging",
            history(vec![available()], vec![warning(C1, 10, Some(20))]),
            PERIOD,
            (100, 0, 0, 0),
        ),
        (
            "offline first, then faulted, then the status",
            history(
                vec![available(), status(C1, 0, "Faulted"), status(C1, 60, "Available")],
                vec![offline(10, Some(30)), fault(C1, 20, Some(40))],
            ),
            PERIOD,
            (100, 20, 10, 30),
        ),
        (
            "the status at from is the last one before it",
            history(vec![status(C1, -10, "Unavailable"), status(C1, 30, "Available")], vec![]),
            PERIOD,
            (100, 0, 0, 30),
        ),
        (
            "the station's Unavailable status (1.6 connector 0) covers its connectors",
            history(
                vec![available(), status(Place::STATION, 70, "Unavailable"), status(Place::STATION, 80, "Available")],
                vec![],
            ),
            PERIOD,
            (100, 0, 0, 10),
        ),
        (
            "known from the first status",
            history(vec![status(C1, 40, "Available")], vec![offline(0, Some(50))]),
            PERIOD,
            (60, 10, 0, 0),
        ),
        (
            "never before the station was registered",
            StationHistory { created_at: s(50), ..history(vec![status(C1, 40, "Available")], vec![]) },
            PERIOD,
            (50, 0, 0, 0),
        ),
        (
            "not after it was decommissioned",
            StationHistory { decommissioned_at: Some(s(25)), ..history(vec![available()], vec![offline(20, None)]) },
            PERIOD,
            (25, 5, 0, 0),
        ),
        (
            "a period before anything was known",
            history(vec![status(C1, 500, "Faulted")], vec![fault(C1, 500, None)]),
            PERIOD,
            (0, 0, 0, 0),
        ),
        (
            "an empty period",
            history(vec![available()], vec![]),
            Period { from: s(50), to: s(50), now: s(200) },
            (0, 0, 0, 0),
        ),
    ]
}

#[test]
fn connector_figures() {
    for (what, history, period, (known, offline, faulted, status)) in cases() {
        let report = station_report(&history, period);
        let c1 = report.connectors.iter().find(|c| c.place == C1).unwrap_or_else(|| panic!("{what}: no C1"));
        let f = c1.figures;
        assert_eq!(
            (f.known_ms, f.offline_ms, f.faulted_ms, f.unavailable_status_ms),
            (s(known), s(offline), s(faulted), s(status)),
            "{what}"
        );
        assert_eq!(c1.known_from.is_some(), known > 0, "{what}");
        match f.uptime_percent() {
            Some(uptime) => {
                let expected = (known - offline - faulted - status) as f64 * 100.0 / known as f64;
                assert!((uptime - expected).abs() < 1e-9, "{what}: {uptime} ≠ {expected}");
            }
            None => assert_eq!(known, 0, "{what}: no uptime although known"),
        }
    }
}

#[test]
fn station_figures_sum_connectors_and_count_each_fault_once() {
    let h = history(
        vec![
            status(C1, -50, "Available"),
            status(C2, -50, "Available"),
            status(C2, 10, "Unavailable"),
            status(C2, 30, "Available"),
        ],
        vec![
            offline(40, Some(50)),
            fault(Place::STATION, 60, Some(70)),
            warning(C1, 80, Some(85)),
            // Began before the period: repaired in it, not counted as begun in it.
            fault(C2, -20, Some(5)),
            // Cleared after the period: begun in it, not repaired in it.
            fault(C1, 95, Some(130)),
        ],
    );
    let report = station_report(&h, PERIOD);
    assert_eq!((report.station_known_ms, report.station_offline_ms), (s(100), s(10)));
    let by_place = |p: Place| report.connectors.iter().find(|c| c.place == p).map(|c| c.figures).expect("connector");
    let (c1, c2) = (by_place(C1), by_place(C2));
    assert_eq!((c1.offline_ms, c1.faulted_ms, c1.unavailable_status_ms), (s(10), s(15), 0));
    assert_eq!((c2.offline_ms, c2.faulted_ms, c2.unavailable_status_ms), (s(10), s(15), s(20)));
    // C1: the station's communication loss and fault, its warning and its late fault.
    assert_eq!(
        (c1.faults.get(FaultCategory::Communication), c1.faults.get(FaultCategory::Thermal), c1.faults.total()),
        (1, 2, 4)
    );
    // Repairs: of severity Error, cleared in the period.
    assert_eq!((c1.repairs, c1.mttr_ms()), (2, Some(s(10) as f64)));
    assert_eq!((c2.repairs, c2.mttr_ms()), (3, Some(s(15) as f64)));
    let f = report.figures;
    assert_eq!((f.known_ms, f.unavailable_ms()), (s(200), s(70)));
    assert_eq!(f.uptime_percent(), Some(65.0));
    // Each of the station's faults once: 4 begun in the period, 3 repaired (10 s, 10 s, 25 s).
    assert_eq!((f.faults.total(), f.repairs, f.mttr_ms()), (4, 3, Some(s(15) as f64)));

    let network = network_report(&[h.clone(), StationHistory { station_id: "CP2".into(), ..h }], PERIOD);
    assert_eq!((network.connectors, network.station_offline_ms), (4, s(20)));
    assert_eq!((network.totals.known_ms, network.totals.faults.total(), network.totals.repairs), (s(400), 8, 6));
    assert_eq!(network.totals.uptime_percent(), Some(65.0));
}

#[test]
fn evse_faults_cover_only_their_evse() {
    let (e1, e2) = (Place::new(1, 1), Place::new(2, 1));
    let h = history(
        vec![status(e1, -50, "Available"), status(e2, -50, "Available")],
        vec![fault(Place::new(1, 0), 10, Some(30))],
    );
    let report = station_report(&h, PERIOD);
    let faulted: Vec<(Place, Millis)> = report.connectors.iter().map(|c| (c.place, c.figures.faulted_ms)).collect();
    assert_eq!(faulted, [(e1, s(20)), (e2, 0)]);
}

#[test]
fn periods_default_and_are_bounded() {
    let now = s(400 * 86_400);
    let day = s(86_400);
    let cases = [
        ((None, None), (now - 30 * day, now)),
        ((Some(now - 5 * day), None), (now - 5 * day, now)),
        ((None, Some(now - day)), (now - 31 * day, now - day)),
        ((Some(0), Some(now)), (now - 366 * day, now)),
        ((Some(now), Some(now - day)), (now, now - day)),
    ];
    for ((from, to), (want_from, want_to)) in cases {
        let p = Period::asked(from, to, now);
        assert_eq!((p.from, p.to, p.now), (want_from, want_to, now), "{from:?} {to:?}");
    }
    // At the ends of time, nothing overflows.
    let p = Period::asked(Some(Millis::MIN), Some(Millis::MIN + 5), now);
    assert_eq!((p.from, p.to), (Millis::MIN, Millis::MIN + 5));
}
