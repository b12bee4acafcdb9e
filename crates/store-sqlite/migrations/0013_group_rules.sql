-- Group rules, key orders (shipments) and keys flagged for collection (SQLite). Kept in step
-- with store-postgres/migrations/0013_group_rules.sql.

-- "Members of group G get a key of model M": one rule per group and model.
CREATE TABLE group_rules (
    id         TEXT PRIMARY KEY NOT NULL,
    group_id   TEXT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    model      TEXT NOT NULL,
    approval   TEXT NOT NULL CHECK (approval IN ('required', 'automatic')),
    enabled    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CONSTRAINT group_rules_group_model_key UNIQUE (group_id, model)
) STRICT;

-- Key orders. The connector (issue 15) moves them on from 'requested'. rule_id is kept when
-- the rule is deleted (the order's history names it).
CREATE TABLE shipments (
    id                  TEXT PRIMARY KEY NOT NULL,
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    model               TEXT NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('pendingApproval', 'requested', 'submitted', 'shipped',
                            'registered', 'pinSent', 'complete', 'cancelled', 'failed', 'needsAttention')),
    rule_id             TEXT,
    factory_shipment_id TEXT,
    tracking_number     TEXT,
    serial_number       TEXT,
    credential_id       BLOB,
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error          TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) STRICT;
-- At most one open order per user and rule: a replayed PATCH or a re-added member cannot
-- order twice, whichever process handles it.
CREATE UNIQUE INDEX shipments_open_rule_key ON shipments (user_id, rule_id)
    WHERE rule_id IS NOT NULL AND state NOT IN ('complete', 'cancelled', 'failed');
CREATE INDEX shipments_user_idx ON shipments (user_id, created_at);
CREATE INDEX shipments_state_idx ON shipments (state, created_at);

-- Keys their holders are asked to hand back; the flag goes with the key.
CREATE TABLE credential_collections (
    credential_id BLOB PRIMARY KEY NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason        TEXT NOT NULL,
    rule_id       TEXT,
    requested_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX credential_collections_user_idx ON credential_collections (user_id);
