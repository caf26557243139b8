//! Ström's configuration: one typed struct, read from a TOML file, then overridden by `STROM_*`
//! environment variables and command-line flags (clap merges those two), validated at start.

use anyhow::{bail, Context, Result};
use csms_core::fault_kinds::{FaultCategory, VendorCategories};
use csms_core::station::RegistrationPolicy;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file format. Every field is optional; absent ones take the defaults below.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub database: Option<String>,
    pub unknown_stations: Option<String>,
    pub heartbeat_interval_secs: Option<u64>,
    pub boot_retry_interval_secs: Option<u64>,
    pub call_timeout_secs: Option<u64>,
    pub ping_interval_secs: Option<u64>,
    pub offline_grace_secs: Option<u64>,
    pub max_message_bytes: Option<usize>,
    pub message_log_retention_days: Option<u64>,
    pub event_retention_days: Option<u64>,
    pub message_log_max_per_station: Option<i64>,
    pub message_log_cap_every_secs: Option<u64>,
    pub handshake_timeout_secs: Option<u64>,
    pub max_handshakes_per_address: Option<usize>,
    pub secure_new_stations: Option<bool>,
    pub max_connections_per_address: Option<usize>,
    pub api_listen: Option<String>,
    pub tls_listen: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_client_ca: Option<PathBuf>,
    pub operator_name: Option<String>,
    pub station_messages_per_second: Option<u32>,
    pub station_message_burst: Option<u32>,
    pub station_authorize_per_minute: Option<u32>,
    pub station_authorize_burst: Option<u32>,
    pub ca_cert: Option<PathBuf>,
    pub ca_key: Option<PathBuf>,
    pub station_certificate_days: Option<u64>,
    pub fault_categories: Option<std::collections::BTreeMap<String, String>>,
    pub webhook_hosts: Option<Vec<String>>,
    pub webhook_retry_base_ms: Option<u64>,
    pub webhook_timeout_secs: Option<u64>,
    pub webhook_ca_file: Option<PathBuf>,
    pub alert_check_secs: Option<u64>,
    pub time_zone: Option<String>,
    pub cost_update_secs: Option<u64>,
}

pub const DEFAULT_CONFIG: &str = r#"# Ström configuration. Every setting may be left out; the values shown are the defaults.
# Flags (strom serve --help) and STROM_* environment variables override this file.

# Address for stations (ws://ADDR/ocpp/{stationId}) and the operator API (/api/v1).
listen = "0.0.0.0:8180"

# A SQLite file path (created if missing; the message log goes in a second file beside it,
# strom.messages.db for strom.db) or a postgres:// URL.
database = "strom.db"

# What happens to a station Ström has never seen when it boots: accept, pending or reject.
unknown_stations = "accept"

# Trust on first use (needs unknown_stations = "accept"): a station Ström accepts for the first
# time is sent a random password of its own right after its boot (1.6 AuthorizationKey, 2.0.1
# SecurityCtrlr.BasicAuthPassword) and, once it takes it, must connect with it (security profile 1).
# A station that refuses stays without credentials; that is logged and kept as a PasswordChange
# event of the station.
secure_new_stations = false

# Heartbeat interval told to Accepted stations, and boot retry interval told to the others.
heartbeat_interval_secs = 300
boot_retry_interval_secs = 60

# How long a CSMS-to-station call waits for the answer.
call_timeout_secs = 30

# Ström pings idle stations this often and drops one that stays silent for two intervals.
ping_interval_secs = 60

# A station whose connection is lost (closed, or dropped after two silent ping intervals) and
# not back within this many seconds gets a fault of Ström's own, CommunicationLost (category
# communication), from the moment it went; cleared when it connects again.
offline_grace_secs = 60

# Largest WebSocket message a station may send; a larger one closes the connection (1009).
max_message_bytes = 65536

# The message log keeps every frame for this many days, and at most this many per station
# (pruned in whole blocks: a station may keep up to 1,024 frames more). Frames past their age
# go once an hour; a station's beyond its count within this many seconds of being written
# (only stations over the count cost any work).
message_log_retention_days = 7
message_log_max_per_station = 100000
message_log_cap_every_secs = 30

# The domain events (GET /api/v1/events, the live stream's Last-Event-ID) are kept this many
# days; older ones go once an hour.
event_retention_days = 30

# A connection whose HTTP request head (the WebSocket upgrade or an API request) has not arrived
# within this many seconds is closed. Connections past their handshake are not affected.
handshake_timeout_secs = 5

# At most this many connections from one source address (an IPv6 /64) may be in their handshake
# at once (of 256 for the whole server); more from it wait for their turn, within the deadline
# above. Established connections do not count, so stations behind one address (a NAT, a proxy,
# a load test) may reconnect all at once.
max_handshakes_per_address = 32

# At most this many connections from one source address may be open at once, established
# sessions included; more are closed at accept, so that one host cannot take every file
# descriptor. One address can open about 64,000 to a port; behind a NAT or a load balancer
# whose stations together exceed this, raise it.
max_connections_per_address = 32768

# What one station may send: messages per second sustained, and at once above that (after a
# reconnect, say). Beyond, transaction messages (StartTransaction, StopTransaction, MeterValues,
# TransactionEvent) are answered later, when the station is back within its rate, so that no
# billing data is lost; every other message is answered with a CALLERROR (GenericError) that
# says the limit. 0 turns the limit off (as does the flag --no-rate-limits, for load tests).
station_messages_per_second = 20
station_message_burst = 200

# Authorize requests one station may send per minute, sustained and at once; beyond, an
# Authorize is answered Invalid without looking the tag up, so that guessing tags is slow.
station_authorize_per_minute = 60
station_authorize_burst = 20

# The operator API (/api/v1, /metrics) on a listener of its own, e.g. "127.0.0.1:8181", so that it
# can be kept off the network stations reach. Left out, the API is served with the stations.
# api_listen = "127.0.0.1:8181"

# Stations with security profile 2 or 3 connect over TLS (wss://ADDR/ocpp/{stationId}) on a
# listener of its own; it serves the same routes as `listen`. The certificate file holds the
# server certificate then its chain, PEM; the key is PEM (PKCS#8, PKCS#1 or SEC1). Both are read
# again on SIGHUP, without a restart (a file that fails to load keeps the old pair in use).
# tls_listen = "0.0.0.0:8443"
# tls_cert = "/etc/strom/server.pem"
# tls_key = "/etc/strom/server.key"

# Profile 3: the CA certificates (PEM) that station client certificates must chain to; by
# default Ström's own CA (ca_cert below), which signs the certificates stations ask for. A
# station's certificate must name it in its CN, and the operator in its O when operator_name is
# set (below). Without either, stations cannot present client certificates.
# tls_client_ca = "/etc/strom/stations-ca.pem"

# Ström's CA, which signs the certificates stations ask for (SignCertificate → CertificateSigned):
# its certificate and its PKCS#8 private key, PEM files (`strom ca init` makes a pair). Without
# them every SignCertificate is answered Rejected.
# ca_cert = "ca.pem"
# ca_key = "ca.key"

# The operator's name: a station's CSR must carry it as O (the 1.6 CpoName, 2.0.1
# SecurityCtrlr.OrganizationName). Without it, any O is signed as it is.
# operator_name = "Example Charging Ltd"

# How long a station certificate Ström signs is valid (never past the CA's own expiry).
station_certificate_days = 365

# Webhooks (POST /api/v1/webhooks): the hosts their URLs may name (empty: any; e.g.
# ["hooks.example.com", "127.0.0.1"] keeps events inside known systems); the wait after a first
# failed delivery, doubled after each further one (at most 8 attempts, at most 5 minutes apart);
# how long one attempt may take; the certificates https endpoints are checked against.
webhook_hosts = []
webhook_retry_base_ms = 1000
webhook_timeout_secs = 10
webhook_ca_file = "/etc/ssl/certs/ca-certificates.crt"

# How often the alert rules (POST /api/v1/alert-rules) are checked.
alert_check_secs = 30

# The stations' time zone (IANA name) unless a station has its own (PUT
# /api/v1/stations/{id}/time-zone): tariffs' times of day, dates and weekdays (OCPI
# restrictions) are read in it, so a band follows the local clock across DST changes.
time_zone = "UTC"

# Stations are sent the running cost of a session a tariff prices this often (2.0.1 CostUpdated;
# 1.6 the California Pricing DataTransfer RunningCost, to stations whose configuration has
# CustomDisplayCostAndPrice = true); 0 sends none. The final cost goes at the end regardless
# (2.0.1 in the Ended answer's totalCost, 1.6 as DataTransfer FinalCost).
cost_update_secs = 60

# Vendor codes (1.6 vendorErrorCode, 2.0.1 techCode) mapped to a fault category, which then wins
# over the one Ström's own mapping gives: thermal, power_loss, communication,
# electrical_protection, connector, meter, internal or other. Codes match whatever their case.
# When this changes, every stored fault is classified again as Ström starts.
# [fault_categories]
# "E-417" = "connector"
# "T92" = "thermal"
"#;

/// The TLS listener's settings (issue 25: security profiles 2 and 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub listen: String,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

/// The validated configuration `strom serve` runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub database: String,
    pub gateway: csms_gateway::GatewayConfig,
    pub message_log_retention: Duration,
    pub event_retention: Duration,
    pub message_log_max_per_station: i64,
    /// How often each station's frames are held to `message_log_max_per_station`.
    pub message_log_cap_every: Duration,
    /// The listener's protection against clients that hold handshakes open.
    pub listener: crate::listener::Limits,
    /// Where the API is served when not with the stations.
    pub api_listen: Option<String>,
    pub tls: Option<TlsSettings>,
    /// Ström's CA: certificate and key files, both or neither.
    pub ca: Option<CaFiles>,
    /// What station certificates are signed with: the operator's name a CSR must carry, and
    /// their validity.
    pub certificate_policy: csms_pki::Policy,
    /// The operator's vendor codes for fault categories (`[fault_categories]`).
    pub fault_categories: VendorCategories,
    /// The hosts webhook URLs may name; empty: any.
    pub webhook_hosts: Vec<String>,
    pub webhooks: csms_webhooks::Settings,
    pub alert_check: Duration,
    /// Where tariffs' local times are read (`time_zone`).
    pub time_zone: chrono_tz::Tz,
    /// How often running costs go to stations; `None`: never.
    pub cost_update: Option<Duration>,
}

/// The files of Ström's CA (`ca_cert`, `ca_key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn load_file(path: Option<&Path>) -> Result<FileConfig> {
    match path {
        None => Ok(FileConfig::default()),
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("in {}", path.display()))
        }
    }
}

/// Values given on the command line or in the environment, which win over the file.
#[derive(Debug, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub database: Option<String>,
    pub unknown_stations: Option<String>,
    pub api_listen: Option<String>,
    pub tls_listen: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_client_ca: Option<PathBuf>,
    /// Turns the per-station rate limits off.
    pub no_rate_limits: bool,
    pub ca_cert: Option<PathBuf>,
    pub ca_key: Option<PathBuf>,
    pub operator_name: Option<String>,
}

/// The TLS listener's settings, if any, from the overrides and the file; all or nothing.
fn tls_settings(file: &mut FileConfig, overrides: &mut Overrides) -> Result<Option<TlsSettings>> {
    let listen = overrides.tls_listen.take().or(file.tls_listen.take());
    let cert = overrides.tls_cert.take().or(file.tls_cert.take());
    let key = overrides.tls_key.take().or(file.tls_key.take());
    let client_ca = overrides.tls_client_ca.take().or(file.tls_client_ca.take());
    match (listen, cert, key) {
        (Some(listen), Some(cert), Some(key)) => Ok(Some(TlsSettings { listen, cert, key, client_ca })),
        (None, None, None) if client_ca.is_none() => Ok(None),
        (None, ..) => bail!("tls_cert, tls_key and tls_client_ca need tls_listen, the address of the TLS listener"),
        _ => bail!("tls_listen needs both tls_cert and tls_key"),
    }
}

pub fn resolve(mut file: FileConfig, mut overrides: Overrides) -> Result<Config> {
    let tls = tls_settings(&mut file, &mut overrides)?;
    // One operator name for client certificates (TLS profile 3) and the CSRs Ström signs.
    let operator_name = overrides.operator_name.take().or(file.operator_name.take());
    if operator_name.as_deref().is_some_and(|name| name.trim().is_empty()) {
        bail!("operator_name must not be empty");
    }
    let policy_text = overrides.unknown_stations.or(file.unknown_stations).unwrap_or_else(|| "accept".into());
    let Some(registration_policy) = RegistrationPolicy::parse(&policy_text) else {
        bail!("unknown_stations must be accept, pending or reject, not {policy_text:?}");
    };
    let secure_new_stations = file.secure_new_stations.unwrap_or(false);
    if secure_new_stations && registration_policy != RegistrationPolicy::Accept {
        bail!("secure_new_stations needs unknown_stations = \"accept\": only a station accepted at its first boot is given a password");
    }
    let secs = |v: Option<u64>, default: u64, name: &str| -> Result<Duration> {
        let v = v.unwrap_or(default);
        if v == 0 {
            bail!("{name} must be at least 1 second");
        }
        Ok(Duration::from_secs(v))
    };
    let defaults = csms_gateway::GatewayConfig::default();
    let max_message_bytes = file.max_message_bytes.unwrap_or(defaults.max_message_bytes);
    if max_message_bytes < 1024 {
        bail!("max_message_bytes must be at least 1024");
    }
    let gateway = csms_gateway::GatewayConfig {
        registration_policy,
        heartbeat_interval: secs(file.heartbeat_interval_secs, 300, "heartbeat_interval_secs")?,
        boot_retry_interval: secs(file.boot_retry_interval_secs, 60, "boot_retry_interval_secs")?,
        call_timeout: secs(file.call_timeout_secs, 30, "call_timeout_secs")?,
        ping_interval: secs(file.ping_interval_secs, 60, "ping_interval_secs")?,
        offline_grace: secs(file.offline_grace_secs, 60, "offline_grace_secs")?,
        max_message_bytes,
        secure_new_stations,
        operator_name: operator_name.clone(),
        rate_limits: if overrides.no_rate_limits {
            csms_gateway::RateLimits::OFF
        } else {
            let limits = csms_gateway::RateLimits::default();
            csms_gateway::RateLimits {
                messages_per_second: file.station_messages_per_second.unwrap_or(limits.messages_per_second),
                message_burst: file.station_message_burst.unwrap_or(limits.message_burst),
                authorize_per_minute: file.station_authorize_per_minute.unwrap_or(limits.authorize_per_minute),
                authorize_burst: file.station_authorize_burst.unwrap_or(limits.authorize_burst),
            }
        },
        ..defaults
    };
    let max_per_station = file.message_log_max_per_station.unwrap_or(100_000);
    if max_per_station < 1 {
        bail!("message_log_max_per_station must be at least 1");
    }
    let listener_defaults = crate::listener::Limits::default();
    let handshakes_per_address = file.max_handshakes_per_address.unwrap_or(listener_defaults.handshakes_per_address);
    if handshakes_per_address < 1 {
        bail!("max_handshakes_per_address must be at least 1");
    }
    let connections_per_address = file.max_connections_per_address.unwrap_or(listener_defaults.connections_per_address);
    if connections_per_address < handshakes_per_address {
        bail!("max_connections_per_address must be at least max_handshakes_per_address");
    }
    let listener = crate::listener::Limits {
        handshake_timeout: secs(file.handshake_timeout_secs, 5, "handshake_timeout_secs")?,
        handshakes_per_address,
        connections_per_address,
        ..listener_defaults
    };
    let ca = match (overrides.ca_cert.or(file.ca_cert), overrides.ca_key.or(file.ca_key)) {
        (Some(cert), Some(key)) => Some(CaFiles { cert, key }),
        (None, None) => None,
        _ => bail!("ca_cert and ca_key go together: give both files or neither"),
    };
    let certificate_days = file.station_certificate_days.unwrap_or(365);
    if !(1..=36_500).contains(&certificate_days) {
        bail!("station_certificate_days must be between 1 and 36500");
    }
    let certificate_policy =
        csms_pki::Policy { operator_name, validity: chrono::Duration::days(certificate_days as i64) };
    let fault_categories = VendorCategories::new(
        file.fault_categories
            .unwrap_or_default()
            .into_iter()
            .map(|(code, name)| match FaultCategory::parse(&name) {
                Some(category) => Ok((code, category)),
                None => {
                    let known: Vec<&str> = FaultCategory::ALL.iter().map(|c| c.as_str()).collect();
                    bail!("fault_categories: {code:?} = {name:?} is no category; one of {}", known.join(", "))
                }
            })
            .collect::<Result<Vec<_>>>()?,
    );
    let zone = file.time_zone.unwrap_or_else(|| "UTC".into());
    let Ok(time_zone) = zone.parse::<chrono_tz::Tz>() else {
        bail!("time_zone {zone:?} is no IANA time zone name (such as \"Europe/Berlin\" or \"UTC\")");
    };
    // The certificates Ström's CA signs are the ones stations present under profile 3.
    let tls = tls
        .map(|tls| TlsSettings { client_ca: tls.client_ca.or_else(|| ca.as_ref().map(|ca| ca.cert.clone())), ..tls });
    Ok(Config {
        listen: overrides.listen.or(file.listen).unwrap_or_else(|| "0.0.0.0:8180".into()),
        database: overrides.database.or(file.database).unwrap_or_else(|| "strom.db".into()),
        gateway,
        message_log_retention: Duration::from_secs(86_400 * file.message_log_retention_days.unwrap_or(7).max(1)),
        event_retention: Duration::from_secs(86_400 * file.event_retention_days.unwrap_or(30).max(1)),
        message_log_max_per_station: max_per_station,
        message_log_cap_every: secs(file.message_log_cap_every_secs, 30, "message_log_cap_every_secs")?,
        listener,
        api_listen: overrides.api_listen.or(file.api_listen),
        tls,
        ca,
        certificate_policy,
        fault_categories,
        webhook_hosts: file.webhook_hosts.unwrap_or_default(),
        webhooks: csms_webhooks::Settings {
            retry_base: Duration::from_millis(file.webhook_retry_base_ms.unwrap_or(1000).max(1)),
            timeout: secs(file.webhook_timeout_secs, 10, "webhook_timeout_secs")?,
            ca_file: Some(file.webhook_ca_file.unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into())),
        },
        alert_check: secs(file.alert_check_secs, 30, "alert_check_secs")?,
        time_zone,
        cost_update: Some(file.cost_update_secs.unwrap_or(60)).filter(|s| *s > 0).map(Duration::from_secs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_default_parses_and_matches_the_built_in_defaults() {
        let file: FileConfig = toml::from_str(DEFAULT_CONFIG).expect("default config parses");
        let from_file = resolve(file, Overrides::default()).expect("valid");
        let built_in = resolve(FileConfig::default(), Overrides::default()).expect("valid");
        assert_eq!(format!("{from_file:?}"), format!("{built_in:?}"));
    }

    #[test]
    fn overrides_win_and_bad_values_are_refused() {
        let file: FileConfig = toml::from_str("unknown_stations = \"reject\"\nlisten = \"1.2.3.4:1\"").expect("parses");
        let config =
            resolve(file, Overrides { unknown_stations: Some("pending".into()), ..Default::default() }).expect("valid");
        assert_eq!(config.gateway.registration_policy, RegistrationPolicy::Pending);
        assert_eq!(config.listen, "1.2.3.4:1");
        assert!(resolve(
            FileConfig { unknown_stations: Some("maybe".into()), ..Default::default() },
            Overrides::default()
        )
        .is_err());
        assert!(toml::from_str::<FileConfig>("no_such_setting = 1").is_err());
        let file: FileConfig =
            toml::from_str("handshake_timeout_secs = 2\nmax_handshakes_per_address = 16").expect("parses");
        let limits = resolve(file, Overrides::default()).expect("valid").listener;
        assert_eq!((limits.handshake_timeout, limits.handshakes_per_address), (Duration::from_secs(2), 16));
        let file: FileConfig = toml::from_str("secure_new_stations = true").expect("parses");
        assert!(resolve(file, Overrides::default()).expect("valid").gateway.secure_new_stations);
        let file: FileConfig = toml::from_str("secure_new_stations = true").expect("parses");
        let pending = Overrides { unknown_stations: Some("pending".into()), ..Default::default() };
        assert!(resolve(file, pending).is_err(), "trust on first use needs stations accepted at their first boot");
        let file: FileConfig = toml::from_str(
            "tls_listen = \"127.0.0.1:8443\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\noperator_name = \"Acme\"",
        )
        .expect("parses");
        let config =
            resolve(file, Overrides { tls_client_ca: Some("ca.pem".into()), ..Default::default() }).expect("valid");
        let tls = config.tls.expect("a TLS listener");
        assert_eq!((tls.listen.as_str(), tls.client_ca), ("127.0.0.1:8443", Some(PathBuf::from("ca.pem"))));
        assert_eq!(config.gateway.operator_name.as_deref(), Some("Acme"));
        // Without a client CA of its own, the TLS listener trusts Ström's CA.
        let file: FileConfig =
            toml::from_str("tls_listen = \"x:1\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\nca_cert = \"ca.pem\"\nca_key = \"ca.key\"")
                .expect("parses");
        let tls = resolve(file, Overrides::default()).expect("valid").tls.expect("a TLS listener");
        assert_eq!(tls.client_ca, Some(PathBuf::from("ca.pem")));
        for incomplete in [
            "tls_listen = \"x:1\"\ntls_cert = \"c.pem\"",
            "tls_cert = \"c.pem\"\ntls_key = \"k.pem\"",
            "tls_client_ca = \"ca.pem\"",
        ] {
            let file: FileConfig = toml::from_str(incomplete).expect("parses");
            assert!(resolve(file, Overrides::default()).is_err(), "{incomplete} is refused");
        }
        let file: FileConfig = toml::from_str(
            "ca_cert = \"c.pem\"\nca_key = \"c.key\"\noperator_name = \"CPO\"\nstation_certificate_days = 30",
        )
        .expect("parses");
        let config =
            resolve(file, Overrides { operator_name: Some("Other".into()), ..Default::default() }).expect("valid");
        assert_eq!(config.ca, Some(CaFiles { cert: "c.pem".into(), key: "c.key".into() }));
        assert!(config.tls.is_none());
        assert_eq!(config.certificate_policy.operator_name.as_deref(), Some("Other"));
        assert_eq!(config.certificate_policy.validity, chrono::Duration::days(30));
        for wrong in
            ["ca_cert = \"c.pem\"", "ca_key = \"c.key\"", "operator_name = \" \"", "station_certificate_days = 0"]
        {
            let file: FileConfig = toml::from_str(wrong).expect("parses");
            assert!(resolve(file, Overrides::default()).is_err(), "{wrong} is refused");
        }
        for zero in ["handshake_timeout_secs = 0", "max_handshakes_per_address = 0", "max_connections_per_address = 8"]
        {
            let file: FileConfig = toml::from_str(zero).expect("parses");
            assert!(resolve(file, Overrides::default()).is_err(), "{zero} is refused");
        }
    }

    #[test]
    fn vendor_codes_map_to_categories_and_a_wrong_category_is_refused() {
        let file: FileConfig =
            toml::from_str("[fault_categories]\n\"E-417\" = \"connector\"\nT92 = \"thermal\"").expect("parses");
        let config = resolve(file, Overrides::default()).expect("valid");
        let expected = VendorCategories::new([
            ("E-417".to_string(), FaultCategory::Connector),
            ("T92".to_string(), FaultCategory::Thermal),
        ]);
        assert_eq!(config.fault_categories, expected);
        let file: FileConfig = toml::from_str("[fault_categories]\nX1 = \"hot\"").expect("parses");
        let error = resolve(file, Overrides::default()).expect_err("refused").to_string();
        assert!(error.contains("\"hot\" is no category") && error.contains("electrical_protection"), "{error}");
    }
}
