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
    /// Print the transactions of a txn log file (like zkTxnLogToolkit.sh).
    TxnlogDump { file: PathBuf },
    /// Print the nodes and sessions of a snapshot file (like zkSnapShotToolkit.sh).
    SnapshotDump { file: PathBuf },
    /// Check every snapshot and txn log of a dataDir: checksums, seals, zxid order.
    Verify {
        data_dir: PathBuf,
        /// dataLogDir, when it differs from dataDir.
        log_dir: Option<PathBuf>,
    },
    /// Delete all but the newest snapshots and the logs they need (like zkCleanup.sh).
    Purge {
        data_dir: PathBuf,
        log_dir: Option<PathBuf>,
        /// How many snapshots to keep (at least 3).
        #[arg(short = 'n', long, default_value_t = 3)]
        count: usize,
    },
}

fn tool(cmd: Cmd) -> ExitCode {
    use ferrozk::storage::tools;
    let mut out = std::io::stdout().lock();
    let ok = match cmd {
        Cmd::StartForeground { .. } => return ExitCode::FAILURE,
        Cmd::TxnlogDump { file } => tools::dump_log(&file, &mut out),
        Cmd::SnapshotDump { file } => tools::dump_snapshot(&file, &mut out),
        Cmd::Verify { data_dir, log_dir } => {
            let log_dir = log_dir.unwrap_or_else(|| data_dir.clone());
            tools::verify(&data_dir, &log_dir, &mut out).map(|problems| {
                for p in &problems {
                    eprintln!("problem: {p}");
                }
                problems.is_empty()
            })
        }
        Cmd::Purge {
            data_dir,
            log_dir,
            count,
        } => {
            let log_dir = log_dir.unwrap_or_else(|| data_dir.clone());
            tools::purge(&data_dir, &log_dir, count).map(|gone| {
                for p in gone {
                    println!("removed {}", p.display());
                }
                true
            })
        }
    };
    match ok {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ferrozk: {e}");
            ExitCode::from(2)
        }
    }
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
        Some(other) => return tool(other),
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
