//! Availability figures for reports (issue 27 item 5): per connector and station, over a period,
//! how long it was unusable and why, its uptime, its faults by category and the mean time to
//! repair them, counted the way AFIR/NEVI-style uptime reporting counts them (time a charging
//! point was known and not available for charging, against the time it was known).
//!
//! Pure interval arithmetic on milliseconds; the store gathers a station's history (faults,
//! connector statuses) and the API writes the figures out. The rules, for a period [from, to):
//!
//! - A connector is **known** from its first status Ström kept (never before its station was
//!   registered) until `to`, now, or its station's decommissioning, whichever is first. Only
//!   known time counts: a period before anything was known has no uptime at all.
//! - It is **unavailable** in the union of: its station **offline** (Ström's own
//!   `CommunicationLost` faults of the station, from when the connection went until it came
//!   back), **faulted** (a fault of severity Error, the ones that stop charging, at the
//!   connector, its EVSE or the whole station), and an **Unavailable or Faulted status** of the
//!   connector, its EVSE or the station (from the report until the next status of that place;
//!   the status at `from` is the last one before it). Each unavailable millisecond is counted
//!   once, in the first of those three that holds, so the three parts add up to the whole.
//! - **Uptime** is (known − unavailable) / known × 100; none without known time.
//! - **Faults by category**: the faults (any severity) that began in the period, of the
//!   connector, its EVSE or the station; a station's and the network's count each fault once.
//! - **Mean time to repair**: the mean of cleared − started over the faults of severity Error
//!   cleared in the period (per connector those that concern it; per station and network each
//!   fault once).

use crate::fault_kinds::FaultCategory;
use crate::faults::Severity;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// Longest period a report covers: a longer one is cut to the last `MAX_PERIOD_MS` before `to`.
pub const MAX_PERIOD_MS: Millis = 366 * DAY_MS;
/// The period when none is given: the 30 days before `to`.
pub const DEFAULT_PERIOD_MS: Millis = 30 * DAY_MS;
const DAY_MS: Millis = 86_400_000;

/// A half-open span of time [start, end). One whose end is not after its start is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: Millis,
    pub end: Millis,
}

impl Span {
    pub fn new(start: Millis, end: Millis) -> Span {
        Span { start, end }
    }

    pub fn len(self) -> Millis {
        self.end.saturating_sub(self.start).max(0)
    }

    pub fn is_empty(self) -> bool {
        self.end <= self.start
    }
}

/// The union of `spans`: sorted, empty ones dropped, overlapping and touching ones merged.
pub fn union(spans: impl IntoIterator<Item = Span>) -> Vec<Span> {
    let mut sorted: Vec<Span> = spans.into_iter().filter(|s| !s.is_empty()).collect();
    sorted.sort_by_key(|s| (s.start, s.end));
    let mut merged: Vec<Span> = Vec::with_capacity(sorted.len());
    for span in sorted {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// A union cut to `window`.
pub fn clip(spans: &[Span], window: Span) -> Vec<Span> {
    spans
        .iter()
        .map(|s| Span::new(s.start.max(window.start), s.end.min(window.end)))
        .filter(|s| !s.is_empty())
        .collect()
}

/// The union `a` without the union `b`.
pub fn subtract(a: &[Span], b: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for span in a {
        let mut start = span.start;
        for cut in b.iter().filter(|c| c.end > span.start && c.start < span.end) {
            if cut.start > start {
                out.push(Span::new(start, cut.start));
            }
            start = start.max(cut.end);
        }
        if start < span.end {
            out.push(Span::new(start, span.end));
        }
    }
    out
}

pub fn total(spans: &[Span]) -> Millis {
    spans.iter().map(|s| s.len()).sum()
}

/// Where on a station something is: (0, 0) the whole station, (e, 0) EVSE e, (e, c) a connector
/// (a 1.6 connector c is (0, c): 1.6 has no EVSE level).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Place {
    pub evse_id: i64,
    pub connector_id: i64,
}

impl Place {
    pub const STATION: Place = Place { evse_id: 0, connector_id: 0 };

    pub fn new(evse_id: i64, connector_id: i64) -> Place {
        Place { evse_id, connector_id }
    }

    /// Whether what happens here concerns the connector at `connector`: the connector itself,
    /// its EVSE, or the whole station.
    pub fn covers(self, connector: Place) -> bool {
        self == Place::STATION || self == connector || (self.connector_id == 0 && self.evse_id == connector.evse_id)
    }

    pub fn is_connector(self) -> bool {
        self.connector_id > 0
    }
}

/// A connector status that makes it unusable (OCPP 1.6 §7.7 and 2.0.1 ConnectorStatusEnumType).
pub fn status_is_down(status: &str) -> bool {
    matches!(status, "Unavailable" | "Faulted")
}

/// A status a place reported, from `at` until the place's next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChange {
    pub place: Place,
    pub at: Millis,
    pub down: bool,
}

/// A fault record as far as the figures need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultRecord {
    pub place: Place,
    pub category: FaultCategory,
    pub severity: Severity,
    /// Ström's own `CommunicationLost`: the station was offline.
    pub offline: bool,
    pub started_at: Millis,
    pub cleared_at: Option<Millis>,
}

impl FaultRecord {
    /// Whether it stops the connectors it concerns from charging.
    pub fn disables(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The time it lasted; an open one lasts on.
    fn span(&self) -> Span {
        Span::new(self.started_at, self.cleared_at.unwrap_or(Millis::MAX))
    }

    /// Its time to repair, if it is of those counted and was cleared within `period`.
    fn repair(&self, period: Span) -> Option<Millis> {
        let cleared = self.cleared_at?;
        (self.disables() && cleared >= period.start && cleared < period.end)
            .then(|| cleared.saturating_sub(self.started_at).max(0))
    }
}

/// What Ström kept of a station that the figures are made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationHistory {
    pub station_id: String,
    pub created_at: Millis,
    pub decommissioned_at: Option<Millis>,
    /// Every status kept, of every place, in the order they were recorded.
    pub statuses: Vec<StatusChange>,
    pub faults: Vec<FaultRecord>,
}

/// The period of a report and the instant it is made (time after it is not known yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: Millis,
    pub to: Millis,
    pub now: Millis,
}

impl Period {
    /// The period asked for: `to` defaults to now, `from` to `DEFAULT_PERIOD_MS` before `to`;
    /// one longer than `MAX_PERIOD_MS` is cut to that much before `to`. A `from` at or after
    /// `to` is an empty period.
    pub fn asked(from: Option<Millis>, to: Option<Millis>, now: Millis) -> Period {
        let to = to.unwrap_or(now);
        let from = from.unwrap_or(to.saturating_sub(DEFAULT_PERIOD_MS)).max(to.saturating_sub(MAX_PERIOD_MS));
        Period { from, to, now }
    }

    fn span(self) -> Span {
        Span::new(self.from, self.to)
    }

    /// The part of the period Ström can know of something that existed from `since` and, if
    /// decommissioned, until `until`.
    fn known(self, since: Millis, until: Option<Millis>) -> Span {
        let end = self.to.min(self.now).min(until.unwrap_or(Millis::MAX));
        Span::new(self.from.max(since), end)
    }
}

/// How many faults of each category, in `FaultCategory::ALL`'s order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CategoryCounts([u64; 8]);

impl CategoryCounts {
    fn index(category: FaultCategory) -> usize {
        FaultCategory::ALL.iter().position(|c| *c == category).unwrap_or(FaultCategory::ALL.len() - 1)
    }

    pub fn add(&mut self, category: FaultCategory) {
        self.0[Self::index(category)] += 1;
    }

    pub fn get(&self, category: FaultCategory) -> u64 {
        self.0[Self::index(category)]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Every category with its count, zeros too.
    pub fn iter(&self) -> impl Iterator<Item = (FaultCategory, u64)> + '_ {
        FaultCategory::ALL.iter().map(|c| (*c, self.get(*c)))
    }

    fn merge(&mut self, other: &CategoryCounts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }
}

/// The figures of a connector, or summed over a station's or the network's connectors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    pub known_ms: Millis,
    pub offline_ms: Millis,
    pub faulted_ms: Millis,
    pub unavailable_status_ms: Millis,
    pub faults: CategoryCounts,
    /// Faults repaired (cleared) in the period, and their time to repair summed.
    pub repairs: u64,
    pub repair_ms: Millis,
}

impl Figures {
    pub fn unavailable_ms(&self) -> Millis {
        self.offline_ms + self.faulted_ms + self.unavailable_status_ms
    }

    /// (known − unavailable) / known × 100; none without known time.
    pub fn uptime_percent(&self) -> Option<f64> {
        (self.known_ms > 0).then(|| (self.known_ms - self.unavailable_ms()) as f64 * 100.0 / self.known_ms as f64)
    }

    /// The mean time to repair; none without repairs.
    pub fn mttr_ms(&self) -> Option<f64> {
        (self.repairs > 0).then(|| self.repair_ms as f64 / self.repairs as f64)
    }

    fn add_times(&mut self, other: &Figures) {
        self.known_ms += other.known_ms;
        self.offline_ms += other.offline_ms;
        self.faulted_ms += other.faulted_ms;
        self.unavailable_status_ms += other.unavailable_status_ms;
    }

    fn add_faults(&mut self, other: &Figures) {
        self.faults.merge(&other.faults);
        self.repairs += other.repairs;
        self.repair_ms += other.repair_ms;
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorReport {
    pub place: Place,
    /// From when the connector is known in the period; none if not at all.
    pub known_from: Option<Millis>,
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StationReport {
    pub station_id: String,
    /// The station itself: the time it was known in the period, and offline in it.
    pub station_known_ms: Millis,
    pub station_offline_ms: Millis,
    pub connectors: Vec<ConnectorReport>,
    /// Times summed over its connectors; faults and repairs of the station, each once.
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetworkReport {
    pub period: Period,
    pub stations: Vec<StationReport>,
    pub station_known_ms: Millis,
    pub station_offline_ms: Millis,
    pub connectors: usize,
    pub totals: Figures,
}

/// The down spans each place's statuses give, and the first status of each place.
fn status_spans(statuses: &[StatusChange]) -> Vec<(Place, Millis, Vec<Span>)> {
    let mut places: Vec<Place> = statuses.iter().map(|s| s.place).collect();
    places.sort();
    places.dedup();
    places
        .into_iter()
        .map(|place| {
            let mut own: Vec<&StatusChange> = statuses.iter().filter(|s| s.place == place).collect();
            // Stable: of statuses at the same instant, the one recorded last holds.
            own.sort_by_key(|s| s.at);
            let spans = own
                .iter()
                .enumerate()
                .filter(|(_, s)| s.down)
                .map(|(i, s)| Span::new(s.at, own.get(i + 1).map_or(Millis::MAX, |next| next.at)))
                .collect();
            (place, own[0].at, spans)
        })
        .collect()
}

pub fn station_report(history: &StationHistory, period: Period) -> StationReport {
    let span = period.span();
    let station_known = period.known(history.created_at, history.decommissioned_at);
    let offline = union(history.faults.iter().filter(|f| f.offline).map(FaultRecord::span));
    let statuses = status_spans(&history.statuses);
    let connectors: Vec<ConnectorReport> = statuses
        .iter()
        .filter(|(place, _, _)| place.is_connector())
        .map(|(place, first, _)| {
            let known = period.known((*first).max(history.created_at), history.decommissioned_at);
            let mut figures = Figures::default();
            let known_from = (!known.is_empty()).then_some(known.start);
            if !known.is_empty() {
                figures.known_ms = known.len();
                let offline = clip(&offline, known);
                let faulted = union(
                    history
                        .faults
                        .iter()
                        .filter(|f| !f.offline && f.disables() && f.place.covers(*place))
                        .map(FaultRecord::span),
                );
                let faulted = subtract(&clip(&faulted, known), &offline);
                let down = union(
                    statuses
                        .iter()
                        .filter(|(p, _, _)| p.covers(*place))
                        .flat_map(|(_, _, spans)| spans.iter().copied()),
                );
                let down = subtract(&subtract(&clip(&down, known), &offline), &faulted);
                figures.offline_ms = total(&offline);
                figures.faulted_ms = total(&faulted);
                figures.unavailable_status_ms = total(&down);
            }
            for fault in history.faults.iter().filter(|f| f.place.covers(*place)) {
                count_fault(&mut figures, fault, span);
            }
            ConnectorReport { place: *place, known_from, figures }
        })
        .collect();
    let mut figures = Figures::default();
    for connector in &connectors {
        figures.add_times(&connector.figures);
    }
    for fault in &history.faults {
        count_fault(&mut figures, fault, span);
    }
    StationReport {
        station_id: history.station_id.clone(),
        station_known_ms: station_known.len(),
        station_offline_ms: total(&clip(&offline, station_known)),
        connectors,
        figures,
    }
}

fn count_fault(figures: &mut Figures, fault: &FaultRecord, period: Span) {
    if fault.started_at >= period.start && fault.started_at < period.end {
        figures.faults.add(fault.category);
    }
    if let Some(repair) = fault.repair(period) {
        figures.repairs += 1;
        figures.repair_ms += repair;
    }
}

pub fn network_report(histories: &[StationHistory], period: Period) -> NetworkReport {
    let stations: Vec<StationReport> = histories.iter().map(|h| station_report(h, period)).collect();
    let mut totals = Figures::default();
    for station in &stations {
        totals.add_times(&station.figures);
        totals.add_faults(&station.figures);
    }
    NetworkReport {
        period,
        station_known_ms: stations.iter().map(|s| s.station_known_ms).sum(),
        station_offline_ms: stations.iter().map(|s| s.station_offline_ms).sum(),
        connectors: stations.iter().map(|s| s.connectors.len()).sum(),
        stations,
        totals,
    }
}

#[cfg(test)]
mod tests;
