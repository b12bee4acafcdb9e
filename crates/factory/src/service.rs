//! The factory's use cases, called alike by the HTTP routes and the CLI: API tokens, shipments
//! and their states, key rotation. Every change is audited in its transaction.

use std::path::PathBuf;

use keyfleet_provisioning::api::{CreateShipment, MAX_PIN_LENGTH, MIN_PIN_LENGTH, MODELS, Shipment, UpdateShipment};
use keyfleet_provisioning::jwk::{Jwks, PublicJwk};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::FactoryError;
use crate::keys;
use crate::requests;
use crate::store::{Audit, ShipmentRow, Store, TokenRecord};

/// The most credential requests one shipment may carry.
pub const MAX_CREDENTIAL_REQUESTS: usize = 16;
/// Longest recipient name.
const MAX_RECIPIENT: usize = 200;
/// Longest address (keyfleet's shipping address limit).
const MAX_ADDRESS: usize = 512;
/// Prefix of API tokens, so that a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "kff_";

/// The factory: its database, its directory (CAs and JOSE keys) and its outbox.
#[derive(Debug, Clone)]
pub struct KeyFactory {
    /// The database.
    pub store: Store,
    /// The factory directory: the model CAs (softkey's factory) and the JOSE private keys.
    pub dir: PathBuf,
    /// Where parcels (programmed key files) are put.
    pub outbox: PathBuf,
}

/// The current time, Unix seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn random_id(prefix: &str, bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    OsRng.fill_bytes(&mut b);
    format!("{prefix}{}", hex::encode(b))
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Text typed by outsiders: no control characters (newlines allowed in addresses).
fn clean(field: &'static str, code: &'static str, value: &str, max: usize, newlines: bool) -> Result<(), FactoryError> {
    if value.trim().is_empty() {
        return Err(FactoryError::invalid(code, format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(FactoryError::invalid(
            code,
            format!("{field} must be at most {max} characters long"),
        ));
    }
    if value.chars().any(|c| c.is_control() && !(newlines && c == '\n')) {
        return Err(FactoryError::invalid(
            code,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(())
}

impl ShipmentRow {
    /// The API view.
    pub fn view(&self) -> Shipment {
        let from_shipped = matches!(self.state.as_str(), "shipped" | "delivered");
        let delivery_type = keyfleet_provisioning::api::DeliveryType::parse(&self.delivery_type)
            .unwrap_or(keyfleet_provisioning::api::DeliveryType::Standard);
        Shipment {
            shipment_id: self.id.clone(),
            state: self.state.clone(),
            model: self.model.clone(),
            recipient: self.recipient.clone(),
            address: self.address.clone(),
            delivery_type,
            pin_length: self.pin_length,
            credential_request_count: self.request_count,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
            tracking_number: self.tracking_number.clone().filter(|_| from_shipped),
            serial_number: self.serial_number.clone().filter(|_| from_shipped),
            firmware_version: self.firmware_version.clone().filter(|_| from_shipped),
            pin_response: self.pin_response.clone().filter(|_| from_shipped),
            credential_responses: self
                .credential_responses
                .as_deref()
                .filter(|_| from_shipped)
                .and_then(|j| serde_json::from_str(j).ok())
                .unwrap_or_default(),
            failure: self.failure.clone(),
        }
    }
}

impl KeyFactory {
    /// Opens the factory's database and makes its first JOSE keys if needed.
    pub async fn open(database_url: &str, dir: PathBuf, outbox: PathBuf) -> Result<KeyFactory, FactoryError> {
        let store = Store::connect(database_url).await?;
        keys::ensure(&store, &dir, now()).await?;
        Ok(KeyFactory { store, dir, outbox })
    }

    // ---- API tokens ----

    /// A new API token: its id and the token itself, which is shown once and stored only as a
    /// SHA-256 digest (it is 256 random bits, so a plain digest is as good as a slow hash).
    pub async fn create_token(&self, name: &str, actor: &str) -> Result<(String, Zeroizing<String>), FactoryError> {
        clean("name", "invalid_name", name, 100, false)?;
        let id = random_id("tok_", 8);
        let mut secret = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        let token = Zeroizing::new(format!("{TOKEN_PREFIX}{}", keyfleet_provisioning::b64::encode(secret)));
        let record = TokenRecord {
            id: id.clone(),
            name: name.to_string(),
            created_at: now(),
            revoked_at: None,
        };
        let audit = Audit {
            actor,
            action: "token.created",
            shipment_id: None,
            detail: serde_json::json!({"tokenId": id, "name": name}),
        };
        self.store.insert_token(&record, &digest(&token), audit).await?;
        Ok((id, token))
    }

    /// Revokes a token, at once.
    pub async fn revoke_token(&self, id: &str, actor: &str) -> Result<(), FactoryError> {
        let audit = Audit {
            actor,
            action: "token.revoked",
            shipment_id: None,
            detail: serde_json::json!({"tokenId": id}),
        };
        if self.store.revoke_token(id, now(), audit).await? {
            Ok(())
        } else {
            Err(FactoryError::TokenNotFound(id.to_string()))
        }
    }

    /// Every token (never the token itself).
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>, FactoryError> {
        self.store.tokens().await
    }

    /// The active token this bearer value is, as `token:ID`.
    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<String, FactoryError> {
        let token = bearer
            .filter(|t| t.starts_with(TOKEN_PREFIX))
            .ok_or(FactoryError::Unauthorized)?;
        let id = self
            .store
            .active_token(&digest(token))
            .await?
            .ok_or(FactoryError::Unauthorized)?;
        Ok(format!("token:{id}"))
    }

    // ---- Keys ----

    /// The published transport keys.
    pub async fn transport_jwks(&self) -> Result<Jwks, FactoryError> {
        keys::transport_jwks(&self.store, now()).await
    }

    /// The published signing keys.
    pub async fn sign_jwks(&self) -> Result<Jwks, FactoryError> {
        keys::sign_jwks(&self.store, now()).await
    }

    /// New current keys; the old ones kept for decryption and verification for a while.
    pub async fn rotate_keys(&self, actor: &str) -> Result<(String, String), FactoryError> {
        keys::rotate(&self.store, &self.dir, now(), actor).await
    }

    // ---- Shipments ----

    /// `POST /v1/shipments`: checked whole (each credential request decrypted and checked,
    /// then forgotten); nothing is stored unless everything is acceptable.
    /// With an `idempotency_key`, a second request with the same key (from the same token)
    /// returns the first one's shipment and stores nothing.
    pub async fn create_shipment(
        &self,
        request: CreateShipment,
        actor: &str,
        idempotency_key: Option<&str>,
    ) -> Result<ShipmentRow, FactoryError> {
        let token_id = actor.strip_prefix("token:");
        if let Some(key) = idempotency_key
            && let Some(first) = self.store.shipment_by_key(token_id, key).await?
        {
            return Ok(first);
        }
        if !MODELS.contains(&request.model.as_str()) {
            return Err(FactoryError::invalid(
                "unknown_model",
                format!("model must be one of {}", MODELS.join(", ")),
            ));
        }
        let length = request.pin_request.length;
        if !(MIN_PIN_LENGTH..=MAX_PIN_LENGTH).contains(&length) {
            return Err(FactoryError::invalid(
                "invalid_pin_length",
                format!("pinRequest.length must be {MIN_PIN_LENGTH}–{MAX_PIN_LENGTH}"),
            ));
        }
        clean(
            "recipient",
            "invalid_recipient",
            &request.recipient,
            MAX_RECIPIENT,
            false,
        )?;
        clean("address", "invalid_address", &request.address, MAX_ADDRESS, true)?;
        check_response_key(&request.response_key)?;
        let count = request.credential_requests.len();
        if count == 0 || count > MAX_CREDENTIAL_REQUESTS {
            return Err(FactoryError::invalid(
                "invalid_credential_requests",
                format!("credentialRequests must hold 1–{MAX_CREDENTIAL_REQUESTS} JWEs"),
            ));
        }
        let transport = keys::transport_keys(&self.store, &self.dir, now()).await?;
        for (i, jwe) in request.credential_requests.iter().enumerate() {
            requests::open(jwe, &transport).map_err(|why| {
                FactoryError::invalid("credential_request_refused", format!("credentialRequests[{i}]: {why}"))
            })?;
        }
        let at = now();
        let row = ShipmentRow {
            id: random_id("shp_", 10),
            state: "received".into(),
            model: request.model,
            recipient: request.recipient,
            address: request.address,
            delivery_type: request.delivery_type.as_str().into(),
            pin_length: length,
            request_count: count,
            credential_requests: Some(serde_json::to_string(&request.credential_requests).unwrap_or_default()),
            response_key: serde_json::to_string(&request.response_key).unwrap_or_default(),
            token_id: actor.strip_prefix("token:").map(str::to_string),
            created_at: at,
            updated_at: at,
            shipped_at: None,
            tracking_number: None,
            serial_number: None,
            firmware_version: None,
            pin_response: None,
            credential_responses: None,
            failure: None,
        };
        let audit = Audit {
            actor,
            action: "shipment.received",
            shipment_id: Some(&row.id),
            detail: serde_json::json!({"model": row.model, "pinLength": length, "credentialRequests": count}),
        };
        if let Err(e) = self.store.insert_shipment(&row, idempotency_key, audit).await {
            // The same key raced in: the first one's shipment.
            if let Some(key) = idempotency_key
                && let Some(first) = self.store.shipment_by_key(token_id, key).await?
            {
                return Ok(first);
            }
            return Err(e);
        }
        tracing::info!(shipment_id = %row.id, model = %row.model, "shipment received");
        Ok(row)
    }

    /// One shipment.
    pub async fn shipment(&self, id: &str) -> Result<ShipmentRow, FactoryError> {
        self.store
            .shipment(id)
            .await?
            .ok_or_else(|| FactoryError::NotFound(id.to_string()))
    }

    /// Every shipment.
    pub async fn shipments(&self) -> Result<Vec<ShipmentRow>, FactoryError> {
        self.store.shipments().await
    }

    /// Audits a refused change of a shipment (unknown, or past editing) and returns the refusal.
    async fn refused(&self, id: &str, actor: &str, what: &'static str, error: FactoryError) -> FactoryError {
        if matches!(error, FactoryError::NotFound(_) | FactoryError::Locked { .. }) {
            let audit = Audit {
                actor,
                action: "shipment.refused",
                shipment_id: Some(id),
                detail: serde_json::json!({"operation": what, "reason": error.code()}),
            };
            if let Err(e) = self.store.record(now(), audit).await {
                tracing::error!(error = %e, "cannot audit a refusal");
            }
        }
        error
    }

    /// `PATCH /v1/shipments/{id}`: until locked.
    pub async fn update_shipment(
        &self,
        id: &str,
        patch: UpdateShipment,
        actor: &str,
    ) -> Result<ShipmentRow, FactoryError> {
        if let Some(r) = &patch.recipient {
            clean("recipient", "invalid_recipient", r, MAX_RECIPIENT, false)?;
        }
        if let Some(a) = &patch.address {
            clean("address", "invalid_address", a, MAX_ADDRESS, true)?;
        }
        let audit = Audit {
            actor,
            action: "shipment.updated",
            shipment_id: Some(id),
            detail: serde_json::json!({
                "recipient": patch.recipient.is_some(),
                "address": patch.address.is_some(),
                "deliveryType": patch.delivery_type.map(|d| d.as_str()),
            }),
        };
        let result = self
            .store
            .update_shipment(
                id,
                patch.recipient.as_deref(),
                patch.address.as_deref(),
                patch.delivery_type.map(|d| d.as_str()),
                now(),
                audit,
            )
            .await;
        match result {
            Ok(row) => Ok(row),
            Err(e) => Err(self.refused(id, actor, "update", e).await),
        }
    }

    /// `DELETE /v1/shipments/{id}`: cancels, until locked.
    pub async fn cancel_shipment(&self, id: &str, actor: &str) -> Result<ShipmentRow, FactoryError> {
        let audit = Audit {
            actor,
            action: "shipment.cancelled",
            shipment_id: Some(id),
            detail: serde_json::json!({}),
        };
        match self.store.cancel_shipment(id, now(), audit).await {
            Ok(row) => Ok(row),
            Err(e) => Err(self.refused(id, actor, "cancel", e).await),
        }
    }

    /// `shipped` → `delivered` (`keyfleet factory deliver`, or the clock).
    pub async fn deliver(&self, id: &str, actor: &str) -> Result<ShipmentRow, FactoryError> {
        let audit = Audit {
            actor,
            action: "shipment.delivered",
            shipment_id: Some(id),
            detail: serde_json::json!({}),
        };
        match self.store.delivered(id, now(), audit).await {
            Ok(row) => Ok(row),
            Err(e) => Err(self.refused(id, actor, "deliver", e).await),
        }
    }

    /// One clock tick: ships what was received at least `after` seconds ago, and marks
    /// delivered what was shipped at least `after` seconds ago. Returns how many moved.
    pub async fn tick(&self, after: i64) -> Result<usize, FactoryError> {
        let due = now() - after;
        let mut moved = 0;
        // What had shipped before this tick: a shipment is not delivered by the tick that ships it.
        let to_deliver = self.store.due("shipped", "shipped_at", due).await?;
        for id in self.store.due("received", "created_at", due).await? {
            match self.fulfil(&id, "clock").await {
                Ok(_) => moved += 1,
                Err(FactoryError::Locked { .. }) => {}
                Err(e) => tracing::warn!(shipment_id = %id, error = %e, "fulfilment failed"),
            }
        }
        for id in to_deliver {
            if self.deliver(&id, "clock").await.is_ok() {
                moved += 1;
            }
        }
        Ok(moved)
    }
}

fn check_response_key(key: &PublicJwk) -> Result<(), FactoryError> {
    key.encryption_key()
        .map(drop)
        .map_err(|e| FactoryError::invalid("invalid_response_key", format!("responseKey: {e}")))
}
