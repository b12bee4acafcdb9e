-- Authentication strengths and what a session's sign-in showed (PostgreSQL). Kept in step
-- with store-sqlite/migrations/0009_authentication_strengths.sql. (0008 is another change's.)

-- Whether the sign-in that opened a session verified its user (the UV flag): authentication
-- strengths and ID tokens' `amr` are decided from it. Sessions opened before this migration
-- count as unverified, the safe reading.
ALTER TABLE sessions ADD COLUMN user_verified BOOLEAN NOT NULL DEFAULT FALSE;

-- The administrators' own strengths (the two built-in ones live in the code). Names and acr
-- values are unique: an acr asked for by an application names one strength.
CREATE TABLE authentication_strengths (
    id                        TEXT PRIMARY KEY NOT NULL,
    name                      TEXT NOT NULL CONSTRAINT authentication_strengths_name_key UNIQUE,
    acr                       TEXT NOT NULL CONSTRAINT authentication_strengths_acr_key UNIQUE,
    require_user_verification BOOLEAN NOT NULL,
    require_attestation       BOOLEAN NOT NULL,
    allow_synced              BOOLEAN NOT NULL,
    -- 16-byte AAGUIDs (the store's list encoding); empty: any model (an allow list is never
    -- empty).
    allowed_aaguids           BYTEA[] NOT NULL,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);
