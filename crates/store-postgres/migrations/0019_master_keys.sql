-- The master-key ring and secret settings (PostgreSQL). Kept in step with
-- store-sqlite/migrations/0019_master_keys.sql. docs/secrets.md tells the design.
--
-- The configured master key (master_key / master_key_file, key id 0) wraps the data keys
-- here. The one 'current' key encrypts; 'previous' keys still decrypt until the
-- re-encryption job has rewritten every ciphertext under the current one; then they are
-- 'retired' and their wrapped bytes erased.
CREATE TABLE master_keys (
    id         BIGINT PRIMARY KEY NOT NULL CHECK (id > 0),
    wrapped    BYTEA NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('current', 'previous', 'retired')),
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
CREATE UNIQUE INDEX master_keys_one_current ON master_keys (state) WHERE state = 'current';

-- Secrets set through the CLI rather than the configuration (smtp_password, factory_token),
-- sealed under the master key with the associated data 'secret_settings:' || name.
CREATE TABLE secret_settings (
    name         TEXT PRIMARY KEY NOT NULL,
    value_sealed BYTEA NOT NULL,
    updated_at   BIGINT NOT NULL
);
