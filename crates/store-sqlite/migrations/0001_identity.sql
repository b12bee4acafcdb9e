-- keyfleet identity schema (SQLite). Kept in step with store-postgres/migrations/0001_identity.sql.
-- Times are INTEGER milliseconds since the epoch, ids are UUID text, booleans are 0/1.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    id               TEXT PRIMARY KEY NOT NULL,
    username         TEXT NOT NULL CONSTRAINT users_username_key UNIQUE,
    display_name     TEXT NOT NULL,
    email            TEXT NOT NULL,
    manager_email    TEXT,
    shipping_address TEXT,
    enabled          INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    role             TEXT NOT NULL CHECK (role IN ('admin', 'helpdesk', 'worker')),
    user_handle      BLOB NOT NULL CONSTRAINT users_user_handle_key UNIQUE,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;

CREATE TABLE user_groups (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL CONSTRAINT user_groups_name_key_key UNIQUE,
    description TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) STRICT;
CREATE INDEX group_members_user_idx ON group_members (user_id);

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY NOT NULL,
    token_hash      BLOB NOT NULL CONSTRAINT sessions_token_hash_key UNIQUE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('full', 'tap')),
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    idle_timeout_ms INTEGER NOT NULL,
    client_addr     TEXT,
    credential_id   BLOB,
    revoked_at      INTEGER
) STRICT;
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- At most one TAP per user: issuing a new one replaces the old row.
CREATE TABLE taps (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL CONSTRAINT taps_user_id_key UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    code_hash  BLOB NOT NULL,
    one_time   INTEGER NOT NULL CHECK (one_time IN (0, 1)),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    use_count  INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE api_clients (
    client_id  TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    enabled    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE client_secrets (
    id          TEXT PRIMARY KEY NOT NULL,
    client_id   TEXT NOT NULL REFERENCES api_clients (client_id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
) STRICT;
CREATE INDEX client_secrets_client_idx ON client_secrets (client_id);

CREATE TABLE signing_keys (
    kid                   TEXT PRIMARY KEY NOT NULL,
    alg                   TEXT NOT NULL,
    encrypted_private_key BLOB NOT NULL,
    public_key            BLOB NOT NULL,
    created_at            INTEGER NOT NULL,
    active                INTEGER NOT NULL CHECK (active IN (0, 1))
) STRICT;
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (active) WHERE active = 1;

-- Append-only: users appear here only as text, so deleting a user keeps their history.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT,
    outcome    TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    request_id TEXT,
    detail     TEXT
) STRICT;
CREATE INDEX audit_events_actor_idx ON audit_events (actor, id);
CREATE INDEX audit_events_target_idx ON audit_events (target, id);
CREATE INDEX audit_events_at_idx ON audit_events (at);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TABLE rate_limits (
    key          TEXT PRIMARY KEY NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL
) STRICT;
