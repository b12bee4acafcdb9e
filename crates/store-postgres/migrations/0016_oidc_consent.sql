-- Consent to third-party applications (PostgreSQL). Kept in step with
-- store-sqlite/migrations/0016_oidc_consent.sql.

-- A third-party application shows its users a consent screen; a first-party one does not.
ALTER TABLE oidc_applications ADD COLUMN third_party BOOLEAN NOT NULL DEFAULT FALSE;

-- What a user agreed that an application may learn (its scopes), until revoked.
CREATE TABLE oidc_consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES oidc_applications (client_id) ON DELETE CASCADE,
    scopes     TEXT[] NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX oidc_consents_client_idx ON oidc_consents (client_id);
