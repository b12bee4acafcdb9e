//! Directory sync: users and groups with their links, and directory queries turned into SQL.
//!
//! A [`Condition`] becomes a `WHERE` clause built from the backend's expression for each
//! attribute ([`DirectorySql::user_expr`], [`DirectorySql::group_expr`]) and the comparison
//! operators both databases share (`=`, `<>`, `<`, `LIKE … ESCAPE`, `IS NULL`, `AND`, `OR`,
//! `NOT`); values are always bound parameters. Every test yields true or false, never NULL,
//! so `NOT` means what the filter says for users without an external id.

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::directory::{
    Cmp, Condition, DirectoryGroup, DirectoryLink, DirectoryQuery, DirectoryStore, DirectoryUser, GroupAttr, Operand,
    UserAttr,
};
use keyfleet_domain::group::Group;
use keyfleet_domain::store::StoreResult;
use keyfleet_domain::user::User;
use keyfleet_domain::{GroupId, StoreError, Timestamp, UserId};

use crate::backend::Backend;
use crate::exec::{self, Arg, Connection, int, key, ms, opt_ms, text};
use crate::rows;
use crate::store::{SqlStore, audit_and_commit, commit, insert_audit, one_row};
use crate::users::escape_like;

/// The directory statements of a backend (parameters `$1`, `$2`, … in the order given).
#[derive(Debug)]
pub struct DirectorySql {
    /// Users with their link: the user's columns unprefixed, the link's as `l_external_id`,
    /// `l_manager_id`, `l_attributes`, `l_deleted_at`; tables aliased `u` and `l`. The store
    /// appends `WHERE`, `ORDER BY`, `LIMIT` and `OFFSET`.
    pub select_users: &'static str,
    /// `SELECT COUNT(*)` over the same join; the store appends `WHERE`.
    pub count_users: &'static str,
    /// The SQL expression for a user attribute (over `u` and `l`).
    pub user_expr: fn(UserAttr) -> &'static str,
    /// Groups with their external id (`d_external_id`); tables aliased `g` and `d`.
    pub select_groups: &'static str,
    /// `SELECT COUNT(*)` over the same join.
    pub count_groups: &'static str,
    /// The SQL expression for a group attribute (over `g` and `d`); `Member` is the group
    /// id the membership test is made against.
    pub group_expr: fn(GroupAttr) -> &'static str,
    /// Whether the group `g.id` has the member `$n` (the store puts the parameter's number
    /// in place of `{}`).
    pub has_member: &'static str,
    /// Inserts or replaces a link: user_id, external_id, manager_id, attributes, deleted_at.
    pub upsert_link: &'static str,
    /// Replaces a user's attributes: id, username, display_name, email, manager_email,
    /// shipping_address, enabled, updated_at.
    pub update_user: &'static str,
    /// Marks a user deleted (inserting the link if missing): user_id, at.
    pub mark_deleted: &'static str,
    /// Clears a user's directory deletion: user_id. Changes no row unless deleted.
    pub restore_deleted: &'static str,
    /// Sets a user's `enabled` (to false): id, enabled, updated_at.
    pub disable_user: &'static str,
    /// The users deleted before: before.
    pub deleted_before: &'static str,
    /// Inserts or replaces a group's external id: group_id, external_id.
    pub upsert_group_link: &'static str,
    /// Renames a group: id, name, name_key.
    pub rename_group: &'static str,
    /// The groups of several users: group columns and `m_user_id`, by user then name; the
    /// store puts the users' parameters (`$1, $2, …`) in place of `{}`.
    pub groups_of_users: &'static str,
    /// The members of several groups: the user's columns prefixed `u_` and `m_group_id`, by
    /// group then username; the store puts the groups' parameters in place of `{}`.
    pub members_of_groups: &'static str,
}

/// A `WHERE` clause and its parameters, numbered from `first`.
struct Where {
    sql: String,
    args: Vec<Param>,
}

/// An owned parameter (the clause is built before the statement borrows it).
enum Param {
    Text(String),
    Bool(bool),
    Int(i64),
}

impl Param {
    fn arg(&self) -> Arg<'_> {
        match self {
            Param::Text(s) => key(s),
            Param::Bool(b) => Arg::Bool(*b),
            Param::Int(n) => int(*n),
        }
    }
}

impl Where {
    fn bind(&mut self, p: Param) -> String {
        self.args.push(p);
        format!("${}", self.args.len())
    }

    fn condition<A: Copy>(
        &mut self,
        c: &Condition<A>,
        expr: &dyn Fn(A) -> &'static str,
        member: Option<(&'static str, A)>,
    ) -> String {
        match c {
            Condition::Always(true) => "1 = 1".into(),
            Condition::Always(false) => "1 = 0".into(),
            Condition::And(a, b) => format!(
                "({} AND {})",
                self.condition(a, expr, member),
                self.condition(b, expr, member)
            ),
            Condition::Or(a, b) => format!(
                "({} OR {})",
                self.condition(a, expr, member),
                self.condition(b, expr, member)
            ),
            Condition::Not(a) => format!("(NOT {})", self.condition(a, expr, member)),
            Condition::Present(attr) => {
                let e = expr(*attr);
                format!("({e} IS NOT NULL)")
            }
            Condition::Compare(attr, cmp, operand) => {
                if let Some((template, member_attr)) = member
                    && std::mem::discriminant(attr) == std::mem::discriminant(&member_attr)
                {
                    let p = self.bind(param(operand));
                    let test = template.replace("{}", &p);
                    return if *cmp == Cmp::Ne { format!("(NOT {test})") } else { test };
                }
                self.compare(expr(*attr), *cmp, operand)
            }
        }
    }

    fn compare(&mut self, e: &str, cmp: Cmp, operand: &Operand) -> String {
        let like = |pattern: String| Param::Text(pattern);
        match (cmp, operand) {
            // A prefix as a range, which both databases answer from the attribute's index
            // (SQLite's LIKE ignores case and so cannot use a binary index): every text
            // starting with `t` sorts from `t` up to `t` followed by the last code point.
            (Cmp::Sw, Operand::Text(t)) => {
                let from = self.bind(Param::Text(t.clone()));
                let to = self.bind(Param::Text(format!("{t}\u{10FFFF}")));
                format!("({e} IS NOT NULL AND {e} >= {from} AND {e} < {to})")
            }
            (Cmp::Co | Cmp::Ew, Operand::Text(t)) => {
                let escaped = escape_like(t);
                let pattern = match cmp {
                    Cmp::Co => format!("%{escaped}%"),
                    _ => format!("%{escaped}"),
                };
                let p = self.bind(like(pattern));
                format!("({e} IS NOT NULL AND {e} LIKE {p} ESCAPE '\\')")
            }
            (Cmp::Co | Cmp::Sw | Cmp::Ew, _) => "1 = 0".into(),
            (Cmp::Ne, v) => {
                let p = self.bind(param(v));
                format!("({e} IS NULL OR {e} <> {p})")
            }
            (op, v) => {
                let sym = match op {
                    Cmp::Eq => "=",
                    Cmp::Gt => ">",
                    Cmp::Ge => ">=",
                    Cmp::Lt => "<",
                    _ => "<=",
                };
                let p = self.bind(param(v));
                format!("({e} IS NOT NULL AND {e} {sym} {p})")
            }
        }
    }

    fn args(&self) -> Vec<Arg<'_>> {
        self.args.iter().map(Param::arg).collect()
    }
}

fn param(v: &Operand) -> Param {
    match v {
        Operand::Text(t) => Param::Text(t.clone()),
        Operand::Bool(b) => Param::Bool(*b),
        Operand::Time(t) => Param::Int(t.as_millis()),
    }
}

fn order_and_page(sort: &str, id: &str, descending: bool, offset: u64, limit: u32) -> String {
    let dir = if descending { "DESC" } else { "ASC" };
    format!(" ORDER BY {sort} {dir}, {id} {dir} LIMIT {limit} OFFSET {offset}")
}

impl<B: Backend> SqlStore<B> {
    async fn link_user(conn: &mut Connection<B>, user: UserId, link: &DirectoryLink) -> StoreResult<()> {
        let (id, manager) = (user.to_string(), link.manager_id.map(|m| m.to_string()));
        let args = [
            text(&id),
            Arg::Text(link.external_id.as_deref()),
            Arg::Text(manager.as_deref()),
            Arg::Text(link.attributes.as_deref()),
            opt_ms(link.deleted_at),
        ];
        exec::execute::<B>(conn, B::DIRECTORY_SQL.upsert_link, &args).await?;
        Ok(())
    }

    async fn set_members(
        conn: &mut Connection<B>,
        group: GroupId,
        add: &[UserId],
        remove: &[UserId],
    ) -> StoreResult<()> {
        let g = group.to_string();
        for u in add {
            let u = u.to_string();
            exec::execute::<B>(conn, B::SQL.insert_member, &[text(&g), text(&u)]).await?;
        }
        for u in remove {
            let u = u.to_string();
            exec::execute::<B>(conn, B::SQL.delete_member, &[key(&g), key(&u)]).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl<B: Backend> DirectoryStore for SqlStore<B> {
    async fn create_directory_user(&self, user: &User, link: &DirectoryLink, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        crate::users::insert_user::<B>(&mut tx, user).await?;
        Self::link_user(&mut tx, user.id, link).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn directory_user(&self, id: UserId) -> StoreResult<Option<DirectoryUser>> {
        let sql = format!("{} WHERE u.id = $1", B::DIRECTORY_SQL.select_users);
        let row = exec::optional::<B>(&mut *self.conn().await?, &sql, &[key(&id.to_string())]).await?;
        row.map(|r| rows::directory_user::<B>(&r)).transpose()
    }

    async fn list_directory_users(&self, query: &DirectoryQuery<UserAttr>) -> StoreResult<(Vec<DirectoryUser>, u64)> {
        let d = B::DIRECTORY_SQL;
        let mut w = Where {
            sql: String::new(),
            args: Vec::new(),
        };
        let cond = w.condition(&query.filter, &|a| (d.user_expr)(a), None);
        w.sql = format!(" WHERE l.deleted_at IS NULL AND {cond}");
        let sort = (d.user_expr)(query.sort_by.unwrap_or(UserAttr::Id));
        let page = order_and_page(
            sort,
            (d.user_expr)(UserAttr::Id),
            query.descending,
            query.offset,
            query.limit,
        );
        let mut conn = self.conn().await?;
        let total = exec::optional_int::<B>(&mut conn, &format!("{}{}", d.count_users, w.sql), &w.args()).await?;
        let total = u64::try_from(total.unwrap_or(0)).map_err(|e| StoreError::Corrupt(format!("count: {e}")))?;
        if query.limit == 0 {
            return Ok((Vec::new(), total));
        }
        let sql = format!("{}{}{page}", d.select_users, w.sql);
        let found = exec::all_planned_per_call::<B>(&mut conn, &sql, &w.args()).await?;
        let users = found
            .iter()
            .map(rows::directory_user::<B>)
            .collect::<StoreResult<_>>()?;
        Ok((users, total))
    }

    async fn replace_directory_user(
        &self,
        user: &User,
        link: &DirectoryLink,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let id = user.id.to_string();
        let args = [
            key(&id),
            text(user.username.as_str()),
            text(&user.display_name),
            text(&user.email),
            Arg::Text(user.manager_email.as_deref()),
            Arg::Text(user.shipping_address.as_deref()),
            Arg::Bool(user.enabled),
            ms(user.updated_at),
        ];
        let mut tx = self.begin().await?;
        one_row(exec::execute::<B>(&mut tx, B::DIRECTORY_SQL.update_user, &args).await?)?;
        Self::link_user(&mut tx, user.id, link).await?;
        if !user.enabled {
            exec::execute::<B>(&mut tx, B::SQL.revoke_sessions_of_user, &[key(&id), ms(audit.at)]).await?;
        }
        audit_and_commit::<B>(tx, audit).await
    }

    async fn delete_directory_user(&self, id: UserId, at: Timestamp, audit: &NewAuditEvent) -> StoreResult<()> {
        let id = id.to_string();
        let mut tx = self.begin().await?;
        one_row(
            exec::execute::<B>(
                &mut tx,
                B::DIRECTORY_SQL.disable_user,
                &[key(&id), Arg::Bool(false), ms(at)],
            )
            .await?,
        )?;
        exec::execute::<B>(&mut tx, B::DIRECTORY_SQL.mark_deleted, &[text(&id), ms(at)]).await?;
        exec::execute::<B>(&mut tx, B::SQL.revoke_sessions_of_user, &[key(&id), ms(at)]).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn restore_directory_user(&self, id: UserId, at: Timestamp, audit: &NewAuditEvent) -> StoreResult<()> {
        let id = id.to_string();
        let mut tx = self.begin().await?;
        one_row(exec::execute::<B>(&mut tx, B::DIRECTORY_SQL.restore_deleted, &[key(&id)]).await?)?;
        exec::execute::<B>(
            &mut tx,
            B::DIRECTORY_SQL.disable_user,
            &[key(&id), Arg::Bool(true), ms(at)],
        )
        .await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn purge_directory_users(
        &self,
        before: Timestamp,
        audit_for: &(dyn Fn(UserId) -> NewAuditEvent + Send + Sync),
    ) -> StoreResult<Vec<UserId>> {
        let mut tx = self.begin().await?;
        let found = exec::all::<B>(&mut tx, B::DIRECTORY_SQL.deleted_before, &[ms(before)]).await?;
        let mut purged = Vec::new();
        for row in &found {
            let id: UserId = rows::user_id::<B>(row)?;
            exec::execute::<B>(&mut tx, B::SQL.delete_user, &[key(&id.to_string())]).await?;
            insert_audit::<B>(&mut tx, &audit_for(id)).await?;
            purged.push(id);
        }
        commit::<B>(tx).await?;
        Ok(purged)
    }

    async fn create_directory_group(
        &self,
        group: &Group,
        external_id: Option<&str>,
        members: &[UserId],
        audits: &[NewAuditEvent],
    ) -> StoreResult<()> {
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
        exec::execute::<B>(
            &mut tx,
            B::DIRECTORY_SQL.upsert_group_link,
            &[text(&id), Arg::Text(external_id)],
        )
        .await?;
        Self::set_members(&mut tx, group.id, members, &[]).await?;
        for a in audits {
            insert_audit::<B>(&mut tx, a).await?;
        }
        commit::<B>(tx).await
    }

    async fn directory_group(&self, id: GroupId) -> StoreResult<Option<DirectoryGroup>> {
        let sql = format!("{} WHERE g.id = $1", B::DIRECTORY_SQL.select_groups);
        let row = exec::optional::<B>(&mut *self.conn().await?, &sql, &[key(&id.to_string())]).await?;
        row.map(|r| rows::directory_group::<B>(&r)).transpose()
    }

    async fn list_directory_groups(
        &self,
        query: &DirectoryQuery<GroupAttr>,
    ) -> StoreResult<(Vec<DirectoryGroup>, u64)> {
        let d = B::DIRECTORY_SQL;
        let mut w = Where {
            sql: String::new(),
            args: Vec::new(),
        };
        let cond = w.condition(
            &query.filter,
            &|a| (d.group_expr)(a),
            Some((d.has_member, GroupAttr::Member)),
        );
        w.sql = format!(" WHERE {cond}");
        let sort = (d.group_expr)(query.sort_by.unwrap_or(GroupAttr::Id));
        let page = order_and_page(
            sort,
            (d.group_expr)(GroupAttr::Id),
            query.descending,
            query.offset,
            query.limit,
        );
        let mut conn = self.conn().await?;
        let total = exec::optional_int::<B>(&mut conn, &format!("{}{}", d.count_groups, w.sql), &w.args()).await?;
        let total = u64::try_from(total.unwrap_or(0)).map_err(|e| StoreError::Corrupt(format!("count: {e}")))?;
        if query.limit == 0 {
            return Ok((Vec::new(), total));
        }
        let sql = format!("{}{}{page}", d.select_groups, w.sql);
        let found = exec::all_planned_per_call::<B>(&mut conn, &sql, &w.args()).await?;
        let groups = found
            .iter()
            .map(rows::directory_group::<B>)
            .collect::<StoreResult<_>>()?;
        Ok((groups, total))
    }

    async fn update_directory_group(
        &self,
        group: &Group,
        external_id: Option<&str>,
        add: &[UserId],
        remove: &[UserId],
        audits: &[NewAuditEvent],
    ) -> StoreResult<()> {
        let id = group.id.to_string();
        let mut tx = self.begin().await?;
        let args = [key(&id), text(&group.name), text(&group.name_key)];
        one_row(exec::execute::<B>(&mut tx, B::DIRECTORY_SQL.rename_group, &args).await?)?;
        exec::execute::<B>(
            &mut tx,
            B::DIRECTORY_SQL.upsert_group_link,
            &[text(&id), Arg::Text(external_id)],
        )
        .await?;
        Self::set_members(&mut tx, group.id, add, remove).await?;
        for a in audits {
            insert_audit::<B>(&mut tx, a).await?;
        }
        commit::<B>(tx).await
    }
}
