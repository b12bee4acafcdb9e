//! Group rules (`/api/v1/group-rules`) and key orders (`/api/v1/shipments`): administrators
//! change rules and approve or cancel orders, helpdesk staff read (`keyfleet_core::shipments`
//! holds the rules). The factory connector (issue 15) is not built: `requested` orders wait.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_core::shipments::{self, rules};
use keyfleet_domain::shipment::{GroupRule, GroupRuleId, Shipment, ShipmentId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ctx, parse_id};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::Json;
use crate::state::{AppState, rfc3339};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_rule, list_rules))
        .routes(routes!(get_rule, update_rule, delete_rule))
        .routes(routes!(list_shipments))
        .routes(routes!(get_shipment, cancel_shipment))
        .routes(routes!(approve_shipment))
}

/// "Members of group `groupId` get a key of `model`."
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupRuleJson {
    /// Id.
    pub id: String,
    /// The group.
    pub group_id: String,
    /// The model (`nfc-key`, `band`).
    pub model: String,
    /// `required` (orders wait for an administrator) or `automatic`.
    pub approval: String,
    /// A disabled rule orders nothing and flags nothing.
    pub enabled: bool,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<&GroupRule> for GroupRuleJson {
    fn from(r: &GroupRule) -> Self {
        Self {
            id: r.id.to_string(),
            group_id: r.group_id.to_string(),
            model: r.model.clone(),
            approval: r.approval.as_str().to_owned(),
            enabled: r.enabled,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

/// A new rule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupRuleRequest {
    /// The group's id.
    pub group_id: String,
    /// `nfc-key`, `band`, or the model's AAGUID.
    pub model: String,
    /// `required` (default) or `automatic`.
    pub approval: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// A change to a rule (what is left out stays).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupRulePatch {
    /// `nfc-key`, `band`, or the model's AAGUID.
    pub model: Option<String>,
    /// `required` or `automatic`.
    pub approval: Option<String>,
    /// Enabled.
    pub enabled: Option<bool>,
}

/// A key order (the connector's shape, plus `source`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentJson {
    /// Id.
    pub id: String,
    /// The user's id.
    pub user: String,
    /// The model.
    pub model: String,
    /// `pendingApproval`, `requested`, `submitted`, `shipped`, `registered`, `pinSent`,
    /// `complete`, `cancelled`, `failed`, `needsAttention`.
    pub state: String,
    /// `rule:ID` (placed by a group rule) or `manual`.
    pub source: String,
    /// The factory's id, once submitted.
    pub factory_shipment_id: Option<String>,
    /// Once shipped.
    pub tracking_number: Option<String>,
    /// Once shipped.
    pub serial_number: Option<String>,
    /// The registered key (base64url), once registered.
    pub credential_id: Option<String>,
    /// Submission attempts.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<&Shipment> for ShipmentJson {
    fn from(s: &Shipment) -> Self {
        Self {
            id: s.id.to_string(),
            user: s.user_id.to_string(),
            model: s.model.clone(),
            state: s.state.as_str().to_owned(),
            source: s.rule_id.map_or_else(|| "manual".to_owned(), |r| format!("rule:{r}")),
            factory_shipment_id: s.factory_shipment_id.clone(),
            tracking_number: s.tracking_number.clone(),
            serial_number: s.serial_number.clone(),
            credential_id: s
                .credential_id
                .as_deref()
                .map(keyfleet_core::credentials::ceremony::b64),
            attempts: s.attempts,
            last_error: s.last_error.clone(),
            created_at: rfc3339(s.created_at),
            updated_at: rfc3339(s.updated_at),
        }
    }
}

/// Which orders to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShipmentListQuery {
    /// Only in this state.
    pub state: Option<String>,
    /// Only for this user (id or username).
    pub user: Option<String>,
}

/// Creates a rule; an enabled one orders for the group's current members at once.
#[utoipa::path(post, path = "/api/v1/group-rules", tag = "shipments", request_body = GroupRuleRequest,
    security(("bearer" = ["shipments"]), ("session" = [])),
    responses((status = 201, body = GroupRuleJson),
        (status = 409, body = Problem, description = "duplicate_rule", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "unknown_group, unknown_model, invalid_approval", content_type = "application/problem+json")))]
pub async fn create_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Json(body): Json<GroupRuleRequest>,
) -> Result<Response, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let draft = rules::RuleDraft {
        group_id: body.group_id,
        model: body.model,
        approval: body.approval,
        enabled: body.enabled,
    };
    let rule = rules::create(&c, &p, &draft).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/group-rules/{}", rule.id))],
        axum::Json(GroupRuleJson::from(&rule)),
    )
        .into_response())
}

/// Every rule.
#[utoipa::path(get, path = "/api/v1/group-rules", tag = "shipments",
    security(("bearer" = ["shipments"]), ("session" = [])),
    responses((status = 200, body = Vec<GroupRuleJson>)))]
pub async fn list_rules(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<Vec<GroupRuleJson>>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let all = rules::list(&c, &p).await?;
    Ok(axum::Json(all.iter().map(GroupRuleJson::from).collect()))
}

/// One rule.
#[utoipa::path(get, path = "/api/v1/group-rules/{id}", tag = "shipments", params(("id" = String, Path)),
    security(("bearer" = ["shipments"]), ("session" = [])),
    responses((status = 200, body = GroupRuleJson), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<GroupRuleJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let rule = rules::get(&c, &p, parse_id::<GroupRuleId>(&id)?).await?;
    Ok(axum::Json(GroupRuleJson::from(&rule)))
}

/// Changes a rule; enabling it orders for the group's current members.
#[utoipa::path(patch, path = "/api/v1/group-rules/{id}", tag = "shipments", params(("id" = String, Path)),
    request_body = GroupRulePatch, security(("bearer" = ["shipments"]), ("session" = [])),
    responses((status = 200, body = GroupRuleJson),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<GroupRulePatch>,
) -> Result<axum::Json<GroupRuleJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let patch = rules::RulePatch {
        model: body.model,
        approval: body.approval,
        enabled: body.enabled,
    };
    let rule = rules::update(&c, &p, parse_id::<GroupRuleId>(&id)?, &patch).await?;
    Ok(axum::Json(GroupRuleJson::from(&rule)))
}

/// Deletes a rule and cancels its open orders (no key is flagged).
#[utoipa::path(delete, path = "/api/v1/group-rules/{id}", tag = "shipments", params(("id" = String, Path)),
    security(("bearer" = ["shipments"]), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    rules::delete(&c, &p, parse_id::<GroupRuleId>(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Orders, newest first (at most 500).
#[utoipa::path(get, path = "/api/v1/shipments", tag = "shipments", params(ShipmentListQuery),
    security(("bearer" = ["shipments"]), ("session" = [])),
    responses((status = 200, body = Vec<ShipmentJson>),
        (status = 422, body = Problem, description = "invalid_state", content_type = "application/problem+json")))]
pub async fn list_shipments(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Query(q): Query<ShipmentListQuery>,
) -> Result<axum::Json<Vec<ShipmentJson>>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let all = shipments::list(&c, &p, q.state.as_deref(), q.user.as_deref()).await?;
    Ok(axum::Json(all.iter().map(ShipmentJson::from).collect()))
}

/// One order.
#[utoipa::path(get, path = "/api/v1/shipments/{id}", tag = "shipments", params(("id" = String, Path)),
    security(("bearer" = ["shipments"]), ("session" = [])),
    responses((status = 200, body = ShipmentJson), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_shipment(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<ShipmentJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let s = shipments::get(&c, &p, parse_id::<ShipmentId>(&id)?).await?;
    Ok(axum::Json(ShipmentJson::from(&s)))
}

/// Approves an order pending approval: it becomes `requested` (and waits for the connector).
#[utoipa::path(post, path = "/api/v1/shipments/{id}/approve", tag = "shipments", params(("id" = String, Path)),
    security(("bearer" = ["shipments"]), ("session" = [])),
    responses((status = 200, body = ShipmentJson),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "order_not_pending", content_type = "application/problem+json")))]
pub async fn approve_shipment(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<ShipmentJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let s = shipments::approve(&c, &p, parse_id::<ShipmentId>(&id)?).await?;
    Ok(axum::Json(ShipmentJson::from(&s)))
}

/// Cancels (rejects) an order not yet sent to the factory.
#[utoipa::path(delete, path = "/api/v1/shipments/{id}", tag = "shipments", params(("id" = String, Path)),
    security(("bearer" = ["shipments"]), ("session" = [])),
    responses((status = 200, body = ShipmentJson),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "order_not_cancellable", content_type = "application/problem+json")))]
pub async fn cancel_shipment(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<ShipmentJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let s = shipments::cancel(&c, &p, parse_id::<ShipmentId>(&id)?).await?;
    Ok(axum::Json(ShipmentJson::from(&s)))
}
