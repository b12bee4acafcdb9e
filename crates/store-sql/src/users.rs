//! Users and groups.

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::group::Group;
use keyfleet_domain::store::{GroupStore, StoreResult, UserStore};
use keyfleet_domain::tap::Tap;
use keyfleet_domain::user::{User, UserQuery, Username};
use keyfleet_domain::{GroupId, StoreError, UserId};

use crate::backend::Backend;
use crate::exec::{self, Arg, Connection, bytes, int, key, ms, text};
use crate::rows;
use crate::sessions::upsert_tap;
use crate::store::{SqlStore, audit_and_commit, one_row};

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

pub(crate) async fn insert_user<B: Backend>(conn: &mut Connection<B>, user: &User) -> StoreResult<()> {
    let id = user.id.to_string();
    let args = [
        text(&id),
        text(user.username.as_str()),
        text(&user.display_name),
        text(&user.email),
        Arg::Text(user.manager_email.as_deref()),
        Arg::Text(user.shipping_address.as_deref()),
        Arg::Bool(user.enabled),
        text(user.role.as_str()),
        bytes(&user.user_handle),
        ms(user.created_at),
        ms(user.updated_at),
    ];
    exec::execute::<B>(conn, B::SQL.insert_user, &args).await?;
    Ok(())
}

impl<B: Backend> SqlStore<B> {
    /// The user `sql` finds with `args`.
    async fn one_user(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Option<User>> {
        let row = exec::optional::<B>(&mut *self.conn().await?, sql, args).await?;
        row.map(|r| rows::user::<B>(&r, "")).transpose()
    }

    /// The users `sql` finds with `args`, from columns named with `prefix`.
    async fn users(&self, sql: &str, args: &[Arg<'_>], prefix: &str) -> StoreResult<Vec<User>> {
        let found = exec::all::<B>(&mut *self.conn().await?, sql, args).await?;
        found.iter().map(|r| rows::user::<B>(r, prefix)).collect()
    }

    /// The groups `sql` finds with `args`.
    async fn groups(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<Group>> {
        let found = exec::all::<B>(&mut *self.conn().await?, sql, args).await?;
        found.iter().map(rows::group::<B>).collect()
    }

    /// A count `sql` returns.
    pub(crate) async fn count(&self, sql: &str) -> StoreResult<u64> {
        let n = exec::optional_int::<B>(&mut *self.conn().await?, sql, &[]).await?;
        u64::try_from(n.unwrap_or(0)).map_err(|e| StoreError::Corrupt(format!("count: {e}")))
    }

    /// Runs `sql` with `args` in a transaction with its audit event; `NotFound` unless it
    /// changed a row.
    pub(crate) async fn change_one(&self, sql: &str, args: &[Arg<'_>], audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        one_row(exec::execute::<B>(&mut tx, sql, args).await?)?;
        audit_and_commit::<B>(tx, audit).await
    }
}

#[async_trait]
impl<B: Backend> UserStore for SqlStore<B> {
    async fn create_user(&self, user: &User, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_user::<B>(&mut tx, user).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn get_user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.one_user(B::SQL.user_by_id, &[key(&id.to_string())]).await
    }

    async fn get_users(&self, ids: &[UserId]) -> StoreResult<Vec<User>> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let args: Vec<Arg<'_>> = ids.iter().map(|i| key(i)).collect();
        self.all_in(B::SQL.users_by_ids, &args, |r| rows::user::<B>(r, ""))
            .await
    }

    async fn find_user_by_username(&self, username: &Username) -> StoreResult<Option<User>> {
        self.one_user(B::SQL.user_by_username, &[key(username.as_str())]).await
    }

    async fn find_user_by_handle(&self, handle: &[u8]) -> StoreResult<Option<User>> {
        self.one_user(B::SQL.user_by_handle, &[bytes(handle)]).await
    }

    async fn list_users(&self, query: &UserQuery) -> StoreResult<Vec<User>> {
        let pattern = query.search.as_deref().map(|s| format!("%{}%", escape_like(s)));
        let args = [
            Arg::Key(pattern.as_deref()),
            Arg::Key(query.after.as_deref()),
            int(i64::from(query.limit)),
        ];
        self.users(B::SQL.list_users, &args, "").await
    }

    async fn count_users(&self) -> StoreResult<u64> {
        self.count(B::SQL.count_users).await
    }

    async fn update_user(&self, user: &User, audit: &NewAuditEvent) -> StoreResult<()> {
        let id = user.id.to_string();
        let args = [
            key(&id),
            text(&user.display_name),
            text(&user.email),
            Arg::Text(user.manager_email.as_deref()),
            Arg::Text(user.shipping_address.as_deref()),
            Arg::Bool(user.enabled),
            text(user.role.as_str()),
            ms(user.updated_at),
        ];
        let mut tx = self.begin().await?;
        one_row(exec::execute::<B>(&mut tx, B::SQL.update_user, &args).await?)?;
        if !user.enabled {
            exec::execute::<B>(&mut tx, B::SQL.revoke_sessions_of_user, &[key(&id), ms(audit.at)]).await?;
        }
        audit_and_commit::<B>(tx, audit).await
    }

    async fn delete_user(&self, id: UserId, audit: &NewAuditEvent) -> StoreResult<()> {
        // Sessions, the TAP, memberships, credentials and ceremonies go with the user
        // (ON DELETE CASCADE).
        self.change_one(B::SQL.delete_user, &[key(&id.to_string())], audit)
            .await
    }

    async fn bootstrap_admin(&self, user: &User, tap: &Tap, audit: &NewAuditEvent) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let marked = exec::execute::<B>(&mut tx, B::SQL.mark_bootstrapped, &[text(&user.id.to_string())]).await?;
        if marked != 1 {
            return Ok(false);
        }
        insert_user::<B>(&mut tx, user).await?;
        upsert_tap::<B>(&mut tx, tap).await?;
        audit_and_commit::<B>(tx, audit).await?;
        Ok(true)
    }
}

#[async_trait]
impl<B: Backend> GroupStore for SqlStore<B> {
    async fn create_group(&self, group: &Group, audit: &NewAuditEvent) -> StoreResult<()> {
        let id = group.id.to_string();
        let args = [
            text(&id),
            text(&group.name),
            text(&group.name_key),
            text(&group.description),
            ms(group.created_at),
        ];
        let mut tx = self.begin().await?;
        exec::execute::<B>(&mut tx, B::SQL.insert_group, &args).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn get_group(&self, id: GroupId) -> StoreResult<Option<Group>> {
        let row = exec::optional::<B>(&mut *self.conn().await?, B::SQL.group_by_id, &[key(&id.to_string())]).await?;
        row.map(|r| rows::group::<B>(&r)).transpose()
    }

    async fn list_groups(&self) -> StoreResult<Vec<Group>> {
        self.groups(B::SQL.list_groups, &[]).await
    }

    async fn delete_group(&self, id: GroupId, audit: &NewAuditEvent) -> StoreResult<()> {
        self.change_one(B::SQL.delete_group, &[key(&id.to_string())], audit)
            .await
    }

    async fn add_member(&self, group: GroupId, user: UserId, audit: &NewAuditEvent) -> StoreResult<()> {
        let (group, user) = (group.to_string(), user.to_string());
        let args = [key(&group), key(&user)];
        let mut tx = self.begin().await?;
        if exec::all::<B>(&mut tx, B::SQL.group_and_user, &args).await?.len() != 2 {
            return Err(StoreError::NotFound);
        }
        exec::execute::<B>(&mut tx, B::SQL.insert_member, &[text(&group), text(&user)]).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn remove_member(&self, group: GroupId, user: UserId, audit: &NewAuditEvent) -> StoreResult<()> {
        let group = group.to_string();
        let user = user.to_string();
        let args = [key(&group), key(&user)];
        self.change_one(B::SQL.delete_member, &args, audit).await
    }

    async fn list_members(&self, group: GroupId) -> StoreResult<Vec<User>> {
        self.users(B::SQL.list_members, &[key(&group.to_string())], "u_").await
    }

    async fn list_user_groups(&self, user: UserId) -> StoreResult<Vec<Group>> {
        self.groups(B::SQL.list_user_groups, &[key(&user.to_string())]).await
    }

    async fn list_groups_of_users(&self, users: &[UserId]) -> StoreResult<Vec<(UserId, Group)>> {
        let ids: Vec<String> = users.iter().map(ToString::to_string).collect();
        let args: Vec<Arg<'_>> = ids.iter().map(|i| key(i)).collect();
        self.all_in(B::DIRECTORY_SQL.groups_of_users, &args, |r| {
            Ok((rows::parsed::<B, UserId>(r, "m_user_id")?, rows::group::<B>(r)?))
        })
        .await
    }

    async fn list_members_of_groups(&self, groups: &[GroupId]) -> StoreResult<Vec<(GroupId, User)>> {
        let ids: Vec<String> = groups.iter().map(ToString::to_string).collect();
        let args: Vec<Arg<'_>> = ids.iter().map(|i| key(i)).collect();
        self.all_in(B::DIRECTORY_SQL.members_of_groups, &args, |r| {
            Ok((rows::parsed::<B, GroupId>(r, "m_group_id")?, rows::user::<B>(r, "u_")?))
        })
        .await
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
