//! Sending the mail outbox over SMTP (docs/mail.md): the rules of the mail job.
//!
//! [`deliver_due`] first makes every message whose sending process stopped (still `sending`
//! after its lease) `uncertain`, then claims due messages one at a time (`sending`, leased
//! to this process) and hands each to a [`MailSender`] (the server's SMTP client) with its
//! id as the idempotency key (its Message-ID). How the attempt ended is recorded by the
//! lease holder only:
//! - accepted: `sent`, the sealed body emptied; a shipment's PIN mail moves the shipment
//!   from `registered` to `pinSent` in the same transaction;
//! - refused before the message was handed over, or refused with a 4xx/5xx reply after it:
//!   `pending` again after [`retry_delay`], `attempts` + 1, `last_error` (never the body);
//! - handed over but no reply (connection lost): `uncertain`, never sent again unless an
//!   administrator asks ([`requeue`]).
//!
//! When messages reach [`MailRun::alarm_after`] failed attempts (SMTP down or refusing), one
//! `mail.alarm` event and one warning per run say how many; [`status`] counts them for the
//! connector's status. Bodies (a PIN) are never logged nor put in an error.

use std::time::Duration;

use keyfleet_domain::audit::{Action, Outcome, Target};
use keyfleet_domain::keyring::MAIL_BODIES;
use keyfleet_domain::mail::MailKind;
use keyfleet_domain::outbox::{MailCounts, MailOutcome, MailState, OutboxMail};
use serde::Serialize;

use crate::access::{Permission, Principal, authorize};
use crate::audit::Detail;
use crate::secrets::MasterKey;
use crate::{CoreError, Ctx};

/// How long a claimed message may stay `sending` before it is taken for lost (its process
/// stopped): far beyond the SMTP client's timeouts.
pub const LEASE: Duration = Duration::from_secs(600);

/// The wait after the first failed attempt; it doubles after each further one, up to
/// [`MAX_RETRY`].
pub const FIRST_RETRY: Duration = Duration::from_secs(30);

/// The longest wait between attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);

/// Messages sent per run of the job.
pub const BATCH: u32 = 200;

/// The alarm's default number of failed attempts (`mail_alarm_after_failures`).
pub const DEFAULT_ALARM_AFTER: u32 = 5;

/// The secret setting holding the SMTP password.
pub const SMTP_PASSWORD: &str = "smtp_password";

/// One message as handed to the SMTP client.
pub struct Outgoing<'a> {
    /// The idempotency key: the Message-ID's local part and the `X-Keyfleet-Mail-Id` header.
    pub id: &'a str,
    /// Where it goes.
    pub recipients: &'a [String],
    /// Its subject.
    pub subject: &'a str,
    /// Its body (text; may hold a PIN).
    pub body: &'a str,
    /// The SMTP password (the `smtp_password` secret setting), if set.
    pub password: Option<&'a str>,
}

impl std::fmt::Debug for Outgoing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing").field("id", &self.id).finish_non_exhaustive()
    }
}

/// How the SMTP client's attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The server accepted the message (250 after the data).
    Accepted,
    /// Not delivered: the server refused (4xx/5xx) or was not reached before the message was
    /// handed over. Why, in one line, without the body.
    Refused(String),
    /// The message was handed over, but no reply came: maybe delivered.
    Uncertain(String),
}

/// Sends mail: the server implements it over SMTP (the core does no IO).
#[async_trait::async_trait]
pub trait MailSender: Send + Sync {
    /// One SMTP transaction for `mail`.
    async fn send(&self, mail: &Outgoing<'_>) -> Sent;
}

/// A step of [`deliver_due`] after which a test may stop it, as if the process died there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailStep {
    /// The message is `sending`; the SMTP transaction has not started.
    Claimed,
    /// The SMTP server answered; the outcome is not recorded.
    Sent,
}

/// What a run of the mail job needs.
#[derive(Clone, Copy)]
pub struct MailRun<'a> {
    /// The SMTP client.
    pub sender: &'a dyn MailSender,
    /// The master key (bodies, the SMTP password).
    pub master: &'a MasterKey,
    /// This process's lease name.
    pub holder: &'a str,
    /// Failed attempts after which a message raises the alarm.
    pub alarm_after: u32,
    /// Tests only: stop after this step, recording nothing more.
    pub stop_after: Option<MailStep>,
}

/// How long to wait after `attempts` failed attempts (1, 2, …).
pub fn retry_delay(attempts: u32) -> Duration {
    FIRST_RETRY
        .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(16)))
        .min(MAX_RETRY)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MailDetail<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    shipment_id: Option<String>,
    kind: &'a str,
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}
impl Detail for MailDetail<'_> {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlarmDetail<'a> {
    messages: u64,
    failed_attempts: u32,
    last_error: &'a str,
}
impl Detail for AlarmDetail<'_> {}

fn detail<'a>(m: &'a OutboxMail, attempts: u32, error: Option<&'a str>) -> MailDetail<'a> {
    MailDetail {
        shipment_id: m.shipment_id.map(|s| s.to_string()),
        kind: m.kind.as_str(),
        attempts,
        error,
    }
}

/// The error of a failed attempt as stored: one line, bounded.
fn one_line(e: &str) -> String {
    let line: String = e.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    line.chars().take(300).collect()
}

/// Runs the mail job once; returns what it did, as named counts (empty when nothing was due).
pub async fn deliver_due(ctx: &Ctx<'_>, run: &MailRun<'_>) -> Result<Vec<(&'static str, u64)>, CoreError> {
    let (mut sent, mut refused, mut uncertain, mut alarmed) = (0u64, 0u64, 0u64, 0u64);
    let mut last_error = String::new();
    for m in ctx.stores.mail.stale_mail(ctx.core.now(), BATCH).await? {
        let error = "the process sending it stopped before recording the outcome";
        let event = ctx
            .audit_with(
                Action::MailUncertain,
                Some(Target::Mail(m.id.clone())),
                &detail(&m, m.attempts, Some(error)),
            )
            .with_outcome(Outcome::Failure);
        if ctx
            .stores
            .mail
            .mark_mail_uncertain(&m.id, ctx.core.now(), error, &event)
            .await?
        {
            uncertain += 1;
            tracing::warn!(mail_id = %m.id, "a message may or may not have been sent: left for an administrator");
        }
    }
    // Read before any claim: a failure here leaves no message `sending`.
    let password = crate::keyring::secret(ctx, run.master, SMTP_PASSWORD).await?;
    for _ in 0..BATCH {
        let now = ctx.core.now();
        let Some(m) = ctx.stores.mail.claim_mail(run.holder, now, now.plus(LEASE)).await? else {
            break;
        };
        if run.stop_after == Some(MailStep::Claimed) {
            return Ok(Vec::new());
        }
        let result = match open_body(ctx, run.master, &m).await {
            Ok(body) => {
                let outgoing = Outgoing {
                    id: &m.id,
                    recipients: &m.recipients,
                    subject: &m.subject,
                    body: &body,
                    password: password.as_deref().map(String::as_str),
                };
                run.sender.send(&outgoing).await
            }
            Err(e) => Sent::Refused(e),
        };
        if run.stop_after == Some(MailStep::Sent) {
            return Ok(Vec::new());
        }
        let attempts = m.attempts + 1;
        let (outcome, event) = match result {
            Sent::Accepted => {
                sent += 1;
                let pin = matches!(m.kind, MailKind::ShipmentPin | MailKind::ShipmentPinResend);
                let event = ctx.audit_with(
                    Action::MailSent,
                    Some(Target::Mail(m.id.clone())),
                    &detail(&m, attempts, None),
                );
                (
                    MailOutcome::Sent {
                        shipment_to_pin_sent: m.shipment_id.filter(|_| pin),
                    },
                    Some(event),
                )
            }
            Sent::Refused(e) => {
                refused += 1;
                let error = one_line(&e);
                tracing::info!(mail_id = %m.id, attempts, error = %error, "a message was not sent; will retry");
                if attempts == run.alarm_after {
                    alarmed += 1;
                }
                last_error.clone_from(&error);
                (
                    MailOutcome::Refused {
                        next_attempt_at: ctx.core.now().plus(retry_delay(attempts)),
                        error,
                    },
                    None,
                )
            }
            Sent::Uncertain(e) => {
                uncertain += 1;
                let error = one_line(&e);
                tracing::warn!(mail_id = %m.id, error = %error, "a message may or may not have been sent: left for an administrator");
                let event = ctx
                    .audit_with(
                        Action::MailUncertain,
                        Some(Target::Mail(m.id.clone())),
                        &detail(&m, attempts, Some(&error)),
                    )
                    .with_outcome(Outcome::Failure);
                (MailOutcome::Uncertain { error }, Some(event))
            }
        };
        match ctx
            .stores
            .mail
            .finish_mail(&m.id, run.holder, ctx.core.now(), &outcome, event.as_ref())
            .await
        {
            // The lease was taken over (this process was too slow): the row is `uncertain`.
            Ok(()) | Err(keyfleet_domain::StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if alarmed > 0 {
        tracing::warn!(
            messages = alarmed,
            failed_attempts = run.alarm_after,
            last_error = %last_error,
            "mail alarm: messages keep failing to be sent (is the SMTP server down?)"
        );
        let event = ctx
            .audit_with(
                Action::MailAlarm,
                Some(Target::Job("mail-outbox")),
                &AlarmDetail {
                    messages: alarmed,
                    failed_attempts: run.alarm_after,
                    last_error: &last_error,
                },
            )
            .with_outcome(Outcome::Failure);
        ctx.stores.audit.append(&event).await?;
    }
    let mut counts = Vec::new();
    for (name, n) in [
        ("mailSent", sent),
        ("mailRetried", refused),
        ("mailUncertain", uncertain),
        ("mailAlarms", alarmed),
    ] {
        if n > 0 {
            counts.push((name, n));
        }
    }
    Ok(counts)
}

/// The body of `m`, decrypted (reloading the ring once if it names a key this process has
/// not loaded yet); else why not.
async fn open_body(ctx: &Ctx<'_>, master: &MasterKey, m: &OutboxMail) -> Result<String, String> {
    let aad = MAIL_BODIES.aad(&m.id);
    let plain = match master.decrypt(&m.body_sealed, &aad) {
        Err(crate::secrets::SecretError::UnknownKey { .. }) => {
            master
                .reload(ctx.stores.keyring.as_ref())
                .await
                .map_err(|e| e.to_string())?;
            master.decrypt(&m.body_sealed, &aad)
        }
        other => other,
    }
    .map_err(|e| format!("the body does not decrypt: {e}"))?;
    String::from_utf8(plain.to_vec()).map_err(|_| "the body is not UTF-8 text".to_owned())
}

/// The outbox's counts (`ReadShipments`): pending, sending, sent, uncertain, and `failing`:
/// pending messages that failed at least `alarm_after` times (the alarm is on while > 0).
pub async fn status(ctx: &Ctx<'_>, principal: &Principal, alarm_after: u32) -> Result<MailCounts, CoreError> {
    authorize(ctx, principal, Permission::ReadShipments).await?;
    Ok(ctx.stores.mail.mail_counts(alarm_after).await?)
}

/// Messages in `state` (all when `None`), oldest first (`ReadShipments`). Bodies stay sealed.
pub async fn list(
    ctx: &Ctx<'_>,
    principal: &Principal,
    state: Option<MailState>,
    limit: u32,
) -> Result<Vec<OutboxMail>, CoreError> {
    authorize(ctx, principal, Permission::ReadShipments).await?;
    Ok(ctx.stores.mail.list_mail(state, limit.clamp(1, 1000)).await?)
}

/// An administrator's resend of an `uncertain` (or `failed`) message (`ManageShipments`):
/// it becomes `pending`, due now, with the same id, so a receiving system that deduplicates
/// by Message-ID still sees one message. Audited as `mail.requeue`.
pub async fn requeue(ctx: &Ctx<'_>, principal: &Principal, id: &str) -> Result<(), CoreError> {
    authorize(ctx, principal, Permission::ManageShipments).await?;
    let Some(m) = ctx.stores.mail.get_mail(id).await? else {
        return Err(CoreError::NotFound);
    };
    if !matches!(m.state, MailState::Uncertain | MailState::Failed) {
        return Err(CoreError::conflict(
            "mail_not_uncertain",
            format!(
                "the message is {}; only an uncertain or failed one is queued again",
                m.state.as_str()
            ),
        ));
    }
    let event = ctx.audit_with(
        Action::MailRequeue,
        Some(Target::Mail(m.id.clone())),
        &detail(&m, m.attempts, None),
    );
    ctx.stores.mail.requeue_mail(id, ctx.now, &event).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_up_to_an_hour() {
        assert_eq!(retry_delay(1), Duration::from_secs(30));
        assert_eq!(retry_delay(2), Duration::from_secs(60));
        assert_eq!(retry_delay(3), Duration::from_secs(120));
        assert_eq!(retry_delay(20), MAX_RETRY);
    }

    #[test]
    fn stored_errors_are_one_bounded_line() {
        assert_eq!(one_line("a\r\nb"), "a  b");
        assert_eq!(one_line(&"x".repeat(1000)).len(), 300);
    }
}
