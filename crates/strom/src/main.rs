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
