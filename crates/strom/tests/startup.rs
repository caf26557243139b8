//! Start-up a newcomer does not trip over (issue 26 item 4): a busy port or a bad address fails
//! at once and leaves no files, an unreachable PostgreSQL is named within seconds, a missing
//! PostgreSQL database is created (or the command to create it is given), migrations log one
//! line, and `strom token create` never picks a database on its own.

mod common;

use common::{Backend, Server};
use std::process::Output;
use std::time::{Duration, Instant};
use tokio::process::Command;

/// A failure the user should see at once; generous for a loaded test machine, far below the
/// 30 s a pool timeout took.
const PROMPTLY: Duration = Duration::from_secs(8);

/// Runs `strom ARGS` in `dir` with no database or config from the environment; its output and
/// how long it took.
async fn strom_in(dir: &std::path::Path, args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(env!("CARGO_BIN_EXE_strom"))
            .args(args)
            .current_dir(dir)
            .env_remove("STROM_DATABASE_URL")
            .env_remove("STROM_CONFIG")
            .env("STROM_LOG", "info")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("strom ends")
    .expect("strom runs");
    (output, started.elapsed())
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir).expect("dir").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect()
}

#[tokio::test]
async fn a_taken_port_fails_at_once_and_creates_no_database() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = tempfile::tempdir().expect("dir");
    for listeners in [["--listen", addr.as_str()], ["--api-listen", addr.as_str()]] {
        let mut args = vec!["serve", "--database", "strom.db"];
        if listeners[0] == "--api-listen" {
            args.extend(["--listen", "127.0.0.1:0"]);
        }
        args.extend(listeners);
        let (output, took) = strom_in(dir.path(), &args).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(stderr.contains(&format!("listening on {addr}")), "{stderr}");
        assert!(stderr.contains("in use"), "{stderr}");
        assert!(took < PROMPTLY, "took {took:?}");
        assert_eq!(files_in(dir.path()), Vec::<String>::new(), "no database for a server that cannot run");
    }
    drop(taken);
}

#[tokio::test]
async fn a_bad_listen_address_fails_at_once_and_creates_no_database() {
    let dir = tempfile::tempdir().expect("dir");
    let (output, took) = strom_in(dir.path(), &["serve", "--database", "strom.db", "--listen", "not-an-address"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("listening on not-an-address"), "{stderr}");
    assert!(took < PROMPTLY, "took {took:?}");
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
}

#[tokio::test]
async fn an_unreachable_postgres_is_named_within_seconds() {
    // A loopback port nobody listens on: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("postgres://strom@127.0.0.1:{port}/strom");
    let (output, took) = strom_in(dir.path(), &["serve", "--listen", "127.0.0.1:0", "--database", &url]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("connection refused at 127.0.0.1:{port}")), "{stderr}");
    assert!(took < PROMPTLY, "took {took:?}");
    // `token create` says the same.
    let (output, took) = strom_in(dir.path(), &["token", "create", "--role", "admin", "--database", &url]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("connection refused at 127.0.0.1:{port}")), "{stderr}");
    assert!(took < PROMPTLY, "took {took:?}");
}

#[tokio::test]
async fn token_create_without_a_database_refuses_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let (output, _) = strom_in(dir.path(), &["token", "create", "--role", "admin"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("--database"), "{stderr}");
    assert!(output.stdout.is_empty(), "no token printed");
    assert_eq!(files_in(dir.path()), Vec::<String>::new(), "no ./strom.db made silently");
}

/// The base URL's server with another database name, and the name.
fn with_database(base: &str, name: &str) -> String {
    let (url, query) = base.split_once('?').map_or((base, None), |(u, q)| (u, Some(q)));
    let scheme_end = url.find("://").expect("a URL") + 3;
    let server = match url[scheme_end..].find('/') {
        Some(slash) => &url[..scheme_end + slash],
        None => url,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

async fn admin(base: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(base).await.expect("PostgreSQL reachable")
}

#[tokio::test]
async fn a_missing_postgres_database_is_created_or_its_command_given() {
    let Some(Backend::Postgres(base)) = Backend::postgres() else {
        eprintln!("!!! SKIPPED a_missing_postgres_database_is_created_or_its_command_given: STROM_TEST_POSTGRES_URL is not set");
        return;
    };
    let name = unique("strom_created");
    let url = with_database(&base, &name);
    let dir = tempfile::tempdir().expect("dir");
    // `token create` on a database that is not there yet creates it, migrates it and stores the token.
    let (output, took) = strom_in(dir.path(), &["token", "create", "--role", "admin", "--database", &url]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("created the PostgreSQL database"), "{stderr}");
    assert!(took < PROMPTLY, "took {took:?}");
    let mut conn = admin(&base).await;
    let tokens: i64 = {
        use sqlx::Connection;
        let mut created = sqlx::PgConnection::connect(&url).await.expect("the database exists");
        let tokens =
            sqlx::query_scalar("SELECT count(*) FROM api_tokens").fetch_one(&mut created).await.expect("count");
        created.close().await.expect("close");
        tokens
    };
    assert_eq!(tokens, 1);
    sqlx::query(&format!("DROP DATABASE {name}")).execute(&mut conn).await.expect("drop");

    // A user who may not create databases is told the command to run.
    let role = unique("strom_nocreate");
    if let Err(e) = sqlx::query(&format!("CREATE ROLE {role} LOGIN NOCREATEDB")).execute(&mut conn).await {
        eprintln!("!!! SKIPPED the part without CREATEDB: the test's PostgreSQL user may not create a role ({e})");
        return;
    }
    let scheme_end = url.find("://").expect("a URL") + 3;
    let host_start = url[scheme_end..].find('@').map_or(scheme_end, |at| scheme_end + at + 1);
    let as_role = format!("{}{role}@{}", &url[..scheme_end], &url[host_start..]);
    let (output, took) = strom_in(dir.path(), &["serve", "--listen", "127.0.0.1:0", "--database", &as_role]).await;
    sqlx::query(&format!("DROP ROLE {role}")).execute(&mut conn).await.expect("drop role");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("-O {role} {name}")), "{stderr}");
    assert!(stderr.contains("createdb -h "), "{stderr}");
    assert!(took < PROMPTLY, "took {took:?}");
}

both_backends!(migrations_log_one_line);

async fn migrations_log_one_line(backend: Backend) {
    let server = Server::start_logging(backend, "info").await;
    // The log is read from the server's stderr as it comes: wait (bounded) for the line that
    // follows start-up.
    let deadline = Instant::now() + common::TIMEOUT;
    while !server.log_output().contains("serving") {
        assert!(Instant::now() < deadline, "no serving line: {}", server.log_output());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = server.log_output();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("migrat")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("now at schema version"), "{log}");
    // The URL is logged as given: no password, so no `***`.
    let serving = log.lines().find(|l| l.contains("serving")).expect("a serving line");
    assert!(serving.contains(&server.db.url), "{serving}");
    assert!(!serving.contains("***"), "{serving}");
}
