-- Indexes for the console's reports (PostgreSQL). Kept in step with
-- store-sqlite/migrations/0005_reports.sql. Every figure of the dashboard is counted from
-- one of these (or an earlier index) rather than by reading every row.

-- Keys by model: a GROUP BY over this index alone; the report's model filter finds the
-- holders of a model's keys in it.
CREATE INDEX credentials_aaguid_idx ON credentials (aaguid, user_id);
-- Every figure about keys per user (how many, unused since, flagged, models, first and last
-- use): one pass over this index in user order counts the whole fleet, and the report reads a
-- user's row from it alone.
CREATE INDEX credentials_report_idx ON credentials (user_id, aaguid, last_used_at, created_at, possibly_cloned);
-- Keys flagged as possibly cloned: few, so a partial index, from which the report's "cloned"
-- filter can start.
CREATE INDEX credentials_cloned_idx ON credentials (user_id) WHERE possibly_cloned;
-- Pending temporary access passes: unexpired ones.
CREATE INDEX taps_expires_idx ON taps (expires_at);
-- Recent events of one action (lost keys in the last 30 days), and the audit log filtered by
-- an exact action.
CREATE INDEX audit_events_action_idx ON audit_events (action, at);
-- Enabled users: counted from this narrow index rather than the user rows.
CREATE INDEX users_enabled_idx ON users (enabled);
