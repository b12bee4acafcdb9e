//! The audit log and the rate-limit counters.

use async_trait::async_trait;
use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::{AuditEvent, AuditQuery, NewAuditEvent};
use keyfleet_domain::store::{AuditStore, RateLimitStore, Reservation, StoreResult};

use crate::backend::Backend;
use crate::exec::{self, Arg, int, key, ms, text};
use crate::rate_limit::{count, refused, window_end};
use crate::rows;
use crate::store::{SqlStore, insert_audit};

/// The statement for a page of the log, with a condition for each filter in use and none for
/// the others, so each database plans the filters it is given: the actor's, the target's or
/// the action's index rather than a walk back through the whole log (one shape per set of
/// filters; a statement of `($1 IS NULL OR actor = $1)` terms is planned as that walk on
/// SQLite, and as one generic plan after five calls on PostgreSQL). The same text on both
/// databases: every condition is plain SQL with numbered parameters. Public for the stores'
/// tests of the plans their database makes of it.
pub fn list_statement(query: &AuditQuery) -> (String, Vec<Arg<'_>>) {
    let mut args: Vec<Arg<'_>> = Vec::new();
    let mut conditions: Vec<String> = Vec::new();
    if let Some(actor) = query.actor.as_deref() {
        conditions.push(format!("actor = {}", next(&mut args, key(actor))));
    }
    if let Some(target) = query.target.as_deref() {
        conditions.push(format!("target = {}", next(&mut args, key(target))));
    }
    match query.action.as_deref() {
        // An action ending in '.' is a prefix (`user.` matches `user.create`), compared with
        // substr rather than LIKE, which treats '_' as a wildcard.
        Some(prefix) if prefix.ends_with('.') => {
            let p = next(&mut args, key(prefix));
            conditions.push(format!("substr(action, 1, length({p})) = {p}"));
        }
        Some(action) => conditions.push(format!("action = {}", next(&mut args, key(action)))),
        None => {}
    }
    if let Some(since) = query.since {
        conditions.push(format!("at >= {}", next(&mut args, int(since.as_millis()))));
    }
    if let Some(until) = query.until {
        conditions.push(format!("at < {}", next(&mut args, int(until.as_millis()))));
    }
    if let Some(before) = query.before_id {
        conditions.push(format!("id < {}", next(&mut args, int(before))));
    }
    if let Some(who) = query.involving.as_deref() {
        let p = next(&mut args, key(who));
        conditions.push(format!("(actor = {p} OR target = {p})"));
    }
    if let Some(request) = query.request_id.as_deref() {
        conditions.push(format!("request_id = {}", next(&mut args, key(request))));
    }
    let limit = next(&mut args, int(i64::from(query.limit)));
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let sql = format!(
        "SELECT id, at, actor, action, target, outcome, request_id, detail FROM audit_events{filter} \
         ORDER BY id DESC LIMIT {limit}"
    );
    (sql, args)
}

/// Binds `a` as the statement's next parameter; its placeholder.
fn next<'q>(args: &mut Vec<Arg<'q>>, a: Arg<'q>) -> String {
    args.push(a);
    format!("${}", args.len())
}

#[async_trait]
impl<B: Backend> AuditStore for SqlStore<B> {
    async fn append(&self, event: &NewAuditEvent) -> StoreResult<()> {
        insert_audit::<B>(&mut *self.write_conn().await?, event).await
    }

    async fn list(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>> {
        let (sql, args) = list_statement(query);
        let found = exec::all::<B>(&mut *self.conn().await?, &sql, &args).await?;
        found.iter().map(rows::audit_event::<B>).collect()
    }

    async fn get(&self, id: i64) -> StoreResult<Option<AuditEvent>> {
        let found = exec::optional::<B>(&mut *self.conn().await?, B::SQL.get_audit, &[int(id)]).await?;
        found.as_ref().map(rows::audit_event::<B>).transpose()
    }
}

#[async_trait]
impl<B: Backend> RateLimitStore for SqlStore<B> {
    async fn hit(&self, k: &str, now: Timestamp, window_ms: i64) -> StoreResult<u32> {
        // One statement: SQLite serialises writers and PostgreSQL's upsert locks the row, so
        // concurrent hits never lose a count.
        let args = [text(k), ms(now), int(window_ms)];
        let n = exec::optional_int::<B>(&mut *self.write_conn().await?, B::SQL.hit, &args).await?;
        Ok(count(n.unwrap_or(0)))
    }

    async fn peek(&self, k: &str, now: Timestamp, window_ms: i64) -> StoreResult<u32> {
        let args = [key(k), ms(now), int(window_ms)];
        let n = exec::optional_int::<B>(&mut *self.conn().await?, B::SQL.peek, &args).await?;
        Ok(n.map_or(0, count))
    }

    async fn clear(&self, k: &str) -> StoreResult<()> {
        self.execute(B::SQL.clear, &[key(k)]).await?;
        Ok(())
    }

    async fn reserve(&self, k: &str, now: Timestamp, window_ms: i64, limit: u32) -> StoreResult<Reservation> {
        if limit == 0 {
            // Nothing can be granted (the statement's insert would grant 1); the key is still
            // held to the NUL rule of a write.
            exec::runnable(&[text(k)])?;
            return Ok(Reservation::Refused {
                retry_at: window_end(now.as_millis(), window_ms),
            });
        }
        // One statement, as `hit`, but the update happens only while the window has passed or
        // the count is below the limit: no row back means refused. Racing reservations queue
        // on the row (SQLite's single writer, PostgreSQL's upsert lock, which evaluates the
        // condition on the row's latest version), so at most `limit` are granted.
        let mut conn = self.write_conn().await?;
        let args = [text(k), ms(now), int(window_ms), int(i64::from(limit))];
        if let Some(n) = exec::optional_int::<B>(&mut conn, B::SQL.reserve, &args).await? {
            return Ok(Reservation::Granted { count: count(n) });
        }
        let start = exec::optional_int::<B>(&mut conn, B::SQL.window_start, &[key(k)]).await?;
        Ok(refused(start, now, window_ms))
    }

    async fn release(&self, k: &str, now: Timestamp, window_ms: i64) -> StoreResult<()> {
        self.execute(B::SQL.release, &[key(k), ms(now), int(window_ms)]).await?;
        Ok(())
    }
}
