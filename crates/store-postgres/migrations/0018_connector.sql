-- The pre-registration connector's columns on key orders (PostgreSQL). Kept in step with
-- store-sqlite/migrations/0018_connector.sql.
--
-- What an order asks for (pin_length, emails_to, shipping_address, delivery_type), what the
-- connector prepared before submitting it (options_id: the on-behalf creation options;
-- response_key_sealed: the P-256 key the factory encrypts its answers to, sealed under the
-- master key; request_sealed: the body sent, sealed, so that a retry resends it unchanged
-- under the same idempotency key), what it received (pin_sealed: the PIN, sealed under the master key until the
-- order is cleaned up, for a resend), and its work bookkeeping: a lease (lease_owner,
-- lease_until: database-clock milliseconds), the retry backoff (next_attempt_at) and when a
-- run last looked at it (checked_at), so that one run looks at each order once.
ALTER TABLE shipments ADD COLUMN pin_length BIGINT NOT NULL DEFAULT 8;
ALTER TABLE shipments ADD COLUMN emails_to TEXT NOT NULL DEFAULT '';
ALTER TABLE shipments ADD COLUMN shipping_address TEXT;
ALTER TABLE shipments ADD COLUMN delivery_type TEXT NOT NULL DEFAULT 'standard';
ALTER TABLE shipments ADD COLUMN options_id TEXT;
ALTER TABLE shipments ADD COLUMN response_key_sealed BYTEA;
ALTER TABLE shipments ADD COLUMN request_sealed BYTEA;
ALTER TABLE shipments ADD COLUMN pin_sealed BYTEA;
ALTER TABLE shipments ADD COLUMN next_attempt_at BIGINT;
ALTER TABLE shipments ADD COLUMN lease_owner TEXT;
ALTER TABLE shipments ADD COLUMN lease_until BIGINT;
ALTER TABLE shipments ADD COLUMN checked_at BIGINT;
