use super::pricing::{price, Bound, Point, Usage};
use super::*;
use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use std::str::FromStr;

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).expect("decimal")
}

fn utc(text: &str) -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(text).expect("time").with_timezone(&Utc)
}

fn component(dimension: Dimension, price: &str, step_size: u32) -> PriceComponent {
    PriceComponent { dimension, price: d(price), vat: None, step_size }
}

fn element(components: Vec<PriceComponent>, restrictions: Restrictions) -> Element {
    Element { price_components: components, restrictions }
}

fn tariff(elements: Vec<Element>) -> Tariff {
    Tariff { id: "T1".into(), currency: "EUR".into(), elements, ..Tariff::unpriced() }
}

fn hm(h: u32, m: u32) -> Option<chrono::NaiveTime> {
    chrono::NaiveTime::from_hms_opt(h, m, 0)
}

/// A session from `start` for `minutes`, charging at `power_w` for its first `charging_minutes`
/// and idle after, with a reading (register and power) every five minutes.
fn session(
    start: &str,
    minutes: i64,
    charging_minutes: i64,
    power_w: i64,
) -> (Timestamp, Timestamp, Vec<Point>, Decimal) {
    let from = utc(start);
    let to = from + chrono::Duration::minutes(minutes);
    let wh_per_minute = Decimal::from(power_w) / Decimal::from(60);
    let mut points = Vec::new();
    let mut minute = 0;
    while minute <= minutes {
        let charged = minute.min(charging_minutes);
        let power = if minute < charging_minutes { power_w } else { 0 };
        points.push(Point {
            at: from + chrono::Duration::minutes(minute),
            register_wh: Some(d("100000") + wh_per_minute * Decimal::from(charged)),
            power_w: Some(Decimal::from(power)),
            current_a: Some(Decimal::from(power) / Decimal::from(690)),
        });
        minute += 5;
    }
    let energy = wh_per_minute * Decimal::from(charging_minutes.min(minutes));
    (from, to, points, energy)
}

fn bill(t: &Tariff, s: &(Timestamp, Timestamp, Vec<Point>, Decimal), tz: Tz) -> pricing::Bill {
    let usage =
        Usage { started_at: s.0, stopped_at: s.1, meter_start_wh: Some(d("100000")), energy_wh: s.3, points: &s.2 };
    price(t, &usage, tz)
}

fn totals(b: &pricing::Bill) -> (Decimal, Decimal) {
    (b.total.excl_vat, b.total.incl_vat.expect("incl"))
}

fn volume(b: &pricing::Bill, dimension: Dimension, element: usize) -> Decimal {
    b.lines.iter().filter(|l| l.dimension == dimension && l.element == element).map(|l| l.volume).sum()
}

#[test]
fn energy_with_tax_excluded_and_included() {
    let s = session("2026-12-07T10:00:00Z", 60, 60, 11_000);
    let mut t = tariff(vec![element(vec![component(Dimension::Energy, "0.30", 1)], Restrictions::default())]);
    t.tax_rate = Some(d("19"));
    let b = bill(&t, &s, chrono_tz::UTC);
    assert_eq!(b.energy_wh, d("11000"));
    // 11 kWh × 0.30 = 3.30 before tax, 3.927 → 3.93 after.
    assert_eq!(totals(&b), (d("3.30"), d("3.93")));
    t.tax_included = true;
    let b = bill(&t, &s, chrono_tz::UTC);
    // 3.30 includes 19 %: 3.30 / 1.19 = 2.7731… → 2.77.
    assert_eq!(totals(&b), (d("2.77"), d("3.30")));
    // A component's own rate wins over the tariff's.
    t.elements[0].price_components[0].vat = Some(d("7"));
    let b = bill(&t, &s, chrono_tz::UTC);
    assert_eq!(totals(&b), (d("3.08"), d("3.30")));
}

#[test]
fn time_of_day_boundary_splits_energy_where_the_clock_crosses_it() {
    // Day rate 08:00–20:00, night rate otherwise; 10 kW from 19:30 to 20:30 UTC.
    let day = Restrictions { start_time: hm(8, 0), end_time: hm(20, 0), ..Default::default() };
    let t = tariff(vec![
        element(vec![component(Dimension::Energy, "0.40", 1)], day),
        element(vec![component(Dimension::Energy, "0.25", 1)], Restrictions::default()),
    ]);
    let s = session("2026-12-07T19:30:00Z", 60, 60, 10_000);
    let b = bill(&t, &s, chrono_tz::UTC);
    assert_eq!(volume(&b, Dimension::Energy, 0), d("5000"));
    assert_eq!(volume(&b, Dimension::Energy, 1), d("5000"));
    assert_eq!(totals(&b).0, d("3.25"));
    assert_eq!(b.periods.len(), 2);
    assert_eq!(b.periods[1].start, utc("2026-12-07T20:00:00Z"));
    // The same session in Berlin (UTC+1 in December) is 20:30–21:30 there: all night rate.
    let b = bill(&t, &s, chrono_tz::Europe::Berlin);
    assert_eq!(volume(&b, Dimension::Energy, 1), d("10000"));
    assert_eq!(totals(&b).0, d("2.50"));
}

#[test]
fn a_night_band_across_midnight_and_a_weekday_rate() {
    // Saturday's own rate; a night band 22:00–06:00 (spans midnight); day rate otherwise.
    let saturday = Restrictions { day_of_week: vec![chrono::Weekday::Sat], ..Default::default() };
    let night = Restrictions { start_time: hm(22, 0), end_time: hm(6, 0), ..Default::default() };
    let t = tariff(vec![
        element(vec![component(Dimension::Energy, "0.50", 1)], saturday),
        element(vec![component(Dimension::Energy, "0.20", 1)], night),
        element(vec![component(Dimension::Energy, "0.35", 1)], Restrictions::default()),
    ]);
    // Friday 2026-12-11 21:00 to Saturday 01:00 UTC, 6 kW: 1 h day, 2 h night, 1 h Saturday.
    let s = session("2026-12-11T21:00:00Z", 240, 240, 6_000);
    let b = bill(&t, &s, chrono_tz::UTC);
    assert_eq!(volume(&b, Dimension::Energy, 2), d("6000"));
    assert_eq!(volume(&b, Dimension::Energy, 1), d("12000"));
    assert_eq!(volume(&b, Dimension::Energy, 0), d("6000"));
    // 6 × 0.35 + 12 × 0.20 + 6 × 0.50 = 2.10 + 2.40 + 3.00
    assert_eq!(totals(&b).0, d("7.50"));
}

#[test]
fn dst_changes_move_local_bands_with_the_clock() {
    // A band 00:00–03:00 local in Berlin. On 2026-03-29 the clock jumps from 02:00 to 03:00
    // (01:00 UTC): from 00:00 to 02:00 UTC the band holds one real hour, not two.
    let early = Restrictions { start_time: hm(0, 0), end_time: hm(3, 0), ..Default::default() };
    let t = tariff(vec![
        element(vec![component(Dimension::Energy, "0.10", 1)], early),
        element(vec![component(Dimension::Energy, "0.30", 1)], Restrictions::default()),
    ]);
    let s = session("2026-03-29T00:00:00Z", 120, 120, 10_000);
    let b = bill(&t, &s, chrono_tz::Europe::Berlin);
    assert_eq!(volume(&b, Dimension::Energy, 0), d("10000"));
    assert_eq!(volume(&b, Dimension::Energy, 1), d("10000"));
    assert_eq!(totals(&b).0, d("4.00"));
    // On 2026-10-25 local 02:00–03:00 happens twice (00:00–02:00 UTC): a band 02:00–03:00 holds
    // for both hours; 23:30–02:30 UTC is 01:30 CEST to 03:30 CET.
    let twice = Restrictions { start_time: hm(2, 0), end_time: hm(3, 0), ..Default::default() };
    let t = tariff(vec![
        element(vec![component(Dimension::Energy, "0.10", 1)], twice),
        element(vec![component(Dimension::Energy, "0.30", 1)], Restrictions::default()),
    ]);
    let s = session("2026-10-24T23:30:00Z", 180, 180, 10_000);
    let b = bill(&t, &s, chrono_tz::Europe::Berlin);
    assert_eq!(volume(&b, Dimension::Energy, 0), d("20000"));
    assert_eq!(volume(&b, Dimension::Energy, 1), d("10000"));
}

#[test]
fn step_sizes_round_the_dimension_total_up_at_the_last_component() {
    // TIME at 2.40/h in 15-minute steps, ENERGY at 0.30/kWh in whole kWh.
    let t = tariff(vec![element(
        vec![component(Dimension::Time, "2.40", 900), component(Dimension::Energy, "0.30", 1000)],
        Restrictions::default(),
    )]);
    // 20 minutes at 4.5 kW = 1.5 kWh: billed 30 minutes (1.20) and 2 kWh (0.60).
    let s = session("2026-12-07T10:00:00Z", 20, 20, 4_500);
    let b = bill(&t, &s, chrono_tz::UTC);
    assert_eq!(volume(&b, Dimension::Time, 0), d("1800000"));
    assert_eq!(volume(&b, Dimension::Energy, 0), d("2000"));
    assert_eq!(totals(&b).0, d("1.80"));
    // Exactly on a step: nothing added.
    let s = session("2026-12-07T10:00:00Z", 30, 30, 4_000);
    let b = bill(&t, &s, chrono_tz::UTC);
    assert_eq!(volume(&b, Dimension::Time, 0), d("1800000"));
    assert_eq!(volume(&b, Dimension::Energy, 0), d("2000"));
    // Two TIME components (first hour cheap, 60 s steps; later dear, 600 s steps): the total of
    // 70 minutes is rounded to the last one's step, the extra at the last one's price.
    let first_hour = Restrictions { max_duration: Some(3600), ..Default::default() };
    let t = tariff(vec![
        element(vec![component(Dimension::Time, "1.20", 60)], first_hour),
        element(vec![component(Dimension::Time, "6.00", 600)], Restrictions::default()),
    ]);
    let s = session("2026-12-07T10:00:00Z", 65, 65, 7_000);
    let b = bill(&t, &s, chrono_tz::UTC);
    assert_eq!(volume(&b, Dimension::Time, 0), d("3600000"));
    // 5 minutes used, 70 in all billed: 10 minutes at 6.00/h.
    assert_eq!(volume(&b, Dimension::Time, 1), d("600000"));
    assert_eq!(totals(&b).0, d("2.20"));
}

#[test]
fn min_and_max_price_bound_the_total() {
    let mut t = tariff(vec![element(vec![component(Dimension::Energy, "0.40", 1)], Restrictions::default())]);
    t.tax_rate = Some(d("20"));
    t.min_price = Some(Price { excl_vat: d("1.00"), incl_vat: None });
    t.max_price = Some(Price { excl_vat: d("10.00"), incl_vat: Some(d("12.00")) });
    // 1 kWh: 0.40 is below the minimum, which applies with the session's tax: 1.20.
    let b = bill(&t, &session("2026-12-07T10:00:00Z", 6, 6, 10_000), chrono_tz::UTC);
    assert_eq!((totals(&b), b.bound), ((d("1.00"), d("1.20")), Some(Bound::MinPrice)));
    // 2.5 kWh: exactly 1.00, the minimum itself: no bound applied.
    let b = bill(&t, &session("2026-12-07T10:00:00Z", 15, 15, 10_000), chrono_tz::UTC);
    assert_eq!((totals(&b), b.bound), ((d("1.00"), d("1.20")), None));
    // 30 kWh: 12.00 above the maximum of 10.00 (12.00 with tax as stated).
    let b = bill(&t, &session("2026-12-07T10:00:00Z", 180, 180, 10_000), chrono_tz::UTC);
    assert_eq!((totals(&b), b.bound), ((d("10.00"), d("12.00")), Some(Bound::MaxPrice)));
    // Nothing charged still costs the minimum.
    let b = bill(&t, &session("2026-12-07T10:00:00Z", 10, 0, 0), chrono_tz::UTC);
    assert_eq!((totals(&b), b.bound), ((d("1.00"), d("1.20")), Some(Bound::MinPrice)));
}

#[test]
fn parking_time_and_flat_fee() {
    let t = tariff(vec![element(
        vec![
            component(Dimension::Flat, "0.50", 1),
            component(Dimension::Time, "1.00", 1),
            component(Dimension::ParkingTime, "3.00", 60),
        ],
        Restrictions::default(),
    )]);
    // Charges for 60 minutes, then stays plugged in 30 more.
    let b = bill(&t, &session("2026-12-07T10:00:00Z", 90, 60, 7_000), chrono_tz::UTC);
    assert_eq!((b.charging_ms, b.parking_ms), (3_600_000, 1_800_000));
    assert_eq!(volume(&b, Dimension::Flat, 0), d("1"));
    // 0.50 + 1.00 + 1.50
    assert_eq!(totals(&b).0, d("3.00"));
    let dims: Vec<Dimension> = b.dimensions.iter().map(|(dim, _)| *dim).collect();
    assert_eq!(dims, vec![Dimension::Flat, Dimension::ParkingTime, Dimension::Time]);
    assert_eq!(b.periods.len(), 2);
    assert_eq!(b.periods[1].parking_ms, 1_800_000);
}

#[test]
fn kwh_and_power_bands_split_within_a_stretch() {
    // First 5 kWh at 0.20, the rest at 0.30: the bound falls between two readings.
    let first = Restrictions { max_kwh: Some(d("5")), ..Default::default() };
    let t = tariff(vec![
        element(vec![component(Dimension::Energy, "0.20", 1)], first),
        element(vec![component(Dimension::Energy, "0.30", 1)], Restrictions::default()),
    ]);
    let b = bill(&t, &session("2026-12-07T10:00:00Z", 60, 60, 7_000), chrono_tz::UTC);
    assert_eq!(volume(&b, Dimension::Energy, 0), d("5000"));
    assert_eq!(volume(&b, Dimension::Energy, 1), d("2000"));
    // Fast charging (≥ 50 kW) costs more.
    let fast = Restrictions { min_power: Some(d("50")), ..Default::default() };
    let t = tariff(vec![
        element(vec![component(Dimension::Energy, "0.59", 1)], fast),
        element(vec![component(Dimension::Energy, "0.39", 1)], Restrictions::default()),
    ]);
    let b = bill(&t, &session("2026-12-07T10:00:00Z", 30, 30, 50_000), chrono_tz::UTC);
    assert_eq!(volume(&b, Dimension::Energy, 0), d("25000"));
    let b = bill(&t, &session("2026-12-07T10:00:00Z", 30, 30, 49_999), chrono_tz::UTC);
    assert_eq!(volume(&b, Dimension::Energy, 0), Decimal::ZERO);
    assert_eq!(b.peak_power_w, Some(d("49999")));
}

#[test]
fn a_reported_power_is_the_periods_maximum_over_one_derived_from_the_register() {
    // The start has no reading: the register's first rise, 1 kWh in a second, would say 3.6 MW.
    let start = utc("2026-12-07T10:00:00Z");
    let point = |seconds: i64, wh: &str| Point {
        at: start + chrono::Duration::seconds(seconds),
        register_wh: Some(d(wh)),
        power_w: Some(d("7200")),
        current_a: None,
    };
    let points = vec![point(1, "101000"), point(301, "101600"), point(601, "102200")];
    let stop = start + chrono::Duration::seconds(601);
    let s = (start, stop, points, d("2200"));
    let b = bill(
        &tariff(vec![element(vec![component(Dimension::Energy, "0.30", 1)], Restrictions::default())]),
        &s,
        chrono_tz::UTC,
    );
    assert_eq!(b.peak_power_w, Some(d("7200")));
    assert_eq!(b.periods.len(), 1, "{:?}", b.periods);
    assert_eq!(b.periods[0].max_power_w, Some(d("7200")), "the period says what the peak says");
    // Without any reported power, the register's mean is all there is.
    let derived: Vec<Point> = s.2.iter().map(|p| Point { power_w: None, ..*p }).collect();
    let b = bill(&tariff(Vec::new()), &(start, stop, derived, d("2200")), chrono_tz::UTC);
    assert_eq!(b.periods[0].max_power_w, Some(d("3600000")), "{:?}", b.periods);
}

#[test]
fn dates_reservations_and_currencies() {
    let december = Restrictions {
        start_date: chrono::NaiveDate::from_ymd_opt(2026, 12, 1),
        end_date: chrono::NaiveDate::from_ymd_opt(2026, 12, 8),
        ..Default::default()
    };
    let reserved = Restrictions { reservation: Some("RESERVATION".into()), ..Default::default() };
    let mut t = tariff(vec![
        element(vec![component(Dimension::Energy, "9.99", 1)], reserved),
        element(vec![component(Dimension::Energy, "0.10", 1)], december),
        element(vec![component(Dimension::Energy, "0.30", 1)], Restrictions::default()),
    ]);
    // 2026-12-07 23:00 to 12-08 01:00 UTC at 1 kW: the end date is exclusive.
    let s = session("2026-12-07T23:00:00Z", 120, 120, 1_000);
    let b = bill(&t, &s, chrono_tz::UTC);
    assert_eq!(volume(&b, Dimension::Energy, 1), d("1000"));
    assert_eq!(volume(&b, Dimension::Energy, 2), d("1000"));
    assert_eq!(volume(&b, Dimension::Energy, 0), Decimal::ZERO);
    // Yen have no minor unit: 2 kWh × 33.5 = 67 exactly, 2 × 33.25 = 66.5 → 67 (half away).
    t.currency = "JPY".into();
    t.elements = vec![element(vec![component(Dimension::Energy, "33.25", 1)], Restrictions::default())];
    assert_eq!(totals(&bill(&t, &s, chrono_tz::UTC)).0, d("67"));
    assert_eq!(round_money(d("0.125"), "EUR"), d("0.13"));
    assert_eq!(round_money(d("-0.125"), "EUR"), d("-0.13"));
    assert_eq!(round_money(d("1.0005"), "KWD"), d("1.001"));
}

#[test]
fn readings_that_go_backwards_or_lack_registers_do_not_change_the_energy_billed() {
    let t = tariff(vec![element(vec![component(Dimension::Energy, "1", 1)], Restrictions::default())]);
    let (from, to, mut points, energy) = session("2026-12-07T10:00:00Z", 60, 60, 6_000);
    points[3].register_wh = Some(d("99000"));
    points[5].register_wh = None;
    let b = price(
        &t,
        &Usage {
            started_at: from,
            stopped_at: to,
            meter_start_wh: Some(d("100000")),
            energy_wh: energy,
            points: &points,
        },
        chrono_tz::UTC,
    );
    assert_eq!(volume(&b, Dimension::Energy, 0), d("6000"));
    assert_eq!(b.energy_wh, d("6000"));
    let periods: Decimal = b.periods.iter().map(|p| p.energy_wh).sum();
    assert_eq!(periods, d("6000"));
}

#[test]
fn checks_refuse_what_ocpi_does_not_allow() {
    let good = tariff(vec![element(vec![component(Dimension::Energy, "0.3", 1)], Restrictions::default())]);
    assert_eq!(check(&good), Ok(()));
    type Breaker = fn(&mut Tariff);
    let cases: Vec<(&str, Breaker)> = vec![
        ("id", |t| t.id = String::new()),
        ("currency", |t| t.currency = "eur".into()),
        ("elements", |t| t.elements.clear()),
        ("price_components", |t| t.elements[0].price_components.clear()),
        ("negative", |t| t.elements[0].price_components[0].price = d("-1")),
        ("step_size", |t| t.elements[0].price_components[0].step_size = 0),
        ("vat", |t| t.elements[0].price_components[0].vat = Some(d("101"))),
        ("end_date", |t| {
            t.elements[0].restrictions.start_date = chrono::NaiveDate::from_ymd_opt(2026, 1, 2);
            t.elements[0].restrictions.end_date = chrono::NaiveDate::from_ymd_opt(2026, 1, 2);
        }),
        ("min_price", |t| {
            t.min_price = Some(Price { excl_vat: d("5"), incl_vat: None });
            t.max_price = Some(Price { excl_vat: d("4"), incl_vat: None });
        }),
        ("stations", |t| t.stations = Some(vec![])),
    ];
    for (word, breaker) in cases {
        let mut t = good.clone();
        breaker(&mut t);
        let e = check(&t).expect_err(word);
        assert!(e.contains(word), "{word}: {e}");
    }
}

#[test]
fn selection_prefers_the_station_then_the_group_then_the_latest() {
    let at = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).single().expect("time");
    let mut all = tariff(vec![]);
    all.id = "ALL".into();
    let mut group = all.clone();
    group.id = "FLEET".into();
    group.id_token_groups = Some(vec!["fleet".into()]);
    let mut station = all.clone();
    station.id = "CS1".into();
    station.stations = Some(vec!["CS1".into()]);
    let mut newer = all.clone();
    newer.id = "NEWER".into();
    newer.start_date_time = Some(at - chrono::Duration::days(1));
    let mut expired = station.clone();
    expired.id = "OLD".into();
    expired.end_date_time = Some(at);
    let tariffs = vec![all.clone(), group, station, newer, expired];
    let chosen = |s: &str, g: Option<&str>| select(&tariffs, s, g, at).map(|t| t.id.as_str());
    assert_eq!(chosen("CS1", Some("fleet")), Some("CS1"));
    assert_eq!(chosen("CS2", Some("fleet")), Some("FLEET"));
    assert_eq!(chosen("CS2", Some("other")), Some("NEWER"));
    assert_eq!(chosen("CS2", None), Some("NEWER"));
    assert_eq!(select(&tariffs[..1], "CS2", None, at).map(|t| t.id.as_str()), Some("ALL"));
    assert_eq!(select(&tariffs[2..3], "CS2", None, at), None);
}
