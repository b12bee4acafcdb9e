//! The mail outbox: messages queued in the same transaction as the change they report, sent
//! afterwards by the mail job (migration 0017, `mail_outbox`).
//!
//! A queued message's id is its idempotency key (the Message-ID it is sent with), so a retry
//! after a partial send is recognisable as the same message. Its body is sealed under the
//! master key (a PIN email holds a PIN) and emptied once the message is sent.
//!
//! The body's associated data is `b"mail_outbox.body:"` followed by the id's bytes
//! (`keyfleet_domain::keyring::MAIL_BODIES.aad(id)`): `MasterKey::encrypt(body,
//! &MAIL_BODIES.aad(&id))` when queuing; the mail job and the re-encryption job open it so.
//! Recipients are stored one per line. Sending: `crate::outbox`, docs/mail.md.

use crate::Timestamp;
use crate::ids::ShipmentId;

/// What a queued message is for (stored as text in `mail_outbox.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// The PIN of a key registered for a shipment.
    ShipmentPin,
    /// The same PIN again, on an administrator's request.
    ShipmentPinResend,
}

impl MailKind {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::ShipmentPin => "shipment_pin",
            MailKind::ShipmentPinResend => "shipment_pin_resend",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "shipment_pin" => Some(MailKind::ShipmentPin),
            "shipment_pin_resend" => Some(MailKind::ShipmentPinResend),
            _ => None,
        }
    }
}

/// A message to queue. Its `Debug` never shows the sealed body.
#[derive(Clone, PartialEq, Eq)]
pub struct NewMail {
    /// The row id and idempotency key (a UUID).
    pub id: String,
    /// The shipment it reports, if any.
    pub shipment_id: Option<ShipmentId>,
    /// What it is for.
    pub kind: MailKind,
    /// Where it goes (validated addresses).
    pub recipients: Vec<String>,
    /// Its subject (never a secret).
    pub subject: String,
    /// Its body, sealed under the master key.
    pub body_sealed: Vec<u8>,
    /// When it was queued (also its first due time).
    pub created_at: Timestamp,
}

impl std::fmt::Debug for NewMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMail")
            .field("id", &self.id)
            .field("shipment_id", &self.shipment_id)
            .field("kind", &self.kind)
            .field("recipients", &self.recipients)
            .field("subject", &self.subject)
            .field("body_sealed", &"..")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// `mail_outbox.recipients` as stored: one address per line (a validated address holds no
/// line break).
pub fn recipients_text(recipients: &[String]) -> String {
    recipients.join("\n")
}

/// The addresses of a stored `mail_outbox.recipients`.
pub fn parse_recipients(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}
