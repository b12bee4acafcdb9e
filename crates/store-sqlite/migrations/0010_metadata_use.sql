-- Using authenticator metadata (SQLite). Kept in step with store-postgres/migrations/0010_metadata_use.sql.
-- (0008 and 0009 are other changes'.)

-- The HTTP validators (ETag, Last-Modified) of the last good BLOB as the scheduled refresh
-- downloaded it: one row, sent back on the next refresh as a conditional request.
CREATE TABLE metadata_fetch (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    etag          TEXT,
    last_modified TEXT
);
