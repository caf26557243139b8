//! The CA end to end with real keys: made, loaded, and signing CSRs that rcgen writes the way a
//! station would; the chains checked with x509-parser's signature verification.

use super::*;
use x509_parser::prelude::*;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("in range")
}

fn ca(policy: Policy) -> (Authority, GeneratedCa) {
    let made = Authority::generate("Ström test CA", Some("Ström AB"), Duration::days(3650), now()).expect("CA made");
    (Authority::load(&made.cert_pem, &made.key_pem, policy, now()).expect("CA loads"), made)
}

/// A CSR as a station writes it: its own key, CN and O, signed with that key.
fn station_csr(cn: &str, o: Option<&str>) -> (String, KeyPair) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let mut params = CertificateParams::default();
    params.distinguished_name = name(cn, o);
    let csr = params.serialize_request(&key).expect("CSR");
    (csr.pem().expect("PEM"), key)
}

#[test]
fn a_station_csr_is_signed_into_a_chain_that_verifies_against_the_ca() {
    let (authority, made) = ca(Policy::default());
    let (csr, station_key) = station_csr("CP1", Some("Ström AB"));
    let issued = authority.sign_station_csr("CP1", &csr, now()).expect("signed");

    let chain = certificates_in(&issued.chain_pem).expect("PEM chain");
    assert_eq!(chain.len(), 2, "leaf, then the CA");
    let ca_der = &certificates_in(&made.cert_pem).expect("CA PEM")[0];
    assert_eq!(&chain[1], ca_der);
    let (_, leaf) = parse_x509_certificate(&chain[0]).expect("leaf parses");
    let (_, ca_cert) = parse_x509_certificate(ca_der).expect("CA parses");
    leaf.verify_signature(Some(ca_cert.public_key())).expect("signed by the CA");
    assert_eq!(leaf.public_key().subject_public_key.data.as_ref(), station_key.public_key_raw(), "the CSR's key");
    assert_eq!(leaf.subject().to_string(), "CN=CP1, O=Ström AB");
    assert_eq!(leaf.issuer(), ca_cert.subject());
    assert!(!leaf.is_ca());
    let usage = leaf.key_usage().expect("one key usage").expect("present").value;
    assert!(usage.digital_signature() && usage.key_agreement() && !usage.key_cert_sign());
    let eku = leaf.extended_key_usage().expect("one EKU").expect("present").value;
    assert!(eku.client_auth && !eku.server_auth);
    let validity = leaf.validity();
    assert_eq!(validity.not_after.timestamp() - now().timestamp(), 365 * 86_400);
    assert!(validity.not_before.timestamp() < now().timestamp());
    assert_eq!(issued.facts.serial_number, crate::facts::serial_hex(leaf.raw_serial()));
    assert_eq!(issued.facts.common_name.as_deref(), Some("CP1"));
    assert_eq!(issued.facts.days_left(now()), 365);

    let again = authority.sign_station_csr("CP1", &csr, now()).expect("signed again");
    assert_ne!(again.facts.serial_number, issued.facts.serial_number, "serial numbers are random");
}

#[test]
fn the_validity_follows_the_policy_but_never_outlasts_the_ca() {
    let (authority, _) = ca(Policy { operator_name: None, validity: Duration::days(30) });
    let (csr, _) = station_csr("CP1", None);
    assert_eq!(authority.sign_station_csr("CP1", &csr, now()).expect("signed").facts.days_left(now()), 30);

    let (authority, _) = ca(Policy { operator_name: None, validity: Duration::days(100_000) });
    let issued = authority.sign_station_csr("CP1", &csr, now()).expect("signed");
    assert_eq!(issued.facts.not_after, authority.certificate().not_after);
}

#[test]
fn csrs_for_another_station_or_operator_or_with_a_broken_signature_are_refused() {
    let policy = Policy { operator_name: Some("Ström AB".into()), validity: Duration::days(365) };
    let (authority, _) = ca(policy);
    let (other, _) = station_csr("CP2", Some("Ström AB"));
    assert!(matches!(authority.sign_station_csr("CP1", &other, now()), Err(CsrRefusal::WrongCommonName { .. })));
    let (foreign, _) = station_csr("CP1", Some("Other CPO"));
    assert!(matches!(authority.sign_station_csr("CP1", &foreign, now()), Err(CsrRefusal::WrongOrganization { .. })));

    // The same request with one bit of its signature flipped.
    let (good, _) = station_csr("CP1", Some("Ström AB"));
    let mut der = Pem::iter_from_buffer(good.as_bytes()).next().expect("block").expect("PEM").contents;
    let last = der.len() - 1;
    der[last] ^= 1;
    let tampered = pem("CERTIFICATE REQUEST", &der);
    assert_eq!(authority.sign_station_csr("CP1", &tampered, now()).err(), Some(CsrRefusal::BadSignature));
    assert_eq!(authority.sign_station_csr("CP1", "not a CSR", now()).err(), Some(CsrRefusal::NotPem));
}

#[test]
fn a_ca_loads_only_with_its_own_key_and_only_if_it_is_a_valid_ca() {
    let (_, made) = ca(Policy::default());
    let other = Authority::generate("Other CA", None, Duration::days(10), now()).expect("made");
    assert!(matches!(
        Authority::load(&made.cert_pem, &other.key_pem, Policy::default(), now()),
        Err(PkiError::KeyMismatch)
    ));
    assert!(matches!(Authority::load(&made.cert_pem, "junk", Policy::default(), now()), Err(PkiError::Key(_))));
    let later = now() + Duration::days(3651);
    assert!(matches!(
        Authority::load(&made.cert_pem, &made.key_pem, Policy::default(), later),
        Err(PkiError::OutsideValidity { .. })
    ));

    // A station certificate is no CA, even with its key at hand.
    let (authority, _) = ca(Policy::default());
    let (csr, key) = station_csr("CP1", None);
    let leaf = authority.sign_station_csr("CP1", &csr, now()).expect("signed");
    assert!(matches!(
        Authority::load(&leaf.chain_pem, &key.serialize_pem(), Policy::default(), now()),
        Err(PkiError::NotCa)
    ));
    assert!(!format!("{:?} {:?}", authority, made).contains("PRIVATE KEY"), "no key in debug output");
}

#[test]
fn hash_data_of_a_root_names_its_own_key_and_matches_openssl_conventions() {
    let (_, made) = ca(Policy::default());
    let facts = CertificateFacts::from_pem(&made.cert_pem).expect("facts");
    assert!(facts.self_signed);
    let hash = facts.hash_data(crate::HashAlgorithm::Sha256);
    let der = &certificates_in(&made.cert_pem).expect("PEM")[0];
    let (_, cert) = parse_x509_certificate(der).expect("parses");
    use sha2::Digest;
    assert_eq!(hash.issuer_name_hash, hex::encode(sha2::Sha256::digest(cert.issuer().as_raw())));
    assert_eq!(
        hash.issuer_key_hash.as_deref(),
        Some(hex::encode(sha2::Sha256::digest(cert.public_key().subject_public_key.data.as_ref())).as_str())
    );
    assert_eq!(hash.serial_number, facts.serial_number);
    assert!(!hash.serial_number.starts_with('0'));

    // A leaf's issuer key is its CA's, which the leaf alone does not tell.
    let (authority, _) = ca(Policy::default());
    let (csr, _) = station_csr("CP1", None);
    let leaf = authority.sign_station_csr("CP1", &csr, now()).expect("signed").facts;
    assert!(!leaf.self_signed && leaf.hash_data(crate::HashAlgorithm::Sha512).issuer_key_hash.is_none());
}
