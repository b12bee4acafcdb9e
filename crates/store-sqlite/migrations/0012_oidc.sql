-- Single sign-on (SQLite). Kept in step with store-postgres/migrations/0012_oidc.sql.

-- The applications that sign their users in through keyfleet (OpenID Connect relying parties).
-- Redirect URIs are compared as exact strings; a secret is stored only as a keyed digest.
CREATE TABLE oidc_applications (
    client_id                 TEXT PRIMARY KEY NOT NULL,
    name                      TEXT NOT NULL,
    client_type               TEXT NOT NULL CHECK (client_type IN ('confidential', 'public')),
    secret_hash               TEXT,
    redirect_uris             BLOB NOT NULL,
    post_logout_redirect_uris BLOB NOT NULL,
    scopes                    BLOB NOT NULL,
    access_token_lifetime_s   INTEGER NOT NULL,
    refresh_token_lifetime_s  INTEGER NOT NULL,
    authentication_strength   TEXT,
    backchannel_logout_uri    TEXT,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL,
    CHECK ((client_type = 'confidential') = (secret_hash IS NOT NULL))
) STRICT;

-- One sign-in of a user to an application: the authorization code (as a digest) and the
-- family of tokens issued from it. Revoking the row ends every token of the family.
CREATE TABLE oidc_grants (
    id              TEXT PRIMARY KEY NOT NULL,
    code_hash       BLOB NOT NULL CONSTRAINT oidc_grants_code_hash_key UNIQUE,
    client_id       TEXT NOT NULL REFERENCES oidc_applications (client_id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id      TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    scope           TEXT NOT NULL,
    nonce           TEXT,
    code_challenge  TEXT NOT NULL,
    auth_time       INTEGER NOT NULL,
    amr             TEXT NOT NULL,
    acr             TEXT,
    created_at      INTEGER NOT NULL,
    code_expires_at INTEGER NOT NULL,
    code_used_at    INTEGER,
    revoked_at      INTEGER
) STRICT;
CREATE INDEX oidc_grants_session_idx ON oidc_grants (session_id);
CREATE INDEX oidc_grants_user_idx ON oidc_grants (user_id);
CREATE INDEX oidc_grants_client_idx ON oidc_grants (client_id);

-- Refresh tokens (as digests), rotated on every use; a used one presented again revokes its grant.
CREATE TABLE oidc_refresh_tokens (
    token_hash BLOB PRIMARY KEY NOT NULL,
    grant_id   TEXT NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX oidc_refresh_tokens_grant_idx ON oidc_refresh_tokens (grant_id);
