//! The migrations of issue 28 (energy becomes a bill): tariffs and their versions, and the charge
//! detail records, listed in order in `MIGRATIONS`.

/// Issue 28: tariffs (`csms_core::tariffs`), each kept as the JSON the API shows (the OCPI 2.2.1
/// object with Ström's fields), and every version ever saved, which the records priced by it
/// name. A withdrawn tariff keeps its row (`deleted_at`), so its id is not given to another.
pub(super) const TARIFFS: &str = r#"
CREATE TABLE tariffs (
    id TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE TABLE tariff_versions (
    id TEXT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (id, version)
);
"#;

/// Issue 28: charge detail records, written as a transaction ends and never changed; a
/// correction is a new record naming the one it corrects (`corrects`). The record is kept as
/// the JSON it is shown as; amounts are decimal text, never floats.
pub(super) const CDRS: &str = r#"
CREATE TABLE cdrs (
    id {id},
    transaction_id BIGINT NOT NULL,
    station_id TEXT NOT NULL,
    id_token TEXT,
    start_date_time TEXT NOT NULL,
    end_date_time TEXT NOT NULL,
    energy_wh TEXT NOT NULL,
    currency TEXT,
    total_excl_vat TEXT,
    total_incl_vat TEXT,
    tariff_id TEXT,
    tariff_version BIGINT,
    corrects BIGINT,
    created_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX cdrs_transaction ON cdrs (transaction_id, id);
CREATE INDEX cdrs_station ON cdrs (station_id, id);
CREATE INDEX cdrs_token ON cdrs (id_token, id);
CREATE INDEX cdrs_end ON cdrs (end_date_time, id);
"#;

/// Issue 28: each station's meter public key (hex-encoded DER SubjectPublicKeyInfo), against
/// which the OCMF records of its transactions are verified.
pub(super) const METER_KEYS: &str = r#"
CREATE TABLE meter_keys (
    station_id TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    meter_serial TEXT,
    updated_at TEXT NOT NULL
);
"#;

/// Issue 28: which end of a transaction its latest record is of. Each write that ends a
/// transaction (or ends it again) counts `end_gen` up; the settler (`crate::records`) writes the
/// record off the writer and sets `settled_gen` to the end it priced. An end without a record
/// (Ström stopped in between) is found by the partial index when the store opens.
pub(super) const SETTLED: &str = r#"
ALTER TABLE transactions ADD COLUMN end_gen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE transactions ADD COLUMN settled_gen BIGINT NOT NULL DEFAULT 0;
CREATE INDEX transactions_unsettled ON transactions (id) WHERE settled_gen < end_gen;
"#;

/// Issue 28 (its records took sessions below issue 5's target, and issue 27's events had begun
/// it): the events by station are indexed behind them, in runs sorted by station
/// (`crate::event_index`), instead of by two indexes on `events` that every event was inserted
/// into at a random place: every event of a station, and apart its connector statuses (which
/// availability reads; a partial index on the first is not chosen by SQLite, whose table without
/// a rowid is its own covering key). `event_index_mark` says how far both reach.
pub(super) const EVENT_INDEX: &str = r#"
CREATE TABLE event_index (
    station_id TEXT NOT NULL,
    id BIGINT NOT NULL,
    PRIMARY KEY (station_id, id)
){without_rowid};
CREATE TABLE event_index_statuses (
    station_id TEXT NOT NULL,
    id BIGINT NOT NULL,
    PRIMARY KEY (station_id, id)
){without_rowid};
CREATE TABLE event_index_mark (id BIGINT NOT NULL);
INSERT INTO event_index (station_id, id)
    SELECT station_id, id FROM events WHERE station_id IS NOT NULL ORDER BY station_id, id;
INSERT INTO event_index_statuses (station_id, id)
    SELECT station_id, id FROM events WHERE station_id IS NOT NULL AND kind = 'connector.status'
    ORDER BY station_id, id;
INSERT INTO event_index_mark (id) SELECT COALESCE(MAX(id), 0) FROM events;
DROP INDEX events_station;
DROP INDEX events_connector_status;
"#;

/// Issue 28 (sessions below issue 5's target): fewer pages in each commit. An index whose key
/// begins with what varies between the stations of a batch (the station, the token) takes each
/// insert on its own page, so a batch from fifty stations rewrote about one page per insert
/// (BENCHMARKS.md, "Twenty-sixth session"). A retried 1.6 StartTransaction is recognised by its
/// start time, station and connector, all three compared for equality, so the start time leads:
/// starts arrive in time order and go on the last pages. The records' token index goes: a list
/// or export of one token's records reads the records in id order from its cursor, filtering
/// (the API's list did so on SQLite already). The station's index stays, for the lists and
/// exports by station.
pub(super) const LEANER_INDEXES: &str = r#"
DROP INDEX transactions_start;
CREATE INDEX transactions_start ON transactions (started_at, station_id, connector_id);
DROP INDEX cdrs_token;
"#;

/// Issue 28: the time zone a station's tariffs are read in (OCPI's location `time_zone`), an
/// IANA name; none: the server's `time_zone`.
pub(super) const STATION_TIME_ZONE: &str = r#"
ALTER TABLE stations ADD COLUMN time_zone TEXT;
"#;
