//! The one Ström binary: `strom serve` runs the CSMS; `strom config print-default` prints the
//! commented default configuration.

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
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:8180 (port 0 picks a free port).
    #[arg(long, env = "STROM_LISTEN")]
    listen: Option<String>,
    /// SQLite file path or postgres:// URL.
    #[arg(long, env = "STROM_DATABASE_URL")]
    database: Option<String>,
    /// Registration of stations Ström has never seen: accept, pending or reject.
    #[arg(long, env = "STROM_UNKNOWN_STATIONS")]
    unknown_stations: Option<String>,
    /// TOML configuration file (see `strom config print-default`).
    #[arg(long, env = "STROM_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the default configuration file, with comments.
    PrintDefault,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Config { command: ConfigCommand::PrintDefault } => {
            print!("{}", config::DEFAULT_CONFIG);
            Ok(())
        }
        Command::Serve(args) => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_env("STROM_LOG")
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                .init();
            let file = config::load_file(args.config.as_deref())?;
            let overrides = config::Overrides {
                listen: args.listen,
                database: args.database,
                unknown_stations: args.unknown_stations,
            };
            let config = config::resolve(file, overrides)?;
            tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(serve::run(config))
        }
    }
}
