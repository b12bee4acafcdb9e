//! The audit log and the rate-limit counters.

use async_trait::async_trait;
use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::{AuditEvent, AuditQuery, NewAuditEvent};
use keyfleet_domain::store::{AuditStore, RateLimitStore, Reservation, StoreResult};
use keyfleet_store_sql::nul;

use crate::error::map_err;
use crate::rows::{self, AUDIT_COLUMNS};
use crate::{PgStore, insert_audit};

#[async_trait]
impl AuditStore for PgStore {
    async fn append(&self, event: &NewAuditEvent) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        insert_audit(&mut conn, event).await
    }

    async fn list(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>> {
        let filters = [&query.actor, &query.target, &query.action];
        if nul::matches_nothing(&filters.iter().filter_map(|f| f.as_deref()).collect::<Vec<_>>()) {
            return Ok(Vec::new());
        }
        // An action ending in '.' is a prefix (`user.` matches `user.create`); compared with
        // substr rather than LIKE, which treats '_' as a wildcard.
        let (exact, prefix) = match query.action.as_deref() {
            Some(a) if a.ends_with('.') => (None, Some(a)),
            other => (other, None),
        };
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events
             WHERE ($1::text IS NULL OR actor = $1)
               AND ($2::text IS NULL OR target = $2)
               AND ($3::text IS NULL OR action = $3)
               AND ($4::text IS NULL OR substr(action, 1, length($4)) = $4)
               AND ($5::bigint IS NULL OR at >= $5)
               AND ($6::bigint IS NULL OR at < $6)
               AND ($7::bigint IS NULL OR id < $7)
             ORDER BY id DESC
             LIMIT $8"
        );
        let found = sqlx::query(&sql)
            .bind(&query.actor)
            .bind(&query.target)
            .bind(exact)
            .bind(prefix)
            .bind(query.since.map(Timestamp::as_millis))
            .bind(query.until.map(Timestamp::as_millis))
            .bind(query.before_id)
            .bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        found.iter().map(rows::audit_event).collect()
    }
}

/// A stored count as the `u32` the trait returns, saturating.
fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

#[async_trait]
impl RateLimitStore for PgStore {
    async fn hit(&self, key: &str, now: Timestamp, window_ms: i64) -> StoreResult<u32> {
        nul::check_write(&[key])?;
        // One statement: the upsert locks the row, so concurrent hits never lose a count.
        // Every SET expression sees the row as it was before this hit.
        let n: i64 = sqlx::query_scalar(
            "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1)
             ON CONFLICT (key) DO UPDATE SET
                 count = CASE WHEN $2 - rate_limits.window_start >= $3 THEN 1 ELSE rate_limits.count + 1 END,
                 window_start = CASE WHEN $2 - rate_limits.window_start >= $3 THEN $2
                                     ELSE rate_limits.window_start END
             RETURNING count",
        )
        .bind(key)
        .bind(now.as_millis())
        .bind(window_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(count(n))
    }

    async fn peek(&self, key: &str, now: Timestamp, window_ms: i64) -> StoreResult<u32> {
        if nul::matches_nothing(&[key]) {
            return Ok(0);
        }
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT CASE WHEN $2 - window_start >= $3 THEN 0 ELSE count END FROM rate_limits WHERE key = $1",
        )
        .bind(key)
        .bind(now.as_millis())
        .bind(window_ms)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(n.map_or(0, count))
    }

    async fn clear(&self, key: &str) -> StoreResult<()> {
        if nul::matches_nothing(&[key]) {
            return Ok(());
        }
        sqlx::query("DELETE FROM rate_limits WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn reserve(&self, key: &str, now: Timestamp, window_ms: i64, limit: u32) -> StoreResult<Reservation> {
        nul::check_write(&[key])?;
        if limit == 0 {
            return Ok(Reservation::Refused {
                retry_at: keyfleet_store_sql::rate_limit::window_end(now.as_millis(), window_ms),
            });
        }
        // One statement, as `hit`, but the update only happens while the window has passed
        // or the count is below the limit; no row back means refused. ON CONFLICT DO UPDATE
        // locks the row and evaluates the condition on its latest version, so racing
        // reservations queue and at most `limit` succeed.
        let n: Option<i64> = sqlx::query_scalar(
            "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1)
             ON CONFLICT (key) DO UPDATE SET
                 count = CASE WHEN $2 - rate_limits.window_start >= $3 THEN 1 ELSE rate_limits.count + 1 END,
                 window_start = CASE WHEN $2 - rate_limits.window_start >= $3 THEN $2
                                     ELSE rate_limits.window_start END
             WHERE $2 - rate_limits.window_start >= $3 OR rate_limits.count < $4
             RETURNING count",
        )
        .bind(key)
        .bind(now.as_millis())
        .bind(window_ms)
        .bind(i64::from(limit))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        if let Some(n) = n {
            return Ok(Reservation::Granted { count: count(n) });
        }
        let start: Option<i64> = sqlx::query_scalar("SELECT window_start FROM rate_limits WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(keyfleet_store_sql::rate_limit::refused(start, now, window_ms))
    }

    async fn release(&self, key: &str, now: Timestamp, window_ms: i64) -> StoreResult<()> {
        if nul::matches_nothing(&[key]) {
            return Ok(());
        }
        sqlx::query(
            "UPDATE rate_limits SET count = count - 1
             WHERE key = $1 AND count > 0 AND $2 - window_start < $3",
        )
        .bind(key)
        .bind(now.as_millis())
        .bind(window_ms)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }
}
