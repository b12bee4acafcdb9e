//! Group rules ("members of group G get a key of model M") and the one hook through which
//! every membership change and every change of a user's standing acts on keys and orders.
//!
//! - CRUD needs `ManageShipments` (administrators); reading `ReadShipments` (helpdesk
//!   too). Every change is audited with a before/after diff.
//! - **Joiners** ([`membership_changed`] with the user added, or [`standing_changed`] for a
//!   user enabled or restored): for each enabled rule of the group, keys of the rule's model
//!   the user holds lose their collection flag; a user who holds one is not ordered another;
//!   otherwise an order is placed unless one for the model is already open.
//! - **Leavers** (removed from the group; or disabled or deleted, for every group they are
//!   in): unless another enabled rule still gives them the model, their keys of the model
//!   are flagged for collection and the rule's open orders for them are cancelled.
//! - Creating or enabling a rule orders for the group's current members; disabling a rule
//!   acts on nobody; deleting one cancels its open orders and flags no key (an administrative
//!   change, not someone leaving). Deleting a group deletes its rules the same way, without
//!   flags.

use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::shipment::{Approval, CollectionFlag, GroupRule, GroupRuleId, ShipmentQuery};
use keyfleet_domain::user::User;
use keyfleet_domain::{GroupId, StoreError, UserId};
use rand_core::OsRng;
use serde::Serialize;

use super::{LIST_MAX, Model, cancel_open, model_named, place};
use crate::access::{Permission, Principal, authorize};
use crate::audit::{Detail, KeyRef};
use crate::{CoreError, Ctx};

/// What a rule is made from (the JSON body and the console form).
#[derive(Debug, Clone, Default)]
pub struct RuleDraft {
    /// The group's id.
    pub group_id: String,
    /// The model: `nfc-key`, `band`, or its AAGUID.
    pub model: String,
    /// `required` (default) or `automatic`.
    pub approval: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// A change to a rule; what is `None` stays.
#[derive(Debug, Clone, Default)]
pub struct RulePatch {
    /// The model.
    pub model: Option<String>,
    /// `required` or `automatic`.
    pub approval: Option<String>,
    /// Enabled.
    pub enabled: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FieldChange {
    field: &'static str,
    before: Option<String>,
    after: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleChanged {
    group_id: String,
    changes: Vec<FieldChange>,
}
impl Detail for RuleChanged {}

fn fields(r: &GroupRule) -> [(&'static str, String); 4] {
    [
        ("groupId", r.group_id.to_string()),
        ("model", r.model.clone()),
        ("approval", r.approval.as_str().to_owned()),
        ("enabled", r.enabled.to_string()),
    ]
}

fn changed(before: Option<&GroupRule>, after: &GroupRule, deleted: bool) -> RuleChanged {
    let b = before.map(fields);
    let a = fields(after);
    let changes = a
        .iter()
        .enumerate()
        .filter_map(|(i, (name, av))| {
            let bv = b.as_ref().map(|b| b[i].1.clone());
            let av = (!deleted).then(|| av.clone());
            (bv != av).then_some(FieldChange {
                field: name,
                before: bv,
                after: av,
            })
        })
        .collect();
    RuleChanged {
        group_id: after.group_id.to_string(),
        changes,
    }
}

fn model_of(text: &str) -> Result<Model, CoreError> {
    model_named(text).ok_or_else(|| {
        let names: Vec<&str> = super::models().iter().map(|m| m.name).collect();
        CoreError::invalid(
            "unknown_model",
            format!("model must be one of {} (or its AAGUID)", names.join(", ")),
        )
    })
}

fn approval_of(text: Option<&str>, default: Approval) -> Result<Approval, CoreError> {
    match text {
        None => Ok(default),
        Some(t) => Approval::parse(t)
            .ok_or_else(|| CoreError::invalid("invalid_approval", "approval must be \"required\" or \"automatic\"")),
    }
}

fn store_refusal(e: StoreError) -> CoreError {
    match e {
        StoreError::Conflict("group_rule") => CoreError::conflict(
            "duplicate_rule",
            "the group already has a rule for this model; change that rule instead",
        ),
        StoreError::NotFound => CoreError::invalid("unknown_group", "no group has this id"),
        e => e.into(),
    }
}

/// Every rule.
pub async fn list(ctx: &Ctx<'_>, principal: &Principal) -> Result<Vec<GroupRule>, CoreError> {
    authorize(ctx, principal, Permission::ReadShipments).await?;
    Ok(ctx.stores.shipments.list_rules().await?)
}

/// One rule.
pub async fn get(ctx: &Ctx<'_>, principal: &Principal, id: GroupRuleId) -> Result<GroupRule, CoreError> {
    authorize(ctx, principal, Permission::ReadShipments).await?;
    ctx.stores.shipments.get_rule(id).await?.ok_or(CoreError::NotFound)
}

/// Creates a rule; an enabled one orders for the group's current members at once.
pub async fn create(ctx: &Ctx<'_>, principal: &Principal, draft: &RuleDraft) -> Result<GroupRule, CoreError> {
    authorize(ctx, principal, Permission::ManageShipments).await?;
    let group_id: GroupId = draft
        .group_id
        .trim()
        .parse()
        .map_err(|_| CoreError::invalid("unknown_group", "no group has this id"))?;
    if ctx.stores.groups.get_group(group_id).await?.is_none() {
        return Err(CoreError::invalid("unknown_group", "no group has this id"));
    }
    let model = model_of(&draft.model)?;
    let rule = GroupRule {
        id: GroupRuleId::new_random(&mut OsRng),
        group_id,
        model: model.name.to_owned(),
        approval: approval_of(draft.approval.as_deref(), Approval::Required)?,
        enabled: draft.enabled.unwrap_or(true),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let audit = ctx.audit_with(
        Action::GroupRuleCreate,
        Some(Target::GroupRule(rule.id)),
        &changed(None, &rule, false),
    );
    ctx.stores
        .shipments
        .create_rule(&rule, &audit)
        .await
        .map_err(store_refusal)?;
    if rule.enabled {
        serve_members(ctx, &rule).await?;
    }
    Ok(rule)
}

/// Changes a rule; enabling it (or changing its model) orders for the current members.
pub async fn update(
    ctx: &Ctx<'_>,
    principal: &Principal,
    id: GroupRuleId,
    patch: &RulePatch,
) -> Result<GroupRule, CoreError> {
    authorize(ctx, principal, Permission::ManageShipments).await?;
    let before = ctx.stores.shipments.get_rule(id).await?.ok_or(CoreError::NotFound)?;
    let mut rule = before.clone();
    if let Some(m) = &patch.model {
        rule.model = model_of(m)?.name.to_owned();
    }
    rule.approval = approval_of(patch.approval.as_deref(), rule.approval)?;
    rule.enabled = patch.enabled.unwrap_or(rule.enabled);
    if rule == before {
        return Ok(rule);
    }
    rule.updated_at = ctx.now;
    let audit = ctx.audit_with(
        Action::GroupRuleUpdate,
        Some(Target::GroupRule(rule.id)),
        &changed(Some(&before), &rule, false),
    );
    ctx.stores
        .shipments
        .update_rule(&rule, &audit)
        .await
        .map_err(store_refusal)?;
    if rule.enabled && (!before.enabled || before.model != rule.model) {
        serve_members(ctx, &rule).await?;
    }
    Ok(rule)
}

/// Deletes a rule and cancels its open orders (no key is flagged).
pub async fn delete(ctx: &Ctx<'_>, principal: &Principal, id: GroupRuleId) -> Result<(), CoreError> {
    authorize(ctx, principal, Permission::ManageShipments).await?;
    let rule = ctx.stores.shipments.get_rule(id).await?.ok_or(CoreError::NotFound)?;
    let audit = ctx.audit_with(
        Action::GroupRuleDelete,
        Some(Target::GroupRule(rule.id)),
        &changed(Some(&rule), &rule, true),
    );
    ctx.stores.shipments.delete_rule(id, &audit).await?;
    let query = ShipmentQuery {
        rule: Some(rule.id),
        limit: u32::MAX,
        ..ShipmentQuery::default()
    };
    cancel_open(ctx, &query, &|_| true, "rule_deleted").await?;
    Ok(())
}

/// Orders for every current member of the rule's group who may have one.
async fn serve_members(ctx: &Ctx<'_>, rule: &GroupRule) -> Result<(), CoreError> {
    for member in ctx.stores.groups.list_members(rule.group_id).await? {
        if in_good_standing(ctx, &member).await? {
            join(ctx, &member, rule).await?;
        }
    }
    Ok(())
}

/// Enabled and not deleted by the directory.
async fn in_good_standing(ctx: &Ctx<'_>, user: &User) -> Result<bool, CoreError> {
    if !user.enabled {
        return Ok(false);
    }
    let deleted = ctx
        .stores
        .directory
        .directory_user(user.id)
        .await?
        .is_some_and(|du| du.link.deleted_at.is_some());
    Ok(!deleted)
}

/// Every enabled rule.
async fn enabled_rules(ctx: &Ctx<'_>) -> Result<Vec<GroupRule>, CoreError> {
    Ok(ctx
        .stores
        .shipments
        .list_rules()
        .await?
        .into_iter()
        .filter(|r| r.enabled)
        .collect())
}

/// The hook: `added` joined `group`, `removed` left it (their change committed). Called by
/// every path that changes membership (directory sync, the console and the API).
pub(crate) async fn membership_changed(
    ctx: &Ctx<'_>,
    group: GroupId,
    added: &[UserId],
    removed: &[UserId],
) -> Result<(), CoreError> {
    let rules = enabled_rules(ctx).await?;
    let of_group: Vec<&GroupRule> = rules.iter().filter(|r| r.group_id == group).collect();
    if of_group.is_empty() {
        return Ok(());
    }
    for id in added {
        let Some(user) = ctx.stores.users.get_user(*id).await? else {
            continue;
        };
        if in_good_standing(ctx, &user).await? {
            for rule in &of_group {
                join(ctx, &user, rule).await?;
            }
        }
    }
    for id in removed {
        let Some(user) = ctx.stores.users.get_user(*id).await? else {
            continue;
        };
        let groups: Vec<GroupId> = ctx
            .stores
            .groups
            .list_user_groups(user.id)
            .await?
            .iter()
            .map(|g| g.id)
            .collect();
        let standing = in_good_standing(ctx, &user).await?;
        for rule in &of_group {
            let still_served = standing
                && rules
                    .iter()
                    .any(|r| r.model == rule.model && groups.contains(&r.group_id));
            if !still_served {
                leave(ctx, &user, rule, "left_group").await?;
            }
        }
    }
    Ok(())
}

/// The hook for a change of a user's standing (their change committed): disabled or deleted
/// (`reason` `user_disabled`, `user_deleted`), or back (enabled, restored).
pub(crate) async fn standing_changed(ctx: &Ctx<'_>, user: UserId, reason: &str) -> Result<(), CoreError> {
    let Some(user) = ctx.stores.users.get_user(user).await? else {
        return Ok(());
    };
    let groups: Vec<GroupId> = ctx
        .stores
        .groups
        .list_user_groups(user.id)
        .await?
        .iter()
        .map(|g| g.id)
        .collect();
    let rules: Vec<GroupRule> = enabled_rules(ctx)
        .await?
        .into_iter()
        .filter(|r| groups.contains(&r.group_id))
        .collect();
    let standing = in_good_standing(ctx, &user).await?;
    for rule in &rules {
        if standing {
            join(ctx, &user, rule).await?;
        } else {
            leave(ctx, &user, rule, reason).await?;
        }
    }
    Ok(())
}

/// Collection detail: the key, the model, the rule, why.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Collection<'a> {
    #[serde(flatten)]
    key: KeyRef<'a>,
    model: &'a str,
    rule_id: String,
    reason: &'a str,
}
impl Detail for Collection<'_> {}

/// A member of `rule`'s group in good standing: their flags on keys of the model end; they
/// are ordered a key unless they hold one or an order for the model is open.
async fn join(ctx: &Ctx<'_>, user: &User, rule: &GroupRule) -> Result<(), CoreError> {
    let Some(model) = model_named(&rule.model) else {
        return Ok(());
    };
    let keys: Vec<_> = ctx
        .stores
        .credentials
        .list_user_credentials(user.id)
        .await?
        .into_iter()
        .filter(|k| k.aaguid == model.aaguid)
        .collect();
    let flagged = ctx.stores.shipments.user_collections(user.id).await?;
    for key in &keys {
        if flagged.iter().any(|f| f.credential_id == key.id) {
            let audit = ctx.audit_with(
                Action::CredentialCollectionCleared,
                Some(Target::User(user.id)),
                &Collection {
                    key: KeyRef::new(&key.id, Some(&key.nickname)),
                    model: model.name,
                    rule_id: rule.id.to_string(),
                    reason: "entitled_again",
                },
            );
            match ctx.stores.shipments.clear_collection(&key.id, &audit).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    if !keys.is_empty() {
        return Ok(());
    }
    let open = ctx
        .stores
        .shipments
        .list_shipments(&ShipmentQuery {
            user: Some(user.id),
            limit: LIST_MAX,
            ..ShipmentQuery::default()
        })
        .await?;
    if open.iter().any(|s| s.state.is_open() && s.model == model.name) {
        return Ok(());
    }
    place(ctx, user, rule).await?;
    Ok(())
}

/// A leaver of `rule` whom no other rule gives its model: keys of the model flagged for
/// collection, open orders for the model that any rule placed cancelled (orders placed by
/// hand stay).
async fn leave(ctx: &Ctx<'_>, user: &User, rule: &GroupRule, reason: &str) -> Result<(), CoreError> {
    let query = ShipmentQuery {
        user: Some(user.id),
        limit: LIST_MAX,
        ..ShipmentQuery::default()
    };
    let of_rules = |s: &keyfleet_domain::shipment::Shipment| s.rule_id.is_some() && s.model == rule.model;
    cancel_open(ctx, &query, &of_rules, reason).await?;
    let Some(model) = model_named(&rule.model) else {
        return Ok(());
    };
    for key in ctx.stores.credentials.list_user_credentials(user.id).await? {
        if key.aaguid != model.aaguid {
            continue;
        }
        let flag = CollectionFlag {
            credential_id: key.id.clone(),
            user_id: user.id,
            reason: reason.to_owned(),
            rule_id: Some(rule.id),
            requested_at: ctx.now,
        };
        let audit = ctx.audit_with(
            Action::CredentialCollectionRequested,
            Some(Target::User(user.id)),
            &Collection {
                key: KeyRef::new(&key.id, Some(&key.nickname)),
                model: model.name,
                rule_id: rule.id.to_string(),
                reason,
            },
        );
        match ctx.stores.shipments.flag_for_collection(&flag, &audit).await {
            Ok(_) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
