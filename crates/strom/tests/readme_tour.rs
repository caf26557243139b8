//! The README's five-minute tour, run step by step with the commands taken from the README itself
//! (issue 26 item 7), so that the tour cannot drift from what Ström does. The tour is the `sh`
//! blocks between `<!-- tour -->` and `<!-- /tour -->`; each line is a step, run in one bash
//! session (so `export` and `&` work as they do for a person), in a fresh directory, with the
//! test's `strom` first on the PATH. Two things are changed, and only these: the port 8180 becomes
//! a free one, so that the test never meets a Ström already running there; and a step that
//! shows something another step is still preparing (the simulated stations connecting, their
//! session ending, a remote start arriving) is run again, up to a deadline, as a person would
//! look again. Each step's output is checked for what the tour says it shows.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const README: &str = include_str!("../../../README.md");

/// How long a step may be run again until it shows what it should.
const PATIENCE: Duration = Duration::from_secs(60);

/// The whole tour: past this, the session and all it started are killed (a step that hangs
/// fails the test rather than holding it).
const WATCHDOG: Duration = Duration::from_secs(240);

/// The tour's steps, in order.
fn steps(readme: &str) -> Vec<String> {
    let start = readme.find("<!-- tour -->").expect("the README has a tour");
    let end = readme[start..].find("<!-- /tour -->").expect("the tour ends") + start;
    let mut steps = Vec::new();
    let mut in_block = false;
    for line in readme[start..end].lines() {
        match line.trim_end() {
            "```sh" => in_block = true,
            "```" => in_block = false,
            text if in_block && !text.trim().is_empty() && !text.trim_start().starts_with('#') => {
                steps.push(text.to_string());
            }
            _ => {}
        }
    }
    steps
}

/// One bash session, as a person's terminal. Its standard error goes to a file of its own.
struct Shell {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: std::path::PathBuf,
}

struct Ran {
    ok: bool,
    out: String,
    err: String,
}

impl Shell {
    fn start(dir: &std::path::Path) -> Shell {
        let bin = std::path::Path::new(env!("CARGO_BIN_EXE_strom")).parent().expect("bin dir").to_path_buf();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        let stderr = dir.join("shell.stderr");
        let mut child = Command::new("bash")
            .args(["--norc", "--noprofile"])
            .current_dir(dir)
            .env("PATH", path)
            .env_remove("STROM_URL")
            .env_remove("STROM_TOKEN")
            .env_remove("STROM_DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .process_group(0)
            .spawn()
            .expect("bash runs");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let group = format!("-{}", child.id());
        std::thread::spawn(move || {
            std::thread::sleep(WATCHDOG);
            eprintln!("the tour took longer than {WATCHDOG:?}: killing it");
            let _ = Command::new("kill").args(["-s", "KILL", "--", &group]).status();
        });
        Shell { child, stdin, stdout, stderr }
    }

    /// Runs `step` and answers its exit status, its standard output and what it wrote to standard
    /// error.
    fn run(&mut self, step: &str) -> Ran {
        let before = std::fs::metadata(&self.stderr).map(|m| m.len()).unwrap_or(0) as usize;
        writeln!(self.stdin, "{step}\nprintf '\\n::done %s\\n' \"$?\"").expect("to bash");
        self.stdin.flush().expect("flush");
        let mut out = String::new();
        let status = loop {
            let mut line = String::new();
            assert!(self.stdout.read_line(&mut line).expect("from bash") > 0, "bash ended during {step:?}");
            match line.trim_end().strip_prefix("::done ") {
                Some(status) => break status.to_string(),
                None => out.push_str(&line),
            }
        };
        // The marker starts on a line of its own.
        if out.ends_with('\n') {
            out.pop();
        }
        let all = std::fs::read(&self.stderr).unwrap_or_default();
        let err = String::from_utf8_lossy(all.get(before..).unwrap_or_default()).into_owned();
        Ran { ok: status == "0", out, err }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        // The session and whatever it left running in the background.
        let _ = Command::new("kill").args(["-s", "KILL", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.wait();
    }
}

/// What a step must show, by the command it runs; a step not named here must succeed. `again`:
/// the step shows something still on its way and may be run again until it does.
struct Expect {
    command: &'static str,
    again: bool,
    check: fn(&Ran) -> Result<(), String>,
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.trim().is_empty()).collect()
}

const EXPECTED: &[Expect] = &[
    Expect {
        command: "strom station list",
        again: true,
        check: |r| {
            let rows = lines(&r.out);
            let connected = rows.iter().filter(|l| l.starts_with("sim-") && l.contains(" yes ")).count();
            (connected == 4).then_some(()).ok_or(format!("four simulated stations connected: {}", r.out))
        },
    },
    Expect {
        command: "strom fault list",
        again: true,
        check: |r| {
            let rows = lines(&r.out);
            (rows.len() >= 2 && rows[1..].iter().all(|l| l.starts_with(char::is_numeric)))
                .then_some(())
                .ok_or(format!("a fault row: {}", r.out))
        },
    },
    Expect {
        command: "strom fault show 1",
        again: false,
        check: |r| {
            let has = |field: &str| r.out.lines().any(|l| l.split_whitespace().next() == Some(field));
            (r.ok && has("category") && has("code") && has("raw"))
                .then_some(())
                .ok_or(format!("a fault with its category, code and raw fields: {} {}", r.out, r.err))
        },
    },
    Expect {
        command: "strom tx list",
        again: true,
        check: |r| {
            let rows = lines(&r.out);
            let accepted = rows.iter().filter(|l| l.contains("Accepted") && l.contains(" kWh")).count();
            (accepted >= 4).then_some(()).ok_or(format!("a session per station, each Accepted: {}", r.out))
        },
    },
    Expect {
        command: "strom tx start",
        again: true,
        check: |r| (r.ok && r.out.contains("Accepted")).then_some(()).ok_or(format!("started: {} {}", r.out, r.err)),
    },
    Expect {
        command: "strom tx stop",
        again: true,
        check: |r| (r.ok && r.out.contains("Accepted")).then_some(()).ok_or(format!("stopped: {} {}", r.out, r.err)),
    },
    Expect {
        command: "strom tx export",
        again: false,
        check: |r| {
            (r.ok && r.err.contains("exported") && !r.err.contains("exported 0 "))
                .then_some(())
                .ok_or(format!("an export with the sessions in it: {}", r.err))
        },
    },
];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[test]
fn the_readme_tour_runs_as_written() {
    let steps = steps(README);
    assert!(steps.len() >= 8, "the tour has its steps: {steps:?}");
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port().to_string();
    let mut shell = Shell::start(dir.path());
    for step in &steps {
        let step = step.replace("8180", &port);
        let expect = EXPECTED.iter().find(|e| step.trim_start().starts_with(e.command));
        let deadline = Instant::now() + PATIENCE;
        eprintln!("$ {step}");
        loop {
            let ran = shell.run(&step);
            let verdict = match expect {
                Some(expect) => (expect.check)(&ran),
                None if ran.ok => Ok(()),
                None => Err(format!("exit status not 0: {} {}", ran.out, ran.err)),
            };
            match verdict {
                Ok(()) => break,
                Err(why) if expect.is_some_and(|e| e.again) && Instant::now() < deadline => {
                    eprintln!("  (again: {})", why.lines().next().unwrap_or_default());
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(why) => {
                    let server_log = std::fs::read_to_string(dir.path().join("strom.log")).unwrap_or_default();
                    panic!("tour step {step:?}: {why}\n--- strom.log ---\n{server_log}");
                }
            }
        }
    }
    // The tour's last word: the export is a file a spreadsheet opens.
    let csv = std::fs::read_to_string(dir.path().join("sessions.csv")).expect("the tour wrote sessions.csv");
    let rows = lines(&csv);
    assert!(rows[0].starts_with("transaction_id,station_id"), "{csv}");
    assert!(rows.len() >= 6, "the simulated sessions and the one stopped: {csv}");
    assert!(rows.iter().any(|r| r.contains(",Remote,")), "the session stopped from the CLI ended Remote: {csv}");
}

#[test]
fn the_tour_is_found_line_by_line() {
    let readme = "intro\n<!-- tour -->\n```sh\nstrom a &   # one\n# a comment\n\nstrom b\n```\ntext\n```sh\nstrom c\n```\n<!-- /tour -->\n```sh\nstrom d\n```\n";
    assert_eq!(steps(readme), ["strom a &   # one", "strom b", "strom c"]);
}
