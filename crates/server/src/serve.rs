//! Start-up, first-start bootstrap, and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use keyfleet_core::bootstrap::{Bootstrap, bootstrap};
use keyfleet_core::clients::tokens::TokenKeys;
use keyfleet_core::config::{CeremonyConfig, ClientConfig, SessionConfig};
use keyfleet_core::limits::{LimitConfig, SignInLimits, TapLimits, TokenLimits};
use keyfleet_core::secrets::MasterKey;
use keyfleet_core::{Core, CoreConfig};
use keyfleet_domain::audit::Actor;
use keyfleet_domain::store::Stores;
use keyfleet_webauthn_rp::TrustAnchor;
use tokio::sync::Notify;

use crate::config::{MasterKeySource, Settings};
use crate::state::{AppState, SystemClock, now};

/// Opens the configured store (SQLite or PostgreSQL), migrating it.
pub async fn open_stores(database_url: &str) -> anyhow::Result<Stores> {
    if database_url.starts_with("sqlite:") {
        let store = keyfleet_store_sqlite::SqliteStore::connect(database_url)
            .await
            .context("opening the SQLite database")?;
        Ok(Stores::from_store(store))
    } else {
        let store = keyfleet_store_postgres::PgStore::connect(database_url)
            .await
            .context("connecting to PostgreSQL")?;
        Ok(Stores::from_store(store))
    }
}

/// Loads the master key from the configured source.
pub fn master_key(settings: &Settings) -> anyhow::Result<MasterKey> {
    match &settings.master_key {
        MasterKeySource::Inline(b64) => Ok(MasterKey::from_base64(b64)?),
        MasterKeySource::File(path) => Ok(MasterKey::load_or_create(path)?),
    }
}

/// The longest back-off between two TAP attempts of one address on one account.
pub const TAP_MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The use cases' configuration, from the settings and the master key (attestation roots
/// are read here).
pub fn core_config(settings: &Settings, master: &MasterKey) -> anyhow::Result<CoreConfig> {
    let anchors = match &settings.attestation_roots_file {
        Some(path) => {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("attestation_roots_file {}: {e}", path.display()))?;
            let anchors = TrustAnchor::from_pem(&pem)
                .map_err(|e| anyhow::anyhow!("attestation_roots_file {}: {e}", path.display()))?;
            anyhow::ensure!(
                !anchors.is_empty(),
                "attestation_roots_file {} holds no certificate",
                path.display()
            );
            anchors
        }
        None => Vec::new(),
    };
    Ok(CoreConfig {
        ceremonies: CeremonyConfig {
            rp_id: settings.rp_id.clone(),
            rp_name: settings.rp_name.clone(),
            origins: settings.origins.clone(),
            user_verification: settings.user_verification.clone(),
            challenge_timeout: settings.challenge_timeout,
            require_trusted_attestation: settings.require_trusted_attestation,
            anchors,
            decoy_key: master.derive("webauthn-decoy-credential"),
        },
        sessions: SessionConfig {
            lifetimes: settings.session_lifetimes(),
            tap_session: settings.tap_session,
            removal_ends_sessions: settings.removal_ends_sessions,
        },
        limits: LimitConfig {
            window: settings.rate_limit_window,
            tap: TapLimits {
                per_address: settings.tap_attempts_per_address,
                per_account: settings.tap_attempts_per_user,
                max_backoff: TAP_MAX_BACKOFF,
            },
            sign_in: SignInLimits {
                starts_per_minute: settings.signin_starts_per_address_per_minute,
                failures_per_address: settings.signin_failures_per_address,
            },
            token: TokenLimits {
                failures_per_address: settings.token_failures_per_address,
            },
        },
        clients: ClientConfig {
            secret_phase_out: settings.client_secret_phase_out,
            access_token_lifetime: settings.access_token_lifetime,
            issuer: settings.issuer.clone(),
            audience: settings.token_audience(),
            secret_digest_key: master.derive("client-secret-digest"),
        },
    })
}

/// Builds the core on `stores` with the wall clock: configuration, signing keys.
pub async fn core(settings: &Settings, stores: Stores) -> anyhow::Result<(Core, MasterKey)> {
    let master = master_key(settings)?;
    let keys = TokenKeys::load_or_create(stores.signing_keys.as_ref(), &master, now())
        .await
        .context("loading the token-signing key (is this the master key the database was set up with?)")?;
    let config = core_config(settings, &master)?;
    let core = Core {
        stores,
        config: Arc::new(config),
        clock: Arc::new(SystemClock),
        tokens: Arc::new(keys),
    };
    Ok((core, master))
}

/// Builds the application state: stores, master key, signing keys.
pub async fn state(settings: Settings) -> anyhow::Result<AppState> {
    let stores = open_stores(&settings.database_url).await?;
    state_on(settings, stores).await
}

/// Builds the application state on stores already open.
pub async fn state_on(settings: Settings, stores: Stores) -> anyhow::Result<AppState> {
    let (core, master) = core(&settings, stores.clone()).await?;
    Ok(AppState {
        settings: Arc::new(settings),
        core,
        stores,
        csrf_key: master.derive("page-csrf"),
        master: Arc::new(master),
    })
}

/// Runs the server until SIGTERM or Ctrl-C, then lets in-flight requests finish (up to the
/// configured grace period). `started` is when the process started, for the ready-time log.
pub async fn run(settings: Settings, started: Instant) -> anyhow::Result<()> {
    let listen = settings.listen;
    let grace = settings.shutdown_grace;
    // Bind first: a busy port must fail before anything is created or printed.
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let state = state(settings).await?;
    let ctx = state.core.ctx(Actor::System, None);
    let boot = bootstrap(
        &ctx,
        &state.settings.bootstrap_admin_username,
        &state.settings.bootstrap_admin_email,
    )
    .await
    .context("creating the first administrator")?;
    if let Some(b) = boot {
        print_setup_banner(&b, &state.settings);
    }
    crate::jobs::spawn(state.core.clone());
    let bound = listener.local_addr()?;
    tracing::info!(address = %bound, ready_ms = started.elapsed().as_millis() as u64, "keyfleet is ready");
    let app = crate::app::app(state);
    let stop = Arc::new(Notify::new());
    let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal(stop.clone()));
    tokio::select! {
        r = server => r.context("serving")?,
        () = async { stop.notified().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(grace_s = grace.as_secs(), "in-flight requests did not finish in time; stopping anyway");
        }
    }
    tracing::info!("keyfleet stopped");
    Ok(())
}

async fn shutdown_signal(stop: Arc<Notify>) {
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
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutdown requested; finishing in-flight requests");
    stop.notify_one();
}

/// The first-start instructions go to standard output, once, and never through the log:
/// the log must never hold a secret.
fn print_setup_banner(b: &Bootstrap, settings: &Settings) {
    let origin = &settings.origins[0];
    println!(
        "\nkeyfleet: first start. Created the administrator \"{user}\".\n\
         Sign in within {min} minutes with this one-time temporary access pass (it is shown only now):\n\n    {code}\n\n\
         Open {origin}/login, choose \"Sign in with the pass\", then add your security key.\n\
         Or from a shell:\n    curl -c cookies.txt -H 'Content-Type: application/json' \\\n      \
         -d '{{\"username\":\"{user}\",\"code\":\"{code}\"}}' {origin}/api/v1/auth/tap\n\
         Lost it? Issue another with: keyfleet admin issue-tap --username {user}\n",
        user = b.username,
        min = b.minutes,
        code = b.code,
    );
}
