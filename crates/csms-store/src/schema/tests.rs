//! The migrations' own checks: the ones named by constant are the ones meant, and every
//! placeholder is filled in for both backends.

use super::*;

#[test]
fn the_log_moving_migration_is_the_one_named() {
    let moved = MIGRATIONS[MESSAGE_LOG_MOVED_BY as usize - 1];
    assert!(moved.starts_with("-- sqlite only") && moved.contains("INTO log.messages"), "{moved}");
    assert_eq!(migrations(Backend::Postgres)[MESSAGE_LOG_MOVED_BY as usize - 1], "");
    assert!(migrations(Backend::Sqlite)[MESSAGE_LOG_MOVED_BY as usize - 1].contains("DROP TABLE main.messages"));
    let blocks = MESSAGE_LOG_IN_BLOCKS_FROM as usize - 1;
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let both = migrations(backend)[blocks..blocks + 2].concat();
        assert!(both.contains("INSERT INTO") && both.contains("message_blocks"), "{backend:?}: {both}");
    }
}

#[test]
fn every_placeholder_is_filled_in() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        for (at, m) in migrations(backend).iter().enumerate() {
            for placeholder in [
                "{id}",
                "{real}",
                "{reading_terms}",
                "{meter_values_view}",
                "{coded_readings_view}",
                "{sample_columns}",
                "{reading_columns}",
                "{group_readings}",
                "{reading_id_block}",
            ] {
                assert!(!m.contains(placeholder), "{backend:?}, migration {}: {placeholder}", at + 1);
            }
        }
        let terms = &migrations(backend)[READING_TERMS_FROM as usize - 1..];
        assert!(
            terms.concat().contains("INSERT INTO reading_terms") && terms.concat().contains("CREATE VIEW meter_values")
        );
    }
}

#[test]
fn the_auth_migration_is_the_one_named() {
    let m = MIGRATIONS[AUTH_AS_ANSWERED_BY as usize - 1];
    assert!(m.contains("ADD COLUMN start_auth_reason") && m.contains("start_auth_status = 'Invalid'"), "{m}");
}

#[test]
fn a_migration_for_one_backend_is_empty_on_the_other() {
    let cache = MIGRATIONS.iter().position(|m| m.contains("CACHE 256")).expect("the sequences' migration");
    assert!(MIGRATIONS[cache].starts_with("-- postgres only"));
    assert_eq!(migrations(Backend::Sqlite)[cache], "");
    assert!(migrations(Backend::Postgres)[cache].contains("CACHE 256"));
}
