//! Certificates: those Ström signed for a station and the station's answer to them, and those a
//! station holds (its GetInstalledCertificateIds listing, the InstallCertificate and
//! DeleteCertificate it accepted). Only public facts are written; there is no private key to
//! write.

use crate::db::{query, Conn};
use crate::StoreError;
use csms_core::certificates::{serial_key, CertificateChange, InstalledCertificate, IssuedStatus};
use csms_core::clock::format_timestamp;
use csms_core::ops::IssueCertificate;
use csms_core::station::StationId;
use csms_core::Timestamp;
use std::collections::HashMap;

/// A signed certificate, recorded as issued, with the station's SignCertificate as its event.
pub(super) async fn issue(conn: &mut Conn, op: &IssueCertificate) -> Result<(), StoreError> {
    let c = &op.certificate;
    query(
        "INSERT INTO issued_certificates (station_id, certificate_type, serial_number, subject, issuer, not_before, \
         not_after, fingerprint_sha256, status, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(c.station.as_str())
    .bind(&c.certificate_type)
    .bind(&c.serial_number)
    .bind(&c.subject)
    .bind(&c.issuer)
    .bind(format_timestamp(&c.not_before))
    .bind(format_timestamp(&c.not_after))
    .bind(&c.fingerprint_sha256)
    .bind(IssuedStatus::Issued.as_str())
    .bind(format_timestamp(&op.now))
    .execute(&mut *conn)
    .await?;
    query(
        "INSERT INTO station_events (station_id, kind, status, detail, at) VALUES ($1, 'SignCertificate', 'Accepted', $2, $3)",
    )
    .bind(c.station.as_str())
    .bind(&op.csr)
    .bind(format_timestamp(&op.now))
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn change(conn: &mut Conn, change: &CertificateChange) -> Result<(), StoreError> {
    match change {
        CertificateChange::Answered { station, serial_number, accepted, now } => {
            let status = if *accepted { IssuedStatus::Accepted } else { IssuedStatus::Rejected };
            query(
                "UPDATE issued_certificates SET status = $1, answered_at = $2 WHERE station_id = $3 AND serial_number = $4",
            )
            .bind(status.as_str())
            .bind(format_timestamp(now))
            .bind(station.as_str())
            .bind(serial_key(serial_number))
            .execute(conn)
            .await?;
            Ok(())
        }
        CertificateChange::Reported { station, types, certificates, now } => {
            reported(conn, station, types, certificates, now).await
        }
        CertificateChange::Installed { station, certificate, now } => {
            upsert(conn, station, certificate, "installed", now).await
        }
        CertificateChange::Deleted { station, hash } => {
            let key = hash.key();
            query(
                "DELETE FROM installed_certificates WHERE station_id = $1 AND (hash_key = $2 OR parent_hash_key = $2)",
            )
            .bind(station.as_str())
            .bind(key)
            .execute(conn)
            .await?;
            Ok(())
        }
    }
}

/// A station's listing replaces what Ström knew of the listed types; a subject and expiry Ström
/// knew (from installing the certificate) stay with the certificate of that serial number.
async fn reported(
    conn: &mut Conn,
    station: &StationId,
    types: &[String],
    certificates: &[InstalledCertificate],
    now: &Timestamp,
) -> Result<(), StoreError> {
    let rows = query(
        "SELECT serial_key, subject, not_after FROM installed_certificates WHERE station_id = $1 AND subject IS NOT NULL",
    )
    .bind(station.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let mut known: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
    for row in rows {
        known.insert(row.try_get("serial_key")?, (row.try_get("subject")?, row.try_get("not_after")?));
    }
    if types.is_empty() {
        query("DELETE FROM installed_certificates WHERE station_id = $1")
            .bind(station.as_str())
            .execute(&mut *conn)
            .await?;
    }
    for certificate_type in types {
        query("DELETE FROM installed_certificates WHERE station_id = $1 AND certificate_type = $2")
            .bind(station.as_str())
            .bind(certificate_type)
            .execute(&mut *conn)
            .await?;
    }
    for certificate in certificates {
        let mut certificate = certificate.clone();
        if let (None, Some((subject, not_after))) =
            (&certificate.subject, known.get(&serial_key(&certificate.hash.serial_number)))
        {
            certificate.subject = subject.clone();
            certificate.not_after = not_after.as_deref().and_then(csms_core::clock::parse_timestamp);
        }
        upsert(conn, station, &certificate, "reported", now).await?;
    }
    Ok(())
}

async fn upsert(
    conn: &mut Conn,
    station: &StationId,
    c: &InstalledCertificate,
    source: &'static str,
    now: &Timestamp,
) -> Result<(), StoreError> {
    query(
        "INSERT INTO installed_certificates (station_id, hash_key, certificate_type, hash_algorithm, issuer_name_hash, \
         issuer_key_hash, serial_number, serial_key, parent_hash_key, subject, not_after, source, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (station_id, hash_key) DO UPDATE SET certificate_type = excluded.certificate_type, \
         hash_algorithm = excluded.hash_algorithm, issuer_name_hash = excluded.issuer_name_hash, \
         issuer_key_hash = excluded.issuer_key_hash, serial_number = excluded.serial_number, \
         parent_hash_key = excluded.parent_hash_key, \
         subject = COALESCE(excluded.subject, installed_certificates.subject), \
         not_after = COALESCE(excluded.not_after, installed_certificates.not_after), \
         source = excluded.source, updated_at = excluded.updated_at",
    )
    .bind(station.as_str())
    .bind(c.hash.key())
    .bind(&c.certificate_type)
    .bind(&c.hash.hash_algorithm)
    .bind(&c.hash.issuer_name_hash)
    .bind(&c.hash.issuer_key_hash)
    .bind(&c.hash.serial_number)
    .bind(serial_key(&c.hash.serial_number))
    .bind(c.parent.as_deref())
    .bind(c.subject.as_deref())
    .bind(c.not_after.as_ref().map(format_timestamp))
    .bind(source)
    .bind(format_timestamp(now))
    .execute(conn)
    .await?;
    Ok(())
}
