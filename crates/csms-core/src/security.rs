//! Who may speak for a station: its OCPP security profile (1.6 security whitepaper §2, 2.0.1
//! block A), the rule that decides whether a connection (its transport, its client certificate,
//! its HTTP Basic credentials) may speak for it and which profile it proves, and the station
//! password's salted argon2id hash. Pure functions; verifying a hash is deliberately slow CPU
//! work, so callers run it off their event loop.
//!
//! A password is never logged, stored or returned: only its PHC string (`$argon2id$…`) is kept.

use argon2::password_hash::{PasswordHash as Phc, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;

use crate::station::StationId;

/// The OCPP security profile a station is held to (1.6 configuration key `SecurityProfile`,
/// 2.0.1 `SecurityCtrlr.SecurityProfile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecurityProfile {
    /// 0: no authentication (1.6 only).
    Unsecured,
    /// 1: HTTP Basic authentication over plain WebSocket.
    BasicAuth,
    /// 2: HTTP Basic authentication over TLS.
    TlsBasicAuth,
    /// 3: TLS with a client certificate.
    TlsClientCertificate,
}

impl SecurityProfile {
    pub fn from_number(n: i64) -> Option<SecurityProfile> {
        match n {
            0 => Some(SecurityProfile::Unsecured),
            1 => Some(SecurityProfile::BasicAuth),
            2 => Some(SecurityProfile::TlsBasicAuth),
            3 => Some(SecurityProfile::TlsClientCertificate),
            _ => None,
        }
    }

    pub fn number(self) -> i64 {
        match self {
            SecurityProfile::Unsecured => 0,
            SecurityProfile::BasicAuth => 1,
            SecurityProfile::TlsBasicAuth => 2,
            SecurityProfile::TlsClientCertificate => 3,
        }
    }

    /// Whether a station held to this profile needs a stored Basic-auth password (profiles 1
    /// and 2; profile 3 authenticates by its client certificate).
    pub fn needs_password(self) -> bool {
        matches!(self, SecurityProfile::BasicAuth | SecurityProfile::TlsBasicAuth)
    }

    /// Whether the profile needs a TLS connection (profiles 2 and 3).
    pub fn needs_tls(self) -> bool {
        self >= SecurityProfile::TlsBasicAuth
    }
}

/// What the connection itself proves, before any HTTP header: whether it came over TLS, and
/// the client certificate the TLS layer verified against the configured client CA (chain,
/// validity period, key usage), if the station presented one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transport {
    pub tls: bool,
    pub client_certificate: Option<ClientCertificate>,
}

/// The subject of a verified client certificate, as far as OCPP cares: the CN must be the
/// station's identity (1.6 security whitepaper §2.3 "serial number"; 2.0.1 A00.FR.416
/// CN = Charging Station's identity) and the O the operator's name (A00.FR.417).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCertificate {
    pub common_name: Option<String>,
    pub organization: Option<String>,
}

/// What Ström keeps about a station's security: its profile, its password's PHC string, and
/// whether the operator decommissioned it (then nothing may speak for it).
#[derive(Clone, PartialEq, Eq)]
pub struct SecuritySettings {
    pub profile: SecurityProfile,
    pub password_hash: Option<String>,
    pub decommissioned: bool,
}

impl std::fmt::Debug for SecuritySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Even a slow hash is not for logs: it can be attacked offline.
        f.debug_struct("SecuritySettings")
            .field("profile", &self.profile)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "***"))
            .field("decommissioned", &self.decommissioned)
            .finish()
    }
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings { profile: SecurityProfile::Unsecured, password_hash: None, decommissioned: false }
    }
}

/// Why a connection's credentials were refused; `as_str` is the metric's `reason` label and
/// the security event's detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header.
    NoCredentials,
    /// Not `Basic` followed by base64 of `user:password`, or more than one header.
    Malformed,
    /// The user is not the station's identity.
    WrongUsername,
    /// The password does not verify, in any accepted form.
    WrongPassword,
    /// The station's profile needs a password and none is stored: nobody can connect.
    NoPasswordSet,
    /// The station is held to profile 2 or 3 (set by the operator or used by it before) and
    /// the connection is plain: a downgrade.
    TlsRequired,
    /// The station is held to profile 3 and presented no client certificate.
    NoClientCertificate,
    /// The client certificate's CN is not the station's identity, or its O not the operator's
    /// name: a certificate of another station (or another operator).
    CertificateMismatch,
    /// The operator decommissioned the station: nothing may connect as it.
    Decommissioned,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NoCredentials => "no_credentials",
            Refusal::Malformed => "malformed",
            Refusal::WrongUsername => "wrong_username",
            Refusal::WrongPassword => "wrong_password",
            Refusal::NoPasswordSet => "no_password_set",
            Refusal::TlsRequired => "tls_required",
            Refusal::NoClientCertificate => "no_client_certificate",
            Refusal::CertificateMismatch => "certificate_mismatch",
            Refusal::Decommissioned => "decommissioned",
        }
    }
}

/// The bounds a station password must keep: 16–40 printable ASCII characters (OCPP 1.6
/// AuthorizationKey as a 16–20-byte key or its 32–40-character hex form; 2.0.1
/// BasicAuthPassword, a passwordString of 16–40). Answers why not, if not.
pub fn check_password(password: &str) -> Result<(), &'static str> {
    if !(16..=40).contains(&password.len()) {
        return Err("basic_auth_password must be 16 to 40 characters");
    }
    if !password.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err("basic_auth_password must be printable ASCII");
    }
    Ok(())
}

/// The PHC string of `password` hashed with argon2id (RustCrypto's defaults: 19 MiB, two passes)
/// and `salt`, which the caller draws from the operating system's random source.
pub fn hash_password(password: &str, salt: &[u8; 16]) -> Result<String, String> {
    let salt = SaltString::encode_b64(salt).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Whether `password` verifies against the PHC string `hash` (false also for an unreadable hash).
pub fn verify_password(password: &[u8], hash: &str) -> bool {
    match Phc::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password, &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A station password's PHC string (`hash_password`), on its way to the store. Its `Debug` hides
/// it: even a slow hash can be attacked offline, so it is not for logs.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// The characters of a password Ström makes: letters and digits only, which every firmware takes
/// in a configuration value and an HTTP header alike.
const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A password of `len` characters drawn from `random` (bytes from the operating system's random
/// source), without bias: a byte is used only below the largest multiple of the alphabet's size.
/// `None` if `random` runs out first, or `len` is outside `check_password`'s bounds.
pub fn generate_password(random: &[u8], len: usize) -> Option<String> {
    let size = PASSWORD_ALPHABET.len();
    let limit = 256 - 256 % size;
    let password: String = random
        .iter()
        .filter(|&&b| usize::from(b) < limit)
        .take(len)
        .map(|&b| char::from(PASSWORD_ALPHABET[usize::from(b) % size]))
        .collect();
    (password.len() == len && check_password(&password).is_ok()).then_some(password)
}

/// The length of the passwords Ström makes for a station of each OCPP version: 1.6's
/// AuthorizationKey is 16–20 bytes (security whitepaper ed. 2 §3.1.1), 2.0.1's
/// BasicAuthPassword a passwordString of up to 40 (A00); 20 letters and digits hold 119 bits.
pub fn generated_password_len(v16: bool) -> usize {
    if v16 {
        20
    } else {
        32
    }
}

/// The longest password a 1.6 station can be given: its AuthorizationKey is 16–20 bytes, sent
/// hex-encoded in ChangeConfiguration (security whitepaper ed. 2 §3.1.1, CHECKLIST §3.1).
pub const MAX_V16_PASSWORD: usize = 20;

/// The profile a station is held to once it accepted a new password: at least `at_least`
/// (trust on first use raises an unsecured station to profile 1), never lower than it was, so
/// a password change never downgrades a station.
pub fn profile_after_password_change(current: SecurityProfile, at_least: SecurityProfile) -> SecurityProfile {
    current.max(at_least)
}

/// Whether a booting station is given a password of its own right after its boot is answered
/// (trust on first use, `secure_new_stations`): only when that is configured, the station is
/// one Ström has never seen, and its boot was Accepted. A known station keeps what the operator
/// set for it, and a Pending or Rejected one may not be sent commands yet.
pub fn secure_on_first_use(enabled: bool, new_station: bool, status: crate::station::RegistrationStatus) -> bool {
    enabled && new_station && status == crate::station::RegistrationStatus::Accepted
}

/// Decides whether a connection may speak for `station`, given the station's stored `settings`
/// (its profile is the lowest it may use: set by the operator, raised to the highest it has
/// proved), what the `transport` proves, the `operator` name client certificates must carry (if
/// configured) and the request's `Authorization` header (`None`: absent). Answers the profile the
/// connection proves, which the caller remembers when it is higher than the stored one, so that
/// a station that once used TLS can never again be spoken for over plain WebSocket (1.6
/// security whitepaper §2: no downgrade; OCTT TC_083, TC_A_19).
///
/// - A verified client certificate is the strongest proof (profile 3): its CN must be the
///   station's identity and its O the operator's name; one that names anything else is refused,
///   whatever the station's profile, since it can only be another station's.
/// - Profile 3 needs that certificate; profiles 2 and 3 need TLS.
/// - Profiles 1 and 2 need `Basic base64(user:password)` (RFC 7617), the user exactly the
///   station's identity, the password verifying against the stored hash: as sent, or, since OCPP
///   1.6 implementations disagree on whether the AuthorizationKey travels raw or hex-encoded
///   (security whitepaper ed. 2 §2.1.1, OCTT TC_085), its hex encoding or its hex decoding. Only
///   candidates that could be a stored password (`check_password`) are hashed, so a handshake
///   costs at most three verifications.
/// - Profile 0 needs nothing, but credentials that verify prove profile 1 (2 over TLS), and the
///   station is held to them from then on; credentials that do not verify prove nothing.
pub fn admit(
    station: &StationId,
    settings: &SecuritySettings,
    transport: &Transport,
    operator: Option<&str>,
    authorization: Option<&[u8]>,
) -> Result<SecurityProfile, Refusal> {
    if settings.decommissioned {
        return Err(Refusal::Decommissioned);
    }
    if let Some(certificate) = &transport.client_certificate {
        let names_station = certificate.common_name.as_deref() == Some(station.as_str());
        let names_operator = operator.is_none_or(|o| certificate.organization.as_deref() == Some(o));
        return if names_station && names_operator {
            Ok(SecurityProfile::TlsClientCertificate)
        } else {
            Err(Refusal::CertificateMismatch)
        };
    }
    let required = settings.profile;
    if required.needs_tls() && !transport.tls {
        return Err(Refusal::TlsRequired);
    }
    if required == SecurityProfile::TlsClientCertificate {
        return Err(Refusal::NoClientCertificate);
    }
    let proved = if transport.tls { SecurityProfile::TlsBasicAuth } else { SecurityProfile::BasicAuth };
    if required == SecurityProfile::Unsecured {
        let verified = match (authorization, &settings.password_hash) {
            (Some(header), Some(_)) => check_basic(station, settings, header).is_ok(),
            _ => false,
        };
        return Ok(if verified { proved } else { SecurityProfile::Unsecured });
    }
    check_basic(station, settings, authorization.ok_or(Refusal::NoCredentials)?)?;
    Ok(proved)
}

/// `admit`, also accepting a password that is being given to the station right now
/// (`in_flight`: the hashes of passwords sent and not yet answered or not yet recorded). A
/// station that takes a new password may reconnect with it at once (OCPP 2.0.1 A01), before
/// its answer is stored; it is let in rather than refused once. Only a password that fails
/// against the stored hash is tried against these, so a handshake costs more only then.
pub fn admit_with(
    station: &StationId,
    settings: &SecuritySettings,
    in_flight: &[String],
    transport: &Transport,
    operator: Option<&str>,
    authorization: Option<&[u8]>,
) -> Result<SecurityProfile, Refusal> {
    match admit(station, settings, transport, operator, authorization) {
        Err(refusal @ (Refusal::WrongPassword | Refusal::NoPasswordSet)) => in_flight
            .iter()
            .find_map(|hash| {
                let candidate = SecuritySettings { password_hash: Some(hash.clone()), ..settings.clone() };
                admit(station, &candidate, transport, operator, authorization).ok()
            })
            .ok_or(refusal),
        verdict => verdict,
    }
}

/// Whether `header` holds the station's identity and a form of its stored password.
fn check_basic(station: &StationId, settings: &SecuritySettings, header: &[u8]) -> Result<(), Refusal> {
    let (user, password) = basic_credentials(header).ok_or(Refusal::Malformed)?;
    if user != station.as_str().as_bytes() {
        return Err(Refusal::WrongUsername);
    }
    let hash = settings.password_hash.as_deref().ok_or(Refusal::NoPasswordSet)?;
    if password_forms(&password).iter().any(|candidate| verify_password(candidate.as_bytes(), hash)) {
        Ok(())
    } else {
        Err(Refusal::WrongPassword)
    }
}

/// The user and password of a `Basic` header; the scheme's name is case-insensitive (RFC 7617
/// §2, RFC 9110 §11.1). The user ends at the first colon; the password may contain colons.
fn basic_credentials(header: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let header = std::str::from_utf8(header).ok()?.trim();
    let (scheme, token) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

/// The forms of a sent password that may be the stored one: itself, its hex encoding (lower and
/// upper case), its hex decoding; only those a stored password could be.
fn password_forms(sent: &[u8]) -> Vec<String> {
    let mut forms = Vec::new();
    let mut add = |form: String| {
        if check_password(&form).is_ok() && !forms.contains(&form) {
            forms.push(form);
        }
    };
    if let Ok(text) = std::str::from_utf8(sent) {
        add(text.to_string());
    }
    if (8..=20).contains(&sent.len()) {
        let lower = hex::encode(sent);
        add(lower.to_ascii_uppercase());
        add(lower);
    }
    if let Some(text) = hex::decode(sent).ok().and_then(|bytes| String::from_utf8(bytes).ok()) {
        add(text);
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "correct-horse-battery";

    fn settings(profile: SecurityProfile, password: Option<&str>) -> SecuritySettings {
        let hash = password.map(|p| hash_password(p, &[7; 16]).expect("hashes"));
        SecuritySettings { profile, password_hash: hash, decommissioned: false }
    }

    fn basic(user: &str, password: &[u8]) -> Vec<u8> {
        let mut raw = format!("{user}:").into_bytes();
        raw.extend_from_slice(password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw)).into_bytes()
    }

    /// A case's name, the station's settings, the Authorization header sent, the verdict.
    type Case<'a> = (&'a str, &'a SecuritySettings, Option<Vec<u8>>, Result<SecurityProfile, Refusal>);

    #[test]
    fn credentials_against_profiles() {
        let cp = StationId::parse("CP1").expect("id");
        let one = settings(SecurityProfile::BasicAuth, Some(PASSWORD));
        let zero = settings(SecurityProfile::Unsecured, None);
        let key_bytes: &[u8] =
            &[0x01, 0x9f, 0xff, 0x00, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x50, 0x51, 0x52];
        let hex_key = settings(SecurityProfile::BasicAuth, Some(&hex::encode(key_bytes)));
        let hex_key_upper = settings(SecurityProfile::BasicAuth, Some(&hex::encode_upper(key_bytes)));
        let hex_sent = hex::encode(PASSWORD);
        let no_password = settings(SecurityProfile::BasicAuth, None);
        let two = settings(SecurityProfile::TlsBasicAuth, Some(PASSWORD));
        let mixed_case_scheme =
            format!("bAsIc {}", base64::engine::general_purpose::STANDARD.encode(format!("CP1:{PASSWORD}")));
        let mixed_case_scheme = mixed_case_scheme.into_bytes();
        let cases: Vec<Case> = vec![
            ("profile 0 needs nothing", &zero, None, Ok(SecurityProfile::Unsecured)),
            (
                "profile 0 without a password proves nothing",
                &zero,
                Some(basic("CP1", b"whatever")),
                Ok(SecurityProfile::Unsecured),
            ),
            ("right credentials", &one, Some(basic("CP1", PASSWORD.as_bytes())), Ok(SecurityProfile::BasicAuth)),
            ("scheme in any case", &one, Some(mixed_case_scheme), Ok(SecurityProfile::BasicAuth)),
            ("no header", &one, None, Err(Refusal::NoCredentials)),
            ("wrong password", &one, Some(basic("CP1", b"correct-horse-batterx")), Err(Refusal::WrongPassword)),
            ("empty password", &one, Some(basic("CP1", b"")), Err(Refusal::WrongPassword)),
            ("user is another station", &one, Some(basic("CP2", PASSWORD.as_bytes())), Err(Refusal::WrongUsername)),
            ("user differs in case", &one, Some(basic("cp1", PASSWORD.as_bytes())), Err(Refusal::WrongUsername)),
            ("bearer scheme", &one, Some(b"Bearer abc".to_vec()), Err(Refusal::Malformed)),
            ("not base64", &one, Some(b"Basic !!!not-base64".to_vec()), Err(Refusal::Malformed)),
            (
                "no colon",
                &one,
                Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("CP1")).into_bytes()),
                Err(Refusal::Malformed),
            ),
            ("scheme alone", &one, Some(b"Basic".to_vec()), Err(Refusal::Malformed)),
            ("not UTF-8", &one, Some(vec![0xff, 0xfe]), Err(Refusal::Malformed)),
            (
                "hex form of the stored password",
                &one,
                Some(basic("CP1", hex_sent.as_bytes())),
                Ok(SecurityProfile::BasicAuth),
            ),
            (
                "upper-case hex form",
                &one,
                Some(basic("CP1", hex_sent.to_ascii_uppercase().as_bytes())),
                Ok(SecurityProfile::BasicAuth),
            ),
            ("raw key for a stored hex key", &hex_key, Some(basic("CP1", key_bytes)), Ok(SecurityProfile::BasicAuth)),
            (
                "raw key for a stored upper-case hex key",
                &hex_key_upper,
                Some(basic("CP1", key_bytes)),
                Ok(SecurityProfile::BasicAuth),
            ),
            (
                "hex key as stored",
                &hex_key,
                Some(basic("CP1", hex::encode(key_bytes).as_bytes())),
                Ok(SecurityProfile::BasicAuth),
            ),
            ("another raw key", &hex_key, Some(basic("CP1", &[0x02; 16])), Err(Refusal::WrongPassword)),
            (
                "profile 1 without a stored password",
                &no_password,
                Some(basic("CP1", PASSWORD.as_bytes())),
                Err(Refusal::NoPasswordSet),
            ),
            (
                "profile 2 over plain WebSocket is a downgrade",
                &two,
                Some(basic("CP1", PASSWORD.as_bytes())),
                Err(Refusal::TlsRequired),
            ),
        ];
        for (name, settings, header, expected) in cases {
            assert_eq!(admit(&cp, settings, &Transport::default(), None, header.as_deref()), expected, "{name}");
        }
    }

    #[test]
    fn transports_against_profiles() {
        use SecurityProfile::*;
        let cp = StationId::parse("CP1").expect("id");
        let right = basic("CP1", PASSWORD.as_bytes());
        let wrong = basic("CP1", b"correct-horse-batterx");
        let plain = Transport::default();
        let tls = Transport { tls: true, client_certificate: None };
        let certificate = |cn: &str, o: Option<&str>| Transport {
            tls: true,
            client_certificate: Some(ClientCertificate {
                common_name: Some(cn.to_string()),
                organization: o.map(str::to_string),
            }),
        };
        let own = certificate("CP1", Some("Acme"));
        let other_station = certificate("CP2", Some("Acme"));
        let other_operator = certificate("CP1", Some("Evil"));
        let unnamed = Transport { tls: true, client_certificate: Some(ClientCertificate::default()) };
        let zero = settings(Unsecured, None);
        let zero_with_password = settings(Unsecured, Some(PASSWORD));
        let one = settings(BasicAuth, Some(PASSWORD));
        let two = settings(TlsBasicAuth, Some(PASSWORD));
        let three = settings(TlsClientCertificate, None);
        let gone = SecuritySettings { decommissioned: true, ..settings(BasicAuth, Some(PASSWORD)) };
        // Name, station settings, transport, operator name, header, verdict.
        type Row<'a> = (
            &'a str,
            &'a SecuritySettings,
            &'a Transport,
            Option<&'a str>,
            Option<&'a [u8]>,
            Result<SecurityProfile, Refusal>,
        );
        let rows: Vec<Row> = vec![
            ("profile 0 over TLS without credentials", &zero, &tls, None, None, Ok(Unsecured)),
            ("profile 0 proves 1 with its password", &zero_with_password, &plain, None, Some(&right), Ok(BasicAuth)),
            (
                "profile 0 proves 2 with its password over TLS",
                &zero_with_password,
                &tls,
                None,
                Some(&right),
                Ok(TlsBasicAuth),
            ),
            (
                "profile 0 with a wrong password proves nothing",
                &zero_with_password,
                &tls,
                None,
                Some(&wrong),
                Ok(Unsecured),
            ),
            ("profile 1 over TLS proves 2", &one, &tls, None, Some(&right), Ok(TlsBasicAuth)),
            (
                "profile 1 over TLS still needs the password",
                &one,
                &tls,
                None,
                Some(&wrong),
                Err(Refusal::WrongPassword),
            ),
            ("profile 2 over TLS", &two, &tls, None, Some(&right), Ok(TlsBasicAuth)),
            ("profile 2 over TLS without credentials", &two, &tls, None, None, Err(Refusal::NoCredentials)),
            ("profile 2 over plain WebSocket", &two, &plain, None, Some(&right), Err(Refusal::TlsRequired)),
            ("profile 2 moves up to 3 with its certificate", &two, &own, Some("Acme"), None, Ok(TlsClientCertificate)),
            ("profile 3 with its certificate", &three, &own, Some("Acme"), None, Ok(TlsClientCertificate)),
            ("profile 3 without a configured operator", &three, &own, None, None, Ok(TlsClientCertificate)),
            (
                "profile 3 over TLS with a password only",
                &three,
                &tls,
                None,
                Some(&right),
                Err(Refusal::NoClientCertificate),
            ),
            ("profile 3 over plain WebSocket", &three, &plain, None, None, Err(Refusal::TlsRequired)),
            (
                "another station's certificate",
                &three,
                &other_station,
                Some("Acme"),
                None,
                Err(Refusal::CertificateMismatch),
            ),
            (
                "another operator's certificate",
                &three,
                &other_operator,
                Some("Acme"),
                None,
                Err(Refusal::CertificateMismatch),
            ),
            ("a certificate without a CN", &three, &unnamed, None, None, Err(Refusal::CertificateMismatch)),
            (
                "another station's certificate on profile 0",
                &zero,
                &other_station,
                None,
                None,
                Err(Refusal::CertificateMismatch),
            ),
            ("decommissioned, with its certificate", &gone, &own, Some("Acme"), None, Err(Refusal::Decommissioned)),
            ("decommissioned, with its password", &gone, &tls, None, Some(&right), Err(Refusal::Decommissioned)),
        ];
        for (name, settings, transport, operator, header, expected) in rows {
            assert_eq!(admit(&cp, settings, transport, operator, header), expected, "{name}");
        }
    }

    #[test]
    fn a_password_in_flight_is_accepted_beside_the_stored_one() {
        let cp = StationId::parse("CP1").expect("id");
        let plain = Transport::default();
        let stored = settings(SecurityProfile::BasicAuth, Some(PASSWORD));
        let new = "the-new-password-in-flight";
        let in_flight = vec![hash_password(new, &[9; 16]).expect("hashes")];
        let header = |p: &str| Some(basic("CP1", p.as_bytes()));
        assert_eq!(
            admit_with(&cp, &stored, &in_flight, &plain, None, header(PASSWORD).as_deref()),
            Ok(SecurityProfile::BasicAuth)
        );
        assert_eq!(
            admit_with(&cp, &stored, &in_flight, &plain, None, header(new).as_deref()),
            Ok(SecurityProfile::BasicAuth)
        );
        assert_eq!(admit_with(&cp, &stored, &[], &plain, None, header(new).as_deref()), Err(Refusal::WrongPassword));
        let other = header("yet-another-password");
        assert_eq!(admit_with(&cp, &stored, &in_flight, &plain, None, other.as_deref()), Err(Refusal::WrongPassword));
        // Not a way around the other checks.
        let wrong_user = Some(basic("CP2", new.as_bytes()));
        assert_eq!(
            admit_with(&cp, &stored, &in_flight, &plain, None, wrong_user.as_deref()),
            Err(Refusal::WrongUsername)
        );
        assert_eq!(admit_with(&cp, &stored, &in_flight, &plain, None, None), Err(Refusal::NoCredentials));
        let no_password = settings(SecurityProfile::BasicAuth, None);
        assert_eq!(
            admit_with(&cp, &no_password, &in_flight, &plain, None, header(new).as_deref()),
            Ok(SecurityProfile::BasicAuth)
        );
    }

    #[test]
    fn generated_passwords_are_unbiased_letters_and_digits() {
        let random: Vec<u8> = (0..=255).cycle().take(1024).collect();
        let password = generate_password(&random, 20).expect("enough randomness");
        assert_eq!(password.len(), 20);
        assert!(password.bytes().all(|b| b.is_ascii_alphanumeric()), "{password}");
        // Bytes at or above 248 (the largest multiple of 62 within a byte) are skipped.
        assert_eq!(generate_password(&[248, 255, 0, 61, 62], 3).as_deref(), None, "too few usable bytes");
        assert_eq!(generate_password(&[0; 40], 16).as_deref(), Some("AAAAAAAAAAAAAAAA"));
        assert_eq!(
            generate_password(&[61, 62, 123, 249, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 16).as_deref(),
            Some("9A9AAAAAAAAAAAAA")
        );
        assert_eq!(generate_password(&[0; 64], 15), None, "below check_password's bounds");
        assert_eq!(generate_password(&[0; 64], 41), None, "above them");
        for v16 in [true, false] {
            let len = generated_password_len(v16);
            assert!(check_password(&"x".repeat(len)).is_ok());
            assert!(!v16 || len <= MAX_V16_PASSWORD);
        }
    }

    #[test]
    fn a_password_change_never_lowers_the_profile() {
        use SecurityProfile::*;
        let cases = [
            (Unsecured, Unsecured, Unsecured),
            (Unsecured, BasicAuth, BasicAuth),
            (BasicAuth, Unsecured, BasicAuth),
            (TlsBasicAuth, BasicAuth, TlsBasicAuth),
            (TlsClientCertificate, Unsecured, TlsClientCertificate),
        ];
        for (current, at_least, expected) in cases {
            assert_eq!(profile_after_password_change(current, at_least), expected, "{current:?} {at_least:?}");
        }
    }

    #[test]
    fn trust_on_first_use_only_for_new_accepted_stations_when_enabled() {
        use crate::station::RegistrationStatus::*;
        let cases = [
            (true, true, Accepted, true),
            (false, true, Accepted, false),
            (true, false, Accepted, false),
            (true, true, Pending, false),
            (true, true, Rejected, false),
        ];
        for (enabled, new_station, status, expected) in cases {
            assert_eq!(
                secure_on_first_use(enabled, new_station, status),
                expected,
                "{enabled} {new_station} {status:?}"
            );
        }
    }

    #[test]
    fn password_hash_debug_hides_it() {
        assert_eq!(format!("{:?}", PasswordHash("$argon2id$v=19$secret".into())), "PasswordHash(***)");
    }

    #[test]
    fn password_bounds() {
        let cases = [
            ("0123456789abcdef", true),
            ("0123456789abcde", false),
            (&"x".repeat(40)[..], true),
            (&"x".repeat(41)[..], false),
            ("with spaces is fine ok", true),
            ("tab\tis not printable", false),
            ("non-ascii ä is refused", false),
        ];
        for (password, ok) in cases {
            assert_eq!(check_password(password).is_ok(), ok, "{password:?}");
        }
    }

    #[test]
    fn hashes_are_salted_argon2id_and_verify() {
        let a = hash_password(PASSWORD, &[1; 16]).expect("hashes");
        let b = hash_password(PASSWORD, &[2; 16]).expect("hashes");
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "a salt of its own for each hash");
        assert!(!a.contains(PASSWORD));
        assert!(verify_password(PASSWORD.as_bytes(), &a) && verify_password(PASSWORD.as_bytes(), &b));
        assert!(!verify_password(b"correct-horse-batterx", &a));
        assert!(!verify_password(PASSWORD.as_bytes(), "not a PHC string"));
    }

    #[test]
    fn profiles_by_number() {
        for n in 0..=3 {
            assert_eq!(SecurityProfile::from_number(n).map(SecurityProfile::number), Some(n));
        }
        assert_eq!(SecurityProfile::from_number(4), None);
        assert_eq!(SecurityProfile::from_number(-1), None);
        assert!(SecurityProfile::TlsBasicAuth.needs_tls() && !SecurityProfile::BasicAuth.needs_tls());
        let needs_password: Vec<bool> =
            (0..=3).filter_map(SecurityProfile::from_number).map(SecurityProfile::needs_password).collect();
        assert_eq!(needs_password, [false, true, true, false]);
    }

    #[test]
    fn debug_hides_the_hash() {
        let shown = format!("{:?}", settings(SecurityProfile::BasicAuth, Some(PASSWORD)));
        assert!(!shown.contains("argon2"), "{shown}");
    }
}
