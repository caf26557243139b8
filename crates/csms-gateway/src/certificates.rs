//! A station's SignCertificate, for both versions (OCPP 1.6 security whitepaper ed. 2 §3.2,
//! OCPP 2.0.1 A02/A03): the CSR is checked and signed by Ström's CA, the certificate recorded
//! as issued together with the request, and only then is the station answered Accepted; the
//! certificate follows in a CertificateSigned once the answer is out. Without a CA, for a bad
//! CSR, and for an ISO 15118 (V2G) certificate, for which Ström has no V2G root, the answer is
//! an honest Rejected, recorded with the reason.

use crate::context::Context;
use crate::errors::CallFailure;
use csms_core::certificates::IssuedCertificate;
use csms_core::notifications::StationEventKind;
use csms_core::ops::{FrameLog, IssueCertificate};
use csms_pki::CsrRefusal;
use ocpp::OcppVersion;

/// What Ström's certificates are, in 2.0.1's words (CertificateSigningUseEnumType).
const STATION_CERTIFICATE: &str = "ChargingStationCertificate";

/// Signs the station's CSR, or says why not; `Ok(Err(_))` is a Rejected answer, `Err(_)` a
/// storage failure (CALLERROR InternalError, and the station asks again).
pub(crate) async fn sign(
    cx: &mut Context<'_>,
    csr: String,
    v2g: bool,
    version: OcppVersion,
    log: &mut Option<FrameLog>,
) -> Result<Result<(), CsrRefusal>, CallFailure> {
    let now = cx.now();
    let station = cx.station().clone();
    let signed = match (v2g, cx.commands().authority()) {
        (true, _) => Err(CsrRefusal::V2gNotSupported),
        (false, None) => Err(CsrRefusal::NoAuthority),
        (false, Some(authority)) => authority.sign_station_csr(station.as_str(), &csr, now),
    };
    let issued = match signed {
        Ok(issued) => issued,
        Err(refusal) => {
            tracing::info!(station = %station, reason = %refusal, "certificate signing request rejected");
            let detail = format!("{refusal}\n{csr}");
            cx.event(log, StationEventKind::SignCertificate, Some("Rejected".into()), None, Some(detail), now).await?;
            return Ok(Err(refusal));
        }
    };
    let facts = &issued.facts;
    let certificate = IssuedCertificate {
        station: station.clone(),
        certificate_type: STATION_CERTIFICATE.to_string(),
        serial_number: facts.serial_number.clone(),
        subject: facts.subject.clone(),
        issuer: facts.issuer.clone(),
        not_before: facts.not_before,
        not_after: facts.not_after,
        fingerprint_sha256: facts.fingerprint_sha256.clone(),
    };
    cx.commit(IssueCertificate { certificate, csr, now }, log).await?;
    tracing::info!(station = %station, serial = %facts.serial_number, "station certificate issued");
    // The CertificateSigned goes through the station's session like an operator's command, and
    // so after this answer: the session sends the answer before it takes the next CSMS call
    // (and this one waits its turn behind any command already in flight, OCPP-J §4.1.1).
    let commands = cx.commands().clone();
    tokio::spawn(async move {
        match commands.deliver_certificate(station.as_str(), &issued.chain_pem, version).await {
            Ok(outcome) => {
                tracing::info!(station = %station, command_id = outcome.command_id, "certificate delivered")
            }
            // In the command log; the station asks again when its CertSigningWaitMinimum passes.
            Err(e) => tracing::warn!(station = %station, error = %e, "certificate not delivered"),
        }
    });
    Ok(Ok(()))
}
