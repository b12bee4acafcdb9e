-- Group policies (SQLite). Kept in step with store-postgres/migrations/0008_policies.sql.

-- One row per policy. The built-in default policy (the global settings) is not stored.
CREATE TABLE policies (
    id                        TEXT PRIMARY KEY NOT NULL,
    name                      TEXT NOT NULL,
    name_key                  TEXT NOT NULL CONSTRAINT policies_name_key_key UNIQUE,
    include_all               INTEGER NOT NULL CHECK (include_all IN (0, 1)),
    self_service_registration INTEGER NOT NULL CHECK (self_service_registration IN (0, 1)),
    user_verification         TEXT NOT NULL CHECK (user_verification IN ('required', 'preferred', 'discouraged')),
    attestation               TEXT NOT NULL CHECK (attestation IN ('none', 'required')),
    allow_device_bound        INTEGER NOT NULL CHECK (allow_device_bound IN (0, 1)),
    allow_synced              INTEGER NOT NULL CHECK (allow_synced IN (0, 1)),
    enforcement               TEXT CHECK (enforcement IN ('allow', 'block')),
    aaguids                   BLOB NOT NULL,
    block_compromised_models  INTEGER NOT NULL CHECK (block_compromised_models IN (0, 1)),
    max_keys_per_user         INTEGER CHECK (max_keys_per_user BETWEEN 1 AND 100),
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
) STRICT;

-- The groups a policy includes or excludes. Deleting a group removes it from the policies
-- that name it.
CREATE TABLE policy_groups (
    policy_id TEXT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    group_id  TEXT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    kind      TEXT NOT NULL CHECK (kind IN ('include', 'exclude')),
    PRIMARY KEY (policy_id, group_id)
) STRICT;
CREATE INDEX policy_groups_group_idx ON policy_groups (group_id);
