//! The mail outbox as the mail job sends it (`MailStore`). The statements are the same on
//! both databases except the claim ([`crate::Backend::MAIL_CLAIM`]: PostgreSQL skips rows
//! another transaction holds).

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::mail::NewMail;
use keyfleet_domain::outbox::{MailCounts, MailOutcome, MailState, MailStore, OutboxMail};
use keyfleet_domain::store::StoreResult;
use keyfleet_domain::{StoreError, Timestamp};

use crate::backend::Backend;
use crate::exec::{self, Arg, bytes, int, key, ms, text};
use crate::rows;
use crate::store::{SqlStore, commit, insert_audit};

/// The columns of `mail_outbox`, in the order the row reader expects them by name.
pub const MAIL_COLUMNS: &str = "id, shipment_id, kind, recipients, subject, body_sealed, state, attempts, \
     next_attempt_at, last_error, created_at, sent_at";

const INSERT: &str = "INSERT INTO mail_outbox (id, shipment_id, kind, recipients, subject, body_sealed, state, \
     attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)";
const SENT: &str = "UPDATE mail_outbox SET state = 'sent', sent_at = $3, body_sealed = $4, attempts = attempts + 1, \
     last_error = NULL, lease_owner = NULL, lease_until = NULL \
     WHERE id = $1 AND state = 'sending' AND lease_owner = $2";
const PIN_SENT: &str = "UPDATE shipments SET state = 'pinSent', updated_at = $2 WHERE id = $1 AND state = 'registered'";
const REFUSED: &str = "UPDATE mail_outbox SET state = 'pending', attempts = attempts + 1, next_attempt_at = $3, \
     last_error = $4, lease_owner = NULL, lease_until = NULL \
     WHERE id = $1 AND state = 'sending' AND lease_owner = $2";
const UNCERTAIN: &str = "UPDATE mail_outbox SET state = 'uncertain', attempts = attempts + 1, last_error = $3, \
     lease_owner = NULL, lease_until = NULL WHERE id = $1 AND state = 'sending' AND lease_owner = $2";
const STALE_UNCERTAIN: &str = "UPDATE mail_outbox SET state = 'uncertain', last_error = $3, lease_owner = NULL, \
     lease_until = NULL WHERE id = $1 AND state = 'sending' AND lease_until < $2";
const REQUEUE: &str = "UPDATE mail_outbox SET state = 'pending', next_attempt_at = $2 \
     WHERE id = $1 AND state IN ('uncertain', 'failed')";
const COUNTS: &str = "SELECT state, COUNT(*) AS n, SUM(CASE WHEN attempts >= $1 THEN 1 ELSE 0 END) AS failing \
     FROM mail_outbox GROUP BY state";

fn select(filter: &str) -> String {
    format!("SELECT {MAIL_COLUMNS} FROM mail_outbox {filter}")
}

#[async_trait]
impl<B: Backend> MailStore for SqlStore<B> {
    async fn enqueue_mail(&self, mail: &NewMail, audit: Option<&NewAuditEvent>) -> StoreResult<()> {
        let shipment = mail.shipment_id.map(|s| s.to_string());
        let recipients = mail.recipients.join("\n");
        let args = [
            text(&mail.id),
            Arg::Text(shipment.as_deref()),
            text(mail.kind.as_str()),
            text(&recipients),
            text(&mail.subject),
            bytes(&mail.body_sealed),
            ms(mail.created_at),
        ];
        let mut tx = self.begin().await?;
        exec::execute::<B>(&mut tx, INSERT, &args).await?;
        if let Some(a) = audit {
            insert_audit::<B>(&mut tx, a).await?;
        }
        commit::<B>(tx).await
    }

    async fn claim_mail(
        &self,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<OutboxMail>> {
        let mut tx = self.begin().await?;
        let row = exec::optional::<B>(&mut tx, B::MAIL_CLAIM, &[text(holder), ms(now), ms(lease_until)]).await?;
        let mail = row.as_ref().map(rows::outbox_mail::<B>).transpose()?;
        commit::<B>(tx).await?;
        Ok(mail)
    }

    async fn finish_mail(
        &self,
        id: &str,
        holder: &str,
        now: Timestamp,
        outcome: &MailOutcome,
        audit: Option<&NewAuditEvent>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let changed = match outcome {
            MailOutcome::Sent { shipment_to_pin_sent } => {
                let n = exec::execute::<B>(&mut tx, SENT, &[key(id), key(holder), ms(now), bytes(&[])]).await?;
                if n == 1
                    && let Some(s) = shipment_to_pin_sent
                {
                    let s = s.to_string();
                    exec::execute::<B>(&mut tx, PIN_SENT, &[key(&s), ms(now)]).await?;
                }
                n
            }
            MailOutcome::Refused { next_attempt_at, error } => {
                exec::execute::<B>(
                    &mut tx,
                    REFUSED,
                    &[key(id), key(holder), ms(*next_attempt_at), text(error)],
                )
                .await?
            }
            MailOutcome::Uncertain { error } => {
                exec::execute::<B>(&mut tx, UNCERTAIN, &[key(id), key(holder), text(error)]).await?
            }
        };
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(a) = audit {
            insert_audit::<B>(&mut tx, a).await?;
        }
        commit::<B>(tx).await
    }

    async fn stale_mail(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<OutboxMail>> {
        let sql = select("WHERE state = 'sending' AND lease_until < $1 ORDER BY id LIMIT $2");
        let found = exec::all::<B>(&mut *self.conn().await?, &sql, &[ms(now), int(i64::from(limit))]).await?;
        found.iter().map(rows::outbox_mail::<B>).collect()
    }

    async fn mark_mail_uncertain(
        &self,
        id: &str,
        now: Timestamp,
        error: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if exec::execute::<B>(&mut tx, STALE_UNCERTAIN, &[key(id), ms(now), text(error)]).await? == 0 {
            commit::<B>(tx).await?;
            return Ok(false);
        }
        insert_audit::<B>(&mut tx, audit).await?;
        commit::<B>(tx).await?;
        Ok(true)
    }

    async fn requeue_mail(&self, id: &str, now: Timestamp, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        if exec::execute::<B>(&mut tx, REQUEUE, &[key(id), ms(now)]).await? == 0 {
            return Err(StoreError::NotFound);
        }
        insert_audit::<B>(&mut tx, audit).await?;
        commit::<B>(tx).await
    }

    async fn get_mail(&self, id: &str) -> StoreResult<Option<OutboxMail>> {
        let sql = select("WHERE id = $1");
        let row = exec::optional::<B>(&mut *self.conn().await?, &sql, &[key(id)]).await?;
        row.as_ref().map(rows::outbox_mail::<B>).transpose()
    }

    async fn list_mail(&self, state: Option<MailState>, limit: u32) -> StoreResult<Vec<OutboxMail>> {
        let sql = select("WHERE ($1 IS NULL OR state = $1) ORDER BY created_at, id LIMIT $2");
        let state = state.map(MailState::as_str);
        let found = exec::all::<B>(
            &mut *self.conn().await?,
            &sql,
            &[Arg::Key(state), int(i64::from(limit))],
        )
        .await?;
        found.iter().map(rows::outbox_mail::<B>).collect()
    }

    async fn mail_counts(&self, alarm_after: u32) -> StoreResult<MailCounts> {
        let found = exec::all::<B>(&mut *self.conn().await?, COUNTS, &[int(i64::from(alarm_after))]).await?;
        let mut counts = MailCounts::default();
        for row in &found {
            let (state, n, failing) = rows::mail_state_count::<B>(row)?;
            match MailState::parse(&state) {
                Some(MailState::Pending) => {
                    counts.pending = n;
                    counts.failing = failing;
                }
                Some(MailState::Sending) => counts.sending = n,
                Some(MailState::Sent) => counts.sent = n,
                Some(MailState::Uncertain) => counts.uncertain = n,
                _ => counts.other += n,
            }
        }
        Ok(counts)
    }
}
