//! Tariffs in the OCPI 2.2.1 element model, and which one prices a session.
//!
//! A tariff is a list of elements, each with price components (ENERGY per kWh, TIME per hour of
//! charging, PARKING_TIME per hour connected but not charging, FLAT once per session) and
//! restrictions saying when it applies (time of day, weekday, dates, energy so far, power,
//! current, duration). Money is `Decimal`, never a float: a price is kept exactly as the operator
//! wrote it and every step of a bill is exact until the one rounding per dimension
//! (`pricing`). Ström adds to the OCPI object the stations a tariff is for, the id-token groups
//! it is for, a tariff-wide tax rate for components that state none, and whether prices include
//! the tax (OCPI 2.3's `tax_included`); the JSON is the store's (`csms_store::ocpi`).

pub mod pricing;

use crate::Timestamp;
use chrono::{NaiveDate, NaiveTime, Weekday};
pub use rust_decimal::Decimal;

/// A dimension a price component prices (OCPI `TariffDimensionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    /// Per kWh; step size in Wh.
    Energy,
    /// Once per session; no step size.
    Flat,
    /// Per hour connected but not charging; step size in seconds.
    ParkingTime,
    /// Per hour charging; step size in seconds.
    Time,
}

impl Dimension {
    pub const ALL: [Dimension; 4] = [Dimension::Energy, Dimension::Flat, Dimension::ParkingTime, Dimension::Time];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Energy => "ENERGY",
            Dimension::Flat => "FLAT",
            Dimension::ParkingTime => "PARKING_TIME",
            Dimension::Time => "TIME",
        }
    }

    pub fn parse(text: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.as_str() == text)
    }
}

/// One price of an element (OCPI `PriceComponent`).
#[derive(Debug, Clone, PartialEq)]
pub struct PriceComponent {
    pub dimension: Dimension,
    /// Per unit (kWh or hour; per session for FLAT), excluding the tax unless the tariff's
    /// prices include it.
    pub price: Decimal,
    /// The tax rate in percent; `None` takes the tariff's `tax_rate`, and without one no tax.
    pub vat: Option<Decimal>,
    /// Billed in blocks of this many Wh or seconds (OCPI: at least 1).
    pub step_size: u32,
}

/// When an element applies (OCPI `TariffRestrictions`). Times and dates are local to the
/// station's time zone. Every bound given must hold; `max_*` bounds are exclusive, as OCPI says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Restrictions {
    pub start_time: Option<NaiveTime>,
    /// An end before the start spans midnight (22:00–06:00).
    pub end_time: Option<NaiveTime>,
    pub start_date: Option<NaiveDate>,
    /// Exclusive: the element applies until this date begins.
    pub end_date: Option<NaiveDate>,
    pub min_kwh: Option<Decimal>,
    pub max_kwh: Option<Decimal>,
    pub min_current: Option<Decimal>,
    pub max_current: Option<Decimal>,
    pub min_power: Option<Decimal>,
    pub max_power: Option<Decimal>,
    /// Seconds since the session began.
    pub min_duration: Option<i64>,
    pub max_duration: Option<i64>,
    pub day_of_week: Vec<Weekday>,
    /// OCPI's RESERVATION / RESERVATION_EXPIRES: Ström bills no reservation, so such an element
    /// never applies to a charging session.
    pub reservation: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub price_components: Vec<PriceComponent>,
    pub restrictions: Restrictions,
}

/// An amount before and after tax (OCPI `Price`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    pub excl_vat: Decimal,
    pub incl_vat: Option<Decimal>,
}

/// A tariff as Ström applies it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tariff {
    pub id: String,
    /// ISO 4217, upper case.
    pub currency: String,
    pub elements: Vec<Element>,
    pub min_price: Option<Price>,
    pub max_price: Option<Price>,
    /// Ström: the tax rate in percent of components that state no `vat`.
    pub tax_rate: Option<Decimal>,
    /// Ström / OCPI 2.3 `tax_included`: the prices include the tax.
    pub tax_included: bool,
    /// OCPI validity: sessions that begin in [start, end) use it.
    pub start_date_time: Option<Timestamp>,
    pub end_date_time: Option<Timestamp>,
    /// Ström: the stations it is for; `None` is every station without a tariff of its own.
    pub stations: Option<Vec<String>>,
    /// Ström: the id-token groups it is for; `None` is every driver.
    pub id_token_groups: Option<Vec<String>>,
}

impl Tariff {
    /// A tariff that prices nothing: a session no tariff applies to is measured with it (its
    /// charging periods and times), at no cost.
    pub fn unpriced() -> Tariff {
        Tariff {
            id: String::new(),
            currency: String::new(),
            elements: Vec::new(),
            min_price: None,
            max_price: None,
            tax_rate: None,
            tax_included: false,
            start_date_time: None,
            end_date_time: None,
            stations: None,
            id_token_groups: None,
        }
    }
}

/// The digits after the decimal point of a currency's minor unit (ISO 4217), to which each
/// dimension's amount is rounded: 2 unless the currency is listed here.
pub fn minor_unit_digits(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
        | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// Rounds an amount to the currency's minor unit, half away from zero (commercial rounding).
pub fn round_money(amount: Decimal, currency: &str) -> Decimal {
    amount.round_dp_with_strategy(minor_unit_digits(currency), rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// What is wrong with a tariff, for the operator (a 422 with this text).
pub fn check(tariff: &Tariff) -> Result<(), String> {
    let id_ok = !tariff.id.is_empty() && tariff.id.len() <= 36 && tariff.id.bytes().all(|b| b.is_ascii_graphic());
    if !id_ok {
        return Err("id must be 1 to 36 printable ASCII characters".into());
    }
    if tariff.currency.len() != 3 || !tariff.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!("currency {:?} is not an ISO 4217 code (three capital letters)", tariff.currency));
    }
    if tariff.elements.is_empty() {
        return Err("elements must hold at least one element".into());
    }
    for (i, element) in tariff.elements.iter().enumerate() {
        if element.price_components.is_empty() {
            return Err(format!("elements[{i}].price_components must hold at least one price component"));
        }
        for (j, c) in element.price_components.iter().enumerate() {
            let at = format!("elements[{i}].price_components[{j}]");
            if c.price.is_sign_negative() {
                return Err(format!("{at}.price must not be negative"));
            }
            if c.step_size == 0 {
                return Err(format!("{at}.step_size must be at least 1"));
            }
            if c.vat.is_some_and(|v| v.is_sign_negative() || v > Decimal::ONE_HUNDRED) {
                return Err(format!("{at}.vat must be a percentage from 0 to 100"));
            }
        }
        check_restrictions(&element.restrictions).map_err(|e| format!("elements[{i}].restrictions: {e}"))?;
    }
    if tariff.tax_rate.is_some_and(|v| v.is_sign_negative() || v > Decimal::ONE_HUNDRED) {
        return Err("tax_rate must be a percentage from 0 to 100".into());
    }
    for (name, price) in [("min_price", tariff.min_price), ("max_price", tariff.max_price)] {
        if let Some(p) = price {
            if p.excl_vat.is_sign_negative() || p.incl_vat.is_some_and(|v| v < p.excl_vat) {
                return Err(format!("{name} must not be negative, and incl_vat not below excl_vat"));
            }
        }
    }
    if let (Some(min), Some(max)) = (tariff.min_price, tariff.max_price) {
        if min.excl_vat > max.excl_vat {
            return Err("min_price must not exceed max_price".into());
        }
    }
    if let (Some(start), Some(end)) = (tariff.start_date_time, tariff.end_date_time) {
        if end <= start {
            return Err("end_date_time must be after start_date_time".into());
        }
    }
    for (name, list) in [("stations", &tariff.stations), ("id_token_groups", &tariff.id_token_groups)] {
        if list.as_ref().is_some_and(|l| l.is_empty() || l.iter().any(|s| s.is_empty())) {
            return Err(format!("{name}, when given, must list at least one non-empty value (omit it for all)"));
        }
    }
    Ok(())
}

fn check_restrictions(r: &Restrictions) -> Result<(), String> {
    let pairs: [(&str, Option<Decimal>, Option<Decimal>); 3] =
        [("kwh", r.min_kwh, r.max_kwh), ("current", r.min_current, r.max_current), ("power", r.min_power, r.max_power)];
    for (name, min, max) in pairs {
        if min.is_some_and(|v| v.is_sign_negative()) || max.is_some_and(|v| v.is_sign_negative()) {
            return Err(format!("min_{name} and max_{name} must not be negative"));
        }
    }
    if r.min_duration.is_some_and(|v| v < 0) || r.max_duration.is_some_and(|v| v < 0) {
        return Err("min_duration and max_duration must not be negative".into());
    }
    if let (Some(start), Some(end)) = (r.start_date, r.end_date) {
        if end <= start {
            return Err("end_date must be after start_date".into());
        }
    }
    Ok(())
}

/// Which tariff prices a session at `station` begun at `at` by a token of `group` (its group id
/// token, if any): among those valid then, one for the station before one for all stations, and
/// at each of those one for the token's group before one for every driver; among equals the one
/// whose validity began last, then the smallest id, so that the choice never depends on order.
pub fn select<'t>(tariffs: &'t [Tariff], station: &str, group: Option<&str>, at: Timestamp) -> Option<&'t Tariff> {
    tariffs
        .iter()
        .filter(|t| t.start_date_time.is_none_or(|s| s <= at) && t.end_date_time.is_none_or(|e| at < e))
        .filter_map(|t| {
            let for_station = match &t.stations {
                Some(list) if list.iter().any(|s| s == station) => true,
                Some(_) => return None,
                None => false,
            };
            let for_group = match (&t.id_token_groups, group) {
                (Some(list), Some(g)) if list.iter().any(|x| x == g) => true,
                (Some(_), _) => return None,
                (None, _) => false,
            };
            Some(((for_station, for_group, t.start_date_time), t))
        })
        .max_by(|(a, ta), (b, tb)| a.cmp(b).then_with(|| tb.id.cmp(&ta.id)))
        .map(|(_, t)| t)
}

#[cfg(test)]
mod tests;
