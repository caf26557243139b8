//! The command line over the API: `strom station`, `strom tx`, `strom tag`, `strom config`, with
//! tables by default and the API's JSON with `--json`.

mod common;

use common::{Backend, Server};
use serde_json::{json, Value};

both_backends!(cli_drives_the_api);

/// Runs `strom ARGS` against the server in the background (a command waits for the station).
fn spawn_strom(server: &Server, token: &str, args: &[&str]) -> tokio::task::JoinHandle<(bool, String, String)> {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"));
    command.args(args).env("STROM_URL", format!("http://{}", server.addr)).env("STROM_TOKEN", token);
    tokio::spawn(async move {
        let output = command.output().await.expect("strom runs");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (output.status.success(), text(&output.stdout), text(&output.stderr))
    })
}

async fn strom(server: &Server, token: &str, args: &[&str]) -> (bool, String, String) {
    spawn_strom(server, token, args).await.expect("join")
}

async fn cli_drives_the_api(backend: Backend) {
    let server = Server::start_secure(backend).await;
    let admin = server.create_token("admin").await.expect("token");
    let viewer = server.create_token("viewer").await.expect("token");

    let (ok, out, err) = strom(&server, &admin, &["tag", "add", "ABC", "--parent", "FLEET"]).await;
    assert!(ok, "{err}");
    assert!(
        out.lines().nth(1).is_some_and(|l| l.starts_with("ABC") && l.contains("Accepted") && l.ends_with("FLEET")),
        "{out}"
    );
    let (ok, out, err) = strom(&server, &admin, &["tag", "add", "SIM-0", "SIM-1", "--status", "Blocked"]).await;
    assert!(ok, "{err}");
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert!(rows.len() == 2 && rows.iter().all(|r| r.contains("Blocked")), "several at once: {out}");
    let (ok, out, _) = strom(&server, &viewer, &["tag", "list", "--json"]).await;
    assert!(ok);
    let tags: Value = serde_json::from_str(&out).expect("JSON");
    let ids: Vec<&str> = tags.as_array().expect("list").iter().filter_map(|t| t["id_token"].as_str()).collect();
    assert_eq!(ids, ["ABC", "SIM-0", "SIM-1"]);
    let (ok, _, err) = strom(&server, &viewer, &["tag", "add", "XYZ"]).await;
    assert!(!ok && err.contains("403"), "a viewer may not add tags: {err}");

    let mut cp = server.booted("CP1").await;
    cp.status(1, "Available", "NoError").await;
    let (ok, out, _) = strom(&server, &viewer, &["station", "list"]).await;
    assert!(ok);
    let row = out.lines().nth(1).expect("a station row");
    assert!(
        row.starts_with("CP1") && row.contains("1.6") && row.contains("yes") && row.ends_with("1:Available"),
        "{out}"
    );

    // Commands: the station answers while the CLI waits.
    let cli = spawn_strom(&server, &admin, &["station", "reset", "CP1", "--hard"]);
    let (id, action, payload) = cp.expect_call().await;
    assert_eq!((action.as_str(), payload), ("Reset", json!({"type": "Hard"})));
    cp.reply(&id, json!({"status": "Accepted"})).await;
    let (ok, out, _) = cli.await.expect("join");
    assert!(ok);
    assert_eq!(out.trim(), "status: Accepted");

    let cli = spawn_strom(&server, &admin, &["tx", "start", "CP1", "--connector", "1", "--id-token", "ABC"]);
    let (id, action, payload) = cp.expect_call().await;
    assert_eq!((action.as_str(), payload), ("RemoteStartTransaction", json!({"idTag": "ABC", "connectorId": 1})));
    cp.reply(&id, json!({"status": "Accepted"})).await;
    assert!(cli.await.expect("join").0);
    let (tx, _) = cp.start(1, "ABC", 0, "2026-11-26T10:00:00Z").await;
    let (ok, out, _) = strom(&server, &viewer, &["tx", "list", "--active"]).await;
    assert!(ok && out.lines().nth(1).is_some_and(|l| l.starts_with(&tx.to_string()) && l.contains("ABC")), "{out}");

    let cli = spawn_strom(&server, &admin, &["config", "set", "CP1", "HeartbeatInterval", "120"]);
    let (id, action, payload) = cp.expect_call().await;
    assert_eq!(
        (action.as_str(), payload),
        ("ChangeConfiguration", json!({"key": "HeartbeatInterval", "value": "120"}))
    );
    cp.reply(&id, json!({"status": "RebootRequired"})).await;
    assert_eq!(cli.await.expect("join").1.trim(), "status: RebootRequired");

    let (ok, _, err) = strom(&server, &admin, &["station", "reset", "NOPE"]).await;
    assert!(!ok && err.contains("404"), "{err}");
    let (ok, _, err) = strom(&server, "wrong", &["station", "list"]).await;
    assert!(!ok && err.contains("401"), "{err}");
}

/// The variables of a running process's environment that start with `prefix`.
fn environment(pid: u32, prefix: &str) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).expect("environ readable");
    raw.split(|b| *b == 0).map(|v| String::from_utf8_lossy(v).into_owned()).filter(|v| v.starts_with(prefix)).collect()
}

/// `strom serve` runs with mimalloc purging freed pages after 100 ms (it starts itself over with
/// the option set, keeping its process id), and keeps an operator's own setting.
#[tokio::test]
async fn serve_runs_with_the_allocator_returning_memory_soon() {
    let server = Server::start(Backend::Sqlite).await;
    assert_eq!(environment(server.pid(), "MIMALLOC_"), vec!["MIMALLOC_PURGE_DELAY=100".to_string()]);
    let stations = server.items("/api/v1/stations").await;
    assert_eq!(stations, json!([]), "the restarted process is the one serving");

    let dir = tempfile::tempdir().expect("temp dir");
    let env = [("MIMALLOC_PURGE_DELAY", "250"), ("STROM_LOG", "error")];
    let (child, _stdout) =
        serve_until_listening(&dir.path().join("own.db"), &env, std::process::Stdio::inherit()).await;
    let pid = child.id().expect("running");
    assert_eq!(environment(pid, "MIMALLOC_"), vec!["MIMALLOC_PURGE_DELAY=250".to_string()]);
}

/// `strom serve` on `database` with `env` set and its stderr to `stderr`, once it has said where
/// it listens; and the rest of its stdout, kept open while the caller holds it.
async fn serve_until_listening(
    database: &std::path::Path,
    env: &[(&str, &str)],
    stderr: std::process::Stdio,
) -> (tokio::process::Child, tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(database)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("strom starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line()).await.expect("in time");
    assert!(line.expect("readable").is_some_and(|l| l.starts_with("strom listening on ")));
    (child, lines)
}

/// Logged to a file (stderr not a terminal), `strom serve` writes plain lines: no escape codes.
#[tokio::test]
async fn serve_logs_plain_text_when_stderr_is_a_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = std::fs::File::create(dir.path().join("strom.log")).expect("log file");
    let (mut child, _stdout) =
        serve_until_listening(&dir.path().join("plain.db"), &[("STROM_LOG", "info")], log.into()).await;
    child.kill().await.expect("stopped");
    let written = std::fs::read_to_string(dir.path().join("strom.log")).expect("log read");
    assert!(written.contains("INFO") && written.contains("migrated the database: "), "{written}");
    assert!(!written.contains('\u{1b}'), "escape codes in a log file: {written:?}");
}
