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

#[async_trait]
impl<B: Backend> AuditStore for SqlStore<B> {
    async fn append(&self, event: &NewAuditEvent) -> StoreResult<()> {
        insert_audit::<B>(&mut *self.write_conn().await?, event).await
    }

    async fn list(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>> {
        // An action ending in '.' is a prefix (`user.` matches `user.create`); the backends
        // compare it with substr rather than LIKE, which treats '_' as a wildcard.
        let (exact, prefix) = match query.action.as_deref() {
            Some(a) if a.ends_with('.') => (None, Some(a)),
            other => (other, None),
        };
        let args = [
            Arg::Key(query.actor.as_deref()),
            Arg::Key(query.target.as_deref()),
            Arg::Key(exact),
            Arg::Key(prefix),
            Arg::Int(query.since.map(Timestamp::as_millis)),
            Arg::Int(query.until.map(Timestamp::as_millis)),
            Arg::Int(query.before_id),
            Arg::Key(query.involving.as_deref()),
            Arg::Key(query.request_id.as_deref()),
            int(i64::from(query.limit)),
        ];
        let found = exec::all::<B>(&mut *self.conn().await?, B::SQL.list_audit, &args).await?;
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
