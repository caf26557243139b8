//! The database schema, one text for both backends: `{id}`, `{real}` stand for the column
//! types the two dialects spell differently, `{without_rowid}` for SQLite's table that is its
//! key (on PostgreSQL a heap and an index), and the other placeholders for texts kept once
//! (`readings`; `migrations` fills them in: the reading terms, the columns of samples and
//! readings, the grouping of older readings into samples, the views); a migration marked
//! `-- sqlite only` is empty on PostgreSQL, one marked `-- postgres only` on SQLite. Migrations
//! are applied in order and recorded in `schema_migrations`, so a database is upgraded in place
//! at start.

mod issue27;
mod issue28;
mod readings;

use readings::{meter_values_view, CODED_READINGS_VIEW, GROUP_READINGS, READING_COLUMNS, SAMPLE_COLUMNS};
pub(crate) use readings::{readings_of_samples, readings_with_words};

use crate::Backend;

const MIGRATIONS: &[&str] = &[
    r#"
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
"#,
    // OCPP 2.0.1 (issue 3): EVSEs, station-assigned transaction ids with event sequences, signed
    // meter values, NotifyEvent faults, and the device model assembled from NotifyReport.
    // Connectors get an EVSE level (0 for 1.6, where a connector is its own EVSE) and an optional
    // error code (2.0.1 reports errors through NotifyEvent, not StatusNotification).
    r#"
CREATE TABLE connectors_v2 (
    station_id TEXT NOT NULL,
    evse_id BIGINT NOT NULL,
    connector_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    error_code TEXT,
    info TEXT,
    vendor_id TEXT,
    vendor_error_code TEXT,
    status_at TEXT NOT NULL,
    PRIMARY KEY (station_id, evse_id, connector_id)
);
INSERT INTO connectors_v2 (station_id, evse_id, connector_id, status, error_code, info, vendor_id, vendor_error_code, status_at)
    SELECT station_id, 0, connector_id, status, error_code, info, vendor_id, vendor_error_code, status_at FROM connectors;
DROP TABLE connectors;
ALTER TABLE connectors_v2 RENAME TO connectors;
ALTER TABLE transactions ADD COLUMN evse_id BIGINT;
ALTER TABLE transactions ADD COLUMN id_token_type TEXT;
ALTER TABLE transactions ADD COLUMN charging_state TEXT;
ALTER TABLE transactions ADD COLUMN last_seq_no BIGINT;
ALTER TABLE transactions ADD COLUMN last_trigger_reason TEXT;
ALTER TABLE transactions ADD COLUMN time_spent_charging BIGINT;
ALTER TABLE transactions ADD COLUMN remote_start_id BIGINT;
CREATE TABLE transaction_events (
    transaction_id BIGINT NOT NULL,
    seq_no BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    trigger_reason TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    offline BIGINT NOT NULL,
    PRIMARY KEY (transaction_id, seq_no)
);
ALTER TABLE meter_values ADD COLUMN evse_id BIGINT;
ALTER TABLE meter_values ADD COLUMN signed_data TEXT;
ALTER TABLE faults ADD COLUMN evse_id BIGINT;
ALTER TABLE faults ADD COLUMN component TEXT;
ALTER TABLE faults ADD COLUMN variable TEXT;
ALTER TABLE faults ADD COLUMN tech_code TEXT;
ALTER TABLE faults ADD COLUMN tech_info TEXT;
ALTER TABLE faults ADD COLUMN event_id BIGINT;
CREATE INDEX faults_component ON faults (station_id, component, variable, cleared_at);
CREATE TABLE device_model (
    station_id TEXT NOT NULL,
    component TEXT NOT NULL,
    component_instance TEXT NOT NULL,
    evse_id BIGINT NOT NULL,
    connector_id BIGINT NOT NULL,
    variable TEXT NOT NULL,
    variable_instance TEXT NOT NULL,
    attribute_type TEXT NOT NULL,
    value TEXT,
    mutability TEXT,
    persistent BIGINT,
    constant BIGINT,
    data_type TEXT,
    unit TEXT,
    min_limit {real},
    max_limit {real},
    values_list TEXT,
    supports_monitoring BIGINT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (station_id, component, component_instance, evse_id, connector_id, variable, variable_instance, attribute_type)
);
CREATE TABLE device_model_staging (
    id {id},
    station_id TEXT NOT NULL,
    request_id BIGINT NOT NULL,
    seq_no BIGINT NOT NULL,
    component TEXT NOT NULL,
    component_instance TEXT NOT NULL,
    evse_id BIGINT NOT NULL,
    connector_id BIGINT NOT NULL,
    variable TEXT NOT NULL,
    variable_instance TEXT NOT NULL,
    attribute_type TEXT NOT NULL,
    value TEXT,
    mutability TEXT,
    persistent BIGINT,
    constant BIGINT,
    data_type TEXT,
    unit TEXT,
    min_limit {real},
    max_limit {real},
    values_list TEXT,
    supports_monitoring BIGINT
);
CREATE INDEX device_model_staging_request ON device_model_staging (station_id, request_id);
CREATE TABLE monitors (
    station_id TEXT NOT NULL,
    monitor_id BIGINT NOT NULL,
    component TEXT NOT NULL,
    component_instance TEXT NOT NULL,
    evse_id BIGINT NOT NULL,
    connector_id BIGINT NOT NULL,
    variable TEXT NOT NULL,
    variable_instance TEXT NOT NULL,
    kind TEXT NOT NULL,
    value {real} NOT NULL,
    severity BIGINT NOT NULL,
    transaction_only BIGINT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (station_id, monitor_id)
);
"#,
    // Operator commands to stations (issue 4): every CSMS-initiated CALL and how it ended.
    r#"
CREATE TABLE commands (
    id {id},
    station_id TEXT NOT NULL,
    action TEXT NOT NULL,
    request TEXT NOT NULL,
    status TEXT NOT NULL,
    response TEXT,
    error_code TEXT,
    error_description TEXT,
    requested_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX commands_station ON commands (station_id, id);
CREATE TABLE api_tokens (
    id {id},
    token_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    name TEXT,
    created_at TEXT NOT NULL
);
"#,
    // What commands leave behind (issue 4): a 1.6 station's configuration keys, reservations,
    // charging profiles and the availability the operator asked for. Absent key parts are -1.
    r#"
CREATE TABLE station_configuration (
    station_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT,
    readonly BIGINT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (station_id, key)
);
CREATE TABLE reservations (
    station_id TEXT NOT NULL,
    reservation_id BIGINT NOT NULL,
    evse_id BIGINT NOT NULL,
    connector_id BIGINT NOT NULL,
    id_token TEXT NOT NULL,
    group_id_token TEXT,
    expiry TEXT NOT NULL,
    status TEXT NOT NULL,
    transaction_id BIGINT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (station_id, reservation_id)
);
CREATE TABLE charging_profiles (
    station_id TEXT NOT NULL,
    profile_id BIGINT NOT NULL,
    evse_id BIGINT NOT NULL,
    stack_level BIGINT NOT NULL,
    purpose TEXT NOT NULL,
    transaction_id TEXT,
    profile TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (station_id, profile_id)
);
CREATE TABLE availability (
    station_id TEXT NOT NULL,
    evse_id BIGINT NOT NULL,
    connector_id BIGINT NOT NULL,
    operational TEXT NOT NULL,
    status TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (station_id, evse_id, connector_id)
);
"#,
    // Local authorization lists: what Ström last had a station accept, to compute differential
    // updates, and the list version the station holds.
    r#"
CREATE TABLE local_list_entries (
    station_id TEXT NOT NULL,
    id_token TEXT NOT NULL,
    status TEXT NOT NULL,
    expiry TEXT,
    parent_id_token TEXT,
    PRIMARY KEY (station_id, id_token)
);
CREATE TABLE local_list_versions (
    station_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);
"#,
    // Firmware updates and diagnostics/log uploads a station accepted, followed through its
    // status notifications.
    r#"
CREATE TABLE transfers (
    id {id},
    station_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    request_id BIGINT,
    location TEXT NOT NULL,
    file_name TEXT,
    status TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX transfers_station ON transfers (station_id, kind, id);
"#,
    // Readings outside a transaction (clock-aligned values of an idle connector, a station's
    // own meter) are never looked up by transaction: the index leaves them out.
    r#"
DROP INDEX meter_values_tx;
CREATE INDEX meter_values_tx ON meter_values (transaction_id, timestamp) WHERE transaction_id IS NOT NULL;
"#,
    // Pruning by age follows the ids (frames are logged in arrival order), so no index on the
    // time has to be kept up for every frame.
    r#"
DROP INDEX messages_at;
"#,
    // A StartTransaction is checked against the station's earlier ones (a retry gets the
    // transaction it already has); without this index that check read the station's whole
    // history, ever slower as it grew.
    r#"
CREATE INDEX transactions_start ON transactions (station_id, connector_id, started_at);
"#,
    // SQLite: the message log moves to a database file of its own (`MESSAGE_LOG`, attached as
    // `log`), written by a thread of its own, so that its bulk writes never hold the station
    // writes back: SQLite allows one writer per file. PostgreSQL keeps it where it is.
    r#"-- sqlite only
CREATE TABLE IF NOT EXISTS log.messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    station_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    at TEXT NOT NULL,
    frame TEXT NOT NULL
);
INSERT OR IGNORE INTO log.messages (id, station_id, direction, at, frame)
    SELECT id, station_id, direction, at, frame FROM main.messages;
DROP TABLE main.messages;
"#,
    // PostgreSQL: the sequences of the two tables written row by row at every message hand
    // their connection 256 ids at a time. `nextval` otherwise locks and updates the sequence
    // for each row, and WAL-logs it every 32: 9 % of the writer's PostgreSQL CPU at 1,000
    // stations (BENCHMARKS.md). Each table has one connection that inserts (the writer's for
    // readings, the log's for frames), so ids still follow arrival order; a reconnect leaves a
    // gap, as a rolled-back insert always could.
    r#"-- postgres only
ALTER SEQUENCE meter_values_id_seq CACHE 256;
ALTER SEQUENCE messages_id_seq CACHE 256;
"#,
    // The message log in blocks, a row per station per part (`log_blocks`): a row per frame cost
    // the log thread two thirds of its CPU in index and row inserts. A frame logged before keeps
    // its place: it becomes a block of one whose id is the frame's, so its new id is the old
    // one × 65,536 and new blocks come after. SQLite's log file has `message_blocks` already
    // (`MESSAGE_LOG`); PostgreSQL's is made here.
    r#"-- sqlite only
INSERT INTO log.message_blocks (id, station_id, frames, last_at, body)
    SELECT id, station_id, 1, at, CAST(
        CASE direction WHEN 'out' THEN 'o' ELSE 'i' END
        || unhex(printf('%016x', CAST(round(unixepoch(at, 'subsec') * 1000) AS INTEGER)))
        || unhex(printf('%08x', length(CAST(frame AS BLOB))))
        || frame AS BLOB)
    FROM log.messages ORDER BY id;
DROP TABLE log.messages;
"#,
    r#"-- postgres only
CREATE TABLE message_blocks (
    id BIGSERIAL PRIMARY KEY,
    station_id TEXT NOT NULL,
    frames BIGINT NOT NULL,
    last_at TEXT NOT NULL,
    body BYTEA NOT NULL
);
INSERT INTO message_blocks (id, station_id, frames, last_at, body)
    SELECT id, station_id, 1, at,
        convert_to(CASE direction WHEN 'out' THEN 'o' ELSE 'i' END, 'UTF8')
        || int8send(round(extract(epoch FROM at::timestamptz) * 1000)::bigint)
        || int4send(octet_length(convert_to(frame, 'UTF8')))
        || convert_to(frame, 'UTF8')
    FROM messages;
SELECT setval(pg_get_serial_sequence('message_blocks', 'id'),
    GREATEST((SELECT last_value FROM messages_id_seq), (SELECT COALESCE(max(id), 0) FROM messages)) + 1, false);
DROP TABLE messages;
CREATE INDEX message_blocks_station ON message_blocks (station_id, id);
"#,
    // Readings with codes for their protocol words (`terms`), in `readings`; `meter_values`
    // becomes a view that shows the words. SQLite's table loses AUTOINCREMENT, which made every
    // insert read and rewrite `sqlite_sequence` (a page more in every commit): readings are never
    // deleted, so a new id is still always above every earlier one. A transaction's readings are
    // found by its id alone and sorted by time when read: an index entry per reading is a third
    // of the size without the timestamp, and the writer adds one for every reading in a
    // transaction (3 % of its instructions in the session benchmark).
    r#"-- sqlite only
CREATE TABLE reading_terms (code INTEGER PRIMARY KEY, term TEXT NOT NULL UNIQUE);
{reading_terms};
CREATE TABLE readings (
    id INTEGER PRIMARY KEY,
    station_id TEXT NOT NULL,
    evse_id BIGINT,
    connector_id BIGINT NOT NULL,
    transaction_id BIGINT,
    station_tx_id TEXT,
    timestamp TEXT NOT NULL,
    location INTEGER NOT NULL,
    context INTEGER NOT NULL,
    format INTEGER NOT NULL,
    measurand INTEGER NOT NULL,
    phase INTEGER,
    unit TEXT NOT NULL,
    raw_value TEXT NOT NULL,
    value REAL,
    normalised_unit TEXT NOT NULL,
    signed_data TEXT
);
INSERT INTO readings (id, station_id, evse_id, connector_id, transaction_id, station_tx_id, timestamp,
    location, context, format, measurand, phase, unit, raw_value, value, normalised_unit, signed_data)
    SELECT m.id, m.station_id, m.evse_id, m.connector_id, m.transaction_id, m.station_tx_id, m.timestamp,
        (SELECT code FROM reading_terms WHERE term = m.location),
        (SELECT code FROM reading_terms WHERE term = m.context),
        (SELECT code FROM reading_terms WHERE term = m.format),
        (SELECT code FROM reading_terms WHERE term = m.measurand),
        (SELECT code FROM reading_terms WHERE term = m.phase),
        m.unit, m.raw_value, m.value, m.normalised_unit, m.signed_data
    FROM meter_values m ORDER BY m.id;
DROP TABLE meter_values;
CREATE INDEX readings_tx ON readings (transaction_id) WHERE transaction_id IS NOT NULL;
{coded_readings_view};
"#,
    r#"-- postgres only
CREATE TABLE reading_terms (code BIGINT PRIMARY KEY, term TEXT NOT NULL UNIQUE);
{reading_terms};
ALTER TABLE meter_values RENAME TO readings;
DROP INDEX meter_values_tx;
CREATE INDEX readings_tx ON readings (transaction_id) WHERE transaction_id IS NOT NULL;
ALTER TABLE readings RENAME COLUMN location TO location_term;
ALTER TABLE readings RENAME COLUMN context TO context_term;
ALTER TABLE readings RENAME COLUMN format TO format_term;
ALTER TABLE readings RENAME COLUMN measurand TO measurand_term;
ALTER TABLE readings RENAME COLUMN phase TO phase_term;
ALTER TABLE readings ADD COLUMN location BIGINT, ADD COLUMN context BIGINT, ADD COLUMN format BIGINT,
    ADD COLUMN measurand BIGINT, ADD COLUMN phase BIGINT;
UPDATE readings SET
    location = (SELECT code FROM reading_terms WHERE term = location_term),
    context = (SELECT code FROM reading_terms WHERE term = context_term),
    format = (SELECT code FROM reading_terms WHERE term = format_term),
    measurand = (SELECT code FROM reading_terms WHERE term = measurand_term),
    phase = (SELECT code FROM reading_terms WHERE term = phase_term);
ALTER TABLE readings DROP COLUMN location_term, DROP COLUMN context_term, DROP COLUMN format_term,
    DROP COLUMN measurand_term, DROP COLUMN phase_term;
ALTER TABLE readings ALTER COLUMN location SET NOT NULL, ALTER COLUMN context SET NOT NULL,
    ALTER COLUMN format SET NOT NULL, ALTER COLUMN measurand SET NOT NULL;
{coded_readings_view};
"#,
    // A MeterValue's sampled values share their station, place, transaction, time, location,
    // context and format: `samples` holds those once per run of readings that share them, and
    // `readings` the values. A sample's readings have consecutive ids, the first of which is the
    // sample's id, and the sample names its last: a transaction's index entries are one per
    // sample instead of one per reading, and its readings are a range of the readings' primary
    // key. Older readings keep their ids; each run of consecutive ids that share all nine fields
    // becomes a sample.
    r#"-- sqlite only
DROP VIEW meter_values;
ALTER TABLE readings RENAME TO ungrouped_readings;
CREATE TABLE samples (
    id INTEGER PRIMARY KEY,
    {sample_columns}
);
CREATE TABLE readings (
    id INTEGER PRIMARY KEY,
    {reading_columns}
);
{group_readings};
INSERT INTO readings (id, measurand, phase, unit, raw_value, value, normalised_unit, signed_data)
    SELECT id, measurand, phase, unit, raw_value, value, normalised_unit, signed_data FROM ungrouped_readings
    ORDER BY id;
DROP TABLE grouped;
DROP TABLE ungrouped_readings;
CREATE INDEX samples_tx ON samples (transaction_id) WHERE transaction_id IS NOT NULL;
{meter_values_view};
"#,
    // As above, but a reading also names its sample, and is keyed by it: PostgreSQL's planner
    // cannot estimate a range whose ends come from another row (it takes a fixed share of the
    // whole table), so it joined a sample to its readings by scanning them all, or, made to seek
    // the range, costed the seek by the table's size until JIT compilation cost half a second
    // per read. An equality join on the key is estimated from its statistics. The ids come from
    // a sequence that hands the writer a block of them at a time (`db::PgWriter`), since a
    // sample's readings go in by `COPY` and need their ids first. Statistics are gathered at
    // once: until autovacuum gets to the new tables the planner would guess.
    r#"-- postgres only
DROP VIEW meter_values;
ALTER TABLE readings RENAME TO ungrouped_readings;
DROP INDEX readings_tx;
CREATE SEQUENCE reading_ids INCREMENT BY {reading_id_block};
CREATE TABLE samples (
    id BIGINT PRIMARY KEY,
    {sample_columns}
);
CREATE TABLE readings (
    sample_id BIGINT NOT NULL,
    id BIGINT NOT NULL,
    {reading_columns},
    PRIMARY KEY (sample_id, id)
);
{group_readings};
INSERT INTO readings (sample_id, id, measurand, phase, unit, raw_value, value, normalised_unit, signed_data)
    SELECT g.sample_id, u.id, u.measurand, u.phase, u.unit, u.raw_value, u.value, u.normalised_unit, u.signed_data
    FROM ungrouped_readings u JOIN grouped g ON g.id = u.id ORDER BY g.sample_id, u.id;
DROP TABLE grouped;
DROP TABLE ungrouped_readings;
SELECT setval('reading_ids', COALESCE((SELECT max(id) FROM readings), 0) + 1, false);
CREATE INDEX samples_tx ON samples (transaction_id) WHERE transaction_id IS NOT NULL;
ANALYZE samples;
ANALYZE readings;
{meter_values_view};
"#,
    // Issue 23: what stations said and Ström dropped. The boot's reason (2.0.1); an id token's
    // type (2.0.1 IdTokenEnumType, NULL: any type), in Ström's tokens and in its copy of each
    // station's local list; the EVSE a station event is about (it had gone into `request_id`);
    // which protocol a transaction belongs to, so that ids are never matched across versions
    // (older rows: a 2.0.1 transaction has had a seqNo from its first event). A 1.6 connector's
    // faults are on EVSE 0, like its status. Events of a transaction are keyed by a row id rather
    // than by seqNo: a station that repeats a seqNo on a different event has both kept, told apart
    // from a retry by a digest of the event (older events have none). A new
    // transaction closes the one still open on its connector or EVSE (`transactions_open` finds
    // it without reading the connector's history).
    r#"
ALTER TABLE stations ADD COLUMN boot_reason TEXT;
ALTER TABLE id_tokens ADD COLUMN token_type TEXT;
ALTER TABLE local_list_entries ADD COLUMN token_type TEXT;
ALTER TABLE station_events ADD COLUMN evse_id BIGINT;
ALTER TABLE transactions ADD COLUMN ocpp_version TEXT;
UPDATE transactions SET ocpp_version = CASE WHEN last_seq_no IS NOT NULL OR id_token_type IS NOT NULL THEN '2.0.1' ELSE '1.6' END;
UPDATE faults SET evse_id = 0 WHERE evse_id IS NULL;
CREATE TABLE transaction_events_v2 (
    id {id},
    transaction_id BIGINT NOT NULL,
    seq_no BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    trigger_reason TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    offline BIGINT NOT NULL,
    digest TEXT
);
INSERT INTO transaction_events_v2 (transaction_id, seq_no, event_type, trigger_reason, timestamp, offline)
    SELECT transaction_id, seq_no, event_type, trigger_reason, timestamp, offline FROM transaction_events
    ORDER BY transaction_id, seq_no;
DROP TABLE transaction_events;
ALTER TABLE transaction_events_v2 RENAME TO transaction_events;
CREATE INDEX transaction_events_seq ON transaction_events (transaction_id, seq_no);
CREATE INDEX transactions_open ON transactions (station_id, connector_id) WHERE stopped_at IS NULL;
"#,
    // The local-list version each station last stated itself (GetLocalListVersion, or a
    // SendLocalList it accepted), beside Ström's copy in local_list_versions. `IF NOT EXISTS`:
    // the store's tests rebuild older reading layouts and run the migrations after them again.
    r#"
CREATE TABLE IF NOT EXISTS local_list_reports (
    station_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    source TEXT NOT NULL,
    reported_at TEXT NOT NULL
);
"#,
    // Issue 25: API tokens may expire, and may be revoked; either refuses them from then on. The
    // row stays, so that the token list shows what was revoked and when.
    r#"
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
ALTER TABLE api_tokens ADD COLUMN revoked_at TEXT;
"#,
    // Issue 25: each station's security profile (0: none, 1: HTTP Basic auth, …) and its Basic-auth
    // password as an argon2id PHC string, never the password itself.
    r#"
ALTER TABLE stations ADD COLUMN security_profile BIGINT NOT NULL DEFAULT 0;
ALTER TABLE stations ADD COLUMN basic_auth_password_hash TEXT;
"#,
    // Issue 25: certificates. Those Ström signed for a station (public facts only, and what the
    // station answered to CertificateSigned), and those a station holds by its own listing or by
    // an install or delete it accepted, named by OCPP's hash data as the station gave it;
    // `hash_key` is that data normalised for matching (`CertificateHash::key`), `serial_key`
    // the serial number alone, which carries what Ström knew of a certificate across algorithms.
    r#"
CREATE TABLE issued_certificates (
    id {id},
    station_id TEXT NOT NULL,
    certificate_type TEXT NOT NULL,
    serial_number TEXT NOT NULL,
    subject TEXT NOT NULL,
    issuer TEXT NOT NULL,
    not_before TEXT NOT NULL,
    not_after TEXT NOT NULL,
    fingerprint_sha256 TEXT NOT NULL,
    status TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    answered_at TEXT
);
CREATE INDEX issued_certificates_station ON issued_certificates (station_id, serial_number);
CREATE INDEX issued_certificates_expiry ON issued_certificates (not_after);
CREATE TABLE installed_certificates (
    station_id TEXT NOT NULL,
    hash_key TEXT NOT NULL,
    certificate_type TEXT NOT NULL,
    hash_algorithm TEXT NOT NULL,
    issuer_name_hash TEXT NOT NULL,
    issuer_key_hash TEXT NOT NULL,
    serial_number TEXT NOT NULL,
    serial_key TEXT NOT NULL,
    parent_hash_key TEXT,
    subject TEXT,
    not_after TEXT,
    source TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (station_id, hash_key)
);
CREATE INDEX installed_certificates_expiry ON installed_certificates (not_after);
"#,
    // Issue 25: a station's Basic-auth password is write-only (1.6 AuthorizationKey, 2.0.1
    // SecurityCtrlr.BasicAuthPassword); values kept before Ström masked them on their way in
    // are masked here, as `ocpp::secrets::masked_value` would have (an empty value tells
    // nothing and stays). The command log and the message log are masked when read instead:
    // their rows are JSON texts and LZ4 blocks, which no one SQL text can rewrite on both
    // databases, and rewriting every block of a large log would hold the upgrade for long.
    r#"
UPDATE station_configuration SET value = '***' WHERE lower(key) = 'authorizationkey' AND value <> '';
UPDATE device_model SET value = '***' WHERE lower(variable) = 'basicauthpassword' AND value <> '';
UPDATE device_model_staging SET value = '***' WHERE lower(variable) = 'basicauthpassword' AND value <> '';
UPDATE faults SET status = '***' WHERE lower(variable) = 'basicauthpassword' AND status <> '';
UPDATE station_events SET detail = 'SecurityCtrlr.BasicAuthPassword=***'
    WHERE kind = 'NotifyEvent' AND detail LIKE 'SecurityCtrlr.BasicAuthPassword=_%';
"#,
    // Issue 26: a transaction's start status is stored as the station was told it
    // (`AuthStatus::as_answered`): a 1.6 station hears Invalid for an unknown tag, and so does
    // the record. Ström's finer decision stays beside it (`start_auth_reason`, only where the two
    // differ), and the latest token check of the transaction (a 1.6 StopTransaction's idTag, a
    // 2.0.1 event's idToken) is kept as answered too. Rows stored before are corrected here.
    r#"
ALTER TABLE transactions ADD COLUMN start_auth_reason TEXT;
ALTER TABLE transactions ADD COLUMN last_auth_status TEXT;
UPDATE transactions SET start_auth_reason = start_auth_status, start_auth_status = 'Invalid'
    WHERE ocpp_version = '1.6'
    AND start_auth_status IN ('Unknown', 'NoCredit', 'NotAllowedTypeEVSE', 'NotAtThisLocation', 'NotAtThisTime');
"#,
    // Issue 26: a decommissioned station may no longer connect; its history stays.
    r#"
ALTER TABLE stations ADD COLUMN decommissioned_at TEXT;
"#,
    // Issue 26: each fault's category (`csms_core::fault_kinds`), stored to filter on it, and the
    // fingerprint of the mapping it was classified with; when the mapping changes, every stored
    // fault is classified again as the store opens (`classify_faults`). Issue 27: a fault Ström
    // detected itself (a power loss, a lost connection) says so in `detected_by`.
    r#"
ALTER TABLE faults ADD COLUMN category TEXT;
ALTER TABLE faults ADD COLUMN detected_by TEXT;
CREATE INDEX faults_category ON faults (category, cleared_at);
CREATE TABLE fault_mapping (fingerprint TEXT NOT NULL);
"#,
    issue27::EVENTS,
    issue27::WEBHOOKS,
    issue27::ALERTS,
    issue27::EVENTS_BY_CONNECTOR_STATUS,
    issue27::EVENTS_WITHOUT_TIME_INDEX,
    issue27::SQLITE_EVENTS_BY_ROWID,
    issue28::TARIFFS,
    issue28::CDRS,
    issue28::METER_KEYS,
    issue28::SETTLED,
    issue28::EVENT_INDEX,
    issue28::LEANER_INDEXES,
    issue28::STATION_TIME_ZONE,
];

/// The first of the two migrations above (one per backend) that gave readings codes for their
/// words.
pub const READING_TERMS_FROM: i64 = 14;

/// The first of the two migrations above (one per backend) that put readings in samples.
pub const SAMPLES_FROM: i64 = 16;

/// The version of the migration above that stores 1.6 starts as the station was told them
/// (Invalid, not Unknown), with Ström's reason beside.
pub const AUTH_AS_ANSWERED_BY: i64 = 24;

/// The version of the migration above that moved SQLite's message log to its own file.
pub const MESSAGE_LOG_MOVED_BY: i64 = 10;

/// The first of the two migrations above (one per backend) that turned the message log into
/// blocks.
pub const MESSAGE_LOG_IN_BLOCKS_FROM: i64 = 12;

/// SQLite: the message log's schema in its own file, created if missing whenever the store
/// opens (before the migrations, which may move an older log into it). Blocks of frames, see
/// `log_blocks`.
pub(crate) const MESSAGE_LOG: &str = r#"
CREATE TABLE IF NOT EXISTS log.message_blocks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    station_id TEXT NOT NULL,
    frames INTEGER NOT NULL,
    last_at TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS log.message_blocks_station ON message_blocks (station_id, id);
"#;

pub(crate) fn migrations(backend: Backend) -> Vec<String> {
    let (id, real, without_rowid) = match backend {
        Backend::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "REAL", " WITHOUT ROWID"),
        Backend::Postgres => ("BIGSERIAL PRIMARY KEY", "DOUBLE PRECISION", ""),
    };
    // A migration marked for the other backend is empty here.
    let other = match backend {
        Backend::Sqlite => "-- postgres only",
        Backend::Postgres => "-- sqlite only",
    };
    MIGRATIONS
        .iter()
        .map(|m| {
            if m.starts_with(other) {
                String::new()
            } else {
                m.replace("{id}", id)
                    .replace("{real}", real)
                    .replace("{without_rowid}", without_rowid)
                    .replace("{reading_terms}", &crate::terms::insert_all())
                    .replace("{sample_columns}", SAMPLE_COLUMNS)
                    .replace("{reading_columns}", READING_COLUMNS)
                    .replace("{group_readings}", GROUP_READINGS)
                    .replace("{reading_id_block}", &crate::db::READING_ID_BLOCK.to_string())
                    .replace("{meter_values_view}", meter_values_view(backend))
                    .replace("{coded_readings_view}", CODED_READINGS_VIEW)
                    .replace("{real}", real)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
