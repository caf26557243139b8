//! The one Ström binary: `strom serve` runs the CSMS; `strom config print-default` prints the
//! commented default configuration.

mod cli;
mod config;
mod serve;

use anyhow::Result;
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
    /// Id tokens (RFID tags and the like), through the API.
    Tag {
        #[command(subcommand)]
        command: cli::TagCommand,
        #[command(flatten)]
        api: cli::ApiArgs,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token; it is printed once, alone on the last line, and stored hashed.
    Create {
        /// viewer (read), operator (also command stations) or admin (also manage stations and tokens).
        #[arg(long)]
        role: String,
        /// A note on who or what the token is for.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
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
}

#[derive(clap::Args)]
struct SimArgs {
    /// Base URL stations connect to; identities are appended.
    #[arg(long, default_value = "ws://127.0.0.1:8180/ocpp")]
    url: String,
    #[arg(long, default_value_t = 10)]
    stations: usize,
    /// 1.6, 2.0.1 or mixed.
    #[arg(long, default_value = "mixed")]
    version: String,
    #[arg(long, default_value_t = 3)]
    sessions: usize,
    /// Meter samples per session, a simulated minute apart.
    #[arg(long, default_value_t = 30)]
    samples: usize,
    /// Share of stations (0-1) that report and clear a fault after each session.
    #[arg(long, default_value_t = 0.2)]
    fault_share: f64,
    /// Seed for repeatable runs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value = "sim-")]
    prefix: String,
    /// The id tag sessions authorize with (make it known and Accepted).
    #[arg(long, default_value = "SIM")]
    id_tag: String,
    /// Share of sessions (0-1) during which the network drops; messages are queued and replayed.
    #[arg(long, default_value_t = 0.0)]
    drop_share: f64,
    /// Seconds each station stays connected after its sessions, answering commands.
    #[arg(long, default_value_t = 0)]
    linger: u64,
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

fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STROM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()
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
            if args.stations == 0 || args.duration == 0 {
                anyhow::bail!("--stations and --duration must be at least 1");
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
            };
            let report = runtime()?.block_on(chargesim::bench::run(config))?;
            let json = report.to_json();
            if json["loader_bound"] == true {
                eprintln!("warning: the load generator used over 90% of the CPU; the figures measure it as much as the server");
            }
            println!("{json}");
            Ok(())
        }
        Command::Sim(args) => {
            let Some(fleet) = chargesim::sim::Fleet::parse(&args.version) else {
                anyhow::bail!("--version must be 1.6, 2.0.1 or mixed, not {:?}", args.version);
            };
            if !(0.0..=1.0).contains(&args.fault_share) || !(0.0..=1.0).contains(&args.drop_share) {
                anyhow::bail!("--fault-share and --drop-share must be between 0 and 1");
            }
            let config = chargesim::sim::SimConfig {
                url: args.url.trim_end_matches('/').to_string(),
                stations: args.stations,
                fleet,
                sessions_per_station: args.sessions,
                seed: args.seed,
                samples_per_session: args.samples,
                fault_share: args.fault_share,
                prefix: args.prefix,
                id_tag: args.id_tag,
                call_timeout: std::time::Duration::from_secs(30),
                linger: std::time::Duration::from_secs(args.linger),
                drop_share: args.drop_share,
            };
            let report = runtime()?.block_on(chargesim::sim::run(config));
            println!("{}", report.to_json());
            if !report.errors.is_empty() {
                anyhow::bail!("{} of {} stations failed", report.errors.len(), report.stations);
            }
            Ok(())
        }
        Command::Station { command, api } => runtime()?.block_on(cli::station(&api, command)),
        Command::Tx { command, api } => runtime()?.block_on(cli::tx(&api, command)),
        Command::Tag { command, api } => runtime()?.block_on(cli::tag(&api, command)),
        Command::Serve(args) => {
            init_logging();
            let file = config::load_file(args.store.config.as_deref())?;
            let overrides = config::Overrides {
                listen: args.listen,
                database: args.store.database,
                unknown_stations: args.unknown_stations,
            };
            let config = config::resolve(file, overrides)?;
            runtime()?.block_on(serve::run(config, args.api_open))
        }
        Command::Token { command: TokenCommand::Create { role, name, store } } => {
            init_logging();
            let Some(role) = csms_core::access::Role::parse(&role) else {
                anyhow::bail!("--role must be viewer, operator or admin, not {role:?}");
            };
            let file = config::load_file(store.config.as_deref())?;
            let overrides = config::Overrides { database: store.database, ..Default::default() };
            let config = config::resolve(file, overrides)?;
            let secret = runtime()?.block_on(serve::create_token(&config, role, name))?;
            println!("Created a {} token. It is shown only now; Ström keeps only its hash:", role.as_str());
            println!("{secret}");
            Ok(())
        }
    }
}
