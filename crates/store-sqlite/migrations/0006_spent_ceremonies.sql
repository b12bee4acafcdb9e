-- Sign-in ceremonies held by the client (SQLite). Kept in step with
-- store-postgres/migrations/0006_spent_ceremonies.sql.
--
-- Starting a sign-in writes nothing: the ceremony is sealed (encrypted and authenticated under
-- a key derived from the master key) into the id the client sends back. What the database
-- keeps is which of those ids were spent, by the transaction that finished (or failed) the
-- sign-in, until the ceremony expires; a replay finds its id here and is refused.
CREATE TABLE spent_ceremonies (
    id         TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX spent_ceremonies_expires_idx ON spent_ceremonies (expires_at);

-- Sign-in ceremonies are no longer stored; any in flight at the upgrade must start again.
DELETE FROM ceremonies WHERE kind = 'authentication';
