//! Console: group rules (`/admin/group-rules`: the list, a create form, enable/disable and
//! delete) and key orders (`/admin/shipments`: filtered by state, with attempts and the last
//! error; approve, cancel, resend the PIN, mark complete, order again, process now).
//!
//! Helpdesk staff read both (`ReadShipments`); the forms are offered only with
//! `ManageShipments` (administrators), and every change is the use case the JSON routes call
//! (`keyfleet_core::shipments`), with the same rules and audit.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use keyfleet_core::access::Permission;
use keyfleet_core::shipments::fulfilment::Fulfilment as _;
use keyfleet_core::shipments::{self, connector, order, rules};
use keyfleet_domain::shipment::{GroupRuleId, ShipmentId, ShipmentState};
use serde::Deserialize;

use super::Staff;
use super::groups::refusal;
use crate::state::{AppState, rfc3339};
use crate::web::format::when;
use crate::web::page::{Nav, PageError, PageForm, html_status, see_other};

const WHAT: Permission = Permission::ManageShipments;
const READ: Permission = Permission::ReadShipments;

/// Routes of this section.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/group-rules", get(rules_page).post(create_rule))
        .route("/admin/group-rules/{id}/enabled", post(toggle_rule))
        .route("/admin/group-rules/{id}/delete", post(delete_rule))
        .route("/admin/shipments", get(orders_page))
        .route("/admin/shipments/{id}/approve", post(approve))
        .route("/admin/shipments/{id}/cancel", post(cancel))
        .route("/admin/shipments/{id}/resend-pin", post(resend_pin))
        .route("/admin/shipments/{id}/complete", post(complete))
        .route("/admin/shipments/{id}/reorder", post(reorder))
        .route("/admin/shipments/process", post(process_now))
}

struct RuleRow {
    id: String,
    group_id: String,
    group: String,
    model: String,
    approval: &'static str,
    enabled: bool,
}

struct Choice {
    value: String,
    label: String,
}

#[derive(askama::Template)]
#[template(path = "admin/group_rules.html")]
struct RulesPage {
    nav: Nav,
    manage: bool,
    rules: Vec<RuleRow>,
    groups: Vec<Choice>,
    models: Vec<Choice>,
    notice: Option<&'static str>,
    error: Option<String>,
}

/// The create form.
#[derive(Debug, Default, Deserialize)]
struct RuleForm {
    #[serde(default)]
    group_id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    approval: String,
}

/// `?done=`.
#[derive(Debug, Default, Deserialize)]
struct Done {
    done: Option<String>,
    state: Option<String>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "created" => Some("The rule was created; current members without a key of the model were ordered one."),
        "changed" => Some("The rule was changed."),
        "deleted" => Some("The rule was deleted; its open orders were cancelled."),
        "approved" => Some("The order was approved. The connector submits it to the factory at its next run."),
        "cancelled" => Some("The order was cancelled."),
        "resent" => Some("The PIN email was queued again."),
        "completed" => Some("The order was marked complete."),
        "reordered" => Some("The order was placed again."),
        "processed" => Some("The connector ran: see the orders' states below."),
        _ => None,
    }
}

async fn render_rules(
    state: &AppState,
    staff: &Staff,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let ctx = staff.ctx(state);
    let all = rules::list(&ctx, &staff.principal()).await?;
    let groups = state.stores.groups.list_groups().await?;
    let page = RulesPage {
        nav: staff.viewer.nav("group-rules"),
        manage: staff.principal().may(WHAT),
        rules: all
            .iter()
            .map(|r| RuleRow {
                id: r.id.to_string(),
                group_id: r.group_id.to_string(),
                group: groups
                    .iter()
                    .find(|g| g.id == r.group_id)
                    .map_or_else(|| r.group_id.to_string(), |g| g.name.clone()),
                model: r.model.clone(),
                approval: r.approval.as_str(),
                enabled: r.enabled,
            })
            .collect(),
        groups: groups
            .iter()
            .map(|g| Choice {
                value: g.id.to_string(),
                label: g.name.clone(),
            })
            .collect(),
        models: shipments::models()
            .iter()
            .map(|m| Choice {
                value: m.name.to_owned(),
                label: m.name.to_owned(),
            })
            .collect(),
        notice,
        error,
    };
    Ok(html_status(status, &page))
}

/// `GET /admin/group-rules`.
async fn rules_page(State(state): State<AppState>, staff: Staff, Query(q): Query<Done>) -> Result<Response, PageError> {
    staff.require(&state, READ).await?;
    render_rules(&state, &staff, StatusCode::OK, notice(q.done.as_deref()), None).await
}

/// `POST /admin/group-rules`.
async fn create_rule(
    State(state): State<AppState>,
    staff: Staff,
    PageForm(form): PageForm<RuleForm>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let draft = rules::RuleDraft {
        group_id: form.group_id,
        model: form.model,
        approval: (!form.approval.is_empty()).then_some(form.approval),
        enabled: Some(true),
    };
    match rules::create(&staff.ctx(&state), &staff.principal(), &draft).await {
        Ok(_) => Ok(see_other("/admin/group-rules?done=created")),
        Err(e) => {
            let (status, message) = refusal(e)?;
            render_rules(
                &state,
                &staff,
                status,
                None,
                Some(format!("The rule was not created. {message}")),
            )
            .await
        }
    }
}

fn rule_id(text: &str) -> Result<GroupRuleId, PageError> {
    text.parse().map_err(|_| PageError::not_found())
}

/// The enable/disable form.
#[derive(Debug, Default, Deserialize)]
struct EnabledForm {
    #[serde(default)]
    enabled: String,
}

/// `POST /admin/group-rules/{id}/enabled`.
async fn toggle_rule(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    PageForm(form): PageForm<EnabledForm>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let patch = rules::RulePatch {
        enabled: Some(form.enabled == "true"),
        ..rules::RulePatch::default()
    };
    rules::update(&staff.ctx(&state), &staff.principal(), rule_id(&id)?, &patch).await?;
    Ok(see_other("/admin/group-rules?done=changed"))
}

/// `POST /admin/group-rules/{id}/delete`.
async fn delete_rule(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    rules::delete(&staff.ctx(&state), &staff.principal(), rule_id(&id)?).await?;
    Ok(see_other("/admin/group-rules?done=deleted"))
}

struct OrderRow {
    id: String,
    user_id: String,
    username: String,
    model: String,
    state: &'static str,
    source: String,
    created: String,
    created_iso: String,
    approvable: bool,
    cancellable: bool,
    attempts: u32,
    last_error: String,
    factory_id: String,
    resendable: bool,
    completable: bool,
    reorderable: bool,
}

#[derive(askama::Template)]
#[template(path = "admin/shipments.html")]
struct OrdersPage {
    nav: Nav,
    manage: bool,
    orders: Vec<OrderRow>,
    states: Vec<&'static str>,
    state: String,
    notice: Option<&'static str>,
    /// The factory's URL, when the connector runs.
    factory: Option<String>,
}

/// `GET /admin/shipments[?state=]`.
async fn orders_page(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    staff.require(&state, READ).await?;
    let ctx = staff.ctx(&state);
    let filter = q.state.clone().unwrap_or_default();
    let found = shipments::list(&ctx, &staff.principal(), Some(&filter), None).await?;
    let mut orders = Vec::with_capacity(found.len());
    for s in &found {
        let username = state
            .stores
            .users
            .get_user(s.user_id)
            .await?
            .map(|u| u.username.as_str().to_owned())
            .unwrap_or_default();
        orders.push(OrderRow {
            id: s.id.to_string(),
            user_id: s.user_id.to_string(),
            username,
            model: s.model.clone(),
            state: s.state.as_str(),
            source: s
                .rule_id
                .map_or_else(|| "manual".to_owned(), |_| "group rule".to_owned()),
            created: when(s.created_at),
            created_iso: rfc3339(s.created_at),
            approvable: s.state == ShipmentState::PendingApproval,
            cancellable: s.state.cancellable() || (s.state == ShipmentState::Submitted && state.connector.is_some()),
            attempts: s.attempts,
            last_error: s.last_error.clone().unwrap_or_default(),
            factory_id: s.factory_shipment_id.clone().unwrap_or_default(),
            resendable: matches!(
                s.state,
                ShipmentState::Registered | ShipmentState::PinSent | ShipmentState::Complete
            ) && s.serial_number.is_some(),
            completable: matches!(
                s.state,
                ShipmentState::NeedsAttention | ShipmentState::Registered | ShipmentState::PinSent
            ),
            reorderable: matches!(s.state, ShipmentState::Failed | ShipmentState::Cancelled),
        });
    }
    let page = OrdersPage {
        nav: staff.viewer.nav("shipments"),
        manage: staff.principal().may(WHAT),
        orders,
        states: ShipmentState::ALL.iter().map(|s| s.as_str()).collect(),
        state: filter,
        notice: notice(q.done.as_deref()),
        factory: state.connector.as_ref().map(|c| c.factory.endpoint()),
    };
    Ok(html_status(StatusCode::OK, &page))
}

fn shipment_id(text: &str) -> Result<ShipmentId, PageError> {
    text.parse().map_err(|_| PageError::not_found())
}

/// `POST /admin/shipments/{id}/approve`.
async fn approve(State(state): State<AppState>, staff: Staff, Path(id): Path<String>) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    shipments::approve(&staff.ctx(&state), &staff.principal(), shipment_id(&id)?).await?;
    Ok(see_other("/admin/shipments?done=approved"))
}

/// `POST /admin/shipments/{id}/cancel`.
async fn cancel(State(state): State<AppState>, staff: Staff, Path(id): Path<String>) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let factory = state
        .connector
        .as_deref()
        .map(|c| &c.factory as &dyn keyfleet_core::shipments::fulfilment::Fulfilment);
    order::cancel(&staff.ctx(&state), &staff.principal(), shipment_id(&id)?, factory).await?;
    Ok(see_other("/admin/shipments?done=cancelled"))
}

/// `POST /admin/shipments/{id}/resend-pin`.
async fn resend_pin(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    order::resend_pin(&staff.ctx(&state), &staff.principal(), &state.master, shipment_id(&id)?).await?;
    Ok(see_other("/admin/shipments?done=resent"))
}

/// `POST /admin/shipments/{id}/complete`.
async fn complete(State(state): State<AppState>, staff: Staff, Path(id): Path<String>) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    order::complete(&staff.ctx(&state), &staff.principal(), shipment_id(&id)?).await?;
    Ok(see_other("/admin/shipments?done=completed"))
}

/// `POST /admin/shipments/{id}/reorder`.
async fn reorder(State(state): State<AppState>, staff: Staff, Path(id): Path<String>) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    order::reorder(&staff.ctx(&state), &staff.principal(), shipment_id(&id)?).await?;
    Ok(see_other("/admin/shipments?done=reordered"))
}

/// `POST /admin/shipments/process`: the connector's run, now.
async fn process_now(State(state): State<AppState>, staff: Staff) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let Some(connector) = state.connector.as_deref() else {
        return Err(PageError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "No key factory",
            "No key factory is configured (factory_url), so there is nothing to process.",
        ));
    };
    connector::process_now(&staff.ctx(&state), &staff.principal(), &connector.env(&state.master)).await?;
    Ok(see_other("/admin/shipments?done=processed"))
}
