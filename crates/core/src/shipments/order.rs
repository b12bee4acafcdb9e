//! Key orders placed and handled by hand (issue 15's API and console): order a key, cancel
//! it (at the factory too once submitted), resend its PIN, mark it complete after a manual
//! resolution, order it again after it failed; the connector's status; and the cleanup of
//! completed orders with every secret they held. `ManageShipments` for changes,
//! `ReadShipments` for the status.

use keyfleet_domain::StoreError;
use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::mail::MailKind;
use keyfleet_domain::shipment::{ConnectorOrder, OrderDetails, Shipment, ShipmentId, ShipmentState};
use keyfleet_domain::store::JobState;
use rand_core::OsRng;

use super::connector::{Failure, pin_aad, pin_mail};
use super::fulfilment::{Fulfilment, FulfilmentError};
use super::{find_user, model_named};
use crate::access::{Permission, Principal, authorize};
use crate::secrets::MasterKey;
use crate::{CoreError, Ctx};

/// Most addresses a PIN email goes to.
pub const MAX_EMAILS: usize = 10;
/// Longest shipping address, in characters.
pub const MAX_ADDRESS: usize = 500;

/// `POST /api/v1/shipments` as parsed: text as sent, checked by [`create`].
#[derive(Debug, Clone, Default)]
pub struct OrderDraft {
    /// The user's id or username.
    pub user: String,
    /// `nfc-key`, `band`, or the model's AAGUID.
    pub model: String,
    /// The PIN's length (4–63).
    pub pin_length: Option<i64>,
    /// Who receives the PIN (1–10 addresses).
    pub emails_to: Vec<String>,
    /// Where the key goes; `None`: the user's shipping address.
    pub shipping_address: Option<String>,
    /// `standard` (default) or `express`.
    pub delivery_type: Option<String>,
}

fn check_details(draft: &OrderDraft, user_address: Option<&str>) -> Result<OrderDetails, CoreError> {
    let pin_length = draft
        .pin_length
        .filter(|n| (4..=63).contains(n))
        .and_then(|n| u8::try_from(n).ok())
        .ok_or_else(|| CoreError::invalid("invalid_pin_length", "pinLength: must be a whole number from 4 to 63"))?;
    if draft.emails_to.is_empty() || draft.emails_to.len() > MAX_EMAILS {
        return Err(CoreError::invalid(
            "invalid_emails_to",
            format!("emailsTo: must name 1 to {MAX_EMAILS} addresses"),
        ));
    }
    let mut emails_to = Vec::new();
    for e in &draft.emails_to {
        let valid = keyfleet_domain::user::validate_email(e, "emailsTo")
            .map_err(|_| CoreError::invalid("invalid_emails_to", "emailsTo: each must be an email address"))?;
        if !emails_to.contains(&valid) {
            emails_to.push(valid);
        }
    }
    let shipping_address = match draft.shipping_address.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(a) => {
            if a.chars().count() > MAX_ADDRESS || a.chars().any(|c| c.is_control() && c != '\n') {
                return Err(CoreError::invalid(
                    "invalid_shipping_address",
                    format!("shippingAddress: at most {MAX_ADDRESS} characters, lines of printable text"),
                ));
            }
            Some(a.to_owned())
        }
    };
    if shipping_address.is_none() && user_address.is_none_or(|a| a.trim().is_empty()) {
        return Err(CoreError::invalid(
            "no_shipping_address",
            "shippingAddress: the user has no shipping address; give one",
        ));
    }
    let delivery_type = match draft.delivery_type.as_deref() {
        None => "standard",
        Some(t @ ("standard" | "express")) => t,
        Some(_) => {
            return Err(CoreError::invalid(
                "invalid_delivery_type",
                "deliveryType: standard or express",
            ));
        }
    };
    Ok(OrderDetails {
        pin_length,
        emails_to,
        shipping_address,
        delivery_type: delivery_type.to_owned(),
    })
}

/// Orders a key for a user by hand: checked whole before anything is stored; the order starts
/// `requested` (the connector submits it at its next run). Audited `shipment.order`.
pub async fn create(ctx: &Ctx<'_>, principal: &Principal, draft: &OrderDraft) -> Result<Shipment, CoreError> {
    authorize(ctx, principal, Permission::ManageShipments).await?;
    let user = find_user(ctx, draft.user.trim())
        .await?
        .ok_or_else(|| CoreError::invalid("unknown_user", "user: no user with this id or username"))?;
    let model = model_named(&draft.model)
        .ok_or_else(|| CoreError::invalid("unknown_model", "model: a model the factory makes (nfc-key, band)"))?;
    let details = check_details(draft, user.shipping_address.as_deref())?;
    if !user.enabled {
        return Err(CoreError::conflict(
            "user_disabled",
            "the user is disabled; enable them before ordering a key for them",
        ));
    }
    let s = Shipment::placed(
        ShipmentId::new_random(&mut OsRng),
        user.id,
        model.name.to_owned(),
        ShipmentState::Requested,
        None,
        ctx.now,
    );
    let audit = ctx.audit_with(
        Action::ShipmentOrder,
        Some(Target::Shipment(s.id)),
        &super::detail(&s, user.username.as_str(), None, s.state, Some("manual")),
    );
    match ctx.stores.shipments.create_order(&s, &details, &audit).await {
        Ok(()) => Ok(s),
        Err(StoreError::NotFound) => Err(CoreError::invalid(
            "unknown_user",
            "user: no user with this id or username",
        )),
        Err(e) => Err(e.into()),
    }
}

async fn order_of(ctx: &Ctx<'_>, id: ShipmentId) -> Result<ConnectorOrder, CoreError> {
    ctx.stores
        .shipments
        .connector_order(id)
        .await?
        .ok_or(CoreError::NotFound)
}

/// Orders again what a failed or cancelled order asked for: a new order, `requested`, with
/// the same user, model and details (the old one stays as it is). Audited `shipment.order`
/// with the reason `reorder:OLD-ID`.
pub async fn reorder(ctx: &Ctx<'_>, principal: &Principal, id: ShipmentId) -> Result<Shipment, CoreError> {
    authorize(ctx, principal, Permission::ManageShipments).await?;
    let old = order_of(ctx, id).await?;
    if !matches!(old.shipment.state, ShipmentState::Failed | ShipmentState::Cancelled) {
        return Err(CoreError::conflict(
            "order_not_reorderable",
            format!(
                "only a failed or cancelled order can be ordered again; this one is {}",
                old.shipment.state
            ),
        ));
    }
    let user = ctx
        .stores
        .users
        .get_user(old.shipment.user_id)
        .await?
        .ok_or(CoreError::NotFound)?;
    if !user.enabled {
        return Err(CoreError::conflict(
            "user_disabled",
            "the user is disabled; enable them before ordering a key for them",
        ));
    }
    let s = Shipment::placed(
        ShipmentId::new_random(&mut OsRng),
        old.shipment.user_id,
        old.shipment.model.clone(),
        ShipmentState::Requested,
        old.shipment.rule_id,
        ctx.now,
    );
    let reason = format!("reorder:{id}");
    let audit = ctx.audit_with(
        Action::ShipmentOrder,
        Some(Target::Shipment(s.id)),
        &super::detail(&s, user.username.as_str(), None, s.state, Some(&reason)),
    );
    match ctx.stores.shipments.create_order(&s, &old.details, &audit).await {
        Ok(()) => Ok(s),
        Err(StoreError::Conflict("open_order")) => Err(CoreError::conflict(
            "order_open",
            "the user already has an open order from this rule",
        )),
        Err(e) => Err(e.into()),
    }
}

fn unavailable(e: &FulfilmentError) -> CoreError {
    CoreError::Unavailable {
        code: "factory_unavailable",
        message: format!("the order could not be cancelled at the factory: {e}"),
    }
}

/// `DELETE /api/v1/shipments/{id}`: cancels an order while it is editable: before it was
/// submitted, as [`super::cancel`]; once submitted, at the factory first (refused with
/// `order_locked` once the factory has locked it for fulfilment).
pub async fn cancel(
    ctx: &Ctx<'_>,
    principal: &Principal,
    id: ShipmentId,
    factory: Option<&dyn Fulfilment>,
) -> Result<Shipment, CoreError> {
    authorize(ctx, principal, Permission::ManageShipments).await?;
    let order = order_of(ctx, id).await?;
    let s = &order.shipment;
    if s.state != ShipmentState::Submitted {
        return super::cancel(ctx, principal, id).await;
    }
    let (Some(factory), Some(factory_id)) = (factory, s.factory_shipment_id.as_deref()) else {
        return Err(CoreError::Unavailable {
            code: "factory_not_configured",
            message: "the order was submitted, and no factory is configured to cancel it at".into(),
        });
    };
    match factory.cancel(factory_id).await {
        Ok(()) => {}
        Err(FulfilmentError::Refused { status: 409, .. }) => {
            return Err(CoreError::conflict(
                "order_locked",
                "the factory no longer allows this order to be cancelled (it is being made or was shipped)",
            ));
        }
        Err(FulfilmentError::Refused { status: 404, .. }) => {}
        Err(e) => return Err(unavailable(&e)),
    }
    super::transition(
        ctx,
        s,
        ShipmentState::Cancelled,
        Action::ShipmentCancel,
        Some("cancelled_by_administrator"),
        |state| {
            CoreError::conflict(
                "order_not_cancellable",
                format!("the order moved on meanwhile; it is {state}"),
            )
        },
    )
    .await
}

/// Queues the PIN email again (to the order's addresses), from the PIN kept sealed until the
/// order is cleaned up. Refused (`pin_not_available`) before registration; a cleaned-up order
/// is gone (404). Audited `shipment.resend_pin`.
pub async fn resend_pin(
    ctx: &Ctx<'_>,
    principal: &Principal,
    master: &MasterKey,
    id: ShipmentId,
) -> Result<Shipment, CoreError> {
    authorize(ctx, principal, Permission::ManageShipments).await?;
    let order = order_of(ctx, id).await?;
    let s = &order.shipment;
    let (Some(sealed), Some(serial)) = (order.pin_sealed.as_deref(), s.serial_number.as_deref()) else {
        return Err(CoreError::conflict(
            "pin_not_available",
            format!("this order holds no PIN to send (it is {})", s.state),
        ));
    };
    let user = ctx.stores.users.get_user(s.user_id).await?.ok_or(CoreError::NotFound)?;
    let pin = master
        .decrypt(sealed, &pin_aad(&s.id.to_string()))
        .map_err(|_| CoreError::conflict("pin_not_available", "the stored PIN does not open with this master key"))?;
    let pin =
        std::str::from_utf8(&pin).map_err(|_| CoreError::conflict("pin_not_available", "the stored PIN is damaged"))?;
    let mail = pin_mail(
        master,
        &order,
        &user,
        serial,
        s.tracking_number.as_deref(),
        pin,
        MailKind::ShipmentPinResend,
        ctx.now,
    )
    .map_err(|Failure { text, .. }| CoreError::conflict("pin_not_available", text))?;
    let audit = ctx.audit_with(
        Action::ShipmentResendPin,
        Some(Target::Shipment(s.id)),
        &super::detail(s, user.username.as_str(), Some(s.state), s.state, Some("resend_pin")),
    );
    ctx.stores.shipments.queue_mail(&mail, &audit).await?;
    Ok(s.clone())
}

/// Marks an order complete after a manual resolution (from `needsAttention`, `registered`
/// or `pinSent`). Audited `shipment.complete`.
pub async fn complete(ctx: &Ctx<'_>, principal: &Principal, id: ShipmentId) -> Result<Shipment, CoreError> {
    authorize(ctx, principal, Permission::ManageShipments).await?;
    let s = ctx
        .stores
        .shipments
        .get_shipment(id)
        .await?
        .ok_or(CoreError::NotFound)?;
    let refusal = |state: ShipmentState| {
        CoreError::conflict(
            "order_not_completable",
            format!(
                "only an order that needs attention, is registered or had its PIN sent can be marked complete; this one is {state}"
            ),
        )
    };
    if !matches!(
        s.state,
        ShipmentState::NeedsAttention | ShipmentState::Registered | ShipmentState::PinSent
    ) {
        return Err(refusal(s.state));
    }
    super::transition(
        ctx,
        &s,
        ShipmentState::Complete,
        Action::ShipmentComplete,
        Some("marked_complete"),
        refusal,
    )
    .await
}

/// The connector as it stands, for `GET /api/v1/connector/status` and the console.
#[derive(Debug, Clone)]
pub struct ConnectorStatus {
    /// Orders per state (every state, zero included).
    pub counts: Vec<(ShipmentState, u64)>,
    /// The process-shipments job's row (last run, next due), when it ran once.
    pub process_job: Option<JobState>,
    /// The cleanup job's row.
    pub cleanup_job: Option<JobState>,
    /// The factory's URL, when one is configured.
    pub factory: Option<String>,
    /// Whether it answered (its transport keys), or why not.
    pub reachable: Option<Result<(), String>>,
}

/// The connector's status: counts per state, the two jobs' last and next runs, and whether
/// the factory answers now.
pub async fn status(
    ctx: &Ctx<'_>,
    principal: &Principal,
    factory: Option<&dyn Fulfilment>,
) -> Result<ConnectorStatus, CoreError> {
    authorize(ctx, principal, Permission::ReadShipments).await?;
    let stored = ctx.stores.shipments.count_by_state().await?;
    let counts = ShipmentState::ALL
        .iter()
        .map(|s| (*s, stored.iter().find(|(t, _)| t == s).map_or(0, |(_, n)| *n)))
        .collect();
    let jobs = ctx.stores.jobs.list_jobs().await?;
    let job = |name: &str| jobs.iter().find(|j| j.job == name).cloned();
    let reachable = match factory {
        Some(f) => Some(f.transport_keys().await.map(|_| ()).map_err(|e| e.to_string())),
        None => None,
    };
    Ok(ConnectorStatus {
        counts,
        process_job: job(crate::jobs::Job::ProcessShipments.name()),
        cleanup_job: job(crate::jobs::Job::ShipmentsCleanup.name()),
        factory: factory.map(Fulfilment::endpoint),
        reachable,
    })
}

/// Deletes complete orders older than `days` days (0 keeps everything), with every secret
/// they held. How many.
pub async fn cleanup(ctx: &Ctx<'_>, days: u32) -> Result<u64, CoreError> {
    if days == 0 {
        return Ok(0);
    }
    let now = ctx.stores.shipments.database_now().await?;
    let before = now.minus(std::time::Duration::from_secs(u64::from(days) * 86_400));
    Ok(ctx.stores.shipments.purge_completed(before).await?)
}
