//! Readings are stored with codes for their protocol words (`reading_terms`), in samples that
//! hold what a run of readings shares, and read back with the words: an older database's
//! readings are converted when it opens, on both backends, and a database whose codes mean other
//! words is refused.

// Shared with the other test binaries, which use all of it.
#[allow(dead_code)]
mod common;

use csms_core::metering::{reading, Measurand, Phase, ReadingContext};
use csms_core::ops::{MeterValues, StartTx, StopTx};
use csms_core::station::StationId;
use csms_store::{PageRequest, Store, StoreOptions};

/// Where a test's database is: a SQLite file, or a PostgreSQL schema of its own.
enum Db {
    /// The directory lives as long as the test's database.
    Sqlite {
        _dir: tempfile::TempDir,
        path: String,
    },
    Postgres(sqlx::PgConnection, String, String),
}

impl Db {
    async fn new(test: &str, backend: &str) -> Option<Db> {
        if backend == "sqlite" {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("readings.db").display().to_string();
            return Some(Db::Sqlite { _dir: dir, path });
        }
        let (admin, tag, url) = common::pg_schema(test).await?;
        Some(Db::Postgres(admin, tag, url))
    }

    fn url(&self) -> &str {
        match self {
            Db::Sqlite { path, .. } => path,
            Db::Postgres(_, _, url) => url,
        }
    }

    /// Runs statements on a connection of the test's own, with `{id}` and `{real}` spelt as the
    /// backend spells them.
    async fn execute(&self, statements: &[&str]) {
        match self {
            Db::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).expect("connection");
                for s in statements {
                    let s = s.replace("{id}", "INTEGER PRIMARY KEY AUTOINCREMENT").replace("{real}", "REAL");
                    conn.execute_batch(&s).expect(&s);
                }
            }
            Db::Postgres(_, _, url) => {
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url).await.expect("connection");
                for s in statements {
                    let s = s.replace("{id}", "BIGSERIAL PRIMARY KEY").replace("{real}", "DOUBLE PRECISION");
                    sqlx::query(&s).execute(&mut conn).await.expect(&s);
                }
            }
        }
    }

    /// `SELECT id, measurand FROM …` (words), in id order.
    async fn ids_and_words(&self, table: &str) -> Vec<(i64, String)> {
        let sql = format!("SELECT id, measurand FROM {table} ORDER BY id");
        match self {
            Db::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).expect("connection");
                let mut stmt = conn.prepare(&sql).expect("prepared");
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).expect("query");
                rows.collect::<Result<_, _>>().expect("rows")
            }
            Db::Postgres(_, _, url) => {
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url).await.expect("connection");
                sqlx::query_as(&sql).fetch_all(&mut conn).await.expect("rows")
            }
        }
    }

    /// The measurands' codes, as `readings` holds them, in id order.
    async fn measurand_codes(&self) -> Vec<i64> {
        let sql = "SELECT measurand FROM readings ORDER BY id";
        match self {
            Db::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).expect("connection");
                let mut stmt = conn.prepare(sql).expect("prepared");
                let rows = stmt.query_map([], |r| r.get(0)).expect("query");
                rows.collect::<Result<_, _>>().expect("rows")
            }
            Db::Postgres(_, _, url) => {
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url).await.expect("connection");
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.expect("rows")
            }
        }
    }

    /// Makes the database refuse every reading whose raw value is `raw`, as a failing write.
    async fn refuse_readings(&self, raw: &str) {
        match self {
            Db::Sqlite { .. } => {
                let trigger = format!(
                    "CREATE TRIGGER refuse_readings BEFORE INSERT ON readings WHEN NEW.raw_value = '{raw}' \
                     BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                );
                self.execute(&[&trigger]).await;
            }
            Db::Postgres(..) => {
                let function = format!(
                    "CREATE FUNCTION refuse_readings() RETURNS trigger AS $$ BEGIN IF NEW.raw_value = '{raw}' THEN \
                     RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                );
                let trigger = "CREATE TRIGGER refuse_readings BEFORE INSERT ON readings FOR EACH ROW \
                               EXECUTE FUNCTION refuse_readings()";
                self.execute(&[&function, trigger]).await;
            }
        }
    }

    /// PostgreSQL: drops the sequence of reading ids, which SQLite does not have.
    async fn forget_reading_ids(&self) {
        if let Db::Postgres(..) = self {
            self.execute(&["DROP SEQUENCE reading_ids"]).await;
        }
    }

    /// The samples as (id, last reading's id, connector, transaction), in id order.
    async fn samples(&self) -> Vec<(i64, i64, i64, Option<i64>)> {
        let sql = "SELECT id, last_reading_id, connector_id, transaction_id FROM samples ORDER BY id";
        match self {
            Db::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).expect("connection");
                let mut stmt = conn.prepare(sql).expect("prepared");
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).expect("query");
                rows.collect::<Result<_, _>>().expect("rows")
            }
            Db::Postgres(_, _, url) => {
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url).await.expect("connection");
                sqlx::query_as(sql).fetch_all(&mut conn).await.expect("rows")
            }
        }
    }

    async fn drop(self) {
        if let Db::Postgres(mut admin, tag, _) = self {
            common::drop_schema(&mut admin, &tag).await;
        }
    }
}

/// The layout before codes, as migrations 1–13 left it, with three readings (two of
/// transaction 7), and the migrations of readings from codes on (14–17) forgotten; later ones,
/// which leave readings alone, stay applied.
const OLD_LAYOUT: &[&str] = &[
    "DROP VIEW meter_values",
    "DROP TABLE readings",
    "DROP TABLE samples",
    "DROP TABLE reading_terms",
    "CREATE TABLE meter_values (id {id}, station_id TEXT NOT NULL, connector_id BIGINT NOT NULL, \
     transaction_id BIGINT, station_tx_id TEXT, timestamp TEXT NOT NULL, measurand TEXT NOT NULL, phase TEXT, \
     location TEXT NOT NULL, context TEXT NOT NULL, format TEXT NOT NULL, unit TEXT NOT NULL, \
     raw_value TEXT NOT NULL, value {real}, normalised_unit TEXT NOT NULL, evse_id BIGINT, signed_data TEXT)",
    "CREATE INDEX meter_values_tx ON meter_values (transaction_id, timestamp)",
    "INSERT INTO meter_values (station_id, connector_id, transaction_id, station_tx_id, timestamp, measurand, phase, \
     location, context, format, unit, raw_value, value, normalised_unit, evse_id, signed_data) VALUES \
     ('CP1', 1, 7, 'tx-7', '2026-11-01T12:00:00.000Z', 'Energy.Active.Import.Register', NULL, 'Outlet', \
      'Transaction.Begin', 'Raw', 'kWh', '1.5', 1500, 'Wh', NULL, NULL), \
     ('CP1', 1, 7, 'tx-7', '2026-11-01T12:05:00.000Z', 'Voltage', 'L2-N', 'Inlet', 'Sample.Periodic', \
      'SignedData', 'V', 'AB01', NULL, 'V', 1, '{\"signedMeterData\":\"AB01\"}'), \
     ('CP1', 2, NULL, NULL, '2026-11-01T12:06:00.000Z', 'Temperature', NULL, 'Body', 'Sample.Clock', 'Raw', \
      'Celcius', '21', 21, 'Celsius', NULL, NULL)",
    "DELETE FROM schema_migrations WHERE version BETWEEN 14 AND 17",
];

/// The layout with codes and before samples, as migrations 14 and 15 left it (16 and 17
/// forgotten), with five
/// readings: the first two and the last two share all that a sample holds, the third is of
/// another connector, and the fourth shares the first's fields but does not follow it.
const CODED_LAYOUT: &[&str] = &[
    "DROP VIEW meter_values",
    "DROP TABLE readings",
    "DROP TABLE samples",
    "CREATE TABLE readings (id {id}, station_id TEXT NOT NULL, evse_id BIGINT, connector_id BIGINT NOT NULL, \
     transaction_id BIGINT, station_tx_id TEXT, timestamp TEXT NOT NULL, location BIGINT NOT NULL, \
     context BIGINT NOT NULL, format BIGINT NOT NULL, measurand BIGINT NOT NULL, phase BIGINT, unit TEXT NOT NULL, \
     raw_value TEXT NOT NULL, value {real}, normalised_unit TEXT NOT NULL, signed_data TEXT)",
    "CREATE INDEX readings_tx ON readings (transaction_id) WHERE transaction_id IS NOT NULL",
    "CREATE VIEW meter_values AS SELECT * FROM readings",
    // Location Outlet (42), context Sample.Periodic (47), format Raw (51); Voltage (23),
    // Current.Import (20), phases L1 (28), L2 (29).
    "INSERT INTO readings (station_id, evse_id, connector_id, transaction_id, station_tx_id, timestamp, location, \
     context, format, measurand, phase, unit, raw_value, value, normalised_unit, signed_data) VALUES \
     ('CP1', NULL, 1, 7, 'tx-7', '2026-11-01T12:00:00.000Z', 42, 47, 51, 23, 28, 'V', '230', 230, 'V', NULL), \
     ('CP1', NULL, 1, 7, 'tx-7', '2026-11-01T12:00:00.000Z', 42, 47, 51, 23, 29, 'V', '231', 231, 'V', NULL), \
     ('CP1', NULL, 2, NULL, NULL, '2026-11-01T12:00:00.000Z', 42, 47, 51, 20, NULL, 'A', '0', 0, 'A', NULL), \
     ('CP1', NULL, 1, 7, 'tx-7', '2026-11-01T12:00:00.000Z', 42, 47, 51, 20, 28, 'A', '16', 16, 'A', NULL), \
     ('CP1', NULL, 1, 7, 'tx-7', '2026-11-01T12:00:00.000Z', 42, 47, 51, 20, 29, 'A', '15.5', 15.5, 'A', NULL)",
    "DELETE FROM schema_migrations WHERE version BETWEEN 16 AND 17",
];

async fn older_readings_get_codes_and_read_back_the_same(backend: &str) {
    let test = format!("older_readings_get_codes_{backend}");
    let Some(db) = Db::new(&test, backend).await else { return };
    assert_eq!(csms_store::READING_TERMS_FROM, 14, "OLD_LAYOUT forgets the migrations from this one on");
    Store::open(db.url(), StoreOptions::default()).await.expect("open").close().await;
    db.execute(OLD_LAYOUT).await;
    db.forget_reading_ids().await;

    let store = Store::open(db.url(), StoreOptions::default()).await.expect("reopen migrates");
    let kept = store.meter_values(7, &PageRequest::first(1000)).await.expect("read").items;
    let words: Vec<_> = kept
        .iter()
        .map(|v| {
            (
                v.measurand.as_str(),
                v.phase.as_deref(),
                v.location.as_str(),
                v.context.as_str(),
                v.format.as_str(),
                v.unit.as_str(),
                v.raw_value.as_str(),
                v.value,
                v.normalised_unit.as_str(),
                v.evse_id,
                v.signed_data.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        words,
        [
            (
                "Energy.Active.Import.Register",
                None,
                "Outlet",
                "Transaction.Begin",
                "Raw",
                "kWh",
                "1.5",
                Some(1500.0),
                "Wh",
                None,
                None
            ),
            (
                "Voltage",
                Some("L2-N"),
                "Inlet",
                "Sample.Periodic",
                "SignedData",
                "V",
                "AB01",
                None,
                "V",
                Some(1),
                Some("{\"signedMeterData\":\"AB01\"}")
            ),
        ]
    );
    assert_eq!(kept[0].timestamp, "2026-11-01T12:00:00.000Z");

    // A new reading goes in after the converted ones, and its words read back.
    let now = chrono::Utc::now();
    let mut frequency =
        reading(now, "50".into(), Some(Measurand::Frequency), None, None, Some(ReadingContext::Trigger), None, None, 0);
    frequency.phase = Some(Phase::L3L1);
    let op = MeterValues {
        station: StationId::parse("CP1").expect("id"),
        evse_id: None,
        connector_id: 1,
        station_tx_id: None,
        readings: vec![frequency],
    };
    store.execute(op, Vec::new()).await.expect("stored");
    store.close().await;
    let all = db.ids_and_words("meter_values").await;
    assert_eq!(
        all.iter().map(|(_, w)| w.as_str()).collect::<Vec<_>>(),
        ["Energy.Active.Import.Register", "Voltage", "Temperature", "Frequency"]
    );
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "ids in arrival order: {all:?}");
    // The table itself holds the codes.
    assert_eq!(db.measurand_codes().await, [2, 23, 25, 24]);
    db.drop().await;
}

async fn coded_readings_become_samples(backend: &str) {
    let test = format!("coded_readings_become_samples_{backend}");
    let Some(db) = Db::new(&test, backend).await else { return };
    assert_eq!(csms_store::SAMPLES_FROM, 16, "CODED_LAYOUT forgets the migrations from this one on");
    Store::open(db.url(), StoreOptions::default()).await.expect("open").close().await;
    db.execute(CODED_LAYOUT).await;
    db.forget_reading_ids().await;

    let store = Store::open(db.url(), StoreOptions::default()).await.expect("reopen migrates");
    // Runs of consecutive readings that share everything a sample holds; ids kept.
    assert_eq!(db.samples().await, [(1, 2, 1, Some(7)), (3, 3, 2, None), (4, 5, 1, Some(7))]);
    let kept: Vec<_> = store
        .meter_values(7, &PageRequest::first(1000))
        .await
        .expect("read")
        .items
        .into_iter()
        .map(|v| (v.measurand, v.phase, v.location, v.context, v.format, v.raw_value, v.connector_id))
        .collect();
    let expected = |m: &str, p: &str, raw: &str| {
        (m.to_string(), Some(p.to_string()), "Outlet".into(), "Sample.Periodic".into(), "Raw".into(), raw.into(), 1)
    };
    assert_eq!(
        kept,
        [
            expected("Voltage", "L1", "230"),
            expected("Voltage", "L2", "231"),
            expected("Current.Import", "L1", "16"),
            expected("Current.Import", "L2", "15.5")
        ]
    );

    // New readings follow the converted ones: a sample of two, and one of a later time.
    let at = chrono::Utc::now();
    let later = at + chrono::Duration::seconds(1);
    let mut readings: Vec<_> = ["1", "2"]
        .into_iter()
        .map(|v| reading(at, v.into(), Some(Measurand::Frequency), None, None, None, None, None, 0))
        .collect();
    readings.push(reading(later, "3".into(), Some(Measurand::Frequency), None, None, None, None, None, 0));
    let op = MeterValues {
        station: StationId::parse("CP1").expect("id"),
        evse_id: None,
        connector_id: 3,
        station_tx_id: None,
        readings,
    };
    store.execute(op, Vec::new()).await.expect("stored");
    store.close().await;
    let samples = db.samples().await;
    let [.., (a, a_last, 3, None), (b, b_last, 3, None)] = samples[..] else { panic!("{samples:?}") };
    assert!(a > 5 && a_last == a + 1 && b == a_last + 1 && b_last == b, "{samples:?}");
    let all = db.ids_and_words("meter_values").await;
    assert_eq!(all.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [1, 2, 3, 4, 5, a, a + 1, b]);
    db.drop().await;
}

/// Meter values carrying a station's transaction id land on that transaction's row (the
/// writer remembers it from the start), and never on a row a failed write inserted and rolled
/// back: here an unknown transaction's stop, whose row is rolled back with its reading (which
/// the database refuses, by a trigger the test adds), and whose id SQLite then hands to the next
/// transaction, another station's.
async fn meter_values_find_their_transaction_and_not_a_rolled_back_one(backend: &str) {
    let test = format!("meter_values_find_their_transaction_{backend}");
    let Some(db) = Db::new(&test, backend).await else { return };
    let store = Store::open(db.url(), StoreOptions::default()).await.expect("open");
    let now = chrono::Utc::now();
    let station = |id: &str| StationId::parse(id).expect("id");
    let start = |id: &str| StartTx {
        station: station(id),
        connector_id: 1,
        id_token: format!("TAG-{id}"),
        meter_start_wh: 0.0,
        timestamp: now,
        reservation_id: None,
        now,
    };
    let started = |started: csms_core::ops::Started| started.transaction_id;
    let meter = |id: &str, tx: &str, value: &str| MeterValues {
        station: station(id),
        evse_id: None,
        connector_id: 1,
        station_tx_id: Some(tx.to_string()),
        readings: vec![reading(now, value.into(), None, None, None, None, None, None, 0)],
    };

    let a = started(store.execute(start("CPA"), Vec::new()).await.expect("started"));
    store.execute(meter("CPA", &a.to_string(), "10"), Vec::new()).await.expect("stored");
    store.execute(meter("CPA", &a.to_string(), "20"), Vec::new()).await.expect("stored");
    // A stop for a transaction nobody knows inserts its row, then fails on its reading.
    db.refuse_readings("refused").await;
    let bad = reading(now, "refused".into(), None, None, None, None, None, None, 0);
    let stop = StopTx {
        station: station("CPB"),
        station_tx_id: "9999".into(),
        meter_stop_wh: 1.0,
        timestamp: now,
        reason: "Local".into(),
        id_token: None,
        readings: vec![bad],
        now,
    };
    store.execute(stop, Vec::new()).await.expect_err("a reading the database refuses");
    let c = started(store.execute(start("CPC"), Vec::new()).await.expect("started"));
    store.execute(meter("CPB", "9999", "30"), Vec::new()).await.expect("stored");
    store.execute(meter("CPC", &c.to_string(), "40"), Vec::new()).await.expect("stored");
    store.close().await;

    let by_tx: Vec<Option<i64>> = db.samples().await.into_iter().map(|(.., tx)| tx).collect();
    assert_eq!(by_tx, [Some(a), Some(a), None, Some(c)], "transactions {a} and {c}");
    db.drop().await;
}

#[tokio::test]
async fn sqlite_meter_values_find_their_transaction_and_not_a_rolled_back_one() {
    meter_values_find_their_transaction_and_not_a_rolled_back_one("sqlite").await;
}

#[tokio::test]
async fn postgres_meter_values_find_their_transaction_and_not_a_rolled_back_one() {
    meter_values_find_their_transaction_and_not_a_rolled_back_one("postgres").await;
}

/// A MeterValue of 300 sampled values that share everything: two samples (a sample holds at
/// most 256), the first written in 16 statements on SQLite, and every value read back in order.
async fn a_long_run_of_readings_is_split_into_samples(backend: &str) {
    let test = format!("a_long_run_of_readings_{backend}");
    let Some(db) = Db::new(&test, backend).await else { return };
    let store = Store::open(db.url(), StoreOptions::default()).await.expect("open");
    let at = chrono::Utc::now();
    let start = StartTx {
        station: StationId::parse("CP1").expect("id"),
        connector_id: 1,
        id_token: "TAG".into(),
        meter_start_wh: 0.0,
        reservation_id: None,
        timestamp: at,
        now: at,
    };
    let transaction_id = store.execute(start, Vec::new()).await.expect("started").transaction_id;
    let readings = (0..300)
        .map(|n| reading(at, n.to_string(), Some(Measurand::Voltage), Some(Phase::L1N), None, None, None, Some("V"), 0))
        .collect();
    let op = MeterValues {
        station: StationId::parse("CP1").expect("id"),
        evse_id: None,
        connector_id: 1,
        station_tx_id: Some(transaction_id.to_string()),
        readings,
    };
    store.execute(op, Vec::new()).await.expect("stored");
    let values: Vec<String> = store
        .meter_values(transaction_id, &PageRequest::first(1000))
        .await
        .expect("read")
        .items
        .into_iter()
        .map(|v| v.raw_value)
        .collect();
    assert_eq!(values, (0..300).map(|n| n.to_string()).collect::<Vec<_>>());
    store.close().await;
    let samples = db.samples().await;
    let [(a, a_last, 1, Some(tx_a)), (b, b_last, 1, Some(tx_b))] = samples[..] else { panic!("{samples:?}") };
    assert_eq!((a_last - a + 1, b, b_last - b + 1), (256, a_last + 1, 44), "{samples:?}");
    assert_eq!((tx_a, tx_b), (transaction_id, transaction_id));
    db.drop().await;
}

#[tokio::test]
async fn sqlite_a_long_run_of_readings_is_split_into_samples() {
    a_long_run_of_readings_is_split_into_samples("sqlite").await;
}

#[tokio::test]
async fn postgres_a_long_run_of_readings_is_split_into_samples() {
    a_long_run_of_readings_is_split_into_samples("postgres").await;
}

#[tokio::test]
async fn sqlite_coded_readings_become_samples() {
    coded_readings_become_samples("sqlite").await;
}

#[tokio::test]
async fn postgres_coded_readings_become_samples() {
    coded_readings_become_samples("postgres").await;
}

#[tokio::test]
async fn sqlite_older_readings_get_codes_and_read_back_the_same() {
    older_readings_get_codes_and_read_back_the_same("sqlite").await;
}

#[tokio::test]
async fn postgres_older_readings_get_codes_and_read_back_the_same() {
    older_readings_get_codes_and_read_back_the_same("postgres").await;
}

async fn codes_that_mean_other_words_are_refused(backend: &str) {
    let test = format!("codes_that_mean_other_words_{backend}");
    let Some(db) = Db::new(&test, backend).await else { return };
    Store::open(db.url(), StoreOptions::default()).await.expect("open").close().await;
    db.execute(&["UPDATE reading_terms SET term = 'Voltage (old)' WHERE code = 23"]).await;
    let refused = Store::open(db.url(), StoreOptions::default()).await.expect_err("refused");
    let said = refused.to_string();
    assert!(said.contains("reading_terms") && said.contains("Voltage (old)"), "{said}");
    db.drop().await;
}

#[tokio::test]
async fn sqlite_codes_that_mean_other_words_are_refused() {
    codes_that_mean_other_words_are_refused("sqlite").await;
}

#[tokio::test]
async fn postgres_codes_that_mean_other_words_are_refused() {
    codes_that_mean_other_words_are_refused("postgres").await;
}
