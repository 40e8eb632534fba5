//! `ferrozk <zoo.cfg>` starts a server the way `QuorumPeerMain <zoo.cfg>` does;
//! `ferrozk start|stop|restart|status|version <zoo.cfg>` control it as zkServer.sh does.

use clap::{Parser, Subcommand};
use ferrozk::config::Config;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

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
    /// Start the server in the background, with its pid in dataDir/zookeeper_server.pid.
    Start { config: Option<PathBuf> },
    /// Stop the server started with `start` (SIGTERM, then wait for it to exit).
    Stop { config: Option<PathBuf> },
    /// Stop, then start.
    Restart { config: Option<PathBuf> },
    /// Ask the server for its mode, as `zkServer.sh status`; exits 1 when it is not running.
    Status { config: Option<PathBuf> },
    /// Print the version.
    Version { config: Option<PathBuf> },
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
    /// Preflight before replacing a ZooKeeper member with ferrozk: reads the config and the
    /// dataDir, says whether ferrozk can take over and how to switch and switch back.
    /// Exits 0 when ready, 1 with the reasons when not.
    MigrateCheck { config: PathBuf },
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
        Cmd::TxnlogDump { file } => tools::dump_log(&file, &mut out),
        Cmd::MigrateCheck { config } => ferrozk::migrate::check(&config, &mut out),
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
        _ => return ExitCode::FAILURE,
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

/// Logging: level from `FERROZK_LOG` (a tracing filter such as `info` or
/// `ferrozk=debug`), else zoo.cfg's `ferrozk.log.level`, else the level in
/// `ZOO_LOG4J_PROP` (zkServer.sh's `INFO,CONSOLE`), else info. Format from
/// `FERROZK_LOG_FORMAT` or zoo.cfg's `ferrozk.log.format`: `text` (default) or `json`.
fn init_logging(cfg: Option<&Config>) {
    let prop = |k: &str| cfg.and_then(|c| c.property(k)).map(str::to_string);
    let level = std::env::var("FERROZK_LOG")
        .ok()
        .or_else(|| prop("ferrozk.log.level"))
        .or_else(|| {
            std::env::var("ZOO_LOG4J_PROP")
                .ok()
                .and_then(|p| p.split(',').next().map(|l| l.trim().to_lowercase()))
        })
        .unwrap_or_else(|| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(&level).unwrap_or_else(|e| {
        eprintln!("ferrozk: invalid log level {level:?} ({e}); using info");
        tracing_subscriber::EnvFilter::new("info")
    });
    let json = std::env::var("FERROZK_LOG_FORMAT")
        .ok()
        .or_else(|| prop("ferrozk.log.format"))
        .is_some_and(|f| f.eq_ignore_ascii_case("json"));
    use std::io::IsTerminal;
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

fn load(path: &Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|e| {
        eprintln!("ferrozk: invalid configuration: {e}");
        ExitCode::from(2)
    })
}

fn serve(cfg: Config) -> ExitCode {
    init_logging(Some(&cfg));
    // Stores that do not load are a configuration error, named with the file, before
    // anything starts (the server loads them again when it starts serving).
    if let Some(t) = cfg.settings.client_tls.clone() {
        if let Err(e) = ferrozk::tls::ServerTls::new(t, cfg.settings.x509.clone()) {
            eprintln!(
                "ferrozk: invalid configuration: {}: client TLS: {e}",
                cfg.file.display()
            );
            return ExitCode::from(2);
        }
    }
    if let Some(t) = cfg.settings.quorum_tls.clone() {
        if let Err(e) = ferrozk::tls::quorum::QuorumTls::new(t) {
            eprintln!(
                "ferrozk: invalid configuration: {}: quorum TLS: {e}",
                cfg.file.display()
            );
            return ExitCode::from(2);
        }
    }
    // Kerberos: MIT's library reads the krb5.conf the JVM flag names (before any thread
    // starts), and the keys are checked now, naming the JAAS file if they cannot be used.
    // The JVM flag wins over the environment, as the JDK ignores KRB5_CONFIG: MIT's library
    // and the default realm then come from one file.
    if let Some(conf) = &cfg.settings.sasl.krb5_conf {
        std::env::set_var("KRB5_CONFIG", conf);
    }
    if let Some(q) = &cfg.settings.sasl.quorum {
        let jaas = cfg.settings.sasl.jaas_file.clone().unwrap_or_default();
        let bad = |e: String| {
            eprintln!(
                "ferrozk: invalid configuration: {}: java.security.auth.login.config={jaas}: quorum Kerberos: {e}",
                cfg.file.display()
            );
            ExitCode::from(2)
        };
        if let Some((p, k)) = &q.kerberos_server {
            match ferrozk::sasl::gssapi::Acceptor::new(p, k) {
                Ok(a) => ferrozk::sasl::gssapi::install_quorum(a),
                Err(e) => return bad(e),
            }
        }
        if let Some((p, k)) = &q.kerberos_learner {
            if let Err(e) = ferrozk::sasl::gssapi::check_initiator(p, k) {
                return bad(e);
            }
        }
    }
    if let Some((jaas, k)) = cfg.settings.sasl.server.as_ref().and_then(|s| {
        s.kerberos
            .as_ref()
            .map(|k| (s.jaas_file.clone(), k.clone()))
    }) {
        match ferrozk::sasl::gssapi::Acceptor::new(&k.principal, &k.keytab) {
            Ok(a) => ferrozk::sasl::gssapi::install(a),
            Err(e) => {
                eprintln!(
                    "ferrozk: invalid configuration: {}: java.security.auth.login.config={jaas}: Kerberos: {e}",
                    cfg.file.display()
                );
                return ExitCode::from(2);
            }
        }
    }
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
            tracing::error!("{e}");
            eprintln!("ferrozk: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where zkServer.sh keeps the pid: `$ZOOPIDFILE`, else dataDir/zookeeper_server.pid.
fn pid_file(cfg: &Config) -> PathBuf {
    std::env::var_os("ZOOPIDFILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| cfg.data_dir.join("zookeeper_server.pid"))
}

fn read_pid(cfg: &Config) -> Option<i32> {
    std::fs::read_to_string(pid_file(cfg))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0
}

/// Sends `srvr` to the client port (on a TLS-only server, the secure port, presenting the
/// server's own certificate and checking the server's against its trust store) and returns
/// the answer.
fn srvr(cfg: &Config) -> Option<String> {
    use std::io::{Read, Write};
    let (addr, tls) = cfg.local_client_address()?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut out = String::new();
    if tls {
        let common = &cfg.settings.client_tls.as_ref()?.common;
        let config = ferrozk::tls::quorum::client_config(common, false).ok()?;
        let name = rustls::pki_types::ServerName::try_from("localhost").ok()?;
        let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).ok()?;
        let mut t = rustls::StreamOwned::new(conn, s);
        t.write_all(b"srvr").ok()?;
        t.flush().ok()?;
        // The server closes after its answer, without close_notify: keep what was read.
        let _ = t.read_to_string(&mut out);
    } else {
        s.write_all(b"srvr").ok()?;
        s.read_to_string(&mut out).ok()?;
    }
    Some(out)
}

fn start(cfg_path: &Path, cfg: &Config) -> ExitCode {
    eprintln!("Using config: {}", cfg_path.display());
    if let Some(pid) = read_pid(cfg).filter(|p| alive(*p)) {
        println!("ferrozk already running as process {pid}.");
        return ExitCode::SUCCESS;
    }
    let log_dir = std::env::var_os("ZOO_LOG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cfg.data_dir.clone());
    if let Err(e) = std::fs::create_dir_all(&log_dir) {
        eprintln!("ferrozk: cannot create {}: {e}", log_dir.display());
        return ExitCode::FAILURE;
    }
    let out_path = log_dir.join("ferrozk-server.out");
    let out = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out_path)
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("ferrozk: cannot open {}: {e}", out_path.display());
            return ExitCode::FAILURE;
        }
    };
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("ferrozk: cannot find its own executable");
        return ExitCode::FAILURE;
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("start-foreground")
        .arg(std::fs::canonicalize(cfg_path).unwrap_or_else(|_| cfg_path.to_path_buf()))
        .stdin(std::process::Stdio::null())
        .stdout(
            out.try_clone()
                .map(Into::into)
                .unwrap_or_else(|_| std::process::Stdio::null()),
        )
        .stderr(out);
    {
        use std::os::unix::process::CommandExt;
        // A session of its own: the server outlives the shell that started it.
        // SAFETY: setsid is async-signal-safe and touches no memory of ours.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
    }
    eprint!("Starting ferrozk ... ");
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("FAILED TO START: {e}");
            return ExitCode::FAILURE;
        }
    };
    let pid = child.id();
    if let Err(e) = std::fs::create_dir_all(&cfg.data_dir)
        .and_then(|_| std::fs::write(pid_file(cfg), format!("{pid}\n")))
    {
        eprintln!("FAILED TO WRITE PID: {e}");
        let _ = child.kill();
        return ExitCode::FAILURE;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("FAILED TO START ({status}); see {}", out_path.display());
            let _ = std::fs::remove_file(pid_file(cfg));
            return ExitCode::FAILURE;
        }
        if srvr(cfg).is_some_and(|s| s.contains("Mode: ")) {
            eprintln!("STARTED");
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("not serving after 60 s; see {}", out_path.display());
    ExitCode::FAILURE
}

fn stop(cfg_path: &Path, cfg: &Config) -> ExitCode {
    eprintln!("Using config: {}", cfg_path.display());
    eprint!("Stopping ferrozk ... ");
    let Some(pid) = read_pid(cfg) else {
        eprintln!(
            "no ferrozk to stop (could not find file {})",
            pid_file(cfg).display()
        );
        return ExitCode::SUCCESS;
    };
    if alive(pid) {
        // SAFETY: sending SIGTERM to the pid recorded by `start`.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(60);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if alive(pid) {
            eprintln!("process {pid} did not exit within 60 s");
            return ExitCode::FAILURE;
        }
    }
    let _ = std::fs::remove_file(pid_file(cfg));
    eprintln!("STOPPED");
    ExitCode::SUCCESS
}

fn status(cfg_path: &Path, cfg: &Config) -> ExitCode {
    eprintln!("Using config: {}", cfg_path.display());
    match cfg.local_client_address() {
        Some((addr, tls)) => eprintln!(
            "Client port found: {}. Client address: {}. Client SSL: {tls}.",
            addr.port(),
            addr.ip()
        ),
        None => eprintln!("Client port not found."),
    }
    match srvr(cfg) {
        Some(s) => match s.lines().find(|l| l.starts_with("Mode: ")) {
            Some(mode) => {
                println!("{mode}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("Error contacting service. It is probably not running.");
                ExitCode::from(1)
            }
        },
        None => {
            eprintln!("Error contacting service. It is probably not running.");
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default = || PathBuf::from("conf/zoo.cfg");
    let (cmd, path) = match cli.cmd {
        None => (None, cli.config.unwrap_or_else(default)),
        Some(Cmd::StartForeground { config }) => (None, config.unwrap_or_else(default)),
        Some(Cmd::Version { .. }) => {
            println!(
                "ferrozk {} (Apache ZooKeeper {} compatible)",
                env!("CARGO_PKG_VERSION"),
                ferrozk::ops::ZK_VERSION
            );
            return ExitCode::SUCCESS;
        }
        Some(
            c @ (Cmd::Start { .. } | Cmd::Stop { .. } | Cmd::Restart { .. } | Cmd::Status { .. }),
        ) => {
            let p = match &c {
                Cmd::Start { config }
                | Cmd::Stop { config }
                | Cmd::Restart { config }
                | Cmd::Status { config } => config.clone(),
                _ => None,
            };
            (Some(c), p.unwrap_or_else(default))
        }
        Some(other) => {
            init_logging(None);
            return tool(other);
        }
    };
    let cfg = match load(&path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match cmd {
        None => serve(cfg),
        Some(Cmd::Start { .. }) => start(&path, &cfg),
        Some(Cmd::Stop { .. }) => stop(&path, &cfg),
        Some(Cmd::Restart { .. }) => {
            let code = stop(&path, &cfg);
            if code != ExitCode::SUCCESS {
                return code;
            }
            start(&path, &cfg)
        }
        Some(Cmd::Status { .. }) => status(&path, &cfg),
        Some(_) => ExitCode::FAILURE,
    }
}
