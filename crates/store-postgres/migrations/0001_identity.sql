-- keyfleet identity schema (PostgreSQL). Kept in step with store-sqlite/migrations/0001_identity.sql.
-- Times are BIGINT milliseconds since the epoch, ids are UUID text. Text that is sorted or
-- compared for paging uses the "C" collation, so order is bytewise, as in SQLite.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id               TEXT PRIMARY KEY,
    username         TEXT COLLATE "C" NOT NULL CONSTRAINT users_username_key UNIQUE,
    display_name     TEXT NOT NULL,
    email            TEXT NOT NULL,
    manager_email    TEXT,
    shipping_address TEXT,
    enabled          BOOLEAN NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('admin', 'helpdesk', 'worker')),
    user_handle      BYTEA NOT NULL CONSTRAINT users_user_handle_key UNIQUE,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

CREATE TABLE user_groups (
    id          TEXT PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL,
    name_key    TEXT COLLATE "C" NOT NULL CONSTRAINT user_groups_name_key_key UNIQUE,
    description TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user_idx ON group_members (user_id);

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    token_hash      BYTEA NOT NULL CONSTRAINT sessions_token_hash_key UNIQUE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('full', 'tap')),
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    idle_timeout_ms BIGINT NOT NULL,
    client_addr     TEXT,
    credential_id   BYTEA,
    revoked_at      BIGINT
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- At most one TAP per user: issuing a new one replaces the old row.
CREATE TABLE taps (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL CONSTRAINT taps_user_id_key UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    code_hash  BYTEA NOT NULL,
    one_time   BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    use_count  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE api_clients (
    client_id  TEXT PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL,
    scopes     TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE client_secrets (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES api_clients (client_id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT
);
CREATE INDEX client_secrets_client_idx ON client_secrets (client_id);

CREATE TABLE signing_keys (
    kid                   TEXT PRIMARY KEY,
    alg                   TEXT NOT NULL,
    encrypted_private_key BYTEA NOT NULL,
    public_key            BYTEA NOT NULL,
    created_at            BIGINT NOT NULL,
    active                BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (active) WHERE active;

-- Append-only: users appear here only as text, so deleting a user keeps their history.
CREATE TABLE audit_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT,
    outcome    TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    request_id TEXT,
    detail     TEXT
);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, id);
CREATE INDEX audit_events_target_idx ON audit_events (target, id);
CREATE INDEX audit_events_at_idx ON audit_events (at);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

CREATE TABLE rate_limits (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL
);
