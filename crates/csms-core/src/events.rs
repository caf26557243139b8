//! Domain events: what happened, as one stream an operator's tools follow (the API's live event
//! stream, webhooks, the dashboard). Each kind is a dotted name, `family.what`; the store gives
//! every event an id that only grows, in the order the events were committed, so a client that
//! remembers the last id it saw resumes without loss.

/// The kinds of domain events, by their dotted names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    StationConnected,
    StationDisconnected,
    StationBooted,
    ConnectorStatus,
    FaultOpened,
    FaultCleared,
    TransactionStarted,
    TransactionUpdated,
    TransactionEnded,
    MeterSample,
    CommandSent,
    CommandAnswered,
    SecurityEvent,
    AlertRaised,
    AlertResolved,
    CdrCreated,
}

impl EventKind {
    pub const ALL: &'static [EventKind] = &[
        EventKind::StationConnected,
        EventKind::StationDisconnected,
        EventKind::StationBooted,
        EventKind::ConnectorStatus,
        EventKind::FaultOpened,
        EventKind::FaultCleared,
        EventKind::TransactionStarted,
        EventKind::TransactionUpdated,
        EventKind::TransactionEnded,
        EventKind::MeterSample,
        EventKind::CommandSent,
        EventKind::CommandAnswered,
        EventKind::SecurityEvent,
        EventKind::AlertRaised,
        EventKind::AlertResolved,
        EventKind::CdrCreated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::StationConnected => "station.connected",
            EventKind::StationDisconnected => "station.disconnected",
            EventKind::StationBooted => "station.booted",
            EventKind::ConnectorStatus => "connector.status",
            EventKind::FaultOpened => "fault.opened",
            EventKind::FaultCleared => "fault.cleared",
            EventKind::TransactionStarted => "transaction.started",
            EventKind::TransactionUpdated => "transaction.updated",
            EventKind::TransactionEnded => "transaction.ended",
            EventKind::MeterSample => "meter.sample",
            EventKind::CommandSent => "command.sent",
            EventKind::CommandAnswered => "command.answered",
            EventKind::SecurityEvent => "security.event",
            EventKind::AlertRaised => "alert.raised",
            EventKind::AlertResolved => "alert.resolved",
            EventKind::CdrCreated => "cdr.created",
        }
    }

    pub fn parse(text: &str) -> Option<EventKind> {
        EventKind::ALL.iter().copied().find(|k| k.as_str() == text)
    }

    /// The part before the dot: `fault` for `fault.opened`.
    pub fn family(self) -> &'static str {
        let name = self.as_str();
        &name[..name.find('.').unwrap_or(name.len())]
    }
}

/// Which kinds a client asked for: each item of a comma-separated list (no spaces) names a kind
/// (`fault.opened`) or, without a dot, every kind of a family (`fault`). An empty list asks for
/// every kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindFilter {
    kinds: Vec<EventKind>,
}

impl KindFilter {
    /// Reads the list; an item that names no kind or family is the error, as the client wrote it.
    pub fn parse(list: &str) -> Result<KindFilter, String> {
        let mut kinds = Vec::new();
        if list.is_empty() {
            return Ok(KindFilter::default());
        }
        for item in list.split(',') {
            let matched: Vec<EventKind> = if item.contains('.') {
                EventKind::parse(item).into_iter().collect()
            } else {
                EventKind::ALL.iter().copied().filter(|k| k.family() == item).collect()
            };
            if matched.is_empty() {
                return Err(item.to_string());
            }
            for kind in matched {
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
        }
        Ok(KindFilter { kinds })
    }

    pub fn is_all(&self) -> bool {
        self.kinds.is_empty()
    }

    pub fn matches(&self, kind: EventKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    /// The kinds asked for (empty: all).
    pub fn kinds(&self) -> &[EventKind] {
        &self.kinds
    }
}

/// The whole form of a filter's list, as a regular expression (for the API's document).
pub fn filter_pattern() -> String {
    let mut names: Vec<String> = EventKind::ALL.iter().map(|k| k.as_str().replace('.', "\\.")).collect();
    let mut families: Vec<&str> = EventKind::ALL.iter().map(|k| k.family()).collect();
    families.dedup();
    names.extend(families.iter().map(|f| f.to_string()));
    let one = format!("(?:{})", names.join("|"));
    format!("^(?:{one}(?:,{one})*)?$")
}

/// The family names and kinds a filter may name, for an error message.
pub fn allowed_kinds() -> String {
    let mut families: Vec<&str> = EventKind::ALL.iter().map(|k| k.family()).collect();
    families.dedup();
    let kinds: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
    format!("{}, or a family: {}", kinds.join(", "), families.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_and_has_a_family() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(*kind));
            assert!(kind.as_str().starts_with(kind.family()));
            assert_eq!(kind.as_str().matches('.').count(), 1);
        }
        assert_eq!(EventKind::FaultCleared.family(), "fault");
        assert_eq!(EventKind::parse("fault"), None);
    }

    #[test]
    fn a_filter_takes_kinds_and_families() {
        let filter = KindFilter::parse("fault,station.booted").expect("valid");
        assert!(filter.matches(EventKind::FaultOpened));
        assert!(filter.matches(EventKind::FaultCleared));
        assert!(filter.matches(EventKind::StationBooted));
        assert!(!filter.matches(EventKind::StationConnected));
        assert!(!filter.matches(EventKind::MeterSample));
        assert_eq!(filter.kinds().len(), 3);

        let all = KindFilter::parse("").expect("valid");
        assert!(all.is_all());
        assert!(EventKind::ALL.iter().all(|k| all.matches(*k)));

        assert_eq!(KindFilter::parse("fault,faults"), Err("faults".to_string()));
        assert_eq!(KindFilter::parse("fault,"), Err(String::new()));
        assert_eq!(KindFilter::parse(" fault"), Err(" fault".to_string()));
        assert_eq!(KindFilter::parse("fault.closed"), Err("fault.closed".to_string()));
        assert!(allowed_kinds().contains("meter.sample"));
        assert!(allowed_kinds().contains("transaction"));
    }
}
