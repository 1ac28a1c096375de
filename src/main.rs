//! The `pqcall` binary: `pqcall serve` runs the service, `pqcall token --user NAME`
//! mints a JWT with the configured secret.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use pqcall::{AppState, Config};

/// jemalloc: measured against glibc's malloc and mimalloc on the relay (BENCHMARKS.md,
/// "Allocator"), it costs the least CPU per message and no more memory per idle stream.
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    version,
    about = "WebRTC call signaling over HTTP POST + SSE, with an ML-KEM-768 handshake"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(Config),
    /// Print a JWT for a user, signed with the configured secret.
    Token {
        /// The user id (`sub`).
        #[arg(long)]
        user: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        #[command(flatten)]
        config: Config,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let workers = match &cli.command {
        Command::Serve(config) => config.workers,
        Command::Token { .. } => Some(1),
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        runtime.worker_threads(usize::from(n));
    }
    runtime.enable_all().build()?.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PQCALL_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    match cli.command {
        Command::Token { user, ttl, config } => {
            let key = config
                .jwt_secret
                .clone()
                .filter(|s| !s.expose().is_empty())
                .context("--jwt-secret is required")?;
            let state = AppState::new(config, key.expose().as_bytes());
            println!(
                "{}",
                state
                    .mint_token(&user, ttl)
                    .map_err(|e| anyhow::anyhow!("{e}"))?
            );
            Ok(())
        }
        Command::Serve(config) => {
            // Every stream is a socket: use the hard limit on open files.
            if let Ok(n) = rlimit::increase_nofile_limit(u64::MAX) {
                tracing::debug!(limit = n, "open file limit");
            }
            if config.dev {
                if !config.bind.ip().is_loopback() && !config.force_dev {
                    bail!(
                        "development mode on a non-loopback address ({}) needs --force-dev",
                        config.bind
                    );
                }
                tracing::warn!(
                    "DEVELOPMENT MODE: anyone who can reach {} can mint tokens for any user",
                    config.bind
                );
            }
            let listener = tokio::net::TcpListener::bind(config.bind)
                .await
                .with_context(|| format!("bind {}", config.bind))?;
            let addr = listener.local_addr()?;
            let state = AppState::from_config(config).await?;
            match state.tls() {
                Some(tls) => {
                    println!("pqcall listening on https://{addr}");
                    println!("TLS certificate SHA-256 fingerprint: {}", tls.fingerprint());
                }
                None => println!("pqcall listening on http://{addr}"),
            }
            pqcall::run(listener, state, shutdown_signal()).await?;
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
