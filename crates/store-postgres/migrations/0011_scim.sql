-- Directory sync (SCIM 2.0) (PostgreSQL). Kept in step with store-sqlite/migrations/0011_scim.sql.

-- What directory sync keeps beside a user: the identity provider's id, the manager as a
-- keyfleet user, the SCIM attributes keyfleet has no column for (JSON), and the soft
-- deletion that the recovery period ends.
CREATE TABLE directory_users (
    user_id     TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    external_id TEXT COLLATE "C" CONSTRAINT directory_users_external_id_key UNIQUE,
    manager_id  TEXT REFERENCES users (id) ON DELETE SET NULL,
    attributes  TEXT,
    deleted_at  BIGINT
);
CREATE INDEX directory_users_deleted_idx ON directory_users (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE directory_groups (
    group_id    TEXT PRIMARY KEY REFERENCES user_groups (id) ON DELETE CASCADE,
    external_id TEXT COLLATE "C" CONSTRAINT directory_groups_external_id_key UNIQUE
);

-- Directory filters compare these ignoring case (userName is stored canonical already);
-- the "C" collation lets prefix matches (LIKE 'x%') use them too.
CREATE INDEX users_email_lower_idx ON users ((lower(email) COLLATE "C"));
CREATE INDEX users_display_name_lower_idx ON users ((lower(display_name) COLLATE "C"));
