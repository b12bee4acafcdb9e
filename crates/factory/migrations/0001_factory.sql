-- The key factory's own database (SQLite). Times are Unix seconds (UTC).

-- API tokens: only a SHA-256 digest of each 256-bit random token is kept.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    digest BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- Published JOSE keys (the private halves are files in the factory directory).
CREATE TABLE jose_keys (
    kid TEXT PRIMARY KEY,
    purpose TEXT NOT NULL CHECK (purpose IN ('transport', 'sign')),
    public_jwk TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
);

-- Shipments. credential_requests (JWEs to the transport key, holding the challenges) is
-- erased when the shipment is programmed, failed or cancelled; the PIN is never stored.
CREATE TABLE shipments (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('received', 'locked', 'programmed', 'shipped', 'delivered', 'cancelled', 'failed')),
    model TEXT NOT NULL,
    recipient TEXT NOT NULL,
    address TEXT NOT NULL,
    delivery_type TEXT NOT NULL,
    pin_length INTEGER NOT NULL CHECK (pin_length BETWEEN 4 AND 63),
    request_count INTEGER NOT NULL,
    credential_requests TEXT,
    response_key TEXT NOT NULL,
    token_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    shipped_at INTEGER,
    tracking_number TEXT UNIQUE,
    serial_number TEXT,
    firmware_version TEXT,
    pin_response TEXT,
    credential_responses TEXT,
    failure TEXT
);
CREATE INDEX shipments_state ON shipments (state, created_at);

-- The factory's audit log: append-only.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    shipment_id TEXT,
    detail TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
