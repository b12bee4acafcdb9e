//! Group rules, key orders (shipments) and keys flagged for collection.

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::shipment::{
    CollectionFlag, GroupRule, GroupRuleId, Shipment, ShipmentId, ShipmentQuery, ShipmentState, ShipmentStore,
};
use keyfleet_domain::store::StoreResult;
use keyfleet_domain::{Timestamp, UserId};

use crate::backend::Backend;
use crate::exec::{self, Arg, bytes, int, key, ms, text};
use crate::rows;
use crate::store::{SqlStore, audit_and_commit, commit, insert_audit, one_row};

/// The shipment statements of a backend (parameters `$1`, `$2`, … in the order given).
#[derive(Debug)]
pub struct ShipmentSql {
    /// Inserts a rule: id, group_id, model, approval, enabled, created_at, updated_at.
    pub insert_rule: &'static str,
    /// A rule by id.
    pub rule_by_id: &'static str,
    /// Every rule.
    pub list_rules: &'static str,
    /// Replaces a rule: id, model, approval, enabled, updated_at.
    pub update_rule: &'static str,
    /// Deletes a rule: id.
    pub delete_rule: &'static str,
    /// Inserts an order: id, user_id, model, state, rule_id, factory_shipment_id,
    /// tracking_number, serial_number, credential_id, attempts, last_error, created_at,
    /// updated_at.
    pub insert_shipment: &'static str,
    /// An order by id.
    pub shipment_by_id: &'static str,
    /// Orders, newest first: state (NULL: any), user_id (NULL: any), rule_id (NULL: any), limit.
    pub list_shipments: &'static str,
    /// Moves an order: id, from, to, updated_at.
    pub set_state: &'static str,
    /// Flags a key unless flagged: credential_id, user_id, reason, rule_id, requested_at.
    pub insert_collection: &'static str,
    /// Clears a flag: credential_id.
    pub delete_collection: &'static str,
    /// A user's flags: user_id.
    pub user_collections: &'static str,
}

#[async_trait]
impl<B: Backend> ShipmentStore for SqlStore<B> {
    async fn create_rule(&self, rule: &GroupRule, audit: &NewAuditEvent) -> StoreResult<()> {
        let (id, group) = (rule.id.to_string(), rule.group_id.to_string());
        let args = [
            text(&id),
            text(&group),
            text(&rule.model),
            text(rule.approval.as_str()),
            Arg::Bool(rule.enabled),
            ms(rule.created_at),
            ms(rule.updated_at),
        ];
        let mut tx = self.begin().await?;
        exec::execute::<B>(&mut tx, B::SHIPMENT_SQL.insert_rule, &args).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn get_rule(&self, id: GroupRuleId) -> StoreResult<Option<GroupRule>> {
        let found = exec::optional::<B>(
            &mut *self.conn().await?,
            B::SHIPMENT_SQL.rule_by_id,
            &[key(&id.to_string())],
        )
        .await?;
        found.as_ref().map(rows::group_rule::<B>).transpose()
    }

    async fn list_rules(&self) -> StoreResult<Vec<GroupRule>> {
        let found = exec::all::<B>(&mut *self.conn().await?, B::SHIPMENT_SQL.list_rules, &[]).await?;
        found.iter().map(rows::group_rule::<B>).collect()
    }

    async fn update_rule(&self, rule: &GroupRule, audit: &NewAuditEvent) -> StoreResult<()> {
        let id = rule.id.to_string();
        let args = [
            key(&id),
            text(&rule.model),
            text(rule.approval.as_str()),
            Arg::Bool(rule.enabled),
            ms(rule.updated_at),
        ];
        let mut tx = self.begin().await?;
        one_row(exec::execute::<B>(&mut tx, B::SHIPMENT_SQL.update_rule, &args).await?)?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn delete_rule(&self, id: GroupRuleId, audit: &NewAuditEvent) -> StoreResult<()> {
        let id = id.to_string();
        let mut tx = self.begin().await?;
        one_row(exec::execute::<B>(&mut tx, B::SHIPMENT_SQL.delete_rule, &[key(&id)]).await?)?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn create_shipment(&self, s: &Shipment, audit: &NewAuditEvent) -> StoreResult<()> {
        let (id, user, rule) = (
            s.id.to_string(),
            s.user_id.to_string(),
            s.rule_id.map(|r| r.to_string()),
        );
        let args = [
            text(&id),
            text(&user),
            text(&s.model),
            text(s.state.as_str()),
            Arg::Text(rule.as_deref()),
            Arg::Text(s.factory_shipment_id.as_deref()),
            Arg::Text(s.tracking_number.as_deref()),
            Arg::Text(s.serial_number.as_deref()),
            Arg::Bytes(s.credential_id.as_deref()),
            int(i64::from(s.attempts)),
            Arg::Text(s.last_error.as_deref()),
            ms(s.created_at),
            ms(s.updated_at),
        ];
        let mut tx = self.begin().await?;
        exec::execute::<B>(&mut tx, B::SHIPMENT_SQL.insert_shipment, &args).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn get_shipment(&self, id: ShipmentId) -> StoreResult<Option<Shipment>> {
        let found = exec::optional::<B>(
            &mut *self.conn().await?,
            B::SHIPMENT_SQL.shipment_by_id,
            &[key(&id.to_string())],
        )
        .await?;
        found.as_ref().map(rows::shipment::<B>).transpose()
    }

    async fn list_shipments(&self, query: &ShipmentQuery) -> StoreResult<Vec<Shipment>> {
        let user = query.user.map(|u| u.to_string());
        let rule = query.rule.map(|r| r.to_string());
        let args = [
            Arg::Text(query.state.map(ShipmentState::as_str)),
            Arg::Text(user.as_deref()),
            Arg::Text(rule.as_deref()),
            int(i64::from(query.limit)),
        ];
        let found = exec::all::<B>(&mut *self.conn().await?, B::SHIPMENT_SQL.list_shipments, &args).await?;
        found.iter().map(rows::shipment::<B>).collect()
    }

    async fn set_shipment_state(
        &self,
        id: ShipmentId,
        from: ShipmentState,
        to: ShipmentState,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let id = id.to_string();
        let args = [key(&id), text(from.as_str()), text(to.as_str()), ms(at)];
        let mut tx = self.begin().await?;
        one_row(exec::execute::<B>(&mut tx, B::SHIPMENT_SQL.set_state, &args).await?)?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn flag_for_collection(&self, flag: &CollectionFlag, audit: &NewAuditEvent) -> StoreResult<bool> {
        let (user, rule) = (flag.user_id.to_string(), flag.rule_id.map(|r| r.to_string()));
        let args = [
            bytes(&flag.credential_id),
            text(&user),
            text(&flag.reason),
            Arg::Text(rule.as_deref()),
            ms(flag.requested_at),
        ];
        let mut tx = self.begin().await?;
        if exec::execute::<B>(&mut tx, B::SHIPMENT_SQL.insert_collection, &args).await? == 0 {
            return Ok(false);
        }
        insert_audit::<B>(&mut tx, audit).await?;
        commit::<B>(tx).await?;
        Ok(true)
    }

    async fn clear_collection(&self, credential_id: &[u8], audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        one_row(exec::execute::<B>(&mut tx, B::SHIPMENT_SQL.delete_collection, &[bytes(credential_id)]).await?)?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn user_collections(&self, user: UserId) -> StoreResult<Vec<CollectionFlag>> {
        let found = exec::all::<B>(
            &mut *self.conn().await?,
            B::SHIPMENT_SQL.user_collections,
            &[key(&user.to_string())],
        )
        .await?;
        found.iter().map(rows::collection::<B>).collect()
    }
}

/// `$first, $first+1, …` for `n` parameters.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
