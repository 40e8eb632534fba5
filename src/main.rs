//! `ferrozk <zoo.cfg>` starts a server the way `QuorumPeerMain <zoo.cfg>` does.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "ferrozk", version, about = "A ZooKeeper server in Rust")]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// zoo.cfg to start with (default conf/zoo.cfg)
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server in the foreground (what a bare `ferrozk <zoo.cfg>` does).
    StartForeground { config: Option<PathBuf> },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FERROZK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let path = match cli.cmd {
        Some(Cmd::StartForeground { config }) => config,
        None => cli.config,
    }
    .unwrap_or_else(|| PathBuf::from("conf/zoo.cfg"));
    let cfg = match ferrozk::config::Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ferrozk: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ferrozk: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(ferrozk::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrozk: {e}");
            ExitCode::FAILURE
        }
    }
}
