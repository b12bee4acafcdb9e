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
    /// The pre-registration connector's run ([`crate::shipments::connector::process`]) on
    /// `shipments_poll_schedule`, when a factory is configured.
    ProcessShipments,
    /// Deletes complete orders older than `shipments_cleanup_completed_days` with every
    /// secret they held ([`crate::shipments::order::cleanup`]) on
    /// `shipments_cleanup_schedule`.
    ShipmentsCleanup,
    /// Sends the mail outbox's due messages over SMTP ([`crate::mail::deliver_due`]) when
    /// `smtp_url` is set; a run with nothing due is not audited.
    MailOutbox,
    /// Rewrites stored secrets under the current master key and retires the earlier keys
    /// ([`crate::keyring::reencrypt`]); a run that changed nothing is not audited.
    Reencrypt,
}

/// A cron schedule with seconds (6 fields: `sec min hour day-of-month month day-of-week`, an
/// optional 7th for the year), as the Yubico connector's `CRON_*` settings; times are UTC.
/// Parsed by the `cron` crate.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    text: String,
    schedule: cron::Schedule,
}

impl CronSchedule {
    /// Parses `text`; the error says why it is not a schedule.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.split_whitespace().count() < 6 {
            return Err("expected 6 fields with seconds first, e.g. 0 0 * * * *".into());
        }
        let schedule = text.parse::<cron::Schedule>().map_err(|e| e.to_string())?;
        if schedule.upcoming(chrono::Utc).next().is_none() {
            return Err("the schedule never fires".into());
        }
        Ok(Self {
            text: text.to_owned(),
            schedule,
        })
    }

    /// The text it was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first time it fires after `t`.
    pub fn next_after(&self, t: keyfleet_domain::Timestamp) -> Option<keyfleet_domain::Timestamp> {
        let at = chrono::DateTime::from_timestamp_millis(t.as_millis())?;
        self.schedule
            .after(&at)
            .next()
            .map(|n| keyfleet_domain::Timestamp::from_millis(n.timestamp_millis()))
    }
}

/// The connector's schedules and cleanup setting.
#[derive(Debug, Clone)]
pub struct ShipmentSchedules {
    /// When the connector runs (`shipments_poll_schedule`, default `0 0 * * * *`).
    pub poll: CronSchedule,
    /// When completed orders are cleaned up (`shipments_cleanup_schedule`).
    pub cleanup: CronSchedule,
    /// Complete orders older than this many days are deleted; 0 keeps everything.
    pub cleanup_completed_days: u32,
}

/// What the jobs need from outside the core (the server fills it).
#[derive(Clone, Copy, Default)]
pub struct JobEnv<'a> {
    /// The metadata download and its configuration; `None` when `mds_url` is not set.
    pub metadata: Option<(&'a dyn MetadataSource, &'a RefreshConfig)>,
    /// Where back-channel logout tokens are posted; `None`: not delivered by this process.
    pub logout: Option<&'a dyn crate::oidc::backchannel::LogoutSender>,
    /// The connector's schedules; `None`: neither shipment job runs in this process.
    pub schedules: Option<&'a ShipmentSchedules>,
    /// The connector's factory, master key and settings; `None`: no factory configured, the
    /// process-shipments job does not run.
    pub connector: Option<crate::shipments::connector::ConnectorEnv<'a>>,
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
    pub const ALL: [Job; 7] = [
        Job::Housekeeping,
        Job::MetadataRefresh,
        Job::BackchannelLogout,
        Job::ProcessShipments,
        Job::ShipmentsCleanup,
        Job::MailOutbox,
        Job::Reencrypt,
    ];

    /// The job's stable name (its row in the jobs table, its audit target).
    pub fn name(self) -> &'static str {
        match self {
            Job::Housekeeping => "housekeeping",
            Job::MetadataRefresh => "metadata-refresh",
            Job::BackchannelLogout => "backchannel-logout",
            Job::ProcessShipments => "process-shipments",
            Job::ShipmentsCleanup => "shipments-cleanup",
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
            Job::ProcessShipments => env.schedules.is_some() && env.connector.is_some(),
            Job::ShipmentsCleanup => env.schedules.is_some(),
            Job::MailOutbox => env.mail.is_some(),
            Job::Reencrypt => env.master.is_some(),
        }
    }

    /// How often it runs (the shipment jobs: at most this long apart, their schedules decide).
    pub fn interval(self) -> Duration {
        match self {
            Job::Housekeeping => Duration::from_secs(3600),
            Job::MetadataRefresh | Job::ProcessShipments | Job::ShipmentsCleanup => Duration::from_secs(24 * 3600),
            Job::BackchannelLogout | Job::MailOutbox => Duration::from_secs(10),
            Job::Reencrypt => Duration::from_secs(300),
        }
    }

    /// When the next run is due after one that ended at `done` (`ok` tells how): the
    /// interval, or sooner after an error ([`RETRY_AFTER_ERROR`]); the metadata refresh no
    /// later than the stored BLOB's `nextUpdate` (MDS3 §3.2 step 2).
    /// The shipment jobs follow their cron schedules (a failed run is tried again no later
    /// than [`RETRY_AFTER_ERROR`]).
    pub async fn next_due(
        self,
        ctx: &Ctx<'_>,
        env: &JobEnv<'_>,
        done: keyfleet_domain::Timestamp,
        ok: bool,
    ) -> keyfleet_domain::Timestamp {
        let interval = if ok {
            self.interval()
        } else {
            self.interval().min(RETRY_AFTER_ERROR)
        };
        let next = done.plus(interval);
        let schedule = match (self, env.schedules) {
            (Job::ProcessShipments, Some(s)) => Some(&s.poll),
            (Job::ShipmentsCleanup, Some(s)) => Some(&s.cleanup),
            _ => None,
        };
        if let Some(at) = schedule.and_then(|s| s.next_after(done)) {
            return if at.as_millis() < next.as_millis() { at } else { next };
        }
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
            Job::ProcessShipments => match &env.connector {
                Some(connector) => crate::shipments::connector::process(ctx, connector).await,
                None => Ok(Vec::new()),
            },
            Job::ShipmentsCleanup => match env.schedules {
                Some(s) => Ok(vec![(
                    "shipmentsPurged",
                    crate::shipments::order::cleanup(ctx, s.cleanup_completed_days).await?,
                )]),
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

#[cfg(test)]
mod tests {
    use super::CronSchedule;
    use keyfleet_domain::Timestamp;

    /// 2026-12-04T22:15:30.500Z.
    const T: Timestamp = Timestamp::from_millis(1_796_422_530_500);

    #[test]
    fn schedules_have_seconds_and_fire_in_utc() {
        let hourly = CronSchedule::parse("0 0 * * * *").unwrap();
        // The next top of the hour: 23:00:00Z.
        assert_eq!(hourly.next_after(T), Some(Timestamp::from_millis(1_796_425_200_000)));
        let every_ten_seconds = CronSchedule::parse("*/10 * * * * *").unwrap();
        assert_eq!(
            every_ten_seconds.next_after(T),
            Some(Timestamp::from_millis(1_796_422_540_000))
        );
        assert_eq!(every_ten_seconds.as_str(), "*/10 * * * * *");
    }

    #[test]
    fn five_fields_and_nonsense_are_refused() {
        for bad in ["0 * * * *", "", "every hour", "61 0 * * * *", "0 0 25 * * *"] {
            assert!(CronSchedule::parse(bad).is_err(), "{bad:?}");
        }
    }
}
