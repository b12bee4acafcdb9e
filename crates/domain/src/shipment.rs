//! Key orders (shipments) and the group rules that place them: "members of group G get a
//! key of model M". The factory connector (issue 15) will carry an order on from
//! `requested`; until then orders are placed, approved and cancelled here.

use std::fmt;

use async_trait::async_trait;

use std::time::Duration;

use crate::audit::NewAuditEvent;
use crate::credential::Credential;
use crate::ids::CeremonyId;
use crate::mail::NewMail;
use crate::store::StoreResult;
use crate::{GroupId, Timestamp, UserId};

pub use crate::ids::{GroupRuleId, ShipmentId};

/// Whether a rule's orders wait for an administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// Orders start `pendingApproval` (the default).
    Required,
    /// Orders start `requested`.
    Automatic,
}

impl Approval {
    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Required => "required",
            Approval::Automatic => "automatic",
        }
    }

    /// The value named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "required" => Some(Approval::Required),
            "automatic" => Some(Approval::Automatic),
            _ => None,
        }
    }
}

/// "Members of `group_id` get a key of `model`."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRule {
    /// Identifier.
    pub id: GroupRuleId,
    /// The group whose members the rule serves.
    pub group_id: GroupId,
    /// The model's name (`nfc-key`, `band`).
    pub model: String,
    /// Whether its orders wait for approval.
    pub approval: Approval,
    /// A disabled rule orders nothing and flags nothing.
    pub enabled: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// Where an order is in its life. The connector (issue 15) moves `requested` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShipmentState {
    /// Placed by a group rule that requires approval; waits for an administrator.
    PendingApproval,
    /// Approved (or placed without approval); waits for the connector.
    Requested,
    /// Sent to the factory.
    Submitted,
    /// The factory shipped it.
    Shipped,
    /// Its credential was registered.
    Registered,
    /// Its PIN was sent.
    PinSent,
    /// Done.
    Complete,
    /// Cancelled.
    Cancelled,
    /// Failed for good.
    Failed,
    /// Needs an administrator.
    NeedsAttention,
}

impl ShipmentState {
    /// Every state, in life order.
    pub const ALL: [ShipmentState; 10] = [
        ShipmentState::PendingApproval,
        ShipmentState::Requested,
        ShipmentState::Submitted,
        ShipmentState::Shipped,
        ShipmentState::Registered,
        ShipmentState::PinSent,
        ShipmentState::Complete,
        ShipmentState::Cancelled,
        ShipmentState::Failed,
        ShipmentState::NeedsAttention,
    ];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            ShipmentState::PendingApproval => "pendingApproval",
            ShipmentState::Requested => "requested",
            ShipmentState::Submitted => "submitted",
            ShipmentState::Shipped => "shipped",
            ShipmentState::Registered => "registered",
            ShipmentState::PinSent => "pinSent",
            ShipmentState::Complete => "complete",
            ShipmentState::Cancelled => "cancelled",
            ShipmentState::Failed => "failed",
            ShipmentState::NeedsAttention => "needsAttention",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the order is still open (neither finished, cancelled nor failed). At most one
    /// open order per user and rule exists (the stores enforce it).
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            ShipmentState::Complete | ShipmentState::Cancelled | ShipmentState::Failed
        )
    }

    /// Whether keyfleet may still cancel it on its own (nothing was sent to the factory).
    pub fn cancellable(self) -> bool {
        matches!(self, ShipmentState::PendingApproval | ShipmentState::Requested)
    }
}

impl fmt::Display for ShipmentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    /// Identifier.
    pub id: ShipmentId,
    /// For whom.
    pub user_id: UserId,
    /// The model's name.
    pub model: String,
    /// Where it is.
    pub state: ShipmentState,
    /// The rule that placed it; `None`: placed by hand (the connector's `POST /shipments`).
    pub rule_id: Option<GroupRuleId>,
    /// The factory's id, once submitted.
    pub factory_shipment_id: Option<String>,
    /// The carrier's tracking number, once shipped.
    pub tracking_number: Option<String>,
    /// The key's serial number, once shipped.
    pub serial_number: Option<String>,
    /// The registered credential, once registered.
    pub credential_id: Option<Vec<u8>>,
    /// Submission attempts.
    pub attempts: u32,
    /// The last failure, in words.
    pub last_error: Option<String>,
    /// When it was placed.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl Shipment {
    /// A new order `id` of `model` for `user_id`, starting in `state`, placed by the rule
    /// `rule_id` (`None`: by hand) at `now`: nothing submitted, shipped or tried yet.
    pub fn placed(
        id: ShipmentId,
        user_id: UserId,
        model: String,
        state: ShipmentState,
        rule_id: Option<GroupRuleId>,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            user_id,
            model,
            state,
            rule_id,
            factory_shipment_id: None,
            tracking_number: None,
            serial_number: None,
            credential_id: None,
            attempts: 0,
            last_error: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A key its holder is asked to hand back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionFlag {
    /// The credential.
    pub credential_id: Vec<u8>,
    /// Its owner.
    pub user_id: UserId,
    /// Why: `left_group`, `user_disabled`, `user_deleted`.
    pub reason: String,
    /// The rule whose group they left, if any.
    pub rule_id: Option<GroupRuleId>,
    /// Since when.
    pub requested_at: Timestamp,
}

/// Which orders a list shows.
#[derive(Debug, Clone, Default)]
pub struct ShipmentQuery {
    /// Only in this state.
    pub state: Option<ShipmentState>,
    /// Only for this user.
    pub user: Option<UserId>,
    /// Only placed by this rule.
    pub rule: Option<GroupRuleId>,
    /// At most this many, newest first.
    pub limit: u32,
}

/// What an order asks of the connector beyond its model (issue 15's `POST /api/v1/shipments`;
/// a rule's orders take the defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDetails {
    /// The PIN's length, 4–63.
    pub pin_length: u8,
    /// Who receives the PIN email (validated addresses); empty: the user's manager, else the
    /// user.
    pub emails_to: Vec<String>,
    /// Where the key goes; `None`: the user's shipping address at submission.
    pub shipping_address: Option<String>,
    /// `standard` or `express`.
    pub delivery_type: String,
}

impl Default for OrderDetails {
    fn default() -> Self {
        Self {
            pin_length: 8,
            emails_to: Vec::new(),
            shipping_address: None,
            delivery_type: "standard".to_owned(),
        }
    }
}

/// An order as the connector works on it: the order, what it asks, and what the connector
/// prepared and received. Its `Debug` output leaves the sealed secrets out.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectorOrder {
    /// The order.
    pub shipment: Shipment,
    /// What it asks.
    pub details: OrderDetails,
    /// The on-behalf creation options prepared for it (set before it is submitted).
    pub options_id: Option<CeremonyId>,
    /// The key the factory's answers are encrypted to, sealed under the master key.
    pub response_key_sealed: Option<Vec<u8>>,
    /// The body submitted to the factory, sealed under the master key (a retry resends it).
    pub request_sealed: Option<Vec<u8>>,
    /// The PIN, sealed under the master key, from registration until cleanup.
    pub pin_sealed: Option<Vec<u8>>,
    /// Not tried again before (database clock).
    pub next_attempt_at: Option<Timestamp>,
}

impl fmt::Debug for ConnectorOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorOrder")
            .field("shipment", &self.shipment)
            .field("details", &self.details)
            .field("options_id", &self.options_id)
            .field("next_attempt_at", &self.next_attempt_at)
            .finish_non_exhaustive()
    }
}

/// A shipped key's registration, written at once: the options consumed, the credential
/// inserted, the order moved `submitted` → `registered` with the key's facts and the sealed
/// PIN, the PIN email queued in the outbox.
#[derive(Clone)]
pub struct ShippedKey<'a> {
    /// The order.
    pub id: ShipmentId,
    /// The lease holder that claimed it.
    pub holder: &'a str,
    /// The options the attestation answered.
    pub options_id: CeremonyId,
    /// The verified credential.
    pub credential: &'a Credential,
    /// The carrier's tracking number.
    pub tracking_number: Option<&'a str>,
    /// The key's serial number.
    pub serial_number: &'a str,
    /// The PIN, sealed.
    pub pin_sealed: &'a [u8],
    /// The PIN email.
    pub mail: &'a NewMail,
    /// When.
    pub at: Timestamp,
}

/// How a claimed order's step ended without moving it on.
#[derive(Debug, Clone)]
pub struct StepOutcome<'a> {
    /// The state it goes to (its own to stay; `needsAttention`, `failed`).
    pub state: ShipmentState,
    /// Counted as a failed attempt (with `error`).
    pub failed: bool,
    /// The failure in words (never a secret).
    pub error: Option<&'a str>,
    /// Not tried again for this long (database clock); `None`: at the next run.
    pub retry_after: Option<Duration>,
    /// The tracking number, when the factory gave one.
    pub tracking_number: Option<&'a str>,
    /// When.
    pub at: Timestamp,
}

/// Group rules, orders and collection flags.
#[async_trait]
pub trait ShipmentStore: Send + Sync {
    /// Inserts a rule. `Conflict("group_rule")` when the group already has a rule for the
    /// model; `NotFound` when the group is gone.
    async fn create_rule(&self, rule: &GroupRule, audit: &NewAuditEvent) -> StoreResult<()>;
    /// A rule by id.
    async fn get_rule(&self, id: GroupRuleId) -> StoreResult<Option<GroupRule>>;
    /// Every rule, by group then model.
    async fn list_rules(&self) -> StoreResult<Vec<GroupRule>>;
    /// Replaces a rule's model, approval and enabled. `NotFound` when unknown;
    /// `Conflict("group_rule")` as for create.
    async fn update_rule(&self, rule: &GroupRule, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Deletes a rule. `NotFound` when unknown. Its orders stay (their `rule_id` kept).
    async fn delete_rule(&self, id: GroupRuleId, audit: &NewAuditEvent) -> StoreResult<()>;

    /// Inserts an order. `Conflict("open_order")` when the user already has an open order
    /// from the same rule; `NotFound` when the user is gone.
    async fn create_shipment(&self, shipment: &Shipment, audit: &NewAuditEvent) -> StoreResult<()>;
    /// An order by id.
    async fn get_shipment(&self, id: ShipmentId) -> StoreResult<Option<Shipment>>;
    /// Orders, newest first.
    async fn list_shipments(&self, query: &ShipmentQuery) -> StoreResult<Vec<Shipment>>;
    /// Moves an order from `from` to `to` (compare-and-set). `NotFound` unless it exists
    /// and is in `from`.
    async fn set_shipment_state(
        &self,
        id: ShipmentId,
        from: ShipmentState,
        to: ShipmentState,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;

    /// Flags a key for collection. Returns false (and writes nothing, the audit event
    /// included) when it is already flagged. `NotFound` when the key is gone.
    async fn flag_for_collection(&self, flag: &CollectionFlag, audit: &NewAuditEvent) -> StoreResult<bool>;
    /// Clears a key's flag. `NotFound` when it is not flagged.
    async fn clear_collection(&self, credential_id: &[u8], audit: &NewAuditEvent) -> StoreResult<()>;
    /// The user's keys flagged for collection. (A key's flag goes with the key.)
    async fn user_collections(&self, user: UserId) -> StoreResult<Vec<CollectionFlag>>;

    /// Inserts an order placed by hand with what it asks. `NotFound` when the user is gone.
    async fn create_order(&self, shipment: &Shipment, details: &OrderDetails, audit: &NewAuditEvent)
    -> StoreResult<()>;
    /// An order with its connector columns.
    async fn connector_order(&self, id: ShipmentId) -> StoreResult<Option<ConnectorOrder>>;
    /// The database's clock (leases, backoff and the connector's checks of expiry use it, so
    /// processes whose clocks disagree agree on it).
    async fn database_now(&self) -> StoreResult<Timestamp>;
    /// The start of a connector run, for [`Self::claim_orders`]: a time on the database clock
    /// after every `checked_at` written before the call, and at or before every one written
    /// after it returns. The clock counts milliseconds, so the store waits (a millisecond at
    /// most) for it to pass the one it read: a run that began in the millisecond of the last
    /// run's claim would otherwise take the order as looked at already and skip it.
    async fn run_start(&self) -> StoreResult<Timestamp>;
    /// Claims up to `limit` orders in `state` that are due (`next_attempt_at` passed), not
    /// leased by another holder, and not looked at since `run_start` (a [`Self::run_start`]):
    /// each gets `holder`'s lease for `lease` (database clock) and `checked_at` now. Two
    /// processes never claim the same order (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite:
    /// one writer).
    async fn claim_orders(
        &self,
        state: ShipmentState,
        holder: &str,
        lease: Duration,
        run_start: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ConnectorOrder>>;
    /// Records what was prepared for a claimed `requested` order before it is submitted.
    /// `NotFound` unless `holder` holds it in `requested`.
    async fn prepare_order(
        &self,
        id: ShipmentId,
        holder: &str,
        options_id: CeremonyId,
        response_key_sealed: &[u8],
        request_sealed: &[u8],
    ) -> StoreResult<()>;
    /// A claimed `requested` order was submitted: `submitted` with the factory's id, attempts
    /// and last error reset, the lease released. `NotFound` unless `holder` holds it.
    async fn order_submitted(
        &self,
        id: ShipmentId,
        holder: &str,
        factory_shipment_id: &str,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// Ends a step on a claimed order that did not move it on (see [`StepOutcome`]), releasing
    /// the lease; the audit event, if any, in the same transaction. `NotFound` unless
    /// `holder` holds it.
    async fn order_step(
        &self,
        id: ShipmentId,
        holder: &str,
        outcome: &StepOutcome<'_>,
        audit: Option<&NewAuditEvent>,
    ) -> StoreResult<()>;
    /// Registers a shipped key (see [`ShippedKey`]) with its two audit events, in one
    /// transaction. `Conflict("order_moved")` unless `holder` holds the order in `submitted`;
    /// `Conflict("ceremony_used")` when the options are gone.
    async fn register_shipped(
        &self,
        key: &ShippedKey<'_>,
        key_audit: &NewAuditEvent,
        order_audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// Queues a message (a PIN resent), audited.
    async fn queue_mail(&self, mail: &NewMail, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Deletes `complete` orders last changed before `before`, and with them every secret
    /// they held (sealed PIN, response key, their outbox rows). How many.
    async fn purge_completed(&self, before: Timestamp) -> StoreResult<u64>;
    /// How many orders are in each state (states without orders left out).
    async fn count_by_state(&self) -> StoreResult<Vec<(ShipmentState, u64)>>;
}
