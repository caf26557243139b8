//! Certificate management towards stations (OCPP 1.6 security whitepaper ed. 2 §3–4, OCPP
//! 2.0.1 blocks A and M): the CA Ström signs with, the CertificateSigned that delivers a signed
//! certificate, and what the station's answers to the certificate commands change in Ström's
//! picture of it (the issued certificate accepted or rejected; the certificates it holds, by
//! its listing and by the installs and deletions it accepted). Kept apart from `effects`, whose
//! commands are about a station's settings rather than its certificates.

use crate::{CommandError, CommandOutcome, Commands};
use csms_core::certificates::{CertificateChange, CertificateHash, InstalledCertificate};
use csms_core::ops::Change;
use csms_core::station::StationId;
use csms_core::Timestamp;
use csms_pki::{Authority, CertificateFacts, HashAlgorithm};
use ocpp::OcppVersion;
use std::sync::Arc;

impl Commands {
    /// Ström's CA, with which station certificates are signed.
    pub fn with_authority(mut self, authority: Option<Arc<Authority>>) -> Commands {
        self.authority = authority;
        self
    }

    /// The CA, when one is configured; without it every SignCertificate is Rejected.
    pub fn authority(&self) -> Option<&Arc<Authority>> {
        self.authority.as_ref()
    }

    /// Asks a station to renew its certificate, in its version's words: 1.6 ExtendedTriggerMessage
    /// SignChargePointCertificate (whitepaper §3.2 step 1), 2.0.1 TriggerMessage
    /// SignChargingStationCertificate (A02.FR.01). An accepted trigger is followed by the
    /// station's SignCertificate.
    pub async fn renew_certificate(&self, station: &str) -> Result<CommandOutcome, CommandError> {
        let version = self.station_version(station).await?;
        let (action, payload) = match version {
            OcppVersion::V16 => (
                "ExtendedTriggerMessage",
                ocpp::v16::Request::ExtendedTriggerMessage(ocpp::v16::ExtendedTriggerMessageRequest {
                    connector_id: None,
                    requested_message: ocpp::v16::MessageTriggerEnum::SignChargePointCertificate,
                })
                .to_json(),
            ),
            OcppVersion::V201 => (
                "TriggerMessage",
                ocpp::v201::Request::TriggerMessage(ocpp::v201::TriggerMessageRequest {
                    custom_data: None,
                    evse: None,
                    requested_message: ocpp::v201::MessageTriggerEnum::SignChargingStationCertificate,
                })
                .to_json(),
            ),
        };
        let payload = payload.map_err(|e| CommandError::InvalidPayload { action, message: e.to_string() })?;
        self.command(station, action, &payload).await
    }

    /// Sends a station the certificate chain Ström signed for it (CertificateSigned, OCPP 1.6
    /// security whitepaper ed. 2 §3.2 step 3, 2.0.1 A02.FR.02), as a logged command: the
    /// station's answer marks the certificate accepted or rejected (`effects_16`/`effects_201`).
    pub async fn deliver_certificate(
        &self,
        station: &str,
        chain_pem: &str,
        version: OcppVersion,
    ) -> Result<CommandOutcome, CommandError> {
        let payload = match version {
            OcppVersion::V16 => ocpp::v16::Request::CertificateSigned(ocpp::v16::CertificateSignedRequest {
                certificate_chain: chain_pem.to_string(),
            })
            .to_json(),
            OcppVersion::V201 => ocpp::v201::Request::CertificateSigned(ocpp::v201::CertificateSignedRequest {
                certificate_chain: chain_pem.to_string(),
                certificate_type: Some(ocpp::v201::CertificateSigningUseEnum::ChargingStationCertificate),
                custom_data: None,
            })
            .to_json(),
        };
        let payload = payload
            .map_err(|e| CommandError::InvalidPayload { action: "CertificateSigned", message: e.to_string() })?;
        self.command(station, "CertificateSigned", &payload).await
    }
}

/// A certificate a station accepted to install: its hash data (SHA-256, which stations list
/// with unless asked otherwise) computed from the PEM Ström sent, with its subject and expiry.
fn installed(certificate_type: &str, pem: &str) -> Option<InstalledCertificate> {
    let facts = match CertificateFacts::from_pem(pem) {
        Ok(facts) => facts,
        Err(e) => {
            // The station accepted what Ström cannot read; its next listing will say what it holds.
            tracing::warn!(error = %e, "an installed certificate could not be read; not tracked until listed");
            return None;
        }
    };
    let hash = facts.hash_data(HashAlgorithm::Sha256);
    Some(InstalledCertificate {
        certificate_type: certificate_type.to_string(),
        hash: CertificateHash {
            hash_algorithm: hash.algorithm.as_str().to_string(),
            issuer_name_hash: hash.issuer_name_hash,
            issuer_key_hash: hash.issuer_key_hash.unwrap_or_default(),
            serial_number: hash.serial_number,
        },
        parent: None,
        subject: Some(facts.subject),
        not_after: Some(facts.not_after),
    })
}

/// The serial number of the first certificate of a chain Ström delivered.
fn leaf_serial(chain: &str) -> Option<String> {
    CertificateFacts::from_pem(chain).ok().map(|f| f.serial_number)
}

fn change(c: CertificateChange) -> Vec<Change> {
    vec![Change::Certificates(c)]
}

/// What a 1.6 certificate command's answer changes.
pub(crate) fn effects_16(
    station: &StationId,
    action: ocpp::v16::Action,
    request: &str,
    response: &str,
    now: Timestamp,
) -> Result<Vec<Change>, String> {
    use ocpp::v16::*;
    let station = station.clone();
    let req = Request::decode(action, request).map_err(|e| e.to_string())?;
    let res = Response::decode(action, response).map_err(|e| e.to_string())?;
    let hash = |h: CertificateHashData| CertificateHash {
        hash_algorithm: h.hash_algorithm.as_str().to_string(),
        issuer_name_hash: h.issuer_name_hash,
        issuer_key_hash: h.issuer_key_hash,
        serial_number: h.serial_number,
    };
    Ok(match (req, res) {
        (Request::CertificateSigned(req), Response::CertificateSigned(res)) => {
            match leaf_serial(&req.certificate_chain) {
                Some(serial_number) => {
                    let accepted = res.status == CertificateSignedStatusEnum::Accepted;
                    change(CertificateChange::Answered { station, serial_number, accepted, now })
                }
                None => Vec::new(),
            }
        }
        (Request::InstallCertificate(req), Response::InstallCertificate(res))
            if res.status == InstallCertificateStatusEnum::Accepted =>
        {
            installed(req.certificate_type.as_str(), &req.certificate)
                .map_or_else(Vec::new, |certificate| change(CertificateChange::Installed { station, certificate, now }))
        }
        (Request::GetInstalledCertificateIds(req), Response::GetInstalledCertificateIds(res)) => {
            let certificate_type = req.certificate_type.as_str().to_string();
            // NotFound: the station holds none of the type (whitepaper §4.3).
            let certificates = match res.status {
                GetInstalledCertificateStatusEnum::Accepted => res.certificate_hash_data.unwrap_or_default(),
                GetInstalledCertificateStatusEnum::NotFound => Vec::new(),
            };
            let certificates = certificates
                .into_iter()
                .map(|h| InstalledCertificate {
                    certificate_type: certificate_type.clone(),
                    hash: hash(h),
                    parent: None,
                    subject: None,
                    not_after: None,
                })
                .collect();
            change(CertificateChange::Reported { station, types: vec![certificate_type], certificates, now })
        }
        (Request::DeleteCertificate(req), Response::DeleteCertificate(res)) => match res.status {
            // NotFound: the station does not hold it, so Ström's picture loses it too.
            DeleteCertificateStatusEnum::Accepted | DeleteCertificateStatusEnum::NotFound => {
                change(CertificateChange::Deleted { station, hash: hash(req.certificate_hash_data) })
            }
            DeleteCertificateStatusEnum::Failed => Vec::new(),
        },
        _ => Vec::new(),
    })
}

/// What a 2.0.1 certificate command's answer changes.
pub(crate) fn effects_201(
    station: &StationId,
    action: ocpp::v201::Action,
    request: &str,
    response: &str,
    now: Timestamp,
) -> Result<Vec<Change>, String> {
    use ocpp::v201::*;
    let station = station.clone();
    let req = Request::decode(action, request).map_err(|e| e.to_string())?;
    let res = Response::decode(action, response).map_err(|e| e.to_string())?;
    let hash = |h: CertificateHashData| CertificateHash {
        hash_algorithm: h.hash_algorithm.as_str().to_string(),
        issuer_name_hash: h.issuer_name_hash,
        issuer_key_hash: h.issuer_key_hash,
        serial_number: h.serial_number,
    };
    Ok(match (req, res) {
        (Request::CertificateSigned(req), Response::CertificateSigned(res)) => {
            match leaf_serial(&req.certificate_chain) {
                Some(serial_number) => {
                    let accepted = res.status == CertificateSignedStatusEnum::Accepted;
                    change(CertificateChange::Answered { station, serial_number, accepted, now })
                }
                None => Vec::new(),
            }
        }
        (Request::InstallCertificate(req), Response::InstallCertificate(res))
            if res.status == InstallCertificateStatusEnum::Accepted =>
        {
            installed(req.certificate_type.as_str(), &req.certificate)
                .map_or_else(Vec::new, |certificate| change(CertificateChange::Installed { station, certificate, now }))
        }
        (Request::GetInstalledCertificateIds(req), Response::GetInstalledCertificateIds(res)) => {
            // No type asked for: the station listed every certificate it holds (M03.FR.02).
            let types: Vec<String> =
                req.certificate_type.unwrap_or_default().iter().map(|t| t.as_str().to_string()).collect();
            let mut certificates = Vec::new();
            if res.status == GetInstalledCertificateStatusEnum::Accepted {
                for chain in res.certificate_hash_data_chain.unwrap_or_default() {
                    let certificate_type = chain.certificate_type.as_str().to_string();
                    let top = hash(chain.certificate_hash_data);
                    let parent = top.key();
                    certificates.push(InstalledCertificate {
                        certificate_type: certificate_type.clone(),
                        hash: top,
                        parent: None,
                        subject: None,
                        not_after: None,
                    });
                    for child in chain.child_certificate_hash_data.unwrap_or_default() {
                        certificates.push(InstalledCertificate {
                            certificate_type: certificate_type.clone(),
                            hash: hash(child),
                            parent: Some(parent.clone()),
                            subject: None,
                            not_after: None,
                        });
                    }
                }
            }
            change(CertificateChange::Reported { station, types, certificates, now })
        }
        (Request::DeleteCertificate(req), Response::DeleteCertificate(res)) => match res.status {
            DeleteCertificateStatusEnum::Accepted | DeleteCertificateStatusEnum::NotFound => {
                change(CertificateChange::Deleted { station, hash: hash(req.certificate_hash_data) })
            }
            DeleteCertificateStatusEnum::Failed => Vec::new(),
        },
        _ => Vec::new(),
    })
}
