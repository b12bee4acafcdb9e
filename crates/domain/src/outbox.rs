//! Sending the mail outbox ([`crate::mail`]): a queued message's states, one send attempt's
//! outcome, and the store calls the mail job makes.
//!
//! At most one delivered message per row: a row is claimed (`pending` to `sending`, with a
//! lease naming the process) before its SMTP transaction starts, and the outcome is recorded
//! only by the lease holder. A definite refusal puts it back to `pending` with a backoff; an
//! outcome nobody can know (the connection lost after the message was handed over, or the
//! process gone while the row was `sending`) makes it `uncertain`: never sent again by
//! itself, shown to an administrator, who may queue it again.

use async_trait::async_trait;

use crate::Timestamp;
use crate::audit::NewAuditEvent;
use crate::ids::ShipmentId;
use crate::mail::MailKind;
use crate::store::StoreResult;

/// Where a queued message stands (stored as text in `mail_outbox.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailState {
    /// Waiting to be sent (again) at `next_attempt_at`.
    Pending,
    /// Claimed by a process, whose SMTP transaction may be under way.
    Sending,
    /// Accepted by the SMTP server; its body is emptied.
    Sent,
    /// Given up on (kept for the record; not used by the job).
    Failed,
    /// Maybe delivered, maybe not: never sent again unless an administrator asks.
    Uncertain,
    /// Not to be sent.
    Cancelled,
}

impl MailState {
    /// Every state.
    pub const ALL: [MailState; 6] = [
        MailState::Pending,
        MailState::Sending,
        MailState::Sent,
        MailState::Failed,
        MailState::Uncertain,
        MailState::Cancelled,
    ];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            MailState::Pending => "pending",
            MailState::Sending => "sending",
            MailState::Sent => "sent",
            MailState::Failed => "failed",
            MailState::Uncertain => "uncertain",
            MailState::Cancelled => "cancelled",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// A row of the outbox as read back. Its `Debug` never shows the sealed body.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxMail {
    /// The row id and idempotency key.
    pub id: String,
    /// The shipment it reports, if any.
    pub shipment_id: Option<ShipmentId>,
    /// What it is for.
    pub kind: MailKind,
    /// Where it goes.
    pub recipients: Vec<String>,
    /// Its subject.
    pub subject: String,
    /// Its body sealed under the master key (empty once sent).
    pub body_sealed: Vec<u8>,
    /// Where it stands.
    pub state: MailState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (`pending`).
    pub next_attempt_at: Timestamp,
    /// Why the last attempt did not deliver it (one line; never the body).
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: Timestamp,
    /// When the SMTP server accepted it.
    pub sent_at: Option<Timestamp>,
}

impl std::fmt::Debug for OutboxMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMail")
            .field("id", &self.id)
            .field("shipment_id", &self.shipment_id)
            .field("kind", &self.kind)
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

/// How one send attempt ended, as the lease holder records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailOutcome {
    /// The server accepted the message: `sent`, body emptied; when `shipment_to_pin_sent`
    /// names a shipment still `registered`, it becomes `pinSent` in the same transaction.
    Sent {
        /// The shipment whose PIN this message carried.
        shipment_to_pin_sent: Option<ShipmentId>,
    },
    /// The server refused it, or was not reached, before the message was handed over:
    /// `pending` again at `next_attempt_at`.
    Refused {
        /// When to try again.
        next_attempt_at: Timestamp,
        /// Why (one line; never the body).
        error: String,
    },
    /// The message was handed over but no answer came: `uncertain`.
    Uncertain {
        /// What happened (one line).
        error: String,
    },
}

/// How many messages are in each state; `failing`: pending ones that failed at least the
/// alarm's number of times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailCounts {
    /// `pending`.
    pub pending: u64,
    /// `sending`.
    pub sending: u64,
    /// `sent`.
    pub sent: u64,
    /// `uncertain`: waiting for an administrator.
    pub uncertain: u64,
    /// `failed` or `cancelled`.
    pub other: u64,
    /// Pending after at least the alarm's number of failed attempts.
    pub failing: u64,
}

/// The outbox as the mail job sees it. Queuing is done by whoever reports a change, in its
/// own transaction; [`MailStore::enqueue_mail`] queues a message on its own.
#[async_trait]
pub trait MailStore: Send + Sync {
    /// Queues `mail` (`pending`, due at its `created_at`), with `audit` when given.
    async fn enqueue_mail(&self, mail: &crate::mail::NewMail, audit: Option<&NewAuditEvent>) -> StoreResult<()>;

    /// Claims the pending message due soonest (due at or before `now`): `sending`, leased to
    /// `holder` until `lease_until`. Two processes never claim the same row.
    async fn claim_mail(&self, holder: &str, now: Timestamp, lease_until: Timestamp)
    -> StoreResult<Option<OutboxMail>>;

    /// Records how `holder`'s attempt at `id` ended (with `audit` in the same transaction).
    /// `NotFound` when the row is no longer `sending` under `holder`'s lease (taken over).
    async fn finish_mail(
        &self,
        id: &str,
        holder: &str,
        now: Timestamp,
        outcome: &MailOutcome,
        audit: Option<&NewAuditEvent>,
    ) -> StoreResult<()>;

    /// Messages `sending` whose lease ended before `now` (their process stopped), at most
    /// `limit`.
    async fn stale_mail(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<OutboxMail>>;

    /// Makes a stale `sending` message `uncertain` (its lease ended before `now`), with
    /// `audit`; `false` when it is no longer stale.
    async fn mark_mail_uncertain(
        &self,
        id: &str,
        now: Timestamp,
        error: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool>;

    /// An administrator's resend: an `uncertain` or `failed` message becomes `pending`, due
    /// at `now`. `NotFound` when there is no such message in one of those states.
    async fn requeue_mail(&self, id: &str, now: Timestamp, audit: &NewAuditEvent) -> StoreResult<()>;

    /// One message.
    async fn get_mail(&self, id: &str) -> StoreResult<Option<OutboxMail>>;

    /// Messages in `state` (every state when `None`), oldest first, at most `limit`.
    async fn list_mail(&self, state: Option<MailState>, limit: u32) -> StoreResult<Vec<OutboxMail>>;

    /// The counts per state; `failing` counts pending messages with `attempts >= alarm_after`.
    async fn mail_counts(&self, alarm_after: u32) -> StoreResult<MailCounts>;
}
