//! PostgreSQL: the writer commits without waiting for the WAL flush and the syncer answers a
//! write only once PostgreSQL has flushed past it; when PostgreSQL drops the store's
//! connections, writes fail for a moment and then go on.

mod common;

use csms_core::authorization::{IdTokenRecord, TokenStatus};
use csms_core::ops::UpsertIdToken;
use csms_store::{Store, StoreOptions};

fn token(name: &str) -> UpsertIdToken {
    UpsertIdToken {
        record: IdTokenRecord {
            id_token: name.to_string(),
            token_type: None,
            status: TokenStatus::Accepted,
            expiry: None,
            parent_id_token: None,
        },
        now: chrono::Utc::now(),
    }
}

async fn wal_lsn(admin: &mut sqlx::PgConnection, function: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(&format!("SELECT ({function}() - '0/0'::pg_lsn)::bigint"))
        .fetch_one(admin)
        .await
        .expect("lsn")
}

#[tokio::test]
async fn a_write_is_answered_after_postgres_flushed_it() {
    let Some((mut admin, tag, url)) = common::pg_schema("a_write_is_answered_after_postgres_flushed_it").await else {
        return;
    };
    let store = Store::open(&url, StoreOptions::default()).await.expect("open");
    for round in 0..20 {
        // The write's commit record comes after this point of the WAL; when it is answered,
        // PostgreSQL must have flushed past it. The writer's own COMMIT does not wait for that
        // (its `synchronous_commit` is off), and PostgreSQL's background writer flushes only
        // every 200 ms, so without the syncer this fails at once.
        let before = wal_lsn(&mut admin, "pg_current_wal_insert_lsn").await;
        store.execute(token(&format!("T{round}")), Vec::new()).await.expect("stored");
        let flushed = wal_lsn(&mut admin, "pg_current_wal_flush_lsn").await;
        assert!(flushed > before, "round {round}: answered before the WAL was flushed ({flushed} <= {before})");
    }
    assert!(store.id_token("T19").await.expect("read").is_some());
    store.close().await;
    common::drop_schema(&mut admin, &tag).await;
}

#[tokio::test]
async fn writes_go_on_after_postgres_drops_every_connection() {
    let Some((mut admin, tag, url)) = common::pg_schema("writes_go_on_after_postgres_drops_every_connection").await
    else {
        return;
    };
    let store = Store::open(&url, StoreOptions::default()).await.expect("open");
    store.execute(token("before"), Vec::new()).await.expect("stored");
    // Every connection of this store goes (writer, syncer, log, readers), as when PostgreSQL
    // restarts.
    let dropped = common::drop_connections(&mut admin, &tag).await;
    assert!(dropped >= 2, "the writer's and the syncer's connections at least: {dropped}");
    // The first writes after the outage may fail (the dead connections are found and
    // replaced); every write is answered, and soon they succeed again.
    let mut failures = 0;
    for round in 0..10 {
        let write = store.execute(token(&format!("after{round}")), Vec::new());
        match tokio::time::timeout(std::time::Duration::from_secs(10), write).await.expect("answered") {
            Ok(_) => {}
            Err(_) => failures += 1,
        }
    }
    assert!(failures <= 3, "{failures} of 10 writes failed after the reconnect");
    for round in 7..10 {
        assert!(store.id_token(&format!("after{round}")).await.expect("read").is_some(), "after{round} stored");
    }
    store.close().await;
    common::drop_schema(&mut admin, &tag).await;
}

/// A database where the syncer cannot make commits durable (here the store's role may not
/// call `pg_logical_emit_message`) is refused when the store opens, with the reason, instead
/// of every write failing later.
#[tokio::test]
async fn a_database_where_commits_cannot_be_made_durable_is_refused() {
    let Some((mut admin, tag, url)) =
        common::pg_schema("a_database_where_commits_cannot_be_made_durable_is_refused").await
    else {
        return;
    };
    // The store runs as a role of its own, which owns the schema (superusers, as every other
    // test's connections are, skip privilege checks).
    for statement in [format!("CREATE ROLE {tag}"), format!("ALTER SCHEMA {tag} OWNER TO {tag}")] {
        sqlx::query(&statement).execute(&mut admin).await.expect(&statement);
    }
    let url = format!("{url}%20-crole%3D{tag}");
    const FUNCTION: &str = "FUNCTION pg_logical_emit_message(boolean, text, text)";
    // Granted to every role by default; taken away from all but superusers only while the
    // store opens.
    sqlx::query(&format!("REVOKE EXECUTE ON {FUNCTION} FROM PUBLIC")).execute(&mut admin).await.expect("revoke");
    let opened = Store::open(&url, StoreOptions::default()).await;
    sqlx::query(&format!("GRANT EXECUTE ON {FUNCTION} TO PUBLIC")).execute(&mut admin).await.expect("grant again");
    match opened {
        Ok(store) => {
            store.close().await;
            panic!("the store opened although its commits cannot be made durable");
        }
        Err(e) => assert!(e.to_string().contains("pg_logical_emit_message"), "{e}"),
    }
    // With the right back, the same database opens.
    let store = Store::open(&url, StoreOptions::default()).await.expect("open");
    store.execute(token("T"), Vec::new()).await.expect("stored");
    store.close().await;
    common::drop_schema(&mut admin, &tag).await;
    sqlx::query(&format!("DROP ROLE {tag}")).execute(&mut admin).await.expect("drop role");
}
