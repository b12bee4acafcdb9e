//! The jobs runner: every scheduled job of [`keyfleet_core::jobs::Job`] runs on its
//! interval, under a lease in the database, so that when several processes share one
//! database exactly one of them runs each due run. A process that dies mid-run loses its
//! lease when it expires, and the next process to look runs the same due run again.

use std::time::Duration;

use std::sync::Arc;

use keyfleet_core::Core;
use keyfleet_core::jobs::{Job, JobEnv};
use keyfleet_core::mail::MailRun;
use keyfleet_core::metadata::RefreshConfig;
use keyfleet_domain::audit::Actor;
use rand_core::{OsRng, RngCore};

/// How long a claimed run may take before another process may take it over.
pub const LEASE: Duration = Duration::from_secs(600);

/// How often each process looks for due runs.
pub const POLL: Duration = Duration::from_secs(30);

/// A name for this process's leases: random, so two processes on one host differ.
pub fn holder_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "keyfleet".to_owned());
    format!("{host}:{}:{:08x}", std::process::id(), OsRng.next_u32())
}

/// What the jobs of this process need beyond the core: the metadata refresh's download and
/// configuration (when `mds_url` is set).
#[derive(Clone, Default)]
pub struct Jobs {
    /// The metadata refresh.
    pub metadata: Option<Arc<(crate::mds_fetch::HttpSource, RefreshConfig)>>,
    /// Where back-channel logout tokens are posted (`None`: this process delivers none).
    pub logout: Option<Arc<crate::backchannel::HttpLogoutSender>>,
    /// The master key: with it, every call reloads the token-signing keys first (a rotation
    /// made by another process or the CLI is published, a promoted key signs).
    pub master: Option<Arc<keyfleet_core::secrets::MasterKey>>,
    /// The pre-registration connector (with the master key, it runs the process-shipments
    /// job).
    pub connector: Option<Arc<crate::factory_client::Connector>>,
    /// The shipment jobs' schedules (`None`: neither runs in this process).
    pub schedules: Option<Arc<keyfleet_core::jobs::ShipmentSchedules>>,
    /// The SMTP client of the mail outbox (`None`: `smtp_url` is not set; mail waits).
    pub mail: Option<Arc<crate::mail::SmtpSender>>,
    /// Failed attempts after which a message raises the mail alarm.
    pub mail_alarm_after: u32,
    /// Tests only: the mail job stops after this step, as if the process died there.
    pub mail_stop_after: Option<keyfleet_core::mail::MailStep>,
}

impl Jobs {
    fn env<'a>(&'a self, holder: &'a str) -> JobEnv<'a> {
        let master = self.master.as_deref();
        JobEnv {
            mail: self.mail.as_deref().zip(master).map(|(sender, master)| MailRun {
                sender: sender as &dyn keyfleet_core::mail::MailSender,
                master,
                holder,
                alarm_after: self.mail_alarm_after.max(1),
                stop_after: self.mail_stop_after,
            }),
            master,
            metadata: self
                .metadata
                .as_deref()
                .map(|(s, c)| (s as &dyn keyfleet_core::metadata::MetadataSource, c)),
            logout: self
                .logout
                .as_deref()
                .map(|s| s as &dyn keyfleet_core::oidc::backchannel::LogoutSender),
            schedules: self.schedules.as_deref(),
            connector: match (&self.connector, &self.master) {
                (Some(c), Some(m)) => Some(c.env(m)),
                _ => None,
            },
        }
    }
}

/// Registers every job (its first run due at once) and claims and runs whatever is due.
/// Returns the jobs this call ran.
pub async fn run_due(core: &Core, holder: &str) -> Vec<Job> {
    run_due_with(core, holder, &Jobs::default()).await
}

/// [`run_due`] with the jobs' needs: a job this process cannot run (the metadata refresh
/// without `mds_url`) is not registered nor claimed by it.
pub async fn run_due_with(core: &Core, holder: &str, jobs: &Jobs) -> Vec<Job> {
    reload_keys(core, jobs).await;
    let env = jobs.env(holder);
    let mut ran = Vec::new();
    for job in Job::ALL.into_iter().filter(|j| j.enabled(&env)) {
        let now = core.now();
        if let Err(e) = core.stores.jobs.ensure_job(job.name(), now).await {
            tracing::warn!(job = job.name(), error = %e, "could not register the job");
            continue;
        }
        match core
            .stores
            .jobs
            .claim_job(job.name(), holder, now, now.plus(LEASE))
            .await
        {
            Ok(Some(_due)) => {}
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(job = job.name(), error = %e, "could not claim the job");
                continue;
            }
        }
        let ctx = core.ctx(Actor::System, None);
        let outcome = match job.run_audited(&ctx, &env).await {
            Ok(counts) => {
                tracing::info!(job = job.name(), ?counts, "job ran");
                "ok"
            }
            Err(e) => {
                tracing::warn!(job = job.name(), error = %e, "job failed");
                "error"
            }
        };
        let done = core.now();
        let next = job.next_due(&ctx, &env, done, outcome == "ok").await;
        if let Err(e) = core
            .stores
            .jobs
            .finish_job(job.name(), holder, done, next, outcome)
            .await
        {
            tracing::warn!(job = job.name(), error = %e, "could not record the job's run");
        }
        ran.push(job);
    }
    if ran.contains(&Job::Housekeeping) {
        // It may have promoted or purged a signing key.
        reload_keys(core, jobs).await;
    }
    ran
}

/// Reloads the token-signing keys when the master key is at hand; a failure is logged and the
/// keys stay as they were.
async fn reload_keys(core: &Core, jobs: &Jobs) {
    let Some(master) = &jobs.master else {
        return;
    };
    reload_ring(core, master).await;
    if let Err(e) = core.tokens.reload(core.stores.signing_keys.as_ref(), master).await {
        tracing::warn!(error = %e, "could not reload the token-signing keys");
    }
    if let Some(connector) = &jobs.connector {
        // The factory token stored encrypted (`keyfleet admin set-secret --name
        // factory_token`) takes the place of the configured one, here and in the next calls.
        let ctx = core.ctx(Actor::System, None);
        match keyfleet_core::keyring::secret(&ctx, master, keyfleet_core::shipments::connector::FACTORY_TOKEN).await {
            Ok(Some(token)) => connector.factory.set_token(&token),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not read the factory_token secret setting"),
        }
    }
}

/// Reloads the master-key ring from the database (a rotation made by another process or the
/// CLI encrypts here from now on); a failure is logged and the ring stays as it was.
pub async fn reload_ring(core: &Core, master: &keyfleet_core::secrets::MasterKey) {
    if let Err(e) = master.reload(core.stores.keyring.as_ref()).await {
        tracing::warn!(error = %e, "could not reload the master key ring");
    }
}

/// Runs [`run_due_with`] every [`POLL`] until the process ends, and reloads the master-key
/// ring every [`keyfleet_core::keyring::RING_RELOAD`].
pub fn spawn(core: Core, jobs: Jobs) {
    if let Some(master) = jobs.master.clone() {
        let core = core.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(keyfleet_core::keyring::RING_RELOAD);
            loop {
                tick.tick().await;
                reload_ring(&core, &master).await;
            }
        });
    }
    tokio::spawn(async move {
        let holder = holder_name();
        let mut tick = tokio::time::interval(POLL);
        loop {
            tick.tick().await;
            run_due_with(&core, &holder, &jobs).await;
        }
    });
}
