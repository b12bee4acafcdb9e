-- The mail outbox (PostgreSQL). Kept in step with store-sqlite/migrations/0017_mail_outbox.sql.
--
-- A message is queued in the same transaction as the change it reports (a key registered for
-- a shipment: its PIN email), and sent afterwards by the mail job. The row's id is the
-- message's idempotency key (its Message-ID), so a retry after a partial send can be told
-- apart from a new message. The body is sealed under the master key (it may hold a PIN) and
-- emptied once the message is sent.
CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY NOT NULL,
    shipment_id     TEXT REFERENCES shipments (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    recipients      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_sealed     BYTEA NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'uncertain', 'cancelled')),
    attempts        BIGINT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (state, next_attempt_at);
CREATE INDEX mail_outbox_shipment_idx ON mail_outbox (shipment_id);
