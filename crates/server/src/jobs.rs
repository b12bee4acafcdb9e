//! The jobs runner: every scheduled job of [`keyfleet_core::jobs::Job`] runs on its
//! interval, under a lease in the database, so that when several processes share one
//! database exactly one of them runs each due run. A process that dies mid-run loses its
//! lease when it expires, and the next process to look runs the same due run again.

use std::time::Duration;

use keyfleet_core::Core;
use keyfleet_core::jobs::Job;
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

/// Registers every job (its first run due at once) and claims and runs whatever is due.
/// Returns the jobs this call ran.
pub async fn run_due(core: &Core, holder: &str) -> Vec<Job> {
    let mut ran = Vec::new();
    for job in Job::ALL {
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
        let outcome = match job.run_audited(&ctx).await {
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
        if let Err(e) = core
            .stores
            .jobs
            .finish_job(job.name(), holder, done, done.plus(job.interval()), outcome)
            .await
        {
            tracing::warn!(job = job.name(), error = %e, "could not record the job's run");
        }
        ran.push(job);
    }
    ran
}

/// Runs [`run_due`] every [`POLL`] until the process ends.
pub fn spawn(core: Core) {
    tokio::spawn(async move {
        let holder = holder_name();
        let mut tick = tokio::time::interval(POLL);
        loop {
            tick.tick().await;
            run_due(&core, &holder).await;
        }
    });
}
