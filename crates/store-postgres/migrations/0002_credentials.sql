-- WebAuthn credentials and ceremonies (PostgreSQL). Kept in step with
-- store-sqlite/migrations/0002_credentials.sql.

-- The credential id is the primary key: unique across all users (WebAuthn L3 §7.1 step 25).
CREATE TABLE credentials (
    id                 BYTEA PRIMARY KEY CHECK (octet_length(id) BETWEEN 1 AND 1023),
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    public_key         BYTEA NOT NULL,
    alg                BIGINT NOT NULL,
    sign_count         BIGINT NOT NULL CHECK (sign_count BETWEEN 0 AND 4294967295),
    aaguid             BYTEA NOT NULL CHECK (octet_length(aaguid) = 16),
    transports         TEXT[] NOT NULL,
    backup_eligible    BOOLEAN NOT NULL,
    backup_state       BOOLEAN NOT NULL,
    uv_initialized     BOOLEAN NOT NULL,
    attestation_format TEXT NOT NULL,
    attestation_trust  TEXT NOT NULL,
    attestation_object BYTEA NOT NULL,
    nickname           TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    last_used_at       BIGINT,
    possibly_cloned    BOOLEAN NOT NULL
);
CREATE INDEX credentials_user_idx ON credentials (user_id, created_at);

-- A ceremony lives from its options until its response is verified (or it expires). The
-- session is not a foreign key: ceremonies are short-lived and purged on their own.
CREATE TABLE ceremonies (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL CHECK (kind IN ('registration', 'authentication')),
    challenge         BYTEA NOT NULL,
    user_id           TEXT REFERENCES users (id) ON DELETE CASCADE,
    session_id        TEXT,
    rp_id             TEXT NOT NULL,
    user_verification TEXT NOT NULL,
    allow_credentials BYTEA[] NOT NULL,
    params            TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL
);
CREATE INDEX ceremonies_expires_idx ON ceremonies (expires_at);
CREATE INDEX ceremonies_user_idx ON ceremonies (user_id);

-- "I lost this key": find the sessions a credential opened.
CREATE INDEX sessions_credential_idx ON sessions (credential_id);
