//! Scheduled work. Each job is a name, an interval and a step that does one run; the
//! server's runner claims a due run under a lease in the database (so on a shared database
//! exactly one process runs it), calls [`Job::run`], and records how it ended.

use std::time::Duration;

use keyfleet_domain::StoreError;
use keyfleet_domain::audit::{Action, Outcome, Target};

use crate::Ctx;
use crate::audit::JobRan;

/// The scheduled jobs this build runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Deletes sessions that ended a week ago, ceremonies that expired, and users directory
    /// sync deleted longer ago than the recovery period.
    Housekeeping,
}

/// How long ended sessions are kept (they show in a user's history until then).
pub const ENDED_SESSIONS_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);

impl Job {
    /// Every job.
    pub const ALL: [Job; 1] = [Job::Housekeeping];

    /// The job's stable name (its row in the jobs table, its audit target).
    pub fn name(self) -> &'static str {
        match self {
            Job::Housekeeping => "housekeeping",
        }
    }

    /// How often it runs.
    pub fn interval(self) -> Duration {
        match self {
            Job::Housekeeping => Duration::from_secs(3600),
        }
    }

    /// Does one run; returns what it did, as named counts.
    pub async fn run(self, ctx: &Ctx<'_>) -> Result<Vec<(&'static str, u64)>, StoreError> {
        match self {
            Job::Housekeeping => {
                let sessions = ctx
                    .stores
                    .sessions
                    .purge_sessions(ctx.now.minus(ENDED_SESSIONS_KEPT))
                    .await?;
                let ceremonies = ctx.stores.ceremonies.purge_ceremonies(ctx.now).await?;
                let users = crate::directory::lifecycle::purge(ctx).await?;
                Ok(vec![
                    ("sessionsPurged", sessions),
                    ("ceremoniesPurged", ceremonies),
                    ("deletedUsersPurged", users),
                ])
            }
        }
    }

    /// Runs once and audits the run (`job.run`, success or failure with the counts).
    pub async fn run_audited(self, ctx: &Ctx<'_>) -> Result<Vec<(&'static str, u64)>, StoreError> {
        let result = self.run(ctx).await;
        let (outcome, counts) = match &result {
            Ok(c) => (Outcome::Success, c.clone()),
            Err(_) => (Outcome::Failure, Vec::new()),
        };
        let detail = JobRan {
            outcome: if outcome == Outcome::Success { "ok" } else { "error" },
            counts: &counts,
        };
        let event = ctx
            .audit_with(Action::JobRun, Some(Target::Job(self.name())), &detail)
            .with_outcome(outcome);
        ctx.stores.audit.append(&event).await?;
        result
    }
}
