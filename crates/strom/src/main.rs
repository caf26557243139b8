//! The one Ström binary: `strom serve` runs the CSMS; `strom config print-default` prints the
//! commented default configuration; `strom ca init` makes Ström's CA.

mod ca;
mod cli;
mod config;
mod listener;
mod serve;
mod tls;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "strom", version, about = "Ström: an OCPP 1.6J / 2.0.1 charging station management system")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the CSMS: stations connect to ws://LISTEN/ocpp/{stationId}, operators use /api/v1.
    Serve(ServeArgs),
    /// Ström's own configuration (print-default), or a station's through the API (get, set).
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
        #[command(flatten)]
        api: cli::ApiArgs,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Load a CSMS with simulated 1.6 stations and print throughput and latency as one JSON line.
    Bench(BenchArgs),
    /// Run a fleet of simulated stations through charging sessions and faults; print a JSON summary.
    Sim(SimArgs),
    /// A bare OCPP-J responder for `strom bench` to measure the machine against: it answers every
    /// CALL with an empty CALLRESULT and validates and stores nothing (BENCHMARKS.md).
    Responder {
        /// Address to listen on (loopback by default).
        #[arg(long, default_value = "127.0.0.1:18181")]
        listen: std::net::SocketAddr,
        /// Write every CALL to this file and answer it only once an fdatasync made it durable
        /// (one thread, group commit): the disk's floor for a server that answers after a
        /// durable write.
        #[arg(long, value_name = "FILE")]
        durable: Option<std::path::PathBuf>,
    },
    /// Stations, through the API of a running Ström.
    Station {
        #[command(subcommand)]
        command: cli::StationCommand,
        #[command(flatten)]
        api: cli::ApiArgs,
    },
    /// Transactions, through the API.
    Tx {
        #[command(subcommand)]
        command: cli::TxCommand,
        #[command(flatten)]
        api: cli::ApiArgs,
    },
    /// Charge detail records, through the API: export a period's as CSV or JSON.
    Cdr {
        #[command(subcommand)]
        command: cli::CdrCommand,
        #[command(flatten)]
        api: cli::ApiArgs,
    },
    /// Id tokens (RFID tags and the like), through the API.
    Tag {
        #[command(subcommand)]
        command: cli::TagCommand,
        #[command(flatten)]
        api: cli::ApiArgs,
    },
    /// Reports over a period, through the API: availability (uptime, outages, faults, time to repair).
    Report {
        #[command(subcommand)]
        command: cli::ReportCommand,
        #[command(flatten)]
        api: cli::ApiArgs,
    },
    /// Faults stations reported, through the API.
    Fault {
        #[command(subcommand)]
        command: cli::logs::FaultCommand,
        #[command(flatten)]
        api: cli::ApiArgs,
    },
    /// The operator commands sent to a station, through the API.
    #[command(name = "command")]
    Commands {
        #[command(subcommand)]
        command: cli::logs::CommandLogCommand,
        #[command(flatten)]
        api: cli::ApiArgs,
    },
    /// A station's OCPP messages as a readable trace, oldest first (secrets masked).
    Messages {
        /// The station's identity (as in ws://…/ocpp/{identity}).
        station: String,
        /// How many of the newest messages (1-1000).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        #[command(flatten)]
        api: cli::ApiArgs,
    },
    /// Ström's certificate authority, which signs the certificates stations ask for.
    Ca {
        #[command(subcommand)]
        command: CaCommand,
    },
}

#[derive(Subcommand)]
enum CaCommand {
    /// Make a new CA: an ECDSA P-256 key (written with mode 0600) and a self-signed certificate.
    /// Refuses to overwrite either file. Serve with --ca-cert and --ca-key (or ca_cert, ca_key).
    Init {
        /// Where to write the CA certificate (PEM).
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// Where to write the CA's private key (PKCS#8 PEM).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The CA's common name.
        #[arg(long, default_value = "Ström CA")]
        common_name: String,
        /// The CA's organization (O), e.g. the operator's name.
        #[arg(long)]
        organization: Option<String>,
        /// Days the CA certificate is valid.
        #[arg(long, default_value_t = 3650, value_parser = clap::value_parser!(u32).range(1..=36_500))]
        days: u32,
    },
    /// Certificates of every station that expire within DAYS (expired ones too), through the API.
    Expiring {
        /// Certificates expiring within this many days (expired ones too).
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[command(flatten)]
        api: cli::ApiArgs,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token; it is printed once, alone on the last line, and stored hashed. Needs
    /// the database `strom serve` uses (--database, or --config with its `database`).
    Create {
        /// viewer (read), operator (also command stations) or admin (also manage stations and tokens).
        #[arg(long)]
        role: String,
        /// A note on who or what the token is for.
        #[arg(long)]
        name: Option<String>,
        /// Refuse the token from this many days after now on (without: until it is revoked).
        #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=36_500))]
        expires_in_days: Option<u32>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the API tokens (never their secrets), through the API; needs an admin token.
    List {
        #[command(flatten)]
        api: cli::ApiArgs,
    },
    /// Revoke an API token by its id (see `strom token list`): refused from then on.
    Revoke {
        /// The API token's id (see `strom token list`).
        id: i64,
        #[command(flatten)]
        api: cli::ApiArgs,
    },
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Base URL stations connect to; identities are appended.
    #[arg(long, default_value = "ws://127.0.0.1:8180/ocpp")]
    url: String,
    /// boot, heartbeat, meter (MeterValues with 8 sampled values), session (10 CALLs each) or idle.
    #[arg(long, default_value = "meter")]
    scenario: String,
    /// Simulated stations, each on its own connection.
    #[arg(long, default_value_t = 100)]
    stations: usize,
    /// Seconds to run (after every station has connected and booted).
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Station identity prefix.
    #[arg(long, default_value = "bench-")]
    prefix: String,
    /// The id tag sessions use (make it known and Accepted for realistic sessions).
    #[arg(long, default_value = "BENCH")]
    id_tag: String,
    /// Seconds after which an unanswered CALL counts as a timeout.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// The server's process id, to report its memory per connection (Linux).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Threads of the load generator. One by default: on a machine it shares with the server, a
    /// second one used about 10 % more CPU for the same throughput (BENCHMARKS.md). Give more
    /// when the server runs elsewhere and the bench warns that it is the bottleneck.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

#[derive(clap::Args)]
struct SimArgs {
    /// A scenario file (TOML) with any of the settings below; flags win over it.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Base URL stations connect to; identities are appended [default: ws://127.0.0.1:8180/ocpp].
    #[arg(long)]
    url: Option<String>,
    /// Stations [default: 10].
    #[arg(long)]
    stations: Option<usize>,
    /// 1.6, 2.0.1 or mixed [default: mixed].
    #[arg(long)]
    version: Option<String>,
    /// Sessions per station [default: 3].
    #[arg(long)]
    sessions: Option<usize>,
    /// Meter samples per session: a station's own session lasts this many sample intervals
    /// [default: 30].
    #[arg(long)]
    samples: Option<usize>,
    /// Seconds between a session's periodic samples: the stations' initial
    /// MeterValueSampleInterval / SampledDataCtrlr.TxUpdatedInterval [default: 60].
    #[arg(long)]
    sample_interval: Option<u64>,
    /// Simulated time: sessions run as fast as the CSMS answers, their stamps running ahead of
    /// the clock. Without it stations keep real time: stamps are the current time and a
    /// session's readings come every sample interval.
    #[arg(long)]
    fast: bool,
    /// Connectors per station (2.0.1: EVSEs with one connector each) [default: 2].
    #[arg(long)]
    connectors: Option<usize>,
    /// Seconds a session the CSMS starts (RemoteStartTransaction / RequestStartTransaction)
    /// charges unless it is stopped [default: 300].
    #[arg(long)]
    remote_session_secs: Option<u64>,
    /// The stations' initial ClockAlignedDataInterval / AlignedDataCtrlr.Interval in seconds:
    /// readings at every multiple of it since midnight UTC, 0 for none [default: 0].
    #[arg(long)]
    clock_aligned_interval: Option<u64>,
    /// Share of sessions (0-1) after which the station reports and clears a fault [default: 0.2].
    #[arg(long)]
    fault_share: Option<f64>,
    /// Error codes faults are drawn from, comma-separated [default: HighTemperature,OverVoltage,PowerMeterFailure,GroundFailure].
    #[arg(long, value_delimiter = ',')]
    fault_codes: Option<Vec<String>>,
    /// Share of sessions (0-1) during which the network drops; messages are queued and replayed [default: 0].
    #[arg(long)]
    drop_share: Option<f64>,
    /// Share of sessions (0-1) ended by a power failure and a reboot [default: 0].
    #[arg(long)]
    power_loss_share: Option<f64>,
    /// Seed for repeatable runs [default: 1].
    #[arg(long)]
    seed: Option<u64>,
    /// Station identity prefix [default: sim-].
    #[arg(long)]
    prefix: Option<String>,
    /// The id tags' prefix: station N's drivers present TAG-N (SIM-0, SIM-1, …); make them
    /// known and Accepted [default: SIM].
    #[arg(long)]
    id_tag: Option<String>,
    /// Every station presents the --id-tag itself: a CSMS refuses all but one at a time as
    /// ConcurrentTx, and the refused stations do not charge.
    #[arg(long)]
    shared_tag: bool,
    /// Seconds each station stays connected after its sessions, answering commands and
    /// reconnecting if the connection is lost (a CSMS restart) [default: 0].
    #[arg(long)]
    linger: Option<u64>,
}

/// A scenario file: the same settings as the `strom sim` flags.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SimScenario {
    url: Option<String>,
    stations: Option<usize>,
    version: Option<String>,
    sessions: Option<usize>,
    samples: Option<usize>,
    sample_interval: Option<u64>,
    fast: Option<bool>,
    connectors: Option<usize>,
    remote_session_secs: Option<u64>,
    clock_aligned_interval: Option<u64>,
    fault_share: Option<f64>,
    fault_codes: Option<Vec<String>>,
    drop_share: Option<f64>,
    power_loss_share: Option<f64>,
    seed: Option<u64>,
    prefix: Option<String>,
    id_tag: Option<String>,
    shared_tag: Option<bool>,
    linger: Option<u64>,
}

/// Flags over the scenario file over the defaults, validated.
fn sim_config(args: SimArgs) -> Result<chargesim::sim::SimConfig> {
    let file: SimScenario = match &args.scenario {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => SimScenario::default(),
    };
    let version = args.version.or(file.version).unwrap_or_else(|| "mixed".into());
    let Some(fleet) = chargesim::sim::Fleet::parse(&version) else {
        anyhow::bail!("version must be 1.6, 2.0.1 or mixed, not {version:?}");
    };
    let fault_share = args.fault_share.or(file.fault_share).unwrap_or(0.2);
    let drop_share = args.drop_share.or(file.drop_share).unwrap_or(0.0);
    let power_loss_share = args.power_loss_share.or(file.power_loss_share).unwrap_or(0.0);
    if [fault_share, drop_share, power_loss_share].iter().any(|share| !(0.0..=1.0).contains(share)) {
        anyhow::bail!("fault_share, drop_share and power_loss_share must be between 0 and 1");
    }
    let fault_codes = args.fault_codes.or(file.fault_codes).unwrap_or_else(|| {
        ["HighTemperature", "OverVoltage", "PowerMeterFailure", "GroundFailure"].map(String::from).to_vec()
    });
    // Faults are 1.6 error codes (2.0.1 stations report them as the techCode of a NotifyEvent).
    let fault_codes = fault_codes
        .iter()
        .map(|code| {
            ocpp::v16::StatusNotificationErrorCode::ALL
                .iter()
                .copied()
                .find(|c| c.as_str() == code && code != "NoError")
                .with_context(|| format!("{code:?} is not an OCPP 1.6 error code for a fault"))
        })
        .collect::<Result<Vec<_>>>()?;
    if fault_codes.is_empty() {
        anyhow::bail!("fault_codes must name at least one error code");
    }
    let sample_interval = args.sample_interval.or(file.sample_interval).unwrap_or(60);
    if sample_interval == 0 {
        anyhow::bail!("sample_interval must be at least 1 second");
    }
    let connectors = args.connectors.or(file.connectors).unwrap_or(2);
    if !(1..=16).contains(&connectors) {
        anyhow::bail!("connectors must be between 1 and 16");
    }
    Ok(chargesim::sim::SimConfig {
        url: args
            .url
            .or(file.url)
            .unwrap_or_else(|| "ws://127.0.0.1:8180/ocpp".into())
            .trim_end_matches('/')
            .to_string(),
        stations: args.stations.or(file.stations).unwrap_or(10),
        fleet,
        sessions_per_station: args.sessions.or(file.sessions).unwrap_or(3),
        seed: args.seed.or(file.seed).unwrap_or(1),
        samples_per_session: args.samples.or(file.samples).unwrap_or(30),
        sample_interval,
        clock_aligned_interval: args.clock_aligned_interval.or(file.clock_aligned_interval).unwrap_or(0),
        fault_share,
        fault_codes,
        prefix: args.prefix.or(file.prefix).unwrap_or_else(|| "sim-".into()),
        id_tag: args.id_tag.or(file.id_tag).unwrap_or_else(|| "SIM".into()),
        shared_tag: args.shared_tag || file.shared_tag.unwrap_or(false),
        fast: args.fast || file.fast.unwrap_or(false),
        connectors,
        remote_session_secs: args.remote_session_secs.or(file.remote_session_secs).unwrap_or(300),
        call_timeout: std::time::Duration::from_secs(30),
        linger: std::time::Duration::from_secs(args.linger.or(file.linger).unwrap_or(0)),
        drop_share,
        power_loss_share,
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    })
}

/// Where the data lives: the same flags, environment and file as `serve`.
#[derive(clap::Args)]
struct StoreArgs {
    /// SQLite file path or postgres:// URL.
    #[arg(long, env = "STROM_DATABASE_URL")]
    database: Option<String>,
    /// TOML configuration file (see `strom config print-default`).
    #[arg(long, env = "STROM_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:8180 (port 0 picks a free port).
    #[arg(long, env = "STROM_LISTEN")]
    listen: Option<String>,
    /// Registration of stations Ström has never seen: accept, pending or reject.
    #[arg(long, env = "STROM_UNKNOWN_STATIONS")]
    unknown_stations: Option<String>,
    /// Serve the API without authentication, for local development only.
    #[arg(long)]
    api_open: bool,
    /// Serve the operator API (/api/v1, /metrics) on this address instead of with the stations.
    #[arg(long, env = "STROM_API_LISTEN")]
    api_listen: Option<String>,
    /// Address of the TLS listener for stations of security profile 2 and 3 (wss://).
    #[arg(long, env = "STROM_TLS_LISTEN")]
    tls_listen: Option<String>,
    /// The TLS listener's certificate chain (PEM, server certificate first); reread on SIGHUP.
    #[arg(long, env = "STROM_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The TLS listener's private key (PEM); reread on SIGHUP.
    #[arg(long, env = "STROM_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// CA certificates (PEM) that station client certificates must chain to (security profile 3).
    #[arg(long, env = "STROM_TLS_CLIENT_CA")]
    tls_client_ca: Option<PathBuf>,
    /// Turn the per-station message and Authorize rate limits off (for load tests only).
    #[arg(long, env = "STROM_NO_RATE_LIMITS")]
    no_rate_limits: bool,
    /// Ström's CA certificate (PEM), which signs station certificates; needs --ca-key.
    #[arg(long, env = "STROM_CA_CERT", value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// The CA's private key (PKCS#8 PEM).
    #[arg(long, env = "STROM_CA_KEY", value_name = "FILE")]
    ca_key: Option<PathBuf>,
    /// The operator's name, which a station's CSR must carry as O.
    #[arg(long, env = "STROM_OPERATOR_NAME")]
    operator_name: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the default configuration file, with comments.
    PrintDefault,
    #[command(flatten)]
    Station(cli::ConfigCommand),
}

/// Log lines on stderr; coloured only when stderr is a terminal, so that a log file or a journal
/// holds plain text (and no line pays for escape codes nobody sees).
fn init_logging() {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STROM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// mimalloc instead of glibc's allocator: messages are allocated on the connection threads and
/// freed on the writer's, and glibc's arenas made that a tenth of the server's time (profiled).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The allocator option `serve` runs with, and the value it wants.
const PURGE_DELAY: (&str, &str) = ("MIMALLOC_PURGE_DELAY", "100");

/// mimalloc gives pages that became free back to the OS only after a delay, and only when the
/// thread that freed them allocates again. After a reconnect storm the connection threads go
/// idle with the storm's garbage still resident: an idle connection measured 6.6–12.4 KiB from
/// run to run with the default. With no delay at all every page is handed back the moment it
/// empties and faulted in again when reused, and each hand-back interrupts the other core to
/// flush its TLB: meter throughput at 1,000 stations was 10–15 % lower than with 100 ms, which
/// keeps an idle connection at 7.2–7.8 KiB (no delay: 6.5–7.6; BENCHMARKS.md). mimalloc reads
/// its options from the environment when the process starts, and
/// setting one from inside would take an unsafe call into C, so `serve` starts itself over once
/// with the option set (same process id; the arguments and the rest of the environment as they
/// were). An operator's own setting is kept.
fn with_allocator_options() {
    use std::os::unix::process::CommandExt;
    let (name, value) = PURGE_DELAY;
    if std::env::var_os(name).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let error = std::process::Command::new(exe).args(std::env::args_os().skip(1)).env(name, value).exec();
    // exec returns only if it failed: serve as we are.
    eprintln!("strom: could not restart with {name}={value} ({error}); idle connections may cost more memory");
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    runtime_with(None)
}

/// A runtime with `workers` threads, or one per core.
fn runtime_with(workers: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = workers {
        builder.worker_threads(workers);
    }
    builder.enable_all().build()
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Config { command: ConfigCommand::PrintDefault, .. } => {
            print!("{}", config::DEFAULT_CONFIG);
            Ok(())
        }
        Command::Config { command: ConfigCommand::Station(command), api } => {
            runtime()?.block_on(cli::config(&api, command))
        }
        Command::Bench(args) => {
            let Some(scenario) = chargesim::bench::Scenario::parse(&args.scenario) else {
                anyhow::bail!("--scenario must be boot, heartbeat, meter, session or idle, not {:?}", args.scenario);
            };
            if args.stations == 0 || args.duration == 0 || args.threads == 0 {
                anyhow::bail!("--stations, --duration and --threads must be at least 1");
            }
            let config = chargesim::bench::BenchConfig {
                url: args.url.trim_end_matches('/').to_string(),
                scenario,
                stations: args.stations,
                duration: std::time::Duration::from_secs(args.duration),
                prefix: args.prefix,
                call_timeout: std::time::Duration::from_secs(args.timeout.max(1)),
                id_tag: args.id_tag,
                server_pid: args.server_pid,
                threads: args.threads,
            };
            let report = runtime_with(Some(args.threads))?.block_on(chargesim::bench::run(config))?;
            let json = report.to_json();
            if json["loader_bound"] == true {
                eprintln!("warning: the load generator used over 90% of its threads' CPU; the figures measure it as much as the server (try more --threads)");
            }
            println!("{json}");
            Ok(())
        }
        Command::Responder { listen, durable } => runtime()?
            .block_on(async {
                let journal = durable.as_deref().map(chargesim::responder::Journal::create).transpose()?;
                let listener = tokio::net::TcpListener::bind(listen).await?;
                println!("responder listening on {}", listener.local_addr()?);
                chargesim::responder::serve(listener, journal).await
            })
            .map_err(Into::into),
        Command::Sim(args) => {
            let config = sim_config(args)?;
            let tags = match config.stations {
                0 => String::new(),
                1 => config.tag_of(0),
                n => format!("{} … {}", config.tag_of(0), config.tag_of(n - 1)),
            };
            eprintln!("strom sim: {} stations; drivers present id tags {tags}", config.stations);
            let report = runtime()?.block_on(async {
                // Ctrl-C or SIGTERM ends the run gracefully: sessions stop, the summary is printed.
                let (ask, shutdown) = tokio::sync::watch::channel(false);
                let requested = serve::end_requested();
                tokio::spawn(async move {
                    requested.await;
                    eprintln!("strom sim: ending: the sessions running stop, then the summary");
                    let _ = ask.send(true);
                });
                chargesim::sim::run_until(config, shutdown).await
            });
            println!("{}", report.to_json());
            if !report.errors.is_empty() {
                anyhow::bail!("{} of {} stations failed", report.errors.len(), report.stations);
            }
            Ok(())
        }
        Command::Station { command, api } => runtime()?.block_on(cli::station(&api, command)),
        Command::Tx { command, api } => runtime()?.block_on(cli::tx(&api, command)),
        Command::Cdr { command, api } => runtime()?.block_on(cli::cdr(&api, command)),
        Command::Tag { command, api } => runtime()?.block_on(cli::tag(&api, command)),
        Command::Report { command, api } => runtime()?.block_on(cli::report(&api, command)),
        Command::Fault { command, api } => runtime()?.block_on(cli::logs::fault(&api, command)),
        Command::Commands { command, api } => runtime()?.block_on(cli::logs::command_log(&api, command)),
        Command::Messages { station, limit, api } => runtime()?.block_on(cli::logs::messages(&api, &station, limit)),
        Command::Ca { command: CaCommand::Init { cert, key, common_name, organization, days } } => {
            let files = config::CaFiles { cert, key };
            ca::init(&files, &common_name, organization.as_deref(), days)?;
            println!(
                "Wrote the CA certificate to {} and its key to {} (mode 0600).",
                files.cert.display(),
                files.key.display()
            );
            println!("Serve with: strom serve --ca-cert {} --ca-key {}", files.cert.display(), files.key.display());
            Ok(())
        }
        Command::Ca { command: CaCommand::Expiring { days, api } } => {
            runtime()?.block_on(cli::certificates_expiring(&api, days))
        }
        Command::Serve(args) => {
            with_allocator_options();
            init_logging();
            let file = config::load_file(args.store.config.as_deref())?;
            let overrides = config::Overrides {
                listen: args.listen,
                database: args.store.database,
                unknown_stations: args.unknown_stations,
                api_listen: args.api_listen,
                tls_listen: args.tls_listen,
                tls_cert: args.tls_cert,
                tls_key: args.tls_key,
                tls_client_ca: args.tls_client_ca,
                no_rate_limits: args.no_rate_limits,
                ca_cert: args.ca_cert,
                ca_key: args.ca_key,
                operator_name: args.operator_name,
            };
            let config = config::resolve(file, overrides)?;
            runtime()?.block_on(serve::run(config, args.api_open))
        }
        Command::Token { command: TokenCommand::List { api } } => runtime()?.block_on(cli::token_list(&api)),
        Command::Token { command: TokenCommand::Revoke { id, api } } => {
            runtime()?.block_on(cli::token_revoke(&api, id))
        }
        Command::Token { command: TokenCommand::Create { role, name, expires_in_days, store } } => {
            init_logging();
            let Some(role) = csms_core::access::Role::parse(&role) else {
                anyhow::bail!("--role must be viewer, operator or admin, not {role:?}");
            };
            // serve falls back to ./strom.db; a token made there silently would be in a database
            // no server reads, so the database must be named.
            if store.database.is_none() && store.config.is_none() {
                anyhow::bail!(
                    "which database? Give the one `strom serve` uses: --database PATH_OR_URL (or STROM_DATABASE_URL), or --config FILE (or STROM_CONFIG)"
                );
            }
            let file = config::load_file(store.config.as_deref())?;
            let overrides = config::Overrides { database: store.database, ..Default::default() };
            let config = config::resolve(file, overrides)?;
            let secret = runtime()?.block_on(serve::create_token(&config, role, name, expires_in_days))?;
            println!("Created a {} token. It is shown only now; Ström keeps only its hash:", role.as_str());
            println!("{secret}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every argument of every command, flags and positionals, as `command sub … --flag`, with
    /// the help it shows.
    fn arguments(command: &clap::Command, path: &str, out: &mut Vec<(String, Option<String>)>) {
        for arg in command.get_arguments() {
            if matches!(arg.get_id().as_str(), "help" | "version") {
                continue;
            }
            let name = arg.get_long().map_or_else(|| arg.get_id().to_string(), |long| format!("--{long}"));
            out.push((format!("{path} {name}"), arg.get_help().map(|h| h.to_string())));
        }
        for sub in command.get_subcommands() {
            arguments(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_flag_has_help() {
        let mut all = Vec::new();
        arguments(&Cli::command(), "strom", &mut all);
        assert!(all.len() > 100, "{}", all.len());
        let bare: Vec<&String> =
            all.iter().filter(|(_, help)| help.as_deref().is_none_or(str::is_empty)).map(|(a, _)| a).collect();
        assert!(bare.is_empty(), "arguments without help: {bare:#?}");
    }

    #[test]
    fn every_command_has_help() {
        fn walk(command: &clap::Command, path: &str, bare: &mut Vec<String>) {
            for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    bare.push(path.clone());
                }
                walk(sub, &path, bare);
            }
        }
        let mut bare = Vec::new();
        walk(&Cli::command(), "strom", &mut bare);
        assert!(bare.is_empty(), "commands without help: {bare:#?}");
    }
}
