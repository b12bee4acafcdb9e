//! Start-up, first-start bootstrap, and graceful shutdown.

use std::future::IntoFuture as _;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use keyfleet_core::bootstrap::{Bootstrap, bootstrap};
use keyfleet_core::clients::tokens::TokenKeys;
use keyfleet_core::config::{CeremonyConfig, ClientConfig, DirectoryConfig, SessionConfig};
use keyfleet_core::credentials::sealed::SealKey;
use keyfleet_core::limits::{LimitConfig, SignInLimits, TapLimits, TokenLimits};
use keyfleet_core::secrets::MasterKey;
use keyfleet_core::{Core, CoreConfig};
use keyfleet_domain::audit::Actor;
use keyfleet_domain::store::Stores;
use keyfleet_webauthn_rp::TrustAnchor;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{Listen, MasterKeySource, Settings};
use crate::state::{AppParts, AppState, SystemClock, now};

/// Opens the configured store (SQLite or PostgreSQL), migrating it. A failure names what it
/// tried to open: the SQLite file, or PostgreSQL's host and port.
pub async fn open_stores(database_url: &str) -> anyhow::Result<Stores> {
    if database_url.starts_with("sqlite:") {
        let path = sqlite_path(database_url);
        let store = keyfleet_store_sqlite::SqliteStore::connect(database_url)
            .await
            .with_context(|| {
                let parent = std::path::Path::new(path)
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty() && !p.is_dir());
                match parent {
                    Some(dir) => format!(
                        "opening the SQLite database {path} (the directory {} does not exist)",
                        dir.display()
                    ),
                    None => format!("opening the SQLite database {path}"),
                }
            })?;
        Ok(Stores::from_store(store))
    } else {
        let store = keyfleet_store_postgres::PgStore::connect(database_url)
            .await
            .with_context(|| format!("connecting to PostgreSQL at {}", postgres_endpoint(database_url)))?;
        Ok(Stores::from_store(store))
    }
}

/// The file of a `sqlite:` URL (`sqlite://PATH`, `sqlite:PATH`, options after `?` dropped).
fn sqlite_path(url: &str) -> &str {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    rest.split('?').next().unwrap_or(rest)
}

/// `HOST:PORT` of a `postgres://` URL, with libpq's defaults (localhost, 5432); never the
/// user or password.
fn postgres_endpoint(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p),
        _ => (hostport, ""),
    };
    let host = if host.is_empty() { "localhost" } else { host };
    let port = if port.is_empty() { "5432" } else { port };
    format!("{host}:{port}")
}

/// The SMTP client of the mail outbox, when `smtp_url` is set.
pub fn mail_sender(settings: &Settings) -> anyhow::Result<Option<std::sync::Arc<crate::mail::SmtpSender>>> {
    settings
        .smtp_url
        .clone()
        .map(|url| {
            crate::mail::SmtpSender::new(url, &settings.mail_from, settings.smtp_ca_file.as_deref())
                .map(std::sync::Arc::new)
        })
        .transpose()
}

/// Loads the master key from the configured source (the ring's data keys are loaded from
/// the database by [`core`]).
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
            onbehalf_timeout_minutes: settings.onbehalf_challenge_timeout_minutes,
            require_trusted_attestation: settings.require_trusted_attestation,
            anchors,
            decoy_key: master.derive("webauthn-decoy-credential"),
            seal_key: SealKey::new(&master.derive("webauthn-sign-in-ceremony-seal")),
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
        directory: DirectoryConfig {
            recovery: settings.directory_recovery,
        },
    })
}

/// Builds the core on `stores` with the wall clock: configuration, signing keys.
pub async fn core(settings: &Settings, stores: Stores) -> anyhow::Result<(Core, MasterKey)> {
    let master = master_key(settings)?;
    master
        .reload(stores.keyring.as_ref())
        .await
        .context("loading the master key ring (is this the master key the database was set up with?)")?;
    let keys = TokenKeys::load_or_create(stores.signing_keys.as_ref(), &master, now())
        .await
        .context("loading the token-signing key (is this the master key the database was set up with?)")?;
    let config = core_config(settings, &master)?;
    let core = Core {
        stores,
        config: Arc::new(config),
        clock: Arc::new(SystemClock::from_env()),
        tokens: Arc::new(keys),
        attempts: Arc::default(),
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
    let connector = crate::factory_client::setup(&settings)?;
    Ok(AppState::new(AppParts {
        connector,
        settings: Arc::new(settings),
        core,
        stores,
        csrf_key: master.derive("page-csrf"),
        master: Arc::new(master),
    }))
}

/// Binds every address `listen` stands for. Port 0 binds the first one to a free port and
/// the others to the same one. An address the machine does not have (`::1` without IPv6) is
/// skipped when another one binds; any other failure (a busy port) stops the start.
async fn bind(listen: &Listen) -> anyhow::Result<Vec<TcpListener>> {
    let mut listeners: Vec<TcpListener> = Vec::new();
    let mut skipped = Vec::new();
    for addr in listen.addrs() {
        let mut addr = *addr;
        if let Some(first) = listeners.first() {
            addr.set_port(first.local_addr()?.port());
        }
        match TcpListener::bind(addr).await {
            Ok(l) => listeners.push(l),
            Err(e) if matches!(e.kind(), ErrorKind::AddrNotAvailable | ErrorKind::Unsupported) => {
                skipped.push((addr, e));
            }
            Err(e) => return Err(e).with_context(|| format!("binding {addr} (listen {listen})")),
        }
    }
    if listeners.is_empty() {
        let (addr, e) = skipped.swap_remove(0);
        return Err(e).with_context(|| format!("binding {addr} (listen {listen})"));
    }
    for (addr, e) in skipped {
        tracing::warn!(address = %addr, error = %e, "not listening on an address of {listen}");
    }
    Ok(listeners)
}

/// Runs the server until SIGTERM or Ctrl-C, then lets in-flight requests finish (up to the
/// configured grace period). `started` is when the process started, for the ready-time log;
/// `admin_command` is how to run `keyfleet admin` on this configuration from the shell that
/// started this process (for the first-start instructions).
pub async fn run(settings: Settings, started: Instant, admin_command: &str) -> anyhow::Result<()> {
    let grace = settings.shutdown_grace;
    // Bind first: a busy port must fail before anything is created or printed.
    let listeners = bind(&settings.listen).await?;
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
        print_setup_banner(&b, &state.settings, admin_command);
    }
    let jobs = crate::jobs::Jobs {
        metadata: crate::mds_fetch::refresh_setup(&state.settings)?.map(std::sync::Arc::new),
        logout: Some(crate::backchannel::sender()?),
        master: Some(state.master.clone()),
        connector: state.connector.clone(),
        schedules: Some(std::sync::Arc::new(state.settings.shipment_schedules.clone())),
        mail: mail_sender(&state.settings)?,
        mail_alarm_after: state.settings.mail_alarm_after_failures,
        mail_stop_after: None,
    };
    crate::jobs::spawn(state.core.clone(), jobs);
    let bound = listeners
        .iter()
        .map(TcpListener::local_addr)
        .collect::<std::io::Result<Vec<_>>>()?;
    let all = bound.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ");
    tracing::info!(address = %bound[0], addresses = %all, ready_ms = started.elapsed().as_millis() as u64, "keyfleet is ready");
    let app = crate::app::app(state);
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let mut servers = JoinSet::new();
    for listener in listeners {
        let mut stop = stop.clone();
        let server = axum::serve(
            listener,
            app.clone().into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|stopping| *stopping).await;
        });
        servers.spawn(server.into_future());
    }
    let serving = async {
        while let Some(done) = servers.join_next().await {
            done.context("serving")?.context("serving")?;
        }
        anyhow::Ok(())
    };
    let mut stopping = stop.clone();
    tokio::select! {
        r = serving => r?,
        () = async { let _ = stopping.wait_for(|s| *s).await; tokio::time::sleep(grace).await } => {
            tracing::warn!(grace_s = grace.as_secs(), "in-flight requests did not finish in time; stopping anyway");
        }
    }
    tracing::info!("keyfleet stopped");
    Ok(())
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
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// The first-start instructions go to standard output, once, and never through the log:
/// the log must never hold a secret.
fn print_setup_banner(b: &Bootstrap, settings: &Settings, admin_command: &str) {
    let origin = &settings.origins[0];
    println!(
        "\nkeyfleet: first start. Created the administrator \"{user}\".\n\
         Sign in within {min} minutes with this one-time temporary access pass (it is shown only now):\n\n    {code}\n\n\
         Open {origin}/login, choose \"Sign in with the pass\", then add your security key.\n\
         Or from a shell:\n    curl -c cookies.txt -H 'Content-Type: application/json' \\\n      \
         -d '{{\"username\":\"{user}\",\"code\":\"{code}\"}}' {origin}/api/v1/auth/tap\n\
         Lost it? Issue another with:\n    {admin_command} issue-tap --username {user}\n",
        user = b.username,
        min = b.minutes,
        code = b.code,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answers(addr: SocketAddr, listener: &TcpListener) -> bool {
        let (connected, accepted) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        connected.is_ok() && accepted.is_ok()
    }

    #[tokio::test]
    async fn every_address_is_bound_on_one_port() {
        let v4: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let v6: SocketAddr = "[::1]:0".parse().unwrap();
        let listeners = bind(&Listen::of(&[v4, v6])).await.unwrap();
        let bound: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
        assert_ne!(bound[0].port(), 0);
        // ::1 only where the machine has IPv6; then on the port 127.0.0.1 got.
        assert!(
            bound.len() == 1 || bound[1] == SocketAddr::new(v6.ip(), bound[0].port()),
            "{bound:?}"
        );
        for (addr, listener) in bound.iter().zip(&listeners) {
            assert!(answers(*addr, listener).await, "{addr}");
        }
    }

    #[tokio::test]
    async fn an_address_the_machine_lacks_is_skipped_but_a_busy_port_stops_the_start() {
        let v4: SocketAddr = "127.0.0.1:0".parse().unwrap();
        // TEST-NET-1 (RFC 5737): never an address of this machine.
        let absent: SocketAddr = "192.0.2.1:0".parse().unwrap();
        let listeners = bind(&Listen::of(&[v4, absent])).await.unwrap();
        assert_eq!(listeners.len(), 1);
        assert!(bind(&Listen::of(&[absent])).await.is_err(), "nothing bound is an error");
        let busy = listeners[0].local_addr().unwrap();
        let e = bind(&Listen::of(&[busy])).await.unwrap_err();
        assert!(format!("{e:#}").contains(&format!("binding {busy}")), "{e:#}");
    }

    #[test]
    fn store_errors_name_what_was_opened() {
        assert_eq!(sqlite_path("sqlite://keyfleet.db"), "keyfleet.db");
        assert_eq!(sqlite_path("sqlite:///var/lib/k.db?mode=rwc"), "/var/lib/k.db");
        assert_eq!(sqlite_path("sqlite:k.db"), "k.db");
        assert_eq!(
            postgres_endpoint("postgres://kf:secret@db.internal:6432/kf"),
            "db.internal:6432"
        );
        assert_eq!(postgres_endpoint("postgresql://kf@db.internal/kf"), "db.internal:5432");
        assert_eq!(postgres_endpoint("postgres:///kf"), "localhost:5432");
        assert_eq!(postgres_endpoint("postgres://[::1]:5433/kf"), "[::1]:5433");
        assert_eq!(postgres_endpoint("postgres://[::1]/kf"), "[::1]:5432");
    }
}
