//! Shared by the store's test binaries.

/// A PostgreSQL schema of its own for `test`, an admin connection, the schema's name and a URL
/// that uses it, tagged (`application_name`) so the store's connections can be found in
/// `pg_stat_activity`. `None`, said loudly, without `STROM_TEST_POSTGRES_URL`.
pub async fn pg_schema(test: &str) -> Option<(sqlx::PgConnection, String, String)> {
    let Some(base) = std::env::var("STROM_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("!!! SKIPPED {test}: STROM_TEST_POSTGRES_URL is not set");
        return None;
    };
    // PostgreSQL cuts names (and `application_name`) at 63 bytes: the test's name is hashed.
    let hash =
        std::hash::BuildHasher::hash_one(&std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default(), test);
    let tag = format!("strom_{hash:016x}_{}", std::process::id());
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&base).await.expect("admin connection");
    sqlx::query(&format!("CREATE SCHEMA {tag}")).execute(&mut admin).await.expect("schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}application_name={tag}&options=-csearch_path%3D{tag}");
    Some((admin, tag, url))
}

/// Ends every connection tagged `tag`, as when PostgreSQL restarts; how many there were.
pub async fn drop_connections(admin: &mut sqlx::PgConnection, tag: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) t",
    )
    .bind(tag)
    .fetch_one(admin)
    .await
    .expect("terminated")
}

/// Drops the schema `pg_schema` made.
pub async fn drop_schema(admin: &mut sqlx::PgConnection, tag: &str) {
    sqlx::query(&format!("DROP SCHEMA {tag} CASCADE")).execute(admin).await.expect("drop schema");
}
