-- Authenticator metadata (SQLite). Kept in step with store-postgres/migrations/0007_metadata.sql.
-- (0006 is another change's.)

-- The last good FIDO Metadata Service BLOB: one row, replaced only by a BLOB with a greater
-- `no` (the conditional upsert decides, in the transaction that also replaces the entries).
CREATE TABLE metadata_blob (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    no          BIGINT NOT NULL CHECK (no >= 0),
    next_update TEXT NOT NULL,
    entry_count BIGINT NOT NULL,
    imported_at BIGINT NOT NULL,
    verified_at BIGINT NOT NULL,
    revocation  TEXT NOT NULL CHECK (revocation IN ('crl', 'offline')),
    blob        BLOB NOT NULL
);

-- One row per AAGUID: the BLOB's entries and keyfleet's own (source 'local'), looked up at
-- registration for the attestation roots and the latest status.
CREATE TABLE metadata_entries (
    aaguid              BLOB PRIMARY KEY CHECK (length(aaguid) = 16),
    description         TEXT NOT NULL,
    status              TEXT,
    status_date         TEXT,
    certification_level TEXT,
    compromised         INTEGER NOT NULL,
    attestation_roots   BLOB NOT NULL,
    icon                TEXT,
    source              TEXT NOT NULL CHECK (source IN ('mds', 'local'))
);
