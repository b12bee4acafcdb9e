//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use keyfleet_domain::store::SchemaState;

use crate::api::Health;
use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// The process is up, its database answers, and the schema is the one this build expects
/// (every migration applied, every table present).
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    match state.stores.health.schema().await? {
        SchemaState::Ready { .. } => Ok(Json(Health { status: "ready".into() })),
        SchemaState::NotReady(why) => Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "schema_not_ready",
            format!("the database schema is not the one this version expects: {why}"),
        )
        .with_header(axum::http::header::RETRY_AFTER, "5")),
    }
}
