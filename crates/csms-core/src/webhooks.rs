//! Webhook subscriptions: which events a subscription wants, the URLs Ström posts to, and how
//! long it waits before trying a failed delivery again. Delivery itself is `csms-webhooks`'.

use crate::events::{EventKind, KindFilter};
use crate::fault_kinds::FaultCategory;
use crate::faults::Severity;
use std::time::Duration;

/// What a subscription receives: events of `kinds` (all if empty), of one station if given;
/// fault events only of `categories` (all if empty) and at least `min_severity`. The category
/// and severity filters leave other events alone: to receive only faults, name the kinds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interest {
    pub kinds: KindFilter,
    pub categories: Vec<FaultCategory>,
    pub min_severity: Option<Severity>,
    pub station_id: Option<String>,
}

impl Interest {
    pub fn wants(&self, kind: EventKind, station: &str, category: Option<&str>, severity: Option<&str>) -> bool {
        if !self.kinds.matches(kind) || self.station_id.as_deref().is_some_and(|s| s != station) {
            return false;
        }
        if kind.family() != "fault" {
            return true;
        }
        let category_ok = self.categories.is_empty()
            || category.and_then(FaultCategory::parse).is_some_and(|c| self.categories.contains(&c));
        let severity_ok = match self.min_severity {
            None => true,
            Some(min) => severity.and_then(Severity::parse).is_some_and(|s| s.rank() >= min.rank()),
        };
        category_ok && severity_ok
    }
}

/// How many times one event is tried before its delivery is given up (logged as failed) and
/// the subscription goes on with the next.
pub const MAX_ATTEMPTS: u32 = 8;

/// The wait after failed attempt `attempt` (1-based): `base`, doubled each time, at most
/// `MAX_DELAY`.
pub fn retry_delay(attempt: u32, base: Duration) -> Duration {
    const MAX_DELAY: Duration = Duration::from_secs(300);
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16)).min(MAX_DELAY)
}

/// Longest URL a subscription may have.
pub const MAX_URL_LEN: usize = 2048;

/// A subscription's URL: `http` or `https`, with a host, no credentials, no whitespace; and, if
/// the operator allowed only some hosts (`webhook_hosts`), one of them. The error says why.
pub fn check_url(url: &str, allowed_hosts: &[String]) -> Result<(), String> {
    if url.len() > MAX_URL_LEN || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("url must be at most {MAX_URL_LEN} characters, without spaces or control characters"));
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| "url must start with http:// or https://".to_string())?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.contains('@') {
        return Err("url must not carry credentials (user@host): sign with the secret instead".into());
    }
    let host = host_of(authority).ok_or_else(|| "url has no host".to_string())?;
    if !allowed_hosts.is_empty() && !allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return Err(format!(
            "url's host {host:?} is not among the allowed webhook_hosts: {}",
            allowed_hosts.join(", ")
        ));
    }
    Ok(())
}

/// The host of `host[:port]` or `[v6]:port`, if there is one and any port is a number.
fn host_of(authority: &str) -> Option<&str> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    (!host.is_empty() && port_ok).then_some(host)
}

/// A subscription's secret: 16 to 256 characters, none of them control characters.
pub fn check_secret(secret: &str) -> Result<(), String> {
    let n = secret.chars().count();
    if !(16..=256).contains(&n) || secret.chars().any(char::is_control) {
        return Err("secret must be 16 to 256 characters, none of them control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interest_selects_kinds_stations_categories_and_severities() {
        let interest = Interest {
            kinds: KindFilter::parse("fault,station.disconnected").expect("valid"),
            categories: vec![FaultCategory::Thermal],
            min_severity: Some(Severity::Warning),
            station_id: None,
        };
        assert!(interest.wants(EventKind::FaultOpened, "CP1", Some("thermal"), Some("Error")));
        assert!(interest.wants(EventKind::FaultCleared, "CP1", Some("thermal"), Some("Warning")));
        assert!(!interest.wants(EventKind::FaultOpened, "CP1", Some("thermal"), Some("Info")));
        assert!(!interest.wants(EventKind::FaultOpened, "CP1", Some("communication"), Some("Error")));
        assert!(!interest.wants(EventKind::FaultOpened, "CP1", None, Some("Error")));
        // The fault filters leave other kinds alone.
        assert!(interest.wants(EventKind::StationDisconnected, "CP1", None, None));
        assert!(!interest.wants(EventKind::StationConnected, "CP1", None, None));
        let one = Interest { station_id: Some("CP2".into()), ..Interest::default() };
        assert!(one.wants(EventKind::MeterSample, "CP2", None, None));
        assert!(!one.wants(EventKind::MeterSample, "CP1", None, None));
        assert!(Interest::default().wants(EventKind::CommandSent, "X", None, None));
    }

    #[test]
    fn retries_back_off_to_a_cap() {
        let base = Duration::from_secs(1);
        let delays: Vec<u64> = (1..=10).map(|a| retry_delay(a, base).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(retry_delay(40, base), Duration::from_secs(300));
        assert_eq!(retry_delay(3, Duration::from_millis(50)), Duration::from_millis(200));
    }

    #[test]
    fn urls_and_secrets_are_checked() {
        let any: Vec<String> = Vec::new();
        for good in ["http://127.0.0.1:9000/hook", "https://hooks.example.com/a?b=c", "http://[::1]:80/x", "http://h"] {
            assert_eq!(check_url(good, &any), Ok(()), "{good}");
        }
        for (bad, says) in [
            ("ftp://h/x", "http:// or https://"),
            ("http://", "no host"),
            ("http://:80/", "no host"),
            ("http://h:port/", "no host"),
            ("http://u:p@h/", "credentials"),
            ("http://h/a b", "spaces"),
        ] {
            assert!(check_url(bad, &any).is_err_and(|e| e.contains(says)), "{bad}: {:?}", check_url(bad, &any));
        }
        let local = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        assert_eq!(check_url("http://127.0.0.1:1/", &local), Ok(()));
        assert_eq!(check_url("http://LOCALHOST/", &local), Ok(()));
        assert!(check_url("http://example.com/", &local).is_err_and(|e| e.contains("not among")));
        assert!(check_secret("0123456789abcdef").is_ok());
        assert!(check_secret("short").is_err());
        assert!(check_secret("0123456789abcdef\n").is_err());
    }
}
