//! The database schema, one text for both backends: `{id}`, `{real}` stand for the column
//! types the two dialects spell differently. Migrations are applied in order and recorded in
//! `schema_migrations`, so a database is upgraded in place at start.

use crate::Backend;

const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE stations (
    id TEXT PRIMARY KEY,
    registration_status TEXT NOT NULL,
    ocpp_version TEXT,
    vendor TEXT,
    model TEXT,
    serial_number TEXT,
    charge_box_serial_number TEXT,
    firmware_version TEXT,
    iccid TEXT,
    imsi TEXT,
    meter_type TEXT,
    meter_serial_number TEXT,
    firmware_status TEXT,
    diagnostics_status TEXT,
    log_status TEXT,
    last_boot_at TEXT,
    last_seen_at TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE connectors (
    station_id TEXT NOT NULL,
    connector_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    error_code TEXT NOT NULL,
    info TEXT,
    vendor_id TEXT,
    vendor_error_code TEXT,
    status_at TEXT NOT NULL,
    PRIMARY KEY (station_id, connector_id)
);
CREATE TABLE id_tokens (
    id_token TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    expiry TEXT,
    parent_id_token TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE transactions (
    id {id},
    station_id TEXT NOT NULL,
    connector_id BIGINT,
    station_tx_id TEXT,
    id_token TEXT,
    start_auth_status TEXT,
    started_at TEXT,
    meter_start_wh {real},
    reservation_id BIGINT,
    stopped_at TEXT,
    meter_stop_wh {real},
    energy_wh {real},
    stop_reason TEXT,
    stop_id_token TEXT,
    flags TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX transactions_station_tx ON transactions (station_id, station_tx_id);
CREATE INDEX transactions_active ON transactions (stopped_at, id_token);
CREATE TABLE meter_values (
    id {id},
    station_id TEXT NOT NULL,
    connector_id BIGINT NOT NULL,
    transaction_id BIGINT,
    station_tx_id TEXT,
    timestamp TEXT NOT NULL,
    measurand TEXT NOT NULL,
    phase TEXT,
    location TEXT NOT NULL,
    context TEXT NOT NULL,
    format TEXT NOT NULL,
    unit TEXT NOT NULL,
    raw_value TEXT NOT NULL,
    value {real},
    normalised_unit TEXT NOT NULL
);
CREATE INDEX meter_values_tx ON meter_values (transaction_id, timestamp);
CREATE TABLE faults (
    id {id},
    station_id TEXT NOT NULL,
    connector_id BIGINT NOT NULL,
    error_code TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    vendor_id TEXT,
    vendor_error_code TEXT,
    info TEXT,
    started_at TEXT NOT NULL,
    cleared_at TEXT
);
CREATE INDEX faults_open ON faults (station_id, connector_id, cleared_at);
CREATE TABLE station_events (
    id {id},
    station_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT,
    request_id BIGINT,
    detail TEXT,
    at TEXT NOT NULL
);
CREATE INDEX station_events_station ON station_events (station_id, kind, at);
CREATE TABLE messages (
    id {id},
    station_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    at TEXT NOT NULL,
    frame TEXT NOT NULL
);
CREATE INDEX messages_station ON messages (station_id, id);
CREATE INDEX messages_at ON messages (at);
"#];

pub(crate) fn migrations(backend: Backend) -> Vec<String> {
    let (id, real) = match backend {
        Backend::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "REAL"),
        Backend::Postgres => ("BIGSERIAL PRIMARY KEY", "DOUBLE PRECISION"),
    };
    MIGRATIONS
        .iter()
        .map(|m| m.replace("{id}", id).replace("{real}", real))
        .collect()
}
