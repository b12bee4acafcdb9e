//! The `keyfleet` binary: `serve`, administrative commands on the database, the metadata
//! BLOB (`mds`), key tools and offline verification.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

mod admin;
mod hint;
mod mds;
mod verify;

/// mimalloc instead of glibc's malloc: under a full sign-in load glibc's allocation and
/// free paths (fast-bin consolidation on every larger request, arena locks) took about a
/// tenth of the server's samples; mimalloc's thread-local free lists cost a fraction of that
/// (docs/performance.md, "One read at the verify step, and mimalloc").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// keyfleet: FIDO2 security keys for a whole organisation.
#[derive(Debug, Parser)]
#[command(name = "keyfleet", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the configuration and the database are: only the commands that use them take these.
#[derive(Debug, Clone, Args)]
struct ConfigArgs {
    /// Database URL: sqlite://PATH or postgres://USER@HOST:PORT/DB (or KEYFLEET_DATABASE_URL).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// TOML configuration file, see docs/configuration.md (or KEYFLEET_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve {
        /// Address to bind: IP:PORT or HOST:PORT, e.g. 127.0.0.1:8080 or localhost:8080 (or
        /// KEYFLEET_LISTEN).
        #[arg(long)]
        listen: Option<String>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Administrative tasks, run directly on the database.
    Admin {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// The FIDO Metadata Service BLOB: verify and import it, show an entry (on the database).
    Mds {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(subcommand)]
        command: mds::MdsCommand,
    },
    /// Software security keys: make, inspect, and put them on pcscd's reader.
    Key(keyfleet_softkey::KeyArgs),
    /// Run WebAuthn conformance cases through keyfleet's verification code (no database).
    Verify(verify::VerifyArgs),
    /// The key factory: a separate service that programs and ships keys (its own database).
    Factory(keyfleet_factory::FactoryArgs),
}

fn main() -> ExitCode {
    let started = Instant::now();
    let cli = Cli::parse();
    let (listen, config) = match cli.command {
        Command::Serve { ref listen, ref config } => (listen.clone(), config.clone()),
        Command::Admin { ref config, .. } | Command::Mds { ref config, .. } => (None, config.clone()),
        // Key tools work on key files only: no server configuration, no runtime.
        Command::Key(args) => return report(keyfleet_softkey::run(args)),
        Command::Verify(args) => return report(verify::run(&args)),
        Command::Factory(args) => return report(keyfleet_factory::run(args)),
    };
    let overrides = keyfleet_server::config::Overrides {
        listen,
        database_url: config.database_url.clone(),
        config: config.config.clone(),
    };
    let settings = match keyfleet_server::config::Settings::load(&overrides) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("keyfleet: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("keyfleet: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { .. } => {
                keyfleet_server::logging::init(settings.log_format, &settings.log_level);
                let admin = hint::admin_command(&settings, config.config.as_deref());
                keyfleet_server::serve::run(settings, started, &admin).await
            }
            Command::Admin { command, .. } => admin::run(command, settings).await,
            Command::Mds { command, .. } => mds::run(command, settings).await,
            // Returned above; kept for exhaustiveness, and it would work here too.
            Command::Key(args) => keyfleet_softkey::run(args),
            Command::Verify(args) => verify::run(&args),
            Command::Factory(_) => unreachable!("returned above: the factory runs its own runtime"),
        }
    });
    report(result)
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyfleet: {e:#}");
            ExitCode::FAILURE
        }
    }
}
