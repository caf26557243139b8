//! Reads of the certificates Ström tracks: those it signed for each station and those each
//! station holds, and across stations those that expire soon.

use super::StationEventView;
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A certificate Ström signed for a station, with what the station answered to it.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedCertificateView {
    pub station_id: String,
    pub certificate_type: String,
    pub serial_number: String,
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    pub fingerprint_sha256: String,
    /// issued, accepted or rejected (`IssuedStatus`).
    pub status: String,
    pub issued_at: String,
    pub answered_at: Option<String>,
}

/// A certificate a station holds, as it listed it or as Ström installed or signed it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstalledCertificateView {
    pub station_id: String,
    pub certificate_type: String,
    pub hash_algorithm: String,
    pub issuer_name_hash: String,
    pub issuer_key_hash: String,
    pub serial_number: String,
    /// For a certificate below another in a V2G chain: the one above, by its hash data.
    pub parent_hash_key: Option<String>,
    pub subject: Option<String>,
    pub not_after: Option<String>,
    /// reported (the station's listing) or installed (an InstallCertificate it accepted).
    pub source: String,
    pub updated_at: String,
}

const ISSUED_COLUMNS: &str = "station_id, certificate_type, serial_number, subject, issuer, not_before, not_after, \
     fingerprint_sha256, status, issued_at, answered_at";

fn issued(r: &AnyRow) -> Result<IssuedCertificateView, sqlx::Error> {
    Ok(IssuedCertificateView {
        station_id: r.try_get("station_id")?,
        certificate_type: r.try_get("certificate_type")?,
        serial_number: r.try_get("serial_number")?,
        subject: r.try_get("subject")?,
        issuer: r.try_get("issuer")?,
        not_before: r.try_get("not_before")?,
        not_after: r.try_get("not_after")?,
        fingerprint_sha256: r.try_get("fingerprint_sha256")?,
        status: r.try_get("status")?,
        issued_at: r.try_get("issued_at")?,
        answered_at: r.try_get("answered_at")?,
    })
}

fn installed(r: &AnyRow) -> Result<InstalledCertificateView, sqlx::Error> {
    Ok(InstalledCertificateView {
        station_id: r.try_get("station_id")?,
        certificate_type: r.try_get("certificate_type")?,
        hash_algorithm: r.try_get("hash_algorithm")?,
        issuer_name_hash: r.try_get("issuer_name_hash")?,
        issuer_key_hash: r.try_get("issuer_key_hash")?,
        serial_number: r.try_get("serial_number")?,
        parent_hash_key: r.try_get("parent_hash_key")?,
        subject: r.try_get("subject")?,
        not_after: r.try_get("not_after")?,
        source: r.try_get("source")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    /// The certificates Ström signed for a station, newest first.
    pub async fn issued_certificates(&self, station_id: &str) -> Result<Vec<IssuedCertificateView>, StoreError> {
        let sql = format!("SELECT {ISSUED_COLUMNS} FROM issued_certificates WHERE station_id = $1 ORDER BY id DESC");
        let rows = sqlx::query(&sql).bind(station_id).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(issued).collect::<Result<_, _>>()?)
    }

    /// The certificates a station holds, by type and serial number.
    pub async fn installed_certificates(&self, station_id: &str) -> Result<Vec<InstalledCertificateView>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM installed_certificates WHERE station_id = $1 ORDER BY certificate_type, serial_key, hash_key",
        )
        .bind(station_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(installed).collect::<Result<_, _>>()?)
    }

    /// A station's security events about certificates (InvalidChargePointCertificate,
    /// InvalidChargingStationCertificate, InvalidCentralSystemCertificate, …: every OCPP type
    /// that names one ends in "Certificate"), the newest 100, newest first.
    pub async fn certificate_security_events(&self, station_id: &str) -> Result<Vec<StationEventView>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, status, request_id, evse_id, detail, at FROM station_events WHERE station_id = $1 \
             AND kind = 'SecurityEventNotification' AND status LIKE '%Certificate' ORDER BY id DESC LIMIT 100",
        )
        .bind(station_id)
        .fetch_all(self.pool())
        .await?;
        let view = |r: &AnyRow| -> Result<StationEventView, sqlx::Error> {
            Ok(StationEventView {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                status: r.try_get("status")?,
                request_id: r.try_get("request_id")?,
                evse_id: r.try_get("evse_id")?,
                detail: r.try_get("detail")?,
                at: r.try_get("at")?,
            })
        };
        Ok(rows.iter().map(view).collect::<Result<_, _>>()?)
    }

    /// Across stations, soonest first: the certificates Ström signed that are still in use (not
    /// rejected, and no newer one of the same type accepted by the station since) and the
    /// certificates stations hold whose expiry Ström knows, that expire before `before` (RFC
    /// 3339, as stored), expired ones included.
    pub async fn expiring_certificates(
        &self,
        before: &str,
    ) -> Result<(Vec<IssuedCertificateView>, Vec<InstalledCertificateView>), StoreError> {
        let sql = format!(
            "SELECT {ISSUED_COLUMNS} FROM issued_certificates c WHERE not_after < $1 AND status <> 'rejected' \
             AND NOT EXISTS (SELECT 1 FROM issued_certificates n WHERE n.station_id = c.station_id \
             AND n.certificate_type = c.certificate_type AND n.status = 'accepted' AND n.id > c.id) \
             ORDER BY not_after, station_id"
        );
        let rows = sqlx::query(&sql).bind(before).fetch_all(self.pool()).await?;
        let issued = rows.iter().map(issued).collect::<Result<_, _>>()?;
        let rows = sqlx::query(
            "SELECT * FROM installed_certificates WHERE not_after IS NOT NULL AND not_after < $1 ORDER BY not_after, station_id",
        )
        .bind(before)
        .fetch_all(self.pool())
        .await?;
        let installed = rows.iter().map(installed).collect::<Result<_, _>>()?;
        Ok((issued, installed))
    }
}
