//! `keyfleet factory …`: the factory's process and its operator commands.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use keyfleet_softkey::dirs::{FACTORY_DIR_ENV, KeyDirs};

use crate::service::KeyFactory;

/// The database and directories every factory command uses.
#[derive(Debug, Clone, Args)]
pub struct FactoryConfig {
    /// The factory's database: sqlite://PATH (or KEYFLEET_FACTORY_DATABASE_URL).
    #[arg(long, env = "KEYFLEET_FACTORY_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Directory of the model CAs and the factory's JOSE private keys [default:
    /// $XDG_DATA_HOME/keyfleet/factory], shared with `keyfleet key`.
    #[arg(long, env = FACTORY_DIR_ENV, global = true, value_name = "DIR")]
    pub factory_dir: Option<PathBuf>,
    /// Where programmed keys are "delivered" as TRACKING.key (or KEYFLEET_FACTORY_OUTBOX).
    #[arg(long, env = "KEYFLEET_FACTORY_OUTBOX", global = true, value_name = "DIR")]
    pub outbox: Option<PathBuf>,
}

/// `keyfleet factory`.
#[derive(Debug, Args)]
pub struct FactoryArgs {
    #[command(flatten)]
    config: FactoryConfig,
    #[command(subcommand)]
    command: FactoryCommand,
}

/// The factory's subcommands.
#[derive(Debug, Subcommand)]
pub enum FactoryCommand {
    /// Run the factory's HTTP API (and, with --ship-after-seconds, its fulfilment clock).
    Serve {
        /// Address to bind, e.g. 127.0.0.1:8443.
        #[arg(long, env = "KEYFLEET_FACTORY_LISTEN", default_value = "127.0.0.1:8090")]
        listen: String,
        /// Ship each shipment this many seconds after it was received, and mark it delivered
        /// as long after it shipped. Without it, shipping is by `keyfleet factory ship`.
        #[arg(long)]
        ship_after_seconds: Option<u32>,
    },
    /// Make an API token; it is printed once.
    CreateToken {
        /// What the token is for, e.g. "keyfleet production".
        #[arg(long, default_value = "api")]
        name: String,
    },
    /// List API tokens (ids and names, never the tokens).
    ListTokens,
    /// Revoke an API token, at once.
    RevokeToken {
        /// The token's id (from create-token or list-tokens).
        #[arg(long)]
        id: String,
    },
    /// Fulfil a received shipment now: program the key, answer, ship.
    Ship {
        /// The shipment id.
        #[arg(long)]
        shipment: String,
    },
    /// Mark a shipped shipment delivered.
    Deliver {
        /// The shipment id.
        #[arg(long)]
        shipment: String,
    },
    /// List shipments.
    ListShipments,
    /// New transport and signing keys; the old ones kept for 30 days to decrypt and verify.
    RotateKeys,
}

/// Who ran a command: `cli:USER`.
fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// Runs `keyfleet factory …`.
pub fn run(args: FactoryArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: FactoryArgs) -> anyhow::Result<()> {
    // Log lines (never a secret) to standard error, for every command: `RUST_LOG`, else info.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let config = args.config;
    let database_url = config
        .database_url
        .context("--database-url (or KEYFLEET_FACTORY_DATABASE_URL) is required")?;
    let dir = KeyDirs {
        factory_dir: config.factory_dir,
        file_keys_dir: None,
    }
    .factory()?;
    let outbox = config.outbox.unwrap_or_else(|| PathBuf::from("outbox"));
    let factory = KeyFactory::open(&database_url, dir, outbox)
        .await
        .context("opening the factory's database")?;
    let actor = operator();
    match args.command {
        FactoryCommand::Serve {
            listen,
            ship_after_seconds,
        } => serve(factory, &listen, ship_after_seconds).await,
        FactoryCommand::CreateToken { name } => {
            let (id, token) = factory.create_token(&name, &actor).await?;
            println!("{}", serde_json::json!({"id": id, "token": token.as_str()}));
            Ok(())
        }
        FactoryCommand::ListTokens => {
            for t in factory.tokens().await? {
                let state = if t.revoked_at.is_some() { "revoked" } else { "active" };
                println!(
                    "{}",
                    serde_json::json!({"id": t.id, "name": t.name, "state": state, "createdAt": t.created_at})
                );
            }
            Ok(())
        }
        FactoryCommand::RevokeToken { id } => {
            factory.revoke_token(&id, &actor).await?;
            eprintln!("revoked {id}");
            Ok(())
        }
        FactoryCommand::Ship { shipment } => {
            let row = factory.fulfil(&shipment, &actor).await?;
            println!("{}", serde_json::to_string(&row.view())?);
            anyhow::ensure!(row.state == "shipped", "the shipment failed");
            Ok(())
        }
        FactoryCommand::Deliver { shipment } => {
            let row = factory.deliver(&shipment, &actor).await?;
            println!("{}", serde_json::to_string(&row.view())?);
            Ok(())
        }
        FactoryCommand::ListShipments => {
            for s in factory.shipments().await? {
                println!(
                    "{}",
                    serde_json::json!({"shipmentId": s.id, "state": s.state, "model": s.model, "trackingNumber": s.tracking_number})
                );
            }
            Ok(())
        }
        FactoryCommand::RotateKeys => {
            let (transport, sign) = factory.rotate_keys(&actor).await?;
            println!("{}", serde_json::json!({"transportKid": transport, "signKid": sign}));
            Ok(())
        }
    }
}

async fn serve(factory: KeyFactory, listen: &str, ship_after: Option<u32>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "key factory listening");
    // The address on standard output, for scripts and tests that bind port 0.
    println!("listening on http://{address}");
    if let Some(after) = ship_after {
        let clock = factory.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_secs(1));
            loop {
                interval.tick().await;
                if let Err(e) = clock.tick(i64::from(after)).await {
                    tracing::error!(error = %e, "fulfilment clock");
                }
            }
        });
    }
    axum::serve(listener, crate::http::router(factory))
        .with_graceful_shutdown(async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
            tracing::info!("key factory stopping");
        })
        .await?;
    Ok(())
}
