-- Indexes for the console's reports (SQLite). Kept in step with
-- store-postgres/migrations/0005_reports.sql. Every figure of the dashboard is counted from
-- one of these (or an earlier index) rather than by reading every row.

-- Keys by model: a GROUP BY over this index alone.
CREATE INDEX credentials_aaguid_idx ON credentials (aaguid);
-- Keys unused for N days: a key's last activity is its last use or, never used, its
-- registration. The user id makes "held by how many users" an index-only count too.
CREATE INDEX credentials_activity_idx ON credentials (COALESCE(last_used_at, created_at), user_id);
-- Keys flagged as possibly cloned: few, so a partial index; by user for the report's probe.
CREATE INDEX credentials_cloned_idx ON credentials (user_id) WHERE possibly_cloned = 1;
-- Pending temporary access passes: unexpired ones.
CREATE INDEX taps_expires_idx ON taps (expires_at);
-- Recent events of one action (lost keys in the last 30 days), and the audit log filtered by
-- an exact action.
CREATE INDEX audit_events_action_idx ON audit_events (action, at);
-- Enabled users: counted from this narrow index rather than the user rows.
CREATE INDEX users_enabled_idx ON users (enabled);
