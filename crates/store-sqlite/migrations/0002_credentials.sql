-- WebAuthn credentials and ceremonies (SQLite). Kept in step with
-- store-postgres/migrations/0002_credentials.sql.
-- List columns (transports, allowed credential ids) are BLOBs of length-prefixed items:
-- each item is its byte length as 4 big-endian bytes followed by its bytes.

-- The credential id is the primary key: unique across all users (WebAuthn L3 §7.1 step 25).
CREATE TABLE credentials (
    id                 BLOB PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 1023),
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    public_key         BLOB NOT NULL,
    alg                INTEGER NOT NULL,
    sign_count         INTEGER NOT NULL CHECK (sign_count BETWEEN 0 AND 4294967295),
    aaguid             BLOB NOT NULL CHECK (length(aaguid) = 16),
    transports         BLOB NOT NULL,
    backup_eligible    INTEGER NOT NULL CHECK (backup_eligible IN (0, 1)),
    backup_state       INTEGER NOT NULL CHECK (backup_state IN (0, 1)),
    uv_initialized     INTEGER NOT NULL CHECK (uv_initialized IN (0, 1)),
    attestation_format TEXT NOT NULL,
    attestation_trust  TEXT NOT NULL,
    attestation_object BLOB NOT NULL,
    nickname           TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    last_used_at       INTEGER,
    possibly_cloned    INTEGER NOT NULL CHECK (possibly_cloned IN (0, 1))
) STRICT;
CREATE INDEX credentials_user_idx ON credentials (user_id, created_at);

-- A ceremony lives from its options until its response is verified (or it expires). The
-- session is not a foreign key: ceremonies are short-lived and purged on their own.
CREATE TABLE ceremonies (
    id                TEXT PRIMARY KEY NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('registration', 'authentication')),
    challenge         BLOB NOT NULL,
    user_id           TEXT REFERENCES users (id) ON DELETE CASCADE,
    session_id        TEXT,
    rp_id             TEXT NOT NULL,
    user_verification TEXT NOT NULL,
    allow_credentials BLOB NOT NULL,
    params            TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX ceremonies_expires_idx ON ceremonies (expires_at);
CREATE INDEX ceremonies_user_idx ON ceremonies (user_id);

-- "I lost this key": find the sessions a credential opened.
CREATE INDEX sessions_credential_idx ON sessions (credential_id);
