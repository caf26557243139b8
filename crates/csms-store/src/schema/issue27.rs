//! The migrations of issue 27 (faults reach people): the domain events, webhook subscriptions
//! and their delivery log, alert rules and alerts, listed in order in `MIGRATIONS`.

/// Issue 27: the domain events (`csms_core::events`), numbered by the writer in commit order,
/// each kept as the JSON text it is sent as; read by id, by station, and pruned by age.
pub(super) const EVENTS: &str = r#"
CREATE TABLE events (
    id BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    station_id TEXT,
    category TEXT,
    body TEXT NOT NULL
);
CREATE INDEX events_station ON events (station_id, id);
CREATE INDEX events_at ON events (at);
"#;

/// Issue 27: webhook subscriptions (`csms_core::webhooks`), each with the last event it has
/// moved past, and the log of every delivery attempt.
pub(super) const WEBHOOKS: &str = r#"
CREATE TABLE webhooks (
    id {id},
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    kinds TEXT NOT NULL,
    categories TEXT NOT NULL,
    min_severity TEXT,
    station_id TEXT,
    last_event_id BIGINT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE webhook_deliveries (
    id {id},
    webhook_id BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    status_code BIGINT,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);
"#;

/// Issue 27: alert rules (`csms_core::alerts`) and the alerts they raised, one open per rule
/// and subject.
pub(super) const ALERTS: &str = r#"
CREATE TABLE alert_rules (
    id {id},
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    category TEXT,
    minutes BIGINT,
    count BIGINT,
    station_id TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE alerts (
    id {id},
    rule_id BIGINT NOT NULL,
    subject TEXT NOT NULL,
    station_id TEXT NOT NULL,
    since TEXT NOT NULL,
    detail TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    resolved_at TEXT
);
CREATE INDEX alerts_open ON alerts (resolved_at, rule_id);
"#;

/// Issue 27: the availability figures read a station's connector statuses from its events;
/// only those are indexed (partial: no cost for the other kinds, meter samples above all).
pub(super) const EVENTS_BY_CONNECTOR_STATUS: &str = r#"
CREATE INDEX events_connector_status ON events (station_id, id) WHERE kind = 'connector.status';
"#;

/// Issue 27: events are pruned by id (ids follow the time they were recorded), so the index
/// on their time, which every event paid for, goes.
pub(super) const EVENTS_WITHOUT_TIME_INDEX: &str = r#"
DROP INDEX events_at;
"#;

/// Issue 27: on SQLite an event's id is the table's rowid (only INTEGER PRIMARY KEY is): a
/// BIGINT key was a second B-tree that every event was inserted into.
pub(super) const SQLITE_EVENTS_BY_ROWID: &str = r#"-- sqlite only
CREATE TABLE events_by_rowid (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    station_id TEXT,
    category TEXT,
    body TEXT NOT NULL
);
INSERT INTO events_by_rowid (id, at, kind, station_id, category, body)
    SELECT id, at, kind, station_id, category, body FROM events;
DROP TABLE events;
ALTER TABLE events_by_rowid RENAME TO events;
CREATE INDEX events_station ON events (station_id, id);
CREATE INDEX events_connector_status ON events (station_id, id) WHERE kind = 'connector.status';
"#;
