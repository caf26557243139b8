//! Tariffs as JSON: the OCPI 2.2.1 Tariff object with Ström's fields, read into
//! `csms_core::tariffs::Tariff`. The API checks a body with it before saving the body as sent;
//! the writer reads the saved body with it when it prices a session, so one reading decides
//! both. Every number that is money or a bound is read from its text as written (a decimal),
//! never through a float.

use csms_core::tariffs::{self, Decimal, Dimension, Element, Price, PriceComponent, Restrictions, Tariff};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::str::FromStr;

#[derive(Deserialize)]
struct TariffIn<'a> {
    id: Option<String>,
    currency: String,
    #[serde(borrow)]
    elements: Vec<ElementIn<'a>>,
    #[serde(borrow)]
    min_price: Option<PriceIn<'a>>,
    #[serde(borrow)]
    max_price: Option<PriceIn<'a>>,
    #[serde(borrow)]
    tax_rate: Option<&'a RawValue>,
    tax_included: Option<TaxIncluded>,
    start_date_time: Option<String>,
    end_date_time: Option<String>,
    stations: Option<Vec<String>>,
    id_token_groups: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TaxIncluded {
    Flag(bool),
    /// OCPI 2.3: YES, NO or N/A.
    Word(String),
}

#[derive(Deserialize)]
struct ElementIn<'a> {
    #[serde(borrow)]
    price_components: Vec<ComponentIn<'a>>,
    #[serde(borrow)]
    restrictions: Option<RestrictionsIn<'a>>,
}

#[derive(Deserialize)]
struct ComponentIn<'a> {
    #[serde(rename = "type")]
    dimension: String,
    #[serde(borrow)]
    price: &'a RawValue,
    #[serde(borrow)]
    vat: Option<&'a RawValue>,
    step_size: u32,
}

#[derive(Deserialize)]
struct PriceIn<'a> {
    #[serde(borrow)]
    excl_vat: &'a RawValue,
    #[serde(borrow)]
    incl_vat: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct RestrictionsIn<'a> {
    start_time: Option<String>,
    end_time: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    #[serde(borrow)]
    min_kwh: Option<&'a RawValue>,
    #[serde(borrow)]
    max_kwh: Option<&'a RawValue>,
    #[serde(borrow)]
    min_current: Option<&'a RawValue>,
    #[serde(borrow)]
    max_current: Option<&'a RawValue>,
    #[serde(borrow)]
    min_power: Option<&'a RawValue>,
    #[serde(borrow)]
    max_power: Option<&'a RawValue>,
    min_duration: Option<i64>,
    max_duration: Option<i64>,
    #[serde(default)]
    day_of_week: Vec<String>,
    reservation: Option<String>,
}

/// A JSON number read exactly; `what` names it in the error.
pub fn decimal(raw: &RawValue, what: &str) -> Result<Decimal, String> {
    let text = raw.get();
    let is_number = text.starts_with(|c: char| c == '-' || c.is_ascii_digit());
    let parsed =
        if is_number { Decimal::from_str(text).or_else(|_| Decimal::from_scientific(text)).ok() } else { None };
    parsed.ok_or_else(|| format!("{what} must be a number (at most 28 significant digits), not {text}"))
}

fn opt_decimal(raw: Option<&RawValue>, what: &str) -> Result<Option<Decimal>, String> {
    raw.map(|r| decimal(r, what)).transpose()
}

fn price(p: Option<PriceIn>, what: &str) -> Result<Option<Price>, String> {
    p.map(|p| {
        Ok(Price {
            excl_vat: decimal(p.excl_vat, &format!("{what}.excl_vat"))?,
            incl_vat: opt_decimal(p.incl_vat, &format!("{what}.incl_vat"))?,
        })
    })
    .transpose()
}

fn time(text: Option<String>, what: &str) -> Result<Option<chrono::NaiveTime>, String> {
    text.map(|t| {
        // OCPI: "HH:MM", 24-hour clock.
        let ok = t.len() == 5 && t.as_bytes()[2] == b':';
        ok.then(|| chrono::NaiveTime::parse_from_str(&t, "%H:%M").ok())
            .flatten()
            .ok_or_else(|| format!("{what} must be a time as HH:MM, not {t:?}"))
    })
    .transpose()
}

fn date(text: Option<String>, what: &str) -> Result<Option<chrono::NaiveDate>, String> {
    text.map(|d| {
        chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
            .map_err(|_| format!("{what} must be a date as YYYY-MM-DD, not {d:?}"))
    })
    .transpose()
}

fn weekday(text: &str) -> Result<chrono::Weekday, String> {
    use chrono::Weekday::*;
    let days = [
        ("MONDAY", Mon),
        ("TUESDAY", Tue),
        ("WEDNESDAY", Wed),
        ("THURSDAY", Thu),
        ("FRIDAY", Fri),
        ("SATURDAY", Sat),
        ("SUNDAY", Sun),
    ];
    days.iter().find(|(name, _)| *name == text).map(|(_, d)| *d).ok_or_else(|| {
        format!(
            "day_of_week holds {text:?}; the days are MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY"
        )
    })
}

fn restrictions(r: Option<RestrictionsIn>, at: &str) -> Result<Restrictions, String> {
    let r = r.unwrap_or_default();
    let what = |field: &str| format!("{at}.restrictions.{field}");
    if let Some(kind) = r.reservation.as_deref() {
        if kind != "RESERVATION" && kind != "RESERVATION_EXPIRES" {
            return Err(format!("{} must be RESERVATION or RESERVATION_EXPIRES, not {kind:?}", what("reservation")));
        }
    }
    Ok(Restrictions {
        start_time: time(r.start_time, &what("start_time"))?,
        end_time: time(r.end_time, &what("end_time"))?,
        start_date: date(r.start_date, &what("start_date"))?,
        end_date: date(r.end_date, &what("end_date"))?,
        min_kwh: opt_decimal(r.min_kwh, &what("min_kwh"))?,
        max_kwh: opt_decimal(r.max_kwh, &what("max_kwh"))?,
        min_current: opt_decimal(r.min_current, &what("min_current"))?,
        max_current: opt_decimal(r.max_current, &what("max_current"))?,
        min_power: opt_decimal(r.min_power, &what("min_power"))?,
        max_power: opt_decimal(r.max_power, &what("max_power"))?,
        min_duration: r.min_duration,
        max_duration: r.max_duration,
        day_of_week: r.day_of_week.iter().map(|d| weekday(d)).collect::<Result<_, _>>()?,
        reservation: r.reservation,
    })
}

fn timestamp(text: Option<String>, what: &str) -> Result<Option<csms_core::Timestamp>, String> {
    text.map(|t| {
        chrono::DateTime::parse_from_rfc3339(&t)
            .map(|d| d.with_timezone(&chrono::Utc))
            .map_err(|_| format!("{what} must be an RFC 3339 date and time, not {t:?}"))
    })
    .transpose()
}

/// Reads a tariff from its JSON text and checks it (`tariffs::check`); `id` is the one the
/// request's path names, which the body may leave out but not contradict.
pub fn parse_tariff(body: &str, id: Option<&str>) -> Result<Tariff, String> {
    let t: TariffIn = serde_json::from_str(body).map_err(|e| format!("not a tariff: {e}"))?;
    let id = match (t.id, id) {
        (Some(given), Some(path)) if given != path => {
            return Err(format!("the body's id {given:?} is not the path's {path:?}"));
        }
        (Some(given), _) => given,
        (None, Some(path)) => path.to_string(),
        (None, None) => return Err("id is missing".into()),
    };
    let mut elements = Vec::with_capacity(t.elements.len());
    for (i, e) in t.elements.into_iter().enumerate() {
        let at = format!("elements[{i}]");
        let mut components = Vec::with_capacity(e.price_components.len());
        for (j, c) in e.price_components.into_iter().enumerate() {
            let what = format!("{at}.price_components[{j}]");
            let dimension = Dimension::parse(&c.dimension).ok_or_else(|| {
                format!("{what}.type is {:?}; the types are ENERGY, FLAT, PARKING_TIME, TIME", c.dimension)
            })?;
            components.push(PriceComponent {
                dimension,
                price: decimal(c.price, &format!("{what}.price"))?,
                vat: opt_decimal(c.vat, &format!("{what}.vat"))?,
                step_size: c.step_size,
            });
        }
        elements.push(Element { price_components: components, restrictions: restrictions(e.restrictions, &at)? });
    }
    let tax_included = match t.tax_included {
        None | Some(TaxIncluded::Flag(false)) => false,
        Some(TaxIncluded::Flag(true)) => true,
        Some(TaxIncluded::Word(w)) => match w.as_str() {
            "YES" => true,
            "NO" | "N/A" => false,
            _ => return Err(format!("tax_included must be true, false, YES, NO or N/A, not {w:?}")),
        },
    };
    let tariff = Tariff {
        id,
        currency: t.currency,
        elements,
        min_price: price(t.min_price, "min_price")?,
        max_price: price(t.max_price, "max_price")?,
        tax_rate: opt_decimal(t.tax_rate, "tax_rate")?,
        tax_included,
        start_date_time: timestamp(t.start_date_time, "start_date_time")?,
        end_date_time: timestamp(t.end_date_time, "end_date_time")?,
        stations: t.stations,
        id_token_groups: t.id_token_groups,
    };
    tariffs::check(&tariff)?;
    Ok(tariff)
}

/// A decimal as a JSON number (for showing: a float's shortest text, which is the decimal's
/// own for the money and volumes a record holds).
pub fn number(d: Decimal) -> serde_json::Value {
    serde_json::Number::from_str(&d.normalize().to_string()).map(serde_json::Value::Number).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"id": "T1", "currency": "EUR", "country_code": "DE", "party_id": "STR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.1234567890123456789, "vat": 19, "step_size": 1}],
                      "restrictions": {"start_time": "08:00", "end_time": "20:00", "day_of_week": ["MONDAY"], "min_kwh": 1E1}}],
        "min_price": {"excl_vat": 0.5}, "tax_included": "NO", "stations": ["CS1"]}"#;

    #[test]
    fn reads_numbers_exactly_and_keeps_what_it_does_not_use() {
        let t = parse_tariff(GOOD, Some("T1")).expect("tariff");
        let c = &t.elements[0].price_components[0];
        assert_eq!(c.price.to_string(), "0.1234567890123456789");
        assert_eq!(c.vat, Some(Decimal::from(19)));
        assert_eq!(t.elements[0].restrictions.min_kwh, Some(Decimal::from(10)));
        assert_eq!(t.elements[0].restrictions.day_of_week, vec![chrono::Weekday::Mon]);
        assert_eq!(t.stations, Some(vec!["CS1".to_string()]));
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let cases = [
            (GOOD, Some("T2"), "path"),
            (r#"{"currency": "EUR", "elements": []}"#, None, "id is missing"),
            (&GOOD.replace("\"ENERGY\"", "\"POWER\""), None, "type"),
            (&GOOD.replace("0.1234567890123456789", "\"0.12\""), None, "must be a number"),
            (&GOOD.replace("\"08:00\"", "\"8:00\""), None, "HH:MM"),
            (&GOOD.replace("MONDAY", "Monday"), None, "day_of_week"),
            (&GOOD.replace("\"NO\"", "\"MAYBE\""), None, "tax_included"),
            (&GOOD.replace("\"EUR\"", "\"euro\""), None, "currency"),
            (&GOOD.replace("\"step_size\": 1", "\"step_size\": 0"), None, "step_size"),
            ("[]", None, "not a tariff"),
        ];
        for (body, id, expected) in cases {
            let e = parse_tariff(body, id).expect_err(expected);
            assert!(e.contains(expected), "{expected}: {e}");
        }
    }
}
