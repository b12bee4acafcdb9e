//! Scheduled jobs and their leases, and the store's health.

use async_trait::async_trait;
use keyfleet_domain::Timestamp;
use keyfleet_domain::store::{HealthStore, JobState, JobStore, SchemaState, StoreResult};

use crate::backend::Backend;
use crate::exec::{self, key, ms, text};
use crate::store::{SqlStore, one_row};
use crate::{rows, schema};

#[async_trait]
impl<B: Backend> JobStore for SqlStore<B> {
    async fn ensure_job(&self, job: &str, first_due: Timestamp) -> StoreResult<()> {
        self.execute(B::SQL.ensure_job, &[text(job), ms(first_due)]).await?;
        Ok(())
    }

    async fn claim_job(
        &self,
        job: &str,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<Timestamp>> {
        // One conditional UPDATE: racing claimants queue on the row (SQLite's single writer,
        // PostgreSQL's row lock with the condition re-checked on the committed row), so
        // exactly one finds the lease free.
        let args = [key(job), text(holder), ms(now), ms(lease_until)];
        let due = exec::optional_int::<B>(&mut *self.write_conn().await?, B::SQL.claim_job, &args).await?;
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
        let args = [key(job), key(holder), ms(now), ms(next_due), text(outcome)];
        one_row(self.execute(B::SQL.finish_job, &args).await?)
    }

    async fn list_jobs(&self) -> StoreResult<Vec<JobState>> {
        let found = exec::all::<B>(&mut *self.conn().await?, B::SQL.list_jobs, &[]).await?;
        found.iter().map(rows::job::<B>).collect()
    }
}

#[async_trait]
impl<B: Backend> HealthStore for SqlStore<B> {
    async fn ping(&self) -> StoreResult<()> {
        self.execute(B::SQL.ping, &[]).await?;
        Ok(())
    }

    async fn schema(&self) -> StoreResult<SchemaState> {
        let mut conn = self.conn().await?;
        let tables = exec::all::<B>(&mut conn, B::SQL.list_tables, &[]).await?;
        let tables = tables
            .iter()
            .map(rows::table_name::<B>)
            .collect::<StoreResult<Vec<_>>>()?;
        if !tables.iter().any(|t| t == schema::MIGRATIONS_TABLE) {
            return Ok(schema::state(B::migrator(), &tables, None));
        }
        let applied = exec::all::<B>(&mut conn, B::SQL.applied_migrations, &[]).await?;
        let applied = applied
            .iter()
            .map(rows::applied::<B>)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(schema::state(B::migrator(), &tables, Some(&applied)))
    }
}
