//! Users and groups.

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::group::Group;
use keyfleet_domain::store::{GroupStore, StoreResult, UserStore};
use keyfleet_domain::tap::Tap;
use keyfleet_domain::user::{User, UserQuery, Username};
use keyfleet_domain::{GroupId, StoreError, UserId};
use sqlx::SqliteConnection;

use keyfleet_store_sql::nul;

use crate::error::map_err;
use crate::rows::{self, GROUP_COLUMNS, GROUP_COLUMNS_G, USER_COLUMNS, USER_COLUMNS_U};
use crate::sessions::insert_tap;
use crate::{SqliteStore, audit_and_commit};

/// Escapes `\`, `%` and `_` so `text` matches literally inside a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

async fn insert_user(conn: &mut SqliteConnection, user: &User) -> StoreResult<()> {
    nul::check_user(user)?;
    sqlx::query(
        "INSERT INTO users (id, username, display_name, email, manager_email, shipping_address, enabled, role,
                            user_handle, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(user.id.to_string())
    .bind(user.username.as_str())
    .bind(&user.display_name)
    .bind(&user.email)
    .bind(&user.manager_email)
    .bind(&user.shipping_address)
    .bind(user.enabled)
    .bind(user.role.as_str())
    .bind(&user.user_handle)
    .bind(user.created_at.as_millis())
    .bind(user.updated_at.as_millis())
    .execute(conn)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// Runs a `SELECT` of one user.
async fn one_user<'q>(
    pool: &sqlx::SqlitePool,
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
) -> StoreResult<Option<User>> {
    let row = query.fetch_optional(pool).await.map_err(map_err)?;
    row.map(|r| rows::user(&r, "")).transpose()
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: &User, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_user(&mut tx, user).await?;
        audit_and_commit(tx, audit).await
    }

    async fn get_user(&self, id: UserId) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        one_user(&self.pool, sqlx::query(&sql).bind(id.to_string())).await
    }

    async fn find_user_by_username(&self, username: &Username) -> StoreResult<Option<User>> {
        if nul::matches_nothing(&[username.as_str()]) {
            return Ok(None);
        }
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        one_user(&self.pool, sqlx::query(&sql).bind(username.as_str())).await
    }

    async fn find_user_by_handle(&self, handle: &[u8]) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE user_handle = $1");
        one_user(&self.pool, sqlx::query(&sql).bind(handle)).await
    }

    async fn list_users(&self, query: &UserQuery) -> StoreResult<Vec<User>> {
        let filters = [query.search.as_deref(), query.after.as_deref()];
        if nul::matches_nothing(&filters.into_iter().flatten().collect::<Vec<_>>()) {
            return Ok(Vec::new());
        }
        // LIKE is case-insensitive for ASCII letters in SQLite.
        let pattern = query.search.as_deref().map(|s| format!("%{}%", escape_like(s)));
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users
             WHERE ($1 IS NULL OR username LIKE $1 ESCAPE '\\' OR display_name LIKE $1 ESCAPE '\\'
                    OR email LIKE $1 ESCAPE '\\')
               AND ($2 IS NULL OR username > $2)
             ORDER BY username
             LIMIT $3"
        );
        let found = sqlx::query(&sql)
            .bind(pattern)
            .bind(&query.after)
            .bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        found.iter().map(|r| rows::user(r, "")).collect()
    }

    async fn count_users(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        u64::try_from(n).map_err(|e| StoreError::Corrupt(format!("count: {e}")))
    }

    async fn update_user(&self, user: &User, audit: &NewAuditEvent) -> StoreResult<()> {
        nul::check_user(user)?;
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE users SET display_name = $2, email = $3, manager_email = $4, shipping_address = $5,
                              enabled = $6, role = $7, updated_at = $8
             WHERE id = $1",
        )
        .bind(user.id.to_string())
        .bind(&user.display_name)
        .bind(&user.email)
        .bind(&user.manager_email)
        .bind(&user.shipping_address)
        .bind(user.enabled)
        .bind(user.role.as_str())
        .bind(user.updated_at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if changed.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if !user.enabled {
            sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
                .bind(user.id.to_string())
                .bind(audit.at.as_millis())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        audit_and_commit(tx, audit).await
    }

    async fn delete_user(&self, id: UserId, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        // Sessions, the TAP, memberships, credentials and ceremonies go with the user
        // (ON DELETE CASCADE).
        let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        audit_and_commit(tx, audit).await
    }

    async fn bootstrap_admin(&self, user: &User, tap: &Tap, audit: &NewAuditEvent) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let marked =
            sqlx::query("INSERT INTO meta (key, value) VALUES ('bootstrapped', $1) ON CONFLICT (key) DO NOTHING")
                .bind(user.id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        if marked.rows_affected() != 1 {
            tx.rollback().await.map_err(map_err)?;
            return Ok(false);
        }
        insert_user(&mut tx, user).await?;
        insert_tap(&mut tx, tap).await?;
        audit_and_commit(tx, audit).await?;
        Ok(true)
    }
}

#[async_trait]
impl GroupStore for SqliteStore {
    async fn create_group(&self, group: &Group, audit: &NewAuditEvent) -> StoreResult<()> {
        nul::check_group(group)?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO user_groups (id, name, name_key, description, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(group.id.to_string())
        .bind(&group.name)
        .bind(&group.name_key)
        .bind(&group.description)
        .bind(group.created_at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        audit_and_commit(tx, audit).await
    }

    async fn get_group(&self, id: GroupId) -> StoreResult<Option<Group>> {
        let row = sqlx::query(&format!("SELECT {GROUP_COLUMNS} FROM user_groups WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| rows::group(&r)).transpose()
    }

    async fn list_groups(&self) -> StoreResult<Vec<Group>> {
        let found = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM user_groups ORDER BY name_key, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        found.iter().map(rows::group).collect()
    }

    async fn delete_group(&self, id: GroupId, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM user_groups WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        audit_and_commit(tx, audit).await
    }

    async fn add_member(&self, group: GroupId, user: UserId, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let both: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM user_groups WHERE id = $1) + (SELECT COUNT(*) FROM users WHERE id = $2)",
        )
        .bind(group.to_string())
        .bind(user.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        if both != 2 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(group.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        audit_and_commit(tx, audit).await
    }

    async fn remove_member(&self, group: GroupId, user: UserId, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        audit_and_commit(tx, audit).await
    }

    async fn list_members(&self, group: GroupId) -> StoreResult<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS_U} FROM users u JOIN group_members m ON m.user_id = u.id
             WHERE m.group_id = $1 ORDER BY u.username"
        );
        let found = sqlx::query(&sql)
            .bind(group.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        found.iter().map(|r| rows::user(r, "u_")).collect()
    }

    async fn list_user_groups(&self, user: UserId) -> StoreResult<Vec<Group>> {
        let sql = format!(
            "SELECT {GROUP_COLUMNS_G} FROM user_groups g JOIN group_members m ON m.group_id = g.id
             WHERE m.user_id = $1 ORDER BY g.name_key, g.id"
        );
        let found = sqlx::query(&sql)
            .bind(user.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        found.iter().map(rows::group).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like(r"a%b_c\d"), r"a\%b\_c\\d");
    }
}
