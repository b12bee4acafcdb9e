-- Single sign-on, the protocol's second half (SQLite). Kept in step with
-- store-postgres/migrations/0015_oidc_protocol.sql.

-- OpenID Connect Back-Channel Logout 1.0: one row per grant whose session ended while its
-- application had a back-channel logout URI, written in the same transaction as the grant's
-- revocation. The delivery job posts a logout token for each due row and retries with backoff;
-- `next_attempt_at` is NULL once the row was delivered or given up on. A row outlives its
-- grant (a deleted user's grants go with them; the applications are still told), not its
-- application.
CREATE TABLE oidc_logout_outbox (
    grant_id        TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL REFERENCES oidc_applications (client_id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER,
    delivered_at    INTEGER,
    failed_at       INTEGER,
    last_error      TEXT
) STRICT;
CREATE INDEX oidc_logout_outbox_due_idx ON oidc_logout_outbox (next_attempt_at);

-- An application's earlier secrets during a rotation's overlap (the current one stays in
-- oidc_applications.secret_hash): each works until its expiry.
CREATE TABLE oidc_application_secrets (
    client_id   TEXT NOT NULL REFERENCES oidc_applications (client_id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (client_id, secret_hash)
) STRICT;

-- private_key_jwt (RFC 7523): an application that registered its public keys (a JWK Set, as
-- JSON) authenticates with a signed assertion instead of its secret.
ALTER TABLE oidc_applications ADD COLUMN jwks TEXT;

-- The assertions' `jti`s, each accepted once until its `exp`.
CREATE TABLE oidc_client_assertions (
    client_id  TEXT NOT NULL REFERENCES oidc_applications (client_id) ON DELETE CASCADE,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
) STRICT;

-- Signing-key rotation: a new key is published (in the JWKS) from its creation and signs only
-- from `activates_at`; the key it replaces is retired then and stays published until every
-- token it signed has expired.
ALTER TABLE signing_keys ADD COLUMN activates_at INTEGER;
ALTER TABLE signing_keys ADD COLUMN retired_at INTEGER;
