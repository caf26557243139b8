//! A station's security as the store keeps it (issue 25): a boot says whether it registered a
//! station Ström had never seen (which trust on first use acts on, and only on that), and a
//! password the station accepted replaces the stored hash and raises the profile as
//! `security::profile_after_password_change` decides, never lowering it. Both backends.

// Shared with the other test binaries, which use all of it.
#[allow(dead_code)]
mod common;

use csms_core::ops::{Boot, Change, Changes, SetSecurity};
use csms_core::security::{PasswordHash, SecurityProfile};
use csms_core::station::{BootInfo, ProtocolVersion, RegistrationPolicy, StationId};
use csms_store::{Store, StoreOptions};

fn boot(station: &StationId, policy: RegistrationPolicy) -> Boot {
    let info = BootInfo {
        vendor: "Test".into(),
        model: "T1".into(),
        serial_number: None,
        charge_box_serial_number: None,
        firmware_version: None,
        iccid: None,
        imsi: None,
        meter_type: None,
        meter_serial_number: None,
        reason: None,
    };
    Boot { station: station.clone(), ocpp_version: ProtocolVersion::V16, info, policy, now: chrono::Utc::now() }
}

fn accepted(station: &StationId, hash: &str, at_least: SecurityProfile) -> Changes {
    Changes(vec![Change::PasswordAccepted {
        station: station.clone(),
        password_hash: PasswordHash(hash.into()),
        at_least,
        now: chrono::Utc::now(),
    }])
}

async fn boots_and_passwords(backend: &str) {
    let test = format!("security_boots_and_passwords_{backend}");
    let (_dir, url, pg) = if backend == "sqlite" {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("security.db").display().to_string();
        (Some(dir), path, None)
    } else {
        let Some((admin, tag, url)) = common::pg_schema(&test).await else { return };
        (None, url, Some((admin, tag)))
    };
    let store = Store::open(&url, StoreOptions::default()).await.expect("store");
    let cp1 = StationId::parse("CP1").expect("id");

    let first = store.execute(boot(&cp1, RegistrationPolicy::Accept), Vec::new()).await.expect("boot");
    assert!(first.new_station, "never seen before");
    let second = store.execute(boot(&cp1, RegistrationPolicy::Accept), Vec::new()).await.expect("boot");
    assert!(!second.new_station, "known since its first boot");
    // Registered by the operator before it ever booted: known at its first boot.
    let cp2 = StationId::parse("CP2").expect("id");
    let op = SetSecurity {
        station: cp2.clone(),
        profile: SecurityProfile::Unsecured,
        password_hash: None,
        now: chrono::Utc::now(),
    };
    store.execute(op, Vec::new()).await.expect("registered");
    assert!(!store.execute(boot(&cp2, RegistrationPolicy::Accept), Vec::new()).await.expect("boot").new_station);

    // An accepted password: hash replaced, profile raised to at least what was asked.
    store.execute(accepted(&cp1, "$argon2id$first", SecurityProfile::BasicAuth), Vec::new()).await.expect("stored");
    let settings = store.security("CP1").await.expect("read").expect("known");
    assert_eq!(
        (settings.profile, settings.password_hash.as_deref()),
        (SecurityProfile::BasicAuth, Some("$argon2id$first"))
    );
    // Never lowered: a station at profile 2 that takes a new password stays at 2.
    let op = SetSecurity {
        station: cp1.clone(),
        profile: SecurityProfile::TlsBasicAuth,
        password_hash: None,
        now: chrono::Utc::now(),
    };
    store.execute(op, Vec::new()).await.expect("set");
    store.execute(accepted(&cp1, "$argon2id$second", SecurityProfile::Unsecured), Vec::new()).await.expect("stored");
    let settings = store.security("CP1").await.expect("read").expect("known");
    assert_eq!(
        (settings.profile, settings.password_hash.as_deref()),
        (SecurityProfile::TlsBasicAuth, Some("$argon2id$second"))
    );
    // A station without a row (connected, never booted) keeps none.
    let ghost = StationId::parse("GHOST").expect("id");
    store.execute(accepted(&ghost, "$argon2id$x", SecurityProfile::BasicAuth), Vec::new()).await.expect("stored");
    assert_eq!(store.security("GHOST").await.expect("read"), None);

    store.close().await;
    if let Some((mut admin, tag)) = pg {
        common::drop_schema(&mut admin, &tag).await;
    }
}

#[tokio::test]
async fn sqlite_boots_and_passwords() {
    boots_and_passwords("sqlite").await;
}

#[tokio::test]
async fn postgres_boots_and_passwords() {
    boots_and_passwords("postgres").await;
}
