-- Creation options issued on behalf of a user (PostgreSQL). Kept in step with
-- store-sqlite/migrations/0014_onbehalf_options.sql. (0013 is another change's.)

-- Options an administrator or an API client asked for so that a key can be registered for a
-- named user (the key factory programs it; the attestation comes back later). Bound to the
-- caller and the user; found again by the challenge, which is single-use: registering the key
-- or any failure deletes the row. `expected_aaguid` is the model ordered (NULL: any).
CREATE TABLE onbehalf_options (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    caller          TEXT NOT NULL,
    challenge       BYTEA NOT NULL CONSTRAINT onbehalf_options_challenge_key UNIQUE,
    rp_id           TEXT NOT NULL,
    expected_aaguid BYTEA CHECK (expected_aaguid IS NULL OR octet_length(expected_aaguid) = 16),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX onbehalf_options_user_idx ON onbehalf_options (user_id);
CREATE INDEX onbehalf_options_expires_idx ON onbehalf_options (expires_at);
