//! The directory-sync statements, in SQLite's dialect.

use keyfleet_domain::directory::{GroupAttr, UserAttr};
use keyfleet_store_sql::DirectorySql;

/// Columns of a user with their directory link (tables `u` and `l`).
macro_rules! directory_user_columns {
    () => {
        "u.id, u.username, u.display_name, u.email, u.manager_email, u.shipping_address, u.enabled, u.role, \
         u.user_handle, u.created_at, u.updated_at, l.external_id AS l_external_id, l.manager_id AS l_manager_id, \
         l.attributes AS l_attributes, l.deleted_at AS l_deleted_at"
    };
}

/// The expression a directory filter tests for each user attribute: the ones the
/// migrations index (`users_email_lower_idx`, `users_display_name_lower_idx`, the unique
/// username and external id), written as the indexes are.
fn user_expr(attr: UserAttr) -> &'static str {
    match attr {
        UserAttr::Id => "u.id",
        UserAttr::UserName => "u.username",
        UserAttr::ExternalId => "l.external_id",
        UserAttr::DisplayName => "lower(u.display_name)",
        UserAttr::Email => "lower(u.email)",
        UserAttr::Active => "u.enabled",
        UserAttr::Created => "u.created_at",
        UserAttr::LastModified => "u.updated_at",
    }
}

fn group_expr(attr: GroupAttr) -> &'static str {
    match attr {
        GroupAttr::Id | GroupAttr::Member => "g.id",
        GroupAttr::DisplayName => "g.name_key",
        GroupAttr::ExternalId => "d.external_id",
        GroupAttr::Created => "g.created_at",
    }
}

pub(crate) static DIRECTORY_SQL: DirectorySql = DirectorySql {
    select_users: concat!(
        "SELECT ",
        directory_user_columns!(),
        " FROM users u LEFT JOIN directory_users l ON l.user_id = u.id"
    ),
    count_users: "SELECT COUNT(*) FROM users u LEFT JOIN directory_users l ON l.user_id = u.id",
    user_expr,
    select_groups: "SELECT g.id, g.name, g.name_key, g.description, g.created_at, d.external_id AS d_external_id
                    FROM user_groups g LEFT JOIN directory_groups d ON d.group_id = g.id",
    count_groups: "SELECT COUNT(*) FROM user_groups g LEFT JOIN directory_groups d ON d.group_id = g.id",
    group_expr,
    has_member: "EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.user_id = {})",
    upsert_link: "INSERT INTO directory_users (user_id, external_id, manager_id, attributes, deleted_at)
                  VALUES ($1, $2, $3, $4, $5)
                  ON CONFLICT (user_id) DO UPDATE SET external_id = EXCLUDED.external_id,
                      manager_id = EXCLUDED.manager_id, attributes = EXCLUDED.attributes,
                      deleted_at = EXCLUDED.deleted_at",
    update_user: "UPDATE users SET username = $2, display_name = $3, email = $4, manager_email = $5,
                      shipping_address = $6, enabled = $7, updated_at = $8
                  WHERE id = $1",
    mark_deleted: "INSERT INTO directory_users (user_id, deleted_at) VALUES ($1, $2)
                   ON CONFLICT (user_id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at",
    restore_deleted: "UPDATE directory_users SET deleted_at = NULL WHERE user_id = $1 AND deleted_at IS NOT NULL",
    disable_user: "UPDATE users SET enabled = $2, updated_at = $3 WHERE id = $1",
    deleted_before: "SELECT user_id FROM directory_users WHERE deleted_at IS NOT NULL AND deleted_at < $1",
    upsert_group_link: "INSERT INTO directory_groups (group_id, external_id) VALUES ($1, $2)
                        ON CONFLICT (group_id) DO UPDATE SET external_id = EXCLUDED.external_id",
    rename_group: "UPDATE user_groups SET name = $2, name_key = $3 WHERE id = $1",
    groups_of_users: "SELECT m.user_id AS m_user_id, g.id, g.name, g.name_key, g.description, g.created_at
                      FROM group_members m JOIN user_groups g ON g.id = m.group_id
                      WHERE m.user_id IN ({}) ORDER BY m.user_id, g.name_key, g.id",
    members_of_groups: concat!(
        "SELECT m.group_id AS m_group_id, ",
        crate::sql::user_columns_u!(),
        " FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id IN ({}) ORDER BY m.group_id, u.username"
    ),
};
