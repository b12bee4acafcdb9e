//! Key orders (shipments): what group rules place, and what administrators approve or
//! cancel. The foundation the factory connector (issue 15) extends: it will take orders in
//! `requested` on to the factory; until it exists they wait there (docs/shipments.md).
//!
//! - Reading needs `ReadShipments` (administrators, helpdesk, clients with `shipments`);
//!   approving and cancelling `ManageShipments` (administrators, clients with `shipments`).
//! - An order a rule places starts `pendingApproval` (the rule's `approval: "required"`,
//!   the default) or `requested` (`"automatic"`). Approval moves `pendingApproval` to
//!   `requested`; cancelling moves `pendingApproval` or `requested` to `cancelled`. Anything
//!   else is refused (`order_not_pending`, `order_not_cancellable`) and changes nothing.
//! - At most one open order per user and rule exists, enforced by the stores (a replayed
//!   PATCH, two processes, a member removed and re-added).
//!
//! [`rules`] holds the group rules and the one hook every membership and standing change
//! passes through.

pub mod connector;
pub mod fulfilment;
pub mod order;
pub mod rules;

use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::report::Aaguid;
use keyfleet_domain::shipment::{GroupRule, Shipment, ShipmentId, ShipmentQuery, ShipmentState};
use keyfleet_domain::user::{User, Username};
use keyfleet_domain::{StoreError, UserId};
use rand_core::OsRng;
use serde::Serialize;

use crate::access::{Permission, Principal, authorize};
use crate::audit::Detail;
use crate::{CoreError, Ctx};

/// Most orders a list returns.
pub const LIST_MAX: u32 = 500;

/// A model keys can be ordered of: its name and AAGUID (keyfleet's factory makes these;
/// `keyfleet key models`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Model {
    /// `nfc-key`, `band`.
    pub name: &'static str,
    /// Its AAGUID, as its keys attest.
    pub aaguid: Aaguid,
}

/// The models keys can be ordered of, from keyfleet's own metadata statements.
pub fn models() -> Vec<Model> {
    keyfleet_mds::local::STATEMENTS
        .iter()
        .filter_map(|(name, json)| {
            let v: serde_json::Value = serde_json::from_str(json).ok()?;
            let aaguid = keyfleet_mds::parse_aaguid(v.get("aaguid")?.as_str()?)?;
            Some(Model { name, aaguid })
        })
        .collect()
}

/// The model `text` names: its name, or its AAGUID (hyphenated, any case).
pub fn model_named(text: &str) -> Option<Model> {
    let t = text.trim().to_ascii_lowercase();
    models()
        .into_iter()
        .find(|m| m.name == t || keyfleet_mds::parse_aaguid(&t).is_some_and(|a| a == m.aaguid))
}

/// An order's audit detail.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderDetail<'a> {
    user_id: String,
    username: &'a str,
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'static str>,
    to: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}
impl Detail for OrderDetail<'_> {}

fn detail<'a>(
    s: &'a Shipment,
    username: &'a str,
    from: Option<ShipmentState>,
    to: ShipmentState,
    reason: Option<&'a str>,
) -> OrderDetail<'a> {
    OrderDetail {
        user_id: s.user_id.to_string(),
        username,
        model: &s.model,
        rule_id: s.rule_id.map(|r| r.to_string()),
        from: from.map(ShipmentState::as_str),
        to: to.as_str(),
        reason,
    }
}

/// Orders, newest first (at most [`LIST_MAX`]): `state` a state's name, `user` a user's id
/// or username (an unknown user has no orders).
pub async fn list(
    ctx: &Ctx<'_>,
    principal: &Principal,
    state: Option<&str>,
    user: Option<&str>,
) -> Result<Vec<Shipment>, CoreError> {
    authorize(ctx, principal, Permission::ReadShipments).await?;
    let state = match state.filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(ShipmentState::parse(s).ok_or_else(|| {
            CoreError::invalid(
                "invalid_state",
                format!(
                    "state must be one of {}",
                    ShipmentState::ALL.map(ShipmentState::as_str).join(", ")
                ),
            )
        })?),
    };
    let user = match user.map(str::trim).filter(|u| !u.is_empty()) {
        None => None,
        Some(u) => match find_user(ctx, u).await? {
            Some(found) => Some(found.id),
            None => return Ok(Vec::new()),
        },
    };
    let query = ShipmentQuery {
        state,
        user,
        rule: None,
        limit: LIST_MAX,
    };
    Ok(ctx.stores.shipments.list_shipments(&query).await?)
}

/// A user by id or username.
pub(crate) async fn find_user(ctx: &Ctx<'_>, text: &str) -> Result<Option<User>, CoreError> {
    if let Ok(id) = text.parse::<UserId>() {
        return Ok(ctx.stores.users.get_user(id).await?);
    }
    match Username::parse(text) {
        Ok(name) => Ok(ctx.stores.users.find_user_by_username(&name).await?),
        Err(_) => Ok(None),
    }
}

/// One order.
pub async fn get(ctx: &Ctx<'_>, principal: &Principal, id: ShipmentId) -> Result<Shipment, CoreError> {
    authorize(ctx, principal, Permission::ReadShipments).await?;
    ctx.stores.shipments.get_shipment(id).await?.ok_or(CoreError::NotFound)
}

async fn username_of(ctx: &Ctx<'_>, user: UserId) -> Result<String, CoreError> {
    Ok(ctx
        .stores
        .users
        .get_user(user)
        .await?
        .map(|u| u.username.as_str().to_owned())
        .unwrap_or_default())
}

/// Moves `s` from its state to `to`, audited; a concurrent change is refused like a stale
/// state (`refusal`).
async fn transition(
    ctx: &Ctx<'_>,
    s: &Shipment,
    to: ShipmentState,
    action: Action,
    reason: Option<&str>,
    refusal: fn(ShipmentState) -> CoreError,
) -> Result<Shipment, CoreError> {
    let username = username_of(ctx, s.user_id).await?;
    let audit = ctx.audit_with(
        action,
        Some(Target::Shipment(s.id)),
        &detail(s, &username, Some(s.state), to, reason),
    );
    match ctx
        .stores
        .shipments
        .set_shipment_state(s.id, s.state, to, ctx.now, &audit)
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotFound) => {
            let now = ctx
                .stores
                .shipments
                .get_shipment(s.id)
                .await?
                .ok_or(CoreError::NotFound)?;
            return Err(refusal(now.state));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Shipment {
        state: to,
        updated_at: ctx.now,
        ..s.clone()
    })
}

fn not_pending(state: ShipmentState) -> CoreError {
    CoreError::conflict(
        "order_not_pending",
        format!("only an order pending approval can be approved; this one is {state}"),
    )
}

fn not_cancellable(state: ShipmentState) -> CoreError {
    CoreError::conflict(
        "order_not_cancellable",
        format!("only an order pending approval or requested can be cancelled; this one is {state}"),
    )
}

/// Approves an order pending approval: it becomes `requested`, waiting for the connector.
pub async fn approve(ctx: &Ctx<'_>, principal: &Principal, id: ShipmentId) -> Result<Shipment, CoreError> {
    authorize(ctx, principal, Permission::ManageShipments).await?;
    let s = ctx
        .stores
        .shipments
        .get_shipment(id)
        .await?
        .ok_or(CoreError::NotFound)?;
    if s.state != ShipmentState::PendingApproval {
        return Err(not_pending(s.state));
    }
    transition(
        ctx,
        &s,
        ShipmentState::Requested,
        Action::ShipmentApprove,
        None,
        not_pending,
    )
    .await
}

/// Cancels (or rejects) an order not yet sent to the factory.
pub async fn cancel(ctx: &Ctx<'_>, principal: &Principal, id: ShipmentId) -> Result<Shipment, CoreError> {
    authorize(ctx, principal, Permission::ManageShipments).await?;
    let s = ctx
        .stores
        .shipments
        .get_shipment(id)
        .await?
        .ok_or(CoreError::NotFound)?;
    if !s.state.cancellable() {
        return Err(not_cancellable(s.state));
    }
    transition(
        ctx,
        &s,
        ShipmentState::Cancelled,
        Action::ShipmentCancel,
        Some("cancelled_by_administrator"),
        not_cancellable,
    )
    .await
}

/// Places an order for `user` under `rule`; `None` when the user already has an open order
/// from the rule (the store's rule, so replays and races order once).
pub(crate) async fn place(ctx: &Ctx<'_>, user: &User, rule: &GroupRule) -> Result<Option<Shipment>, CoreError> {
    let state = match rule.approval {
        keyfleet_domain::shipment::Approval::Required => ShipmentState::PendingApproval,
        keyfleet_domain::shipment::Approval::Automatic => ShipmentState::Requested,
    };
    let s = Shipment::placed(
        ShipmentId::new_random(&mut OsRng),
        user.id,
        rule.model.clone(),
        state,
        Some(rule.id),
        ctx.now,
    );
    let audit = ctx.audit_with(
        Action::ShipmentOrder,
        Some(Target::Shipment(s.id)),
        &detail(&s, user.username.as_str(), None, state, Some("group_rule")),
    );
    match ctx.stores.shipments.create_shipment(&s, &audit).await {
        Ok(()) => Ok(Some(s)),
        Err(StoreError::Conflict("open_order") | StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Cancels every open order `query` finds that `only` accepts and keyfleet may still
/// cancel, for `reason`.
pub(crate) async fn cancel_open(
    ctx: &Ctx<'_>,
    query: &ShipmentQuery,
    only: &(dyn Fn(&Shipment) -> bool + Sync),
    reason: &str,
) -> Result<u64, CoreError> {
    let mut cancelled = 0;
    for s in ctx.stores.shipments.list_shipments(query).await? {
        if !s.state.cancellable() || !only(&s) {
            continue;
        }
        match transition(
            ctx,
            &s,
            ShipmentState::Cancelled,
            Action::ShipmentCancel,
            Some(reason),
            not_cancellable,
        )
        .await
        {
            Ok(_) => cancelled += 1,
            // Moved on meanwhile (approved and cancelled, or taken by the connector).
            Err(CoreError::Conflict { .. } | CoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(cancelled)
}

/// The signed-in person's own key orders that are on their way (approved and not yet
/// registered: `requested`, `submitted`, `shipped`), newest first, for their Security info
/// page ("a key is on its way"). Another principal has none.
pub async fn on_the_way(ctx: &Ctx<'_>, principal: &Principal) -> Result<Vec<Shipment>, CoreError> {
    let Principal::Person { user, .. } = principal else {
        return Ok(Vec::new());
    };
    let query = ShipmentQuery {
        state: None,
        user: Some(*user),
        rule: None,
        limit: 20,
    };
    let all = ctx.stores.shipments.list_shipments(&query).await?;
    Ok(all
        .into_iter()
        .filter(|s| {
            matches!(
                s.state,
                ShipmentState::Requested | ShipmentState::Submitted | ShipmentState::Shipped
            )
        })
        .collect())
}
