//! Time comes from a `Clock` so that rules which depend on "now" (token expiry, fault start)
//! can be tested at any instant.

pub type Timestamp = chrono::DateTime<chrono::Utc>;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }
}

/// The storage and API spelling of an instant: RFC 3339, UTC, milliseconds. Fixed width, so
/// text order is time order.
pub fn format_timestamp(t: &Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&chrono::Utc))
}
