//! Scheduled jobs and their leases.

use async_trait::async_trait;
use keyfleet_domain::store::{JobState, JobStore, StoreResult};
use keyfleet_domain::{StoreError, Timestamp};
use keyfleet_store_sql::nul;

use crate::SqliteStore;
use crate::error::map_err;
use crate::rows::{self, JOB_COLUMNS};

#[async_trait]
impl JobStore for SqliteStore {
    async fn ensure_job(&self, job: &str, first_due: Timestamp) -> StoreResult<()> {
        nul::check_write(&[job])?;
        sqlx::query("INSERT INTO jobs (job, due_at) VALUES ($1, $2) ON CONFLICT (job) DO NOTHING")
            .bind(job)
            .bind(first_due.as_millis())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn claim_job(
        &self,
        job: &str,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<Timestamp>> {
        nul::check_write(&[holder])?;
        if nul::matches_nothing(&[job]) {
            return Ok(None);
        }
        // One conditional UPDATE: SQLite serialises writers, so of racing claimants exactly
        // one finds the lease free.
        let due: Option<i64> = sqlx::query_scalar(
            "UPDATE jobs SET lease_holder = $2, lease_until = $4
             WHERE job = $1 AND due_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
             RETURNING due_at",
        )
        .bind(job)
        .bind(holder)
        .bind(now.as_millis())
        .bind(lease_until.as_millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(due.map(Timestamp::from_millis))
    }

    async fn finish_job(
        &self,
        job: &str,
        holder: &str,
        now: Timestamp,
        next_due: Timestamp,
        outcome: &str,
    ) -> StoreResult<()> {
        nul::check_write(&[outcome])?;
        if nul::matches_nothing(&[job, holder]) {
            return Err(StoreError::NotFound);
        }
        let done = sqlx::query(
            "UPDATE jobs SET due_at = $4, lease_holder = NULL, lease_until = NULL, last_finished_at = $3,
                             last_outcome = $5
             WHERE job = $1 AND lease_holder = $2",
        )
        .bind(job)
        .bind(holder)
        .bind(now.as_millis())
        .bind(next_due.as_millis())
        .bind(outcome)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn list_jobs(&self) -> StoreResult<Vec<JobState>> {
        let found = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY job"))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        found.iter().map(rows::job).collect()
    }
}
