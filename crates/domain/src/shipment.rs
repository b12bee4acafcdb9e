//! Key orders (shipments) and the group rules that place them: "members of group G get a
//! key of model M". The factory connector (issue 15) will carry an order on from
//! `requested`; until then orders are placed, approved and cancelled here.

use std::fmt;

use async_trait::async_trait;

use crate::audit::NewAuditEvent;
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
}
