-- Group policies (PostgreSQL). Kept in step with store-sqlite/migrations/0008_policies.sql.

-- One row per policy. The built-in default policy (the global settings) is not stored.
CREATE TABLE policies (
    id                        TEXT PRIMARY KEY,
    name                      TEXT COLLATE "C" NOT NULL,
    name_key                  TEXT COLLATE "C" NOT NULL CONSTRAINT policies_name_key_key UNIQUE,
    include_all               BOOLEAN NOT NULL,
    self_service_registration BOOLEAN NOT NULL,
    user_verification         TEXT NOT NULL CHECK (user_verification IN ('required', 'preferred', 'discouraged')),
    attestation               TEXT NOT NULL CHECK (attestation IN ('none', 'required')),
    allow_device_bound        BOOLEAN NOT NULL,
    allow_synced              BOOLEAN NOT NULL,
    enforcement               TEXT CHECK (enforcement IN ('allow', 'block')),
    aaguids                   BYTEA[] NOT NULL,
    block_compromised_models  BOOLEAN NOT NULL,
    max_keys_per_user         BIGINT CHECK (max_keys_per_user BETWEEN 1 AND 100),
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);

-- The groups a policy includes or excludes. Deleting a group removes it from the policies
-- that name it.
CREATE TABLE policy_groups (
    policy_id TEXT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    group_id  TEXT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    kind      TEXT NOT NULL CHECK (kind IN ('include', 'exclude')),
    PRIMARY KEY (policy_id, group_id)
);
CREATE INDEX policy_groups_group_idx ON policy_groups (group_id);
