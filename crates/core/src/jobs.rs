//! Scheduled work. Each job is a name, an interval and a step that does one run; the
//! server's runner claims a due run under a lease in the database (so on a shared database
//! exactly one process runs it), calls [`Job::run`], and records how it ended.

use std::time::Duration;

use keyfleet_domain::audit::{Action, Outcome, Target};

use crate::audit::JobRan;
use crate::metadata::{MetadataSource, RefreshConfig};
use crate::{CoreError, Ctx};

/// The scheduled jobs this build runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Deletes sessions that ended a week ago, ceremonies that expired, and users directory
    /// sync deleted longer ago than the recovery period.
    Housekeeping,
    /// Downloads the FIDO Metadata Service BLOB from `mds_url` (when it is set) and imports
    /// it when it changed ([`crate::metadata::refresh`]).
    MetadataRefresh,
    /// Delivers the queued OpenID back-channel logouts that are due
    /// ([`crate::oidc::backchannel::deliver_due`]); a run with nothing due is not audited.
    BackchannelLogout,
    /// Sends the mail outbox's due messages over SMTP ([`crate::mail::deliver_due`]) when
    /// `smtp_url` is set; a run with nothing due is not audited.
    MailOutbox,
    /// Rewrites stored secrets under the current master key and retires the earlier keys
    /// ([`crate::keyring::reencrypt`]); a run that changed nothing is not audited.
    Reencrypt,
}

/// What the jobs need from outside the core (the server fills it).
#[derive(Clone, Copy, Default)]
pub struct JobEnv<'a> {
    /// The metadata download and its configuration; `None` when `mds_url` is not set.
    pub metadata: Option<(&'a dyn MetadataSource, &'a RefreshConfig)>,
    /// Where back-channel logout tokens are posted; `None`: not delivered by this process.
    pub logout: Option<&'a dyn crate::oidc::backchannel::LogoutSender>,
    /// The SMTP client and what the mail job needs; `None`: this process sends no mail.
    pub mail: Option<crate::mail::MailRun<'a>>,
    /// The master key (the re-encryption job); `None`: this process does not re-encrypt.
    pub master: Option<&'a crate::secrets::MasterKey>,
}

/// How soon a run that ended in error is tried again (at most: sooner when the job's
/// interval is shorter).
pub const RETRY_AFTER_ERROR: Duration = Duration::from_secs(3600);

/// How long ended sessions are kept (they show in a user's history until then).
pub const ENDED_SESSIONS_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);

impl Job {
    /// Every job.
    pub const ALL: [Job; 5] = [
        Job::Housekeeping,
        Job::MetadataRefresh,
        Job::BackchannelLogout,
        Job::MailOutbox,
        Job::Reencrypt,
    ];

    /// The job's stable name (its row in the jobs table, its audit target).
    pub fn name(self) -> &'static str {
        match self {
            Job::Housekeeping => "housekeeping",
            Job::MetadataRefresh => "metadata-refresh",
            Job::BackchannelLogout => "backchannel-logout",
            Job::MailOutbox => "mail-outbox",
            Job::Reencrypt => "reencrypt-secrets",
        }
    }

    /// Whether this process runs the job at all (the metadata refresh needs `mds_url`).
    pub fn enabled(self, env: &JobEnv<'_>) -> bool {
        match self {
            Job::Housekeeping => true,
            Job::MetadataRefresh => env.metadata.is_some(),
            Job::BackchannelLogout => env.logout.is_some(),
            Job::MailOutbox => env.mail.is_some(),
            Job::Reencrypt => env.master.is_some(),
        }
    }

    /// How often it runs.
    pub fn interval(self) -> Duration {
        match self {
            Job::Housekeeping => Duration::from_secs(3600),
            Job::MetadataRefresh => Duration::from_secs(24 * 3600),
            Job::BackchannelLogout | Job::MailOutbox => Duration::from_secs(10),
            Job::Reencrypt => Duration::from_secs(300),
        }
    }

    /// When the next run is due after one that ended at `done` (`ok` tells how): the
    /// interval, or sooner after an error ([`RETRY_AFTER_ERROR`]); the metadata refresh no
    /// later than the stored BLOB's `nextUpdate` (MDS3 §3.2 step 2).
    pub async fn next_due(
        self,
        ctx: &Ctx<'_>,
        done: keyfleet_domain::Timestamp,
        ok: bool,
    ) -> keyfleet_domain::Timestamp {
        let interval = if ok {
            self.interval()
        } else {
            self.interval().min(RETRY_AFTER_ERROR)
        };
        let next = done.plus(interval);
        if self != Job::MetadataRefresh {
            return next;
        }
        let Ok(Some(blob)) = ctx.stores.metadata.metadata_blob().await else {
            return next;
        };
        match keyfleet_mds::next_update_millis(&blob.next_update) {
            Some(at) if at > done.as_millis() && at < next.as_millis() => keyfleet_domain::Timestamp::from_millis(at),
            _ => next,
        }
    }

    /// Does one run; returns what it did, as named counts.
    pub async fn run(self, ctx: &Ctx<'_>, env: &JobEnv<'_>) -> Result<Vec<(&'static str, u64)>, CoreError> {
        match self {
            Job::MetadataRefresh => match env.metadata {
                Some((source, config)) => crate::metadata::refresh(ctx, source, config).await,
                None => Ok(Vec::new()),
            },
            Job::BackchannelLogout => match env.logout {
                Some(sender) => crate::oidc::backchannel::deliver_due(ctx, sender).await,
                None => Ok(Vec::new()),
            },
            Job::MailOutbox => match &env.mail {
                Some(run) => crate::mail::deliver_due(ctx, run).await,
                None => Ok(Vec::new()),
            },
            Job::Reencrypt => match env.master {
                Some(master) => crate::keyring::reencrypt(ctx, master).await,
                None => Ok(Vec::new()),
            },
            Job::Housekeeping => {
                let sessions = ctx
                    .stores
                    .sessions
                    .purge_sessions(ctx.now.minus(ENDED_SESSIONS_KEPT))
                    .await?;
                let ceremonies = ctx.stores.ceremonies.purge_ceremonies(ctx.now).await?;
                let onbehalf = ctx.stores.onbehalf.purge_onbehalf_options(ctx.now).await?;
                let users = crate::directory::lifecycle::purge(ctx).await?;
                let mut counts = vec![
                    ("sessionsPurged", sessions),
                    ("ceremoniesPurged", ceremonies),
                    ("onBehalfOptionsPurged", onbehalf),
                    ("deletedUsersPurged", users),
                ];
                counts.extend(crate::oidc::keys::promote_and_purge(ctx).await?);
                // Delivered or abandoned back-channel logouts, kept a week for inspection.
                let logouts = ctx
                    .stores
                    .oidc
                    .purge_logouts(ctx.now.minus(ENDED_SESSIONS_KEPT))
                    .await?;
                counts.push(("logoutsPurged", logouts));
                Ok(counts)
            }
        }
    }

    /// Runs once and audits the run (`job.run`, success or failure with the counts).
    pub async fn run_audited(self, ctx: &Ctx<'_>, env: &JobEnv<'_>) -> Result<Vec<(&'static str, u64)>, CoreError> {
        let result = self.run(ctx, env).await;
        let (outcome, counts) = match &result {
            Ok(c) => (Outcome::Success, c.clone()),
            Err(_) => (Outcome::Failure, Vec::new()),
        };
        // The back-channel logout, mail and re-encryption jobs run often: a run that found
        // nothing to do changed nothing and is not worth an event.
        let frequent = matches!(self, Job::BackchannelLogout | Job::MailOutbox | Job::Reencrypt);
        if frequent && outcome == Outcome::Success && counts.is_empty() {
            return result;
        }
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
