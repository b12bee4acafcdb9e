//! The factory's HTTP API (axum): routes parse, call one [`KeyFactory`] use case, render.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use keyfleet_provisioning::api::{CreateShipment, Shipment, UpdateShipment};
use keyfleet_provisioning::jwk::Jwks;

use crate::error::FactoryError;
use crate::service::KeyFactory;

/// The most a request body may be (16 credential requests fit with room to spare).
const MAX_BODY: usize = 256 * 1024;

/// The router.
pub fn router(factory: KeyFactory) -> Router {
    Router::new()
        .route("/.well-known/transport-keys.jwks", get(transport_keys))
        .route("/.well-known/sign-keys.jwks", get(sign_keys))
        .route("/v1/shipments", axum::routing::post(create_shipment))
        .route(
            "/v1/shipments/{id}",
            get(get_shipment).patch(update_shipment).delete(cancel_shipment),
        )
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(factory)
}

/// The caller, from `Authorization: Bearer TOKEN`.
async fn caller(factory: &KeyFactory, headers: &HeaderMap) -> Result<String, FactoryError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    factory.authenticate(bearer).await
}

fn body<T>(json: Result<Json<T>, JsonRejection>) -> Result<T, FactoryError> {
    json.map(|Json(v)| v)
        .map_err(|e| FactoryError::invalid("invalid_json", e.body_text()))
}

async fn transport_keys(State(f): State<KeyFactory>) -> Result<Json<Jwks>, FactoryError> {
    Ok(Json(f.transport_jwks().await?))
}

async fn sign_keys(State(f): State<KeyFactory>) -> Result<Json<Jwks>, FactoryError> {
    Ok(Json(f.sign_jwks().await?))
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    shipment_id: String,
    state: String,
}

async fn create_shipment(
    State(f): State<KeyFactory>,
    headers: HeaderMap,
    json: Result<Json<CreateShipment>, JsonRejection>,
) -> Result<impl IntoResponse, FactoryError> {
    let actor = caller(&f, &headers).await?;
    let request = body(json)?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200);
    let row = f.create_shipment(request, &actor, key).await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            shipment_id: row.id,
            state: row.state,
        }),
    ))
}

async fn get_shipment(
    State(f): State<KeyFactory>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Shipment>, FactoryError> {
    caller(&f, &headers).await?;
    Ok(Json(f.shipment(&id).await?.view()))
}

async fn update_shipment(
    State(f): State<KeyFactory>,
    headers: HeaderMap,
    Path(id): Path<String>,
    json: Result<Json<UpdateShipment>, JsonRejection>,
) -> Result<Json<Shipment>, FactoryError> {
    let actor = caller(&f, &headers).await?;
    let patch = body(json)?;
    Ok(Json(f.update_shipment(&id, patch, &actor).await?.view()))
}

async fn cancel_shipment(
    State(f): State<KeyFactory>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Shipment>, FactoryError> {
    let actor = caller(&f, &headers).await?;
    Ok(Json(f.cancel_shipment(&id, &actor).await?.view()))
}
