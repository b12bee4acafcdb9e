//! Start-up, first-start bootstrap, and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use keyfleet_domain::audit::{Actor, NewAuditEvent};
use keyfleet_domain::store::Stores;
use keyfleet_domain::tap;
use keyfleet_domain::user::{NewUser, Role, Username};
use rand_core::OsRng;
use tokio::sync::Notify;

use crate::config::{MasterKeySource, Settings};
use crate::secrets::MasterKey;
use crate::state::{AppState, now};
use crate::token::TokenKeys;

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

/// The administrator created on first start and their setup code.
pub struct Bootstrap {
    /// Their username.
    pub username: String,
    /// The one-time setup TAP.
    pub code: String,
    /// Its lifetime in minutes.
    pub minutes: u32,
}

/// On a database that has never been set up and has no users, creates the first
/// administrator with a one-time setup TAP. Returns it only to the one process that did so.
pub async fn bootstrap(stores: &Stores, settings: &Settings) -> anyhow::Result<Option<Bootstrap>> {
    if stores.users.count_users().await? > 0 {
        return Ok(None);
    }
    let t = now();
    let user = NewUser {
        username: Username::parse(&settings.bootstrap_admin_username)?,
        display_name: "Administrator".into(),
        email: settings.bootstrap_admin_email.clone(),
        manager_email: None,
        shipping_address: None,
        role: Role::Admin,
    }
    .into_user(t, &mut OsRng);
    let minutes = tap::DEFAULT_LIFETIME_MINUTES;
    let issued = tap::issue(user.id, minutes, true, t, &mut OsRng)?;
    let audit = NewAuditEvent::new(
        t,
        &Actor::System,
        "system.bootstrap",
        Some(format!("user:{}", user.id)),
        None,
    )
    .with_detail(
        serde_json::json!({ "username": user.username.as_str(), "tapId": issued.tap.id.to_string() }).to_string(),
    );
    let created = stores.users.bootstrap_admin(&user, &issued.tap, &audit).await?;
    Ok(created.then(|| Bootstrap {
        username: user.username.as_str().to_owned(),
        code: issued.code,
        minutes,
    }))
}

/// Builds the application state: stores, master key, signing keys.
pub async fn state(settings: Settings) -> anyhow::Result<AppState> {
    let stores = open_stores(&settings.database_url).await?;
    let master = master_key(&settings)?;
    let keys = TokenKeys::load_or_create(stores.signing_keys.as_ref(), &master, now())
        .await
        .context("loading the token-signing key (is this the master key the database was set up with?)")?;
    let webauthn = crate::service::webauthn::WebauthnConfig::load(&settings, &master)?;
    Ok(AppState {
        settings: Arc::new(settings),
        stores,
        keys: Arc::new(keys),
        webauthn: Arc::new(webauthn),
        csrf_key: master.derive("page-csrf"),
    })
}

/// Runs the server until SIGTERM or Ctrl-C, then lets in-flight requests finish (up to the
/// configured grace period). `started` is when the process started, for the ready-time log.
pub async fn run(settings: Settings, started: Instant) -> anyhow::Result<()> {
    let listen = settings.listen;
    let grace = settings.shutdown_grace;
    let state = state(settings).await?;
    if let Some(b) = bootstrap(&state.stores, &state.settings).await? {
        print_setup_banner(&b, &state.settings);
    }
    spawn_housekeeping(state.stores.clone());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
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

/// Deletes long-ended sessions and expired ceremonies once an hour.
fn spawn_housekeeping(stores: Stores) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let cutoff = now().minus(Duration::from_secs(7 * 24 * 3600));
            match stores.sessions.purge_sessions(cutoff).await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "purged ended sessions"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "session purge failed"),
            }
            if let Err(e) = stores.ceremonies.purge_ceremonies(now()).await {
                tracing::warn!(error = %e, "ceremony purge failed");
            }
        }
    });
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
