//! Alert rules: conditions over faults and connections that an operator wants to hear about,
//! and which alerts they make. A rule is checked periodically (`csms-webhooks`' alerter, against
//! the store); each subject it holds for (a fault, a station) gets one alert, raised once and
//! resolved when the condition ends. Alerts are domain events (`alert.raised`,
//! `alert.resolved`), so they reach the event stream, webhooks and the dashboard.

use crate::fault_kinds::FaultCategory;

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// A fault (of `category`, if given) open longer than `minutes`: one alert per fault.
    FaultOpenLonger { category: Option<FaultCategory>, minutes: i64 },
    /// A station whose connection is lost (or silent) longer than `minutes`: one per station.
    StationOfflineLonger { minutes: i64 },
    /// More than `count` faults begun at a station within the last 24 hours: one per station.
    FaultsPerDay { count: i64 },
}

impl Condition {
    pub const KINDS: &'static [&'static str] = &["fault_open_longer", "station_offline_longer", "faults_per_day"];

    /// From the API's fields: `kind`, and `category`, `minutes`, `count` as the kind needs them.
    pub fn from_parts(
        kind: &str,
        category: Option<&str>,
        minutes: Option<i64>,
        count: Option<i64>,
    ) -> Result<Condition, String> {
        let minutes_ok = |m: Option<i64>| match m {
            Some(m) if (1..=525_600).contains(&m) => Ok(m),
            _ => Err(format!("{kind} needs minutes, 1 to 525600")),
        };
        let category = match category {
            None => None,
            Some(c) => Some(FaultCategory::parse(c).ok_or_else(|| {
                let known: Vec<&str> = FaultCategory::ALL.iter().map(|c| c.as_str()).collect();
                format!("category must be one of {}, not {c:?}", known.join(", "))
            })?),
        };
        let condition = match kind {
            "fault_open_longer" => Condition::FaultOpenLonger { category, minutes: minutes_ok(minutes)? },
            "station_offline_longer" => Condition::StationOfflineLonger { minutes: minutes_ok(minutes)? },
            "faults_per_day" => match count {
                Some(count) if (1..=100_000).contains(&count) => Condition::FaultsPerDay { count },
                _ => return Err("faults_per_day needs count, 1 to 100000".into()),
            },
            other => return Err(format!("kind must be one of {}, not {other:?}", Condition::KINDS.join(", "))),
        };
        let unused = match condition {
            Condition::FaultOpenLonger { .. } => count.map(|_| "count"),
            Condition::StationOfflineLonger { .. } => category.map(|_| "category").or(count.map(|_| "count")),
            Condition::FaultsPerDay { .. } => category.map(|_| "category").or(minutes.map(|_| "minutes")),
        };
        match unused {
            Some(field) => Err(format!("{kind} takes no {field}")),
            None => Ok(condition),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Condition::FaultOpenLonger { .. } => "fault_open_longer",
            Condition::StationOfflineLonger { .. } => "station_offline_longer",
            Condition::FaultsPerDay { .. } => "faults_per_day",
        }
    }

    pub fn category(&self) -> Option<FaultCategory> {
        match self {
            Condition::FaultOpenLonger { category, .. } => *category,
            _ => None,
        }
    }

    pub fn minutes(&self) -> Option<i64> {
        match self {
            Condition::FaultOpenLonger { minutes, .. } | Condition::StationOfflineLonger { minutes } => Some(*minutes),
            Condition::FaultsPerDay { .. } => None,
        }
    }

    pub fn count(&self) -> Option<i64> {
        match self {
            Condition::FaultsPerDay { count } => Some(*count),
            _ => None,
        }
    }
}

/// An alert that holds now: its rule, its subject (`fault:ID` or `station:ID`), the station, since
/// when, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub rule_id: i64,
    pub subject: String,
    pub station_id: String,
    pub since: String,
    pub detail: String,
}

/// What changes: the alerts to raise (holding now, not open yet) and the open ones (by their
/// id, with their rule and subject) to resolve (no longer holding, or their rule is gone).
pub fn changes<'a>(open: &'a [(i64, i64, String)], holding: &'a [Holding]) -> (Vec<&'a Holding>, Vec<i64>) {
    let raise = holding
        .iter()
        .filter(|h| !open.iter().any(|(_, rule, subject)| *rule == h.rule_id && *subject == h.subject))
        .collect();
    let resolve = open
        .iter()
        .filter(|(_, rule, subject)| !holding.iter().any(|h| h.rule_id == *rule && h.subject == *subject))
        .map(|(id, _, _)| *id)
        .collect();
    (raise, resolve)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_are_read_with_what_each_kind_needs() {
        assert_eq!(
            Condition::from_parts("fault_open_longer", Some("thermal"), Some(10), None),
            Ok(Condition::FaultOpenLonger { category: Some(FaultCategory::Thermal), minutes: 10 })
        );
        assert_eq!(
            Condition::from_parts("fault_open_longer", None, Some(1), None),
            Ok(Condition::FaultOpenLonger { category: None, minutes: 1 })
        );
        assert_eq!(
            Condition::from_parts("station_offline_longer", None, Some(5), None),
            Ok(Condition::StationOfflineLonger { minutes: 5 })
        );
        assert_eq!(
            Condition::from_parts("faults_per_day", None, None, Some(3)),
            Ok(Condition::FaultsPerDay { count: 3 })
        );
        for (kind, category, minutes, count, says) in [
            ("fault_open_longer", None, None, None, "needs minutes"),
            ("fault_open_longer", None, Some(0), None, "needs minutes"),
            ("fault_open_longer", Some("hot"), Some(1), None, "category must be"),
            ("fault_open_longer", None, Some(1), Some(2), "takes no count"),
            ("station_offline_longer", Some("thermal"), Some(1), None, "takes no category"),
            ("faults_per_day", None, None, Some(0), "needs count"),
            ("faults_per_day", None, Some(5), Some(2), "takes no minutes"),
            ("often", None, None, None, "kind must be one of"),
        ] {
            let got = Condition::from_parts(kind, category, minutes, count);
            assert!(got.as_ref().is_err_and(|e| e.contains(says)), "{kind}: {got:?}");
        }
        let c = Condition::FaultOpenLonger { category: Some(FaultCategory::Meter), minutes: 7 };
        assert_eq!(
            (c.kind(), c.category(), c.minutes(), c.count()),
            ("fault_open_longer", Some(FaultCategory::Meter), Some(7), None)
        );
    }

    #[test]
    fn alerts_are_raised_once_and_resolved_when_they_end() {
        let holding = |rule: i64, subject: &str| Holding {
            rule_id: rule,
            subject: subject.into(),
            station_id: "CP1".into(),
            since: "2026-12-07T10:00:00.000Z".into(),
            detail: String::new(),
        };
        let now = [holding(1, "fault:7"), holding(1, "fault:8"), holding(2, "station:CP1")];
        let open =
            [(100, 1, "fault:7".to_string()), (101, 1, "fault:6".to_string()), (102, 3, "station:CP1".to_string())];
        let (raise, resolve) = changes(&open, &now);
        let raised: Vec<(i64, &str)> = raise.iter().map(|h| (h.rule_id, h.subject.as_str())).collect();
        assert_eq!(raised, [(1, "fault:8"), (2, "station:CP1")]);
        assert_eq!(resolve, [101, 102]);
        let (raise, resolve) = changes(&[], &[]);
        assert!(raise.is_empty() && resolve.is_empty());
    }
}
