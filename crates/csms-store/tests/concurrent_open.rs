//! Two processes opening one new database at the same moment (`strom serve` and `strom token
//! create` started together, or the nodes of a cluster): both migrate it without tripping over
//! each other, every migration runs once, and both stores work. Both backends.

// Shared with the other test binaries, which use all of it.
#[allow(dead_code)]
mod common;

use csms_store::{PageRequest, Store, StoreOptions};
use sqlx::Connection;

async fn opened_together(url: &str, direct: &str) {
    let (a, b, c) = tokio::join!(
        Store::open(url, StoreOptions::default()),
        Store::open(url, StoreOptions::default()),
        Store::open(url, StoreOptions::default())
    );
    let stores = [a.expect("first store"), b.expect("second store"), c.expect("third store")];
    for store in &stores {
        let page = store.stations(&PageRequest::first(10)).await.expect("the store answers");
        assert!(page.items.is_empty());
    }
    for store in stores {
        store.close().await;
    }
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(direct).await.expect("direct connection");
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(&mut db)
        .await
        .expect("read");
    assert!(versions.len() > 20, "{versions:?}");
    assert_eq!(versions, (1..=versions.len() as i64).collect::<Vec<_>>(), "every migration once");
}

#[tokio::test]
async fn sqlite_opened_by_three_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("new.db").display().to_string();
    opened_together(&path, &format!("sqlite://{path}")).await;
}

#[tokio::test]
async fn postgres_opened_by_three_at_once() {
    let Some((mut admin, tag, url)) = common::pg_schema("concurrent_open").await else { return };
    opened_together(&url, &url).await;
    common::drop_schema(&mut admin, &tag).await;
}
