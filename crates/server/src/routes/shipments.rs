//! Group rules (`/api/v1/group-rules`), key orders (`/api/v1/shipments`) and the
//! pre-registration connector (`/api/v1/shipments/process`, `/api/v1/connector/status`):
//! administrators and clients with `shipments` change, helpdesk staff read
//! (`keyfleet_core::shipments` holds the rules; docs/shipments.md).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_core::shipments::{self, connector, order, rules};
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
        .routes(routes!(create_shipment))
        .routes(routes!(process_shipments))
        .routes(routes!(resend_pin))
        .routes(routes!(complete_shipment))
        .routes(routes!(reorder_shipment))
        .routes(routes!(connector_status))
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
    let factory = state
        .connector
        .as_deref()
        .map(|c| &c.factory as &dyn keyfleet_core::shipments::fulfilment::Fulfilment);
    let s = order::cancel(&c, &p, parse_id::<ShipmentId>(&id)?, factory).await?;
    Ok(axum::Json(ShipmentJson::from(&s)))
}

/// A key order by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShipmentRequest {
    /// The user's id or username.
    pub user: String,
    /// `nfc-key`, `band`, or the model's AAGUID.
    pub model: String,
    /// The PIN's length, 4–63.
    pub pin_length: i64,
    /// Who receives the PIN email (1–10 addresses).
    pub emails_to: Vec<String>,
    /// Where the key goes (default: the user's shipping address).
    pub shipping_address: Option<String>,
    /// `standard` (default) or `express`.
    pub delivery_type: Option<String>,
}

/// Orders a key for a user: `requested`, submitted to the factory at the connector's next run.
#[utoipa::path(post, path = "/api/v1/shipments", tag = "shipments", request_body = ShipmentRequest,
    security(("bearer" = ["shipments"]), ("session" = [])),
    responses((status = 201, body = ShipmentJson),
        (status = 409, body = Problem, description = "user_disabled", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "unknown_user, unknown_model, invalid_pin_length, invalid_emails_to, invalid_shipping_address, no_shipping_address, invalid_delivery_type", content_type = "application/problem+json")))]
pub async fn create_shipment(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Json(body): Json<ShipmentRequest>,
) -> Result<Response, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let draft = order::OrderDraft {
        user: body.user,
        model: body.model,
        pin_length: Some(body.pin_length),
        emails_to: body.emails_to,
        shipping_address: body.shipping_address,
        delivery_type: body.delivery_type,
    };
    let s = order::create(&c, &p, &draft).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/shipments/{}", s.id))],
        axum::Json(ShipmentJson::from(&s)),
    )
        .into_response())
}

/// What a run of the connector did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessJson {
    /// Counts by outcome: `submitted`, `registered`, `waiting`, `retried`, `needsAttention`,
    /// `failed`.
    pub counts: std::collections::BTreeMap<String, u64>,
}

fn no_factory() -> ApiError {
    keyfleet_core::CoreError::Unavailable {
        code: "factory_not_configured",
        message: "no key factory is configured (factory_url)".into(),
    }
    .into()
}

/// Runs the connector now (submits requested orders, polls submitted ones).
#[utoipa::path(post, path = "/api/v1/shipments/process", tag = "shipments",
    security(("bearer" = ["shipments"]), ("session" = [])),
    responses((status = 200, body = ProcessJson),
        (status = 503, body = Problem, description = "factory_not_configured", content_type = "application/problem+json")))]
pub async fn process_shipments(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<ProcessJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let connector = state.connector.as_deref().ok_or_else(no_factory)?;
    let counts = connector::process_now(&c, &p, &connector.env(&state.master)).await?;
    Ok(axum::Json(ProcessJson {
        counts: counts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    }))
}

/// Queues the PIN email again, from the PIN kept sealed until the order is cleaned up.
#[utoipa::path(post, path = "/api/v1/shipments/{id}/resend-pin", tag = "shipments", params(("id" = String, Path)),
    security(("bearer" = ["shipments"]), ("session" = [])),
    responses((status = 200, body = ShipmentJson),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "pin_not_available", content_type = "application/problem+json")))]
pub async fn resend_pin(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<ShipmentJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let s = order::resend_pin(&c, &p, &state.master, parse_id::<ShipmentId>(&id)?).await?;
    Ok(axum::Json(ShipmentJson::from(&s)))
}

/// Marks an order complete after a manual resolution.
#[utoipa::path(post, path = "/api/v1/shipments/{id}/complete", tag = "shipments", params(("id" = String, Path)),
    security(("bearer" = ["shipments"]), ("session" = [])),
    responses((status = 200, body = ShipmentJson),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "order_not_completable", content_type = "application/problem+json")))]
pub async fn complete_shipment(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<ShipmentJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let s = order::complete(&c, &p, parse_id::<ShipmentId>(&id)?).await?;
    Ok(axum::Json(ShipmentJson::from(&s)))
}

/// Orders again what a failed or cancelled order asked for (a new order, `requested`).
#[utoipa::path(post, path = "/api/v1/shipments/{id}/reorder", tag = "shipments", params(("id" = String, Path)),
    security(("bearer" = ["shipments"]), ("session" = [])),
    responses((status = 201, body = ShipmentJson),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "order_not_reorderable", content_type = "application/problem+json")))]
pub async fn reorder_shipment(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let s = order::reorder(&c, &p, parse_id::<ShipmentId>(&id)?).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/shipments/{}", s.id))],
        axum::Json(ShipmentJson::from(&s)),
    )
        .into_response())
}

/// A scheduled job's last and next runs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRunsJson {
    /// Its cron schedule (seconds first).
    pub schedule: String,
    /// RFC 3339; `null` before the first run.
    pub last_run: Option<String>,
    /// `ok` or `error`.
    pub last_outcome: Option<String>,
    /// RFC 3339.
    pub next_run: Option<String>,
}

/// The connector's effective settings (never a secret).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorSettingsJson {
    /// `factory_url`.
    pub factory_url: Option<String>,
    /// Whether `factory_token` is set (never the token).
    pub factory_token_set: bool,
    /// `shipments_poll_schedule`.
    pub shipments_poll_schedule: String,
    /// `shipments_cleanup_schedule`.
    pub shipments_cleanup_schedule: String,
    /// `shipments_cleanup_completed_days`.
    pub shipments_cleanup_completed_days: u32,
    /// `onbehalf_challenge_timeout_minutes`.
    pub onbehalf_challenge_timeout_minutes: u32,
    /// `shipments_max_attempts`.
    pub shipments_max_attempts: u32,
    /// `shipments_retry_seconds`.
    pub shipments_retry_seconds: u64,
    /// keyfleet's version.
    pub version: String,
}

/// `GET /api/v1/connector/status`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorStatusJson {
    /// Effective settings.
    pub settings: ConnectorSettingsJson,
    /// The process-shipments job.
    pub process: JobRunsJson,
    /// The cleanup job.
    pub cleanup: JobRunsJson,
    /// Orders per state.
    pub counts: std::collections::BTreeMap<String, u64>,
    /// Whether the factory answered now (`null` without a factory).
    pub factory_reachable: Option<bool>,
    /// Why not, when it did not.
    pub factory_error: Option<String>,
}

fn job_runs(
    schedule: &keyfleet_core::jobs::CronSchedule,
    job: Option<&keyfleet_domain::store::JobState>,
) -> JobRunsJson {
    JobRunsJson {
        schedule: schedule.as_str().to_owned(),
        last_run: job.and_then(|j| j.last_finished_at).map(rfc3339),
        last_outcome: job.and_then(|j| j.last_outcome.clone()),
        next_run: job.map(|j| rfc3339(j.due_at)),
    }
}

/// The connector's effective settings (without secrets), last and next runs, orders per
/// state, and whether the factory answers.
#[utoipa::path(get, path = "/api/v1/connector/status", tag = "shipments",
    security(("bearer" = ["shipments"]), ("session" = [])),
    responses((status = 200, body = ConnectorStatusJson)))]
pub async fn connector_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<ConnectorStatusJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let factory = state
        .connector
        .as_deref()
        .map(|c| &c.factory as &dyn keyfleet_core::shipments::fulfilment::Fulfilment);
    let status = order::status(&c, &p, factory).await?;
    let st = &state.settings;
    let schedules = &st.shipment_schedules;
    Ok(axum::Json(ConnectorStatusJson {
        settings: ConnectorSettingsJson {
            factory_url: st.factory_url.clone(),
            factory_token_set: st.factory_token.is_some(),
            shipments_poll_schedule: schedules.poll.as_str().to_owned(),
            shipments_cleanup_schedule: schedules.cleanup.as_str().to_owned(),
            shipments_cleanup_completed_days: schedules.cleanup_completed_days,
            onbehalf_challenge_timeout_minutes: st.onbehalf_challenge_timeout_minutes,
            shipments_max_attempts: st.shipments_max_attempts,
            shipments_retry_seconds: st.shipments_retry_backoff.as_secs(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        process: job_runs(&schedules.poll, status.process_job.as_ref()),
        cleanup: job_runs(&schedules.cleanup, status.cleanup_job.as_ref()),
        counts: status.counts.iter().map(|(s, n)| (s.as_str().to_owned(), *n)).collect(),
        factory_reachable: status.reachable.as_ref().map(Result::is_ok),
        factory_error: status.reachable.and_then(Result::err),
    }))
}
