//! The console's reports: the dashboard's figures and the registration report, counted and
//! filtered by the database.

use async_trait::async_trait;
use keyfleet_domain::audit::Action;
use keyfleet_domain::report::{Aaguid, FleetCounts, FleetQuery, ModelCount, RegistrationQuery, RegistrationRow};
use keyfleet_domain::store::{ReportStore, StoreResult};
use keyfleet_domain::{StoreError, Timestamp};

use crate::backend::Backend;
use crate::exec::{self, Arg, int, key, ms};
use crate::rows;
use crate::store::SqlStore;
use crate::users::escape_like;

/// The models as the statement takes them: a JSON array of lower-case hex AAGUIDs.
fn models_arg(models: &[Aaguid]) -> String {
    let items: Vec<String> = models.iter().map(|a| format!("\"{}\"", rows::aaguid_hex(a))).collect();
    format!("[{}]", items.join(","))
}

#[async_trait]
impl<B: Backend> ReportStore for SqlStore<B> {
    async fn count_fleet(&self, query: &FleetQuery) -> StoreResult<FleetCounts> {
        let args = [
            ms(query.unused_before),
            ms(query.now),
            ms(query.lost_since),
            key(Action::CredentialLost.as_str()),
        ];
        let row = exec::optional::<B>(&mut *self.conn().await?, B::SQL.count_fleet, &args).await?;
        let row = row.ok_or_else(|| StoreError::Corrupt("count_fleet: no row".into()))?;
        rows::fleet_counts::<B>(&row)
    }

    async fn count_keys_by_model(&self) -> StoreResult<Vec<ModelCount>> {
        let found = exec::all::<B>(&mut *self.conn().await?, B::SQL.count_keys_by_model, &[]).await?;
        found.iter().map(rows::model_count::<B>).collect()
    }

    async fn list_registrations(&self, query: &RegistrationQuery) -> StoreResult<Vec<RegistrationRow>> {
        let f = &query.filter;
        let pattern = f.search.as_deref().map(|s| format!("%{}%", escape_like(s)));
        let models = f.models.as_deref().map(models_arg);
        let args = [
            Arg::Key(pattern.as_deref()),
            key(query.after.as_deref().unwrap_or("")),
            Arg::Key(models.as_deref()),
            Arg::Int(f.has_key.map(i64::from)),
            Arg::Int(f.unused_before.map(Timestamp::as_millis)),
            Arg::Bool(f.cloned),
            Arg::Bool(f.pending_tap),
            ms(query.now),
            int(i64::from(query.limit)),
            Arg::Int(f.enabled.map(i64::from)),
        ];
        // Which filters are set decides the plan (start from the few flagged keys, or walk the
        // users in order): planned for each call's filters.
        let mut conn = self.conn().await?;
        let found = exec::all_planned_per_call::<B>(&mut conn, B::SQL.list_registrations, &args).await?;
        found.iter().map(rows::registration::<B>).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_become_a_json_list() {
        assert_eq!(models_arg(&[[0xab; 16]]), "[\"abababababababababababababababab\"]");
        assert_eq!(
            models_arg(&[[0xab; 16], [0; 16]]),
            "[\"abababababababababababababababab\",\"00000000000000000000000000000000\"]"
        );
        assert_eq!(models_arg(&[]), "[]");
    }
}
