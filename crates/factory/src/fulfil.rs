//! Fulfilment: lock the shipment, make a factory-fresh key of the model with a new serial,
//! set a random PIN, run makeCredential for each request through the real CTAP engine (with
//! vendor-facilitated enterprise attestation, so the attestation names the key's serial),
//! force a PIN change, answer (signed, then encrypted to the customer), put the key file in the
//! outbox as `TRACKING.key`, and forget: the credential requests (which hold the challenges)
//! are erased in the transaction that stores the answers; the PIN was never stored.

use std::path::{Path, PathBuf};

use keyfleet_authenticator::Model;
use keyfleet_provisioning::api::{
    CREDENTIAL_RESPONSE_TYP, CredentialRequest, CredentialResponse, PIN_RESPONSE_TYP, PinResponse,
};
use keyfleet_provisioning::jwk::{EcPrivateKey, PublicJwk};
use keyfleet_provisioning::{b64, sealed};
use keyfleet_softkey::SoftKey;
use keyfleet_softkey::factory::Factory;
use keyfleet_softkey::keyfile::Protection;
use keyfleet_softkey::platform::{MakeCredential, PERMISSION_ACFG, PERMISSION_MC, Platform};
use keyfleet_webauthn_rp::json::{AuthenticatorAttestationResponseJSON, Base64UrlBytes, RegistrationResponseJSON};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::FactoryError;
use crate::keys;
use crate::requests;
use crate::service::{KeyFactory, now};
use crate::store::{Audit, Programmed, ShipmentRow};

/// The directory, inside the outbox, of the file keys that open the parcels' key files
/// (`keyfleet key vpcd --key OUTBOX/TRACKING.key --file-keys-dir OUTBOX/file-keys`).
pub const FILE_KEYS: &str = "file-keys";

/// What the key engine was given, decrypted: it lives only for the programming.
struct Order {
    shipment_id: String,
    model: String,
    pin_length: u8,
    requests: Vec<CredentialRequest>,
    response_key: PublicJwk,
    signer: EcPrivateKey,
    factory_dir: PathBuf,
    outbox: PathBuf,
    tracking_number: String,
}

/// A random PIN of `length` decimal digits (uniform: bytes ≥ 250 are drawn again).
fn random_pin(length: u8) -> Zeroizing<String> {
    let mut pin = Zeroizing::new(String::with_capacity(length.into()));
    while pin.len() < usize::from(length) {
        let mut b = [0u8; 1];
        OsRng.fill_bytes(&mut b);
        if b[0] < 250 {
            pin.push(char::from(b'0' + b[0] % 10));
        }
    }
    pin
}

/// A tracking number: `KFT` and 12 digits.
fn tracking_number() -> String {
    let mut n = [0u8; 8];
    OsRng.fill_bytes(&mut n);
    format!("KFT{:012}", u64::from_be_bytes(n) % 1_000_000_000_000)
}

fn firmware(model: &Model) -> String {
    let v = model.firmware_version;
    format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
}

fn uuid(aaguid: [u8; 16]) -> String {
    let h = hex::encode(aaguid);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// Why programming failed: said without any secret.
fn engine(what: &str) -> impl Fn(keyfleet_softkey::platform::CtapError) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn program(order: &Order) -> Result<Programmed, String> {
    let factory = Factory::new(&order.factory_dir);
    let path = order.outbox.join(format!("{}.key", order.tracking_number));
    let rp_ids: Vec<String> = order.requests.iter().map(|r| requests::rp_id(r).to_string()).collect();
    let protection = Protection::FileKey(order.outbox.join(FILE_KEYS));
    let mut key = SoftKey::create_with_enterprise(&path, &order.model, &factory, protection, rp_ids)
        .map_err(|e| format!("making the key: {e}"))?;
    let state = key.authenticator().state();
    let serial_number = state.attestation().serial_number.clone();
    let model = state.model();
    let firmware_version = firmware(model);
    let aaguid = uuid(model.aaguid);
    let pin = random_pin(order.pin_length);
    let mut responses = Vec::new();
    {
        let mut platform = Platform::new(&mut key);
        platform.set_pin(&pin).map_err(engine("setting the PIN"))?;
        let acfg = platform
            .pin_token(&pin, PERMISSION_ACFG, None)
            .map_err(engine("configuration token"))?;
        platform
            .enable_enterprise_attestation(&acfg)
            .map_err(engine("enabling enterprise attestation"))?;
        for (index, request) in order.requests.iter().enumerate() {
            let options = &request.public_key;
            let rp_id = requests::rp_id(request);
            let client_data_json = requests::client_data_json(request);
            let token = platform
                .pin_token(&pin, PERMISSION_MC, Some(rp_id))
                .map_err(engine("makeCredential token"))?;
            let attestation = platform
                .make_credential(
                    &token,
                    &MakeCredential {
                        client_data_hash: Sha256::digest(&client_data_json).into(),
                        rp_id,
                        rp_name: &options.rp.name,
                        user_id: &options.user.id.0,
                        user_name: &options.user.name,
                        user_display_name: &options.user.display_name,
                        algorithms: options.pub_key_cred_params.iter().map(|p| p.alg.id()).collect(),
                        exclude: options.exclude_credentials.iter().map(|c| c.id.0.clone()).collect(),
                        resident_key: requests::resident_key(request),
                        enterprise_attestation: true,
                    },
                )
                .map_err(|e| format!("credentialRequests[{index}]: makeCredential: {e}"))?;
            let credential = RegistrationResponseJSON {
                id: b64::encode(&attestation.credential_id),
                raw_id: Base64UrlBytes(attestation.credential_id.clone()),
                response: AuthenticatorAttestationResponseJSON {
                    client_data_json: Base64UrlBytes(client_data_json),
                    attestation_object: Base64UrlBytes(attestation.attestation_object),
                    transports: vec!["nfc".into()],
                    authenticator_data: None,
                    public_key: None,
                    public_key_algorithm: None,
                },
                authenticator_attachment: Some("cross-platform".into()),
                client_extension_results: serde_json::json!({}),
                type_: "public-key".into(),
            };
            let payload = CredentialResponse {
                shipment_id: order.shipment_id.clone(),
                request_index: index,
                model: order.model.clone(),
                aaguid: aaguid.clone(),
                serial_number: serial_number.clone(),
                firmware_version: firmware_version.clone(),
                public_key_credential: credential,
            };
            responses.push(
                sealed::seal(
                    &payload,
                    CREDENTIAL_RESPONSE_TYP,
                    &order.signer,
                    &order.response_key,
                    &mut OsRng,
                )
                .map_err(|e| format!("sealing a credential response: {e}"))?,
            );
        }
        let acfg = platform
            .pin_token(&pin, PERMISSION_ACFG, None)
            .map_err(engine("configuration token"))?;
        platform
            .force_pin_change(&acfg)
            .map_err(engine("forcing a PIN change"))?;
    }
    let pin_payload = PinResponse {
        shipment_id: order.shipment_id.clone(),
        serial_number: serial_number.clone(),
        pin: pin.to_string(),
        force_pin_change: true,
    };
    let pin_response = sealed::seal(
        &pin_payload,
        PIN_RESPONSE_TYP,
        &order.signer,
        &order.response_key,
        &mut OsRng,
    )
    .map_err(|e| format!("sealing the PIN response: {e}"))?;
    drop(pin_payload);
    key.persist().map_err(|e| format!("saving the key: {e}"))?;
    Ok(Programmed {
        tracking_number: order.tracking_number.clone(),
        serial_number,
        firmware_version,
        pin_response,
        credential_responses: responses,
    })
}

fn remove_parcel(outbox: &Path, tracking: &str) {
    for suffix in [".key", ".key.lock"] {
        let _ = std::fs::remove_file(outbox.join(format!("{tracking}{suffix}")));
    }
}

impl KeyFactory {
    /// Fulfils a received shipment now (`keyfleet factory ship`, or the clock).
    pub async fn fulfil(&self, id: &str, actor: &str) -> Result<ShipmentRow, FactoryError> {
        let lock = Audit {
            actor,
            action: "shipment.locked",
            shipment_id: Some(id),
            detail: serde_json::json!({}),
        };
        let row = self.store.lock_shipment(id, now(), lock).await?;
        tracing::info!(shipment_id = %id, "shipment locked for fulfilment");
        let outcome = self.prepare(&row).await;
        let outcome = match outcome {
            Ok(order) => {
                let tracking = order.tracking_number.clone();
                let outbox = order.outbox.clone();
                let result = tokio::task::spawn_blocking(move || program(&order))
                    .await
                    .unwrap_or_else(|_| Err("the programming task stopped".into()));
                if result.is_err() {
                    remove_parcel(&outbox, &tracking);
                }
                result
            }
            Err(why) => Err(why),
        };
        match outcome {
            Ok(programmed) => {
                let audit = Audit {
                    actor,
                    action: "shipment.programmed",
                    shipment_id: Some(id),
                    detail: serde_json::json!({
                        "serialNumber": programmed.serial_number,
                        "trackingNumber": programmed.tracking_number,
                        "credentials": programmed.credential_responses.len(),
                    }),
                };
                self.store.programmed(id, &programmed, now(), audit).await?;
                tracing::info!(shipment_id = %id, serial = %programmed.serial_number, "shipment programmed");
                let audit = Audit {
                    actor,
                    action: "shipment.shipped",
                    shipment_id: Some(id),
                    detail: serde_json::json!({"trackingNumber": programmed.tracking_number}),
                };
                let row = self.store.shipped(id, now(), audit).await?;
                tracing::info!(shipment_id = %id, tracking = %programmed.tracking_number, "shipment shipped");
                Ok(row)
            }
            Err(reason) => {
                tracing::warn!(shipment_id = %id, reason = %reason, "shipment failed");
                let audit = Audit {
                    actor,
                    action: "shipment.failed",
                    shipment_id: Some(id),
                    detail: serde_json::json!({"reason": reason}),
                };
                self.store.failed(id, &reason, now(), audit).await
            }
        }
    }

    /// Decrypts the requests and gathers what programming needs; the reason if it cannot.
    async fn prepare(&self, row: &ShipmentRow) -> Result<Order, String> {
        let at = now();
        let transport = keys::transport_keys(&self.store, &self.dir, at)
            .await
            .map_err(|e| e.to_string())?;
        let signer = keys::signing_key(&self.store, &self.dir, at)
            .await
            .map_err(|e| e.to_string())?;
        let jwes: Vec<String> = row
            .credential_requests
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok())
            .ok_or("the credential requests are gone")?;
        let requests = jwes
            .iter()
            .enumerate()
            .map(|(i, jwe)| requests::open(jwe, &transport).map_err(|why| format!("credentialRequests[{i}]: {why}")))
            .collect::<Result<Vec<_>, _>>()?;
        let response_key: PublicJwk = serde_json::from_str(&row.response_key).map_err(|_| "damaged response key")?;
        std::fs::create_dir_all(&self.outbox).map_err(|e| format!("outbox: {e}"))?;
        Ok(Order {
            shipment_id: row.id.clone(),
            model: row.model.clone(),
            pin_length: row.pin_length,
            requests,
            response_key,
            signer,
            factory_dir: self.dir.clone(),
            outbox: self.outbox.clone(),
            tracking_number: tracking_number(),
        })
    }
}
