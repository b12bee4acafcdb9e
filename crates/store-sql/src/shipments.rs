//! Group rules, key orders (shipments) and keys flagged for collection.

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use std::time::Duration;

use keyfleet_domain::StoreError;
use keyfleet_domain::ids::CeremonyId;
use keyfleet_domain::mail::NewMail;
use keyfleet_domain::shipment::{
    CollectionFlag, ConnectorOrder, GroupRule, GroupRuleId, OrderDetails, Shipment, ShipmentId, ShipmentQuery,
    ShipmentState, ShipmentStore, ShippedKey, StepOutcome,
};
use keyfleet_domain::store::StoreResult;
use keyfleet_domain::{Timestamp, UserId};

use crate::backend::Backend;
use crate::exec::{self, Arg, bytes, int, key, ms, text};
use crate::rows;
use crate::store::{SqlStore, audit_and_commit, commit, insert_audit, one_row};
use crate::webauthn::insert_credential;

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

    /// Inserts an order with what it asks: the 13 of `insert_shipment`, then pin_length,
    /// emails_to, shipping_address, delivery_type.
    pub insert_order: &'static str,
    /// An order with every column (`SELECT *`): id.
    pub connector_order_by_id: &'static str,
    /// The database clock in milliseconds, as one integer column `now_ms`.
    pub database_now: &'static str,
    /// Claims due, unleased orders not looked at since the run started, returning every
    /// column: state, holder, lease_ms, run_start, limit.
    pub claim_orders: &'static str,
    /// Records what was prepared: id, holder, options_id, response_key_sealed, request_sealed.
    pub prepare_order: &'static str,
    /// `requested` → `submitted`: id, holder, factory_shipment_id, updated_at.
    pub order_submitted: &'static str,
    /// Ends a step: id, holder, state, failed (1 or 0), error, retry_ms (NULL: none),
    /// tracking_number (NULL: unchanged), updated_at.
    pub order_step: &'static str,
    /// `submitted` → `registered`: id, holder, credential_id, tracking_number, serial_number,
    /// pin_sealed, updated_at.
    pub order_registered: &'static str,
    /// Queues a message: id, shipment_id, kind, recipients, subject, body_sealed, created_at.
    pub insert_mail: &'static str,
    /// Deletes the outbox rows of complete orders changed before: before.
    pub purge_completed_mail: &'static str,
    /// Deletes complete orders changed before: before.
    pub purge_completed: &'static str,
    /// Orders per state: columns `state`, `n`.
    pub count_by_state: &'static str,
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
        let args = shipment_args(s, &id, &user, rule.as_deref());
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

    async fn create_order(&self, s: &Shipment, d: &OrderDetails, audit: &NewAuditEvent) -> StoreResult<()> {
        let (id, user, rule) = (
            s.id.to_string(),
            s.user_id.to_string(),
            s.rule_id.map(|r| r.to_string()),
        );
        let emails = keyfleet_domain::mail::recipients_text(&d.emails_to);
        let mut args = shipment_args(s, &id, &user, rule.as_deref()).to_vec();
        args.extend([
            int(i64::from(d.pin_length)),
            text(&emails),
            Arg::Text(d.shipping_address.as_deref()),
            text(&d.delivery_type),
        ]);
        let mut tx = self.begin().await?;
        exec::execute::<B>(&mut tx, B::SHIPMENT_SQL.insert_order, &args).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn connector_order(&self, id: ShipmentId) -> StoreResult<Option<ConnectorOrder>> {
        let found = exec::optional::<B>(
            &mut *self.conn().await?,
            B::SHIPMENT_SQL.connector_order_by_id,
            &[key(&id.to_string())],
        )
        .await?;
        found.as_ref().map(rows::connector_order::<B>).transpose()
    }

    async fn database_now(&self) -> StoreResult<Timestamp> {
        let now = exec::optional_int::<B>(&mut *self.conn().await?, B::SHIPMENT_SQL.database_now, &[]).await?;
        now.map(Timestamp::from_millis)
            .ok_or(StoreError::Corrupt("the database has no clock".into()))
    }

    async fn run_start(&self) -> StoreResult<Timestamp> {
        let read = self.database_now().await?;
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let now = self.database_now().await?;
            if now.as_millis() > read.as_millis() {
                return Ok(now);
            }
        }
    }

    async fn claim_orders(
        &self,
        state: ShipmentState,
        holder: &str,
        lease: Duration,
        run_start: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ConnectorOrder>> {
        let args = [
            text(state.as_str()),
            text(holder),
            int(millis(lease)),
            ms(run_start),
            int(i64::from(limit)),
        ];
        let mut tx = self.begin().await?;
        let found = exec::all::<B>(&mut tx, B::SHIPMENT_SQL.claim_orders, &args).await?;
        let orders = found
            .iter()
            .map(rows::connector_order::<B>)
            .collect::<StoreResult<Vec<_>>>()?;
        commit::<B>(tx).await?;
        Ok(orders)
    }

    async fn prepare_order(
        &self,
        id: ShipmentId,
        holder: &str,
        options_id: CeremonyId,
        response_key_sealed: &[u8],
        request_sealed: &[u8],
    ) -> StoreResult<()> {
        let (id, options) = (id.to_string(), options_id.to_string());
        let args = [
            key(&id),
            text(holder),
            text(&options),
            bytes(response_key_sealed),
            bytes(request_sealed),
        ];
        one_row(self.execute(B::SHIPMENT_SQL.prepare_order, &args).await?)
    }

    async fn order_submitted(
        &self,
        id: ShipmentId,
        holder: &str,
        factory_shipment_id: &str,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let id = id.to_string();
        let args = [key(&id), text(holder), text(factory_shipment_id), ms(at)];
        let mut tx = self.begin().await?;
        one_row(exec::execute::<B>(&mut tx, B::SHIPMENT_SQL.order_submitted, &args).await?)?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn order_step(
        &self,
        id: ShipmentId,
        holder: &str,
        outcome: &StepOutcome<'_>,
        audit: Option<&NewAuditEvent>,
    ) -> StoreResult<()> {
        let id = id.to_string();
        let args = [
            key(&id),
            text(holder),
            text(outcome.state.as_str()),
            int(i64::from(outcome.failed)),
            Arg::Text(outcome.error),
            Arg::Int(outcome.retry_after.map(millis)),
            Arg::Text(outcome.tracking_number),
            ms(outcome.at),
        ];
        let mut tx = self.begin().await?;
        one_row(exec::execute::<B>(&mut tx, B::SHIPMENT_SQL.order_step, &args).await?)?;
        match audit {
            Some(event) => audit_and_commit::<B>(tx, event).await,
            None => commit::<B>(tx).await,
        }
    }

    async fn register_shipped(
        &self,
        k: &ShippedKey<'_>,
        key_audit: &NewAuditEvent,
        order_audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let (id, options, user) = (
            k.id.to_string(),
            k.options_id.to_string(),
            k.credential.user_id.to_string(),
        );
        let args = [
            key(&id),
            text(k.holder),
            bytes(&k.credential.id),
            Arg::Text(k.tracking_number),
            text(k.serial_number),
            bytes(k.pin_sealed),
            ms(k.at),
        ];
        let mut tx = self.begin().await?;
        if exec::execute::<B>(&mut tx, B::SHIPMENT_SQL.order_registered, &args).await? == 0 {
            return Err(StoreError::Conflict("order_moved"));
        }
        if exec::execute::<B>(&mut tx, B::ONBEHALF_SQL.take, &[key(&options), key(&user)]).await? == 0 {
            return Err(StoreError::Conflict("ceremony_used"));
        }
        insert_credential::<B>(&mut tx, k.credential).await?;
        insert_mail::<B>(&mut tx, k.mail).await?;
        insert_audit::<B>(&mut tx, key_audit).await?;
        audit_and_commit::<B>(tx, order_audit).await
    }

    async fn queue_mail(&self, mail: &NewMail, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_mail::<B>(&mut tx, mail).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn purge_completed(&self, before: Timestamp) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        exec::execute::<B>(&mut tx, B::SHIPMENT_SQL.purge_completed_mail, &[ms(before)]).await?;
        let n = exec::execute::<B>(&mut tx, B::SHIPMENT_SQL.purge_completed, &[ms(before)]).await?;
        commit::<B>(tx).await?;
        Ok(n)
    }

    async fn count_by_state(&self) -> StoreResult<Vec<(ShipmentState, u64)>> {
        let found = exec::all::<B>(&mut *self.conn().await?, B::SHIPMENT_SQL.count_by_state, &[]).await?;
        found.iter().map(|row| rows::state_count::<B>(row)).collect()
    }
}

/// Milliseconds of a duration, as the database stores them.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The 13 parameters of `insert_shipment`.
fn shipment_args<'a>(s: &'a Shipment, id: &'a str, user: &'a str, rule: Option<&'a str>) -> [Arg<'a>; 13] {
    [
        text(id),
        text(user),
        text(&s.model),
        text(s.state.as_str()),
        Arg::Text(rule),
        Arg::Text(s.factory_shipment_id.as_deref()),
        Arg::Text(s.tracking_number.as_deref()),
        Arg::Text(s.serial_number.as_deref()),
        Arg::Bytes(s.credential_id.as_deref()),
        int(i64::from(s.attempts)),
        Arg::Text(s.last_error.as_deref()),
        ms(s.created_at),
        ms(s.updated_at),
    ]
}

/// Inserts `mail` in `tx`.
async fn insert_mail<B: Backend>(conn: &mut exec::Connection<B>, mail: &NewMail) -> StoreResult<()> {
    let shipment = mail.shipment_id.map(|s| s.to_string());
    let recipients = keyfleet_domain::mail::recipients_text(&mail.recipients);
    let args = [
        text(&mail.id),
        Arg::Text(shipment.as_deref()),
        text(mail.kind.as_str()),
        text(&recipients),
        text(&mail.subject),
        bytes(&mail.body_sealed),
        ms(mail.created_at),
    ];
    exec::execute::<B>(conn, B::SHIPMENT_SQL.insert_mail, &args).await?;
    Ok(())
}
