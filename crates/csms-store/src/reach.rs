//! Reaching PostgreSQL once before the pool is built, so that a newcomer's first mistakes get a
//! sentence rather than a pool timeout: an unreachable server fails within seconds naming
//! host:port, and a database that does not exist yet is created (or the command to create it
//! is given, when the user may not).

use crate::StoreError;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection;
use std::str::FromStr;
use std::time::Duration;

/// How long one attempt to connect may take. The pool would retry a refused connection for its
/// whole acquire timeout (30 s) and then report only "pool timed out"; one attempt that fails
/// says why at once.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLSTATE of a connection to a database that does not exist (invalid_catalog_name).
const NO_SUCH_DATABASE: &str = "3D000";
/// SQLSTATE of CREATE DATABASE by a role without CREATEDB (insufficient_privilege).
const NOT_ALLOWED: &str = "42501";
/// SQLSTATE of CREATE DATABASE for one that exists (duplicate_database): someone else was quicker.
const ALREADY_THERE: &str = "42P04";

/// Connects once to the database of `url`, creating the database if it does not exist.
pub(crate) async fn ensure_database(url: &str) -> Result<(), StoreError> {
    let options = PgConnectOptions::from_str(url)?;
    match connect(&options).await {
        Ok(conn) => {
            let _ = conn.close().await;
            Ok(())
        }
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(NO_SUCH_DATABASE) => create(&options).await,
        Err(e) => Err(reached(&options, e)),
    }
}

async fn connect(options: &PgConnectOptions) -> Result<PgConnection, sqlx::Error> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(options)).await {
        Ok(connected) => connected,
        Err(_) => Err(sqlx::Error::PoolTimedOut),
    }
}

/// Where the server was looked for, as an operator would write it.
fn address(options: &PgConnectOptions) -> String {
    match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    }
}

/// A failure to connect, said in terms of where and why.
fn reached(options: &PgConnectOptions, e: sqlx::Error) -> StoreError {
    let at = address(options);
    match e {
        sqlx::Error::Io(io) => {
            let reason = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                _ => io.to_string(),
            };
            StoreError::Unreachable { reason, at }
        }
        sqlx::Error::PoolTimedOut => {
            StoreError::Unreachable { reason: format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()), at }
        }
        other => StoreError::Database(other),
    }
}

/// Creates the database `options` names, connected to the server's maintenance database with
/// the same credentials.
async fn create(options: &PgConnectOptions) -> Result<(), StoreError> {
    let name = options.get_database().unwrap_or(options.get_username()).to_string();
    let mut admin = None;
    for maintenance in ["postgres", "template1"] {
        match connect(&options.clone().database(maintenance)).await {
            Ok(conn) => {
                admin = Some(conn);
                break;
            }
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(NO_SUCH_DATABASE) => continue,
            Err(e) => return Err(reached(options, e)),
        }
    }
    let Some(mut admin) = admin else {
        return Err(StoreError::MissingDatabase { name: name.clone(), create: create_command(options, &name) });
    };
    let created = sqlx::query(&format!("CREATE DATABASE {}", quote_identifier(&name))).execute(&mut admin).await;
    let _ = admin.close().await;
    match created {
        Ok(_) => {
            tracing::info!(database = %name, at = %address(options), "created the PostgreSQL database");
            Ok(())
        }
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(ALREADY_THERE) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(NOT_ALLOWED) => {
            Err(StoreError::MissingDatabase { name: name.clone(), create: create_command(options, &name) })
        }
        Err(e) => Err(e.into()),
    }
}

/// The command a user allowed to create databases runs to create this one.
fn create_command(options: &PgConnectOptions, name: &str) -> String {
    let host = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => options.get_host().to_string(),
    };
    format!(
        "createdb -h {} -p {} -U {} -O {} {}",
        shell_word(&host),
        options.get_port(),
        "postgres",
        shell_word(options.get_username()),
        shell_word(name)
    )
}

/// A word as a POSIX shell reads it back unchanged.
fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// An SQL identifier, quoted (so that a name with capitals or a dash is kept as written).
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_create_command_names_the_server_the_owner_and_the_database() {
        let options = PgConnectOptions::from_str("postgres://fleet@db.example:5433/fleet-1").expect("url");
        assert_eq!(
            create_command(&options, "fleet 1"),
            "createdb -h db.example -p 5433 -U postgres -O fleet 'fleet 1'"
        );
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(quote_identifier(r#"a"b"#), r#""a""b""#);
    }
}
