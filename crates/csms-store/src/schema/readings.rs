//! The texts the schema keeps once for its migrations about meter readings: the columns of
//! samples and readings, the grouping of older readings into samples, the `meter_values` view
//! (as it is now and as migrations 14 and 15 made it), and the joins reads of readings share.

use crate::Backend;

/// A sample's columns after `id`, both backends: its last reading's id, then what its readings
/// share.
pub(super) const SAMPLE_COLUMNS: &str = "last_reading_id BIGINT NOT NULL,
    station_id TEXT NOT NULL,
    evse_id BIGINT,
    connector_id BIGINT NOT NULL,
    transaction_id BIGINT,
    station_tx_id TEXT,
    timestamp TEXT NOT NULL,
    location BIGINT NOT NULL,
    context BIGINT NOT NULL,
    format BIGINT NOT NULL";

/// A reading's own columns after `id`.
pub(super) const READING_COLUMNS: &str = "measurand BIGINT NOT NULL,
    phase BIGINT,
    unit TEXT NOT NULL,
    raw_value TEXT NOT NULL,
    value {real},
    normalised_unit TEXT NOT NULL,
    signed_data TEXT";

/// Older readings into samples: a run of consecutive ids that share all nine shared fields is
/// one sample (gaps and islands: within the readings that share the fields, the id less its
/// rank is the same along a run of consecutive ids), whose id is the run's first. Leaves
/// `grouped`, each reading's id with its sample's, for the readings' insert.
pub(super) const GROUP_READINGS: &str = "CREATE TEMP TABLE islands AS SELECT id, station_id, evse_id, connector_id, \
    transaction_id, station_tx_id, timestamp, location, context, format, id - row_number() OVER (PARTITION BY \
    station_id, evse_id, connector_id, transaction_id, station_tx_id, timestamp, location, context, format \
    ORDER BY id) AS island FROM ungrouped_readings;
CREATE TEMP TABLE grouped AS SELECT id, min(id) OVER (PARTITION BY station_id, evse_id, connector_id, \
    transaction_id, station_tx_id, timestamp, location, context, format, island) AS sample_id, station_id, \
    evse_id, connector_id, transaction_id, station_tx_id, timestamp, location, context, format FROM islands;
DROP TABLE islands;
INSERT INTO samples (id, last_reading_id, station_id, evse_id, connector_id, transaction_id, station_tx_id, \
    timestamp, location, context, format) SELECT sample_id, max(id), station_id, evse_id, connector_id, \
    transaction_id, station_tx_id, timestamp, location, context, format FROM grouped \
    GROUP BY sample_id, station_id, evse_id, connector_id, transaction_id, station_tx_id, timestamp, location, \
    context, format ORDER BY sample_id";

/// A sample's readings, joined to its row `s` as `r`. SQLite: the readings whose ids run from
/// the sample's to its `last_reading_id`, a range of the rowid it seeks for each sample.
/// PostgreSQL: by the readings' `sample_id` (see migration 17).
macro_rules! readings_of_samples {
    (sqlite) => {
        "JOIN readings r ON r.id BETWEEN s.id AND s.last_reading_id"
    };
    (postgres) => {
        "JOIN readings r ON r.sample_id = s.id"
    };
}
pub(crate) use readings_of_samples;

/// The readings with their words, on `sqlite` or `postgres`: the `meter_values` view, and the
/// API's read of a transaction's readings (which goes to the tables: through a view, sqlx takes
/// a NULL for text whatever the column, and a NULL `evse_id` failed to read as a number).
macro_rules! readings_with_words {
    ($backend:ident) => {
        concat!(
            "SELECT s.id AS sample_id, r.id, s.station_id, s.evse_id, s.connector_id, s.transaction_id, \
             s.station_tx_id, s.timestamp, l.term AS location, c.term AS context, f.term AS format, \
             m.term AS measurand, p.term AS phase, r.unit, r.raw_value, r.value, r.normalised_unit, r.signed_data \
             FROM samples s ",
            $crate::schema::readings_of_samples!($backend),
            " LEFT JOIN reading_terms l ON l.code = s.location LEFT JOIN reading_terms c ON c.code = s.context \
             LEFT JOIN reading_terms f ON f.code = s.format LEFT JOIN reading_terms m ON m.code = r.measurand \
             LEFT JOIN reading_terms p ON p.code = r.phase"
        )
    };
}
pub(crate) use readings_with_words;

/// The `meter_values` view, per backend, as it is now (migrations 16 and 17 make it). A change to
/// it needs a migration of its own, and these two then keep their text in a constant, as
/// `CODED_READINGS_VIEW` keeps 14's and 15's: a migration's text must not change once released.
pub(super) fn meter_values_view(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => concat!("CREATE VIEW meter_values AS ", readings_with_words!(sqlite)),
        Backend::Postgres => concat!("CREATE VIEW meter_values AS ", readings_with_words!(postgres)),
    }
}

/// The `meter_values` view as migrations 14 and 15 made it, over readings with codes and before
/// samples; kept as it was, since those migrations run before the ones that add samples.
pub(super) const CODED_READINGS_VIEW: &str = "CREATE VIEW meter_values AS SELECT r.id, r.station_id, r.evse_id, \
    r.connector_id, r.transaction_id, r.station_tx_id, r.timestamp, l.term AS location, c.term AS context, \
    f.term AS format, m.term AS measurand, p.term AS phase, r.unit, r.raw_value, r.value, r.normalised_unit, \
    r.signed_data FROM readings r LEFT JOIN reading_terms l ON l.code = r.location \
    LEFT JOIN reading_terms c ON c.code = r.context LEFT JOIN reading_terms f ON f.code = r.format \
    LEFT JOIN reading_terms m ON m.code = r.measurand LEFT JOIN reading_terms p ON p.code = r.phase";
