//! Fulfilment through the real CTAP engine: the answers open on the customer's side, the
//! attestation verifies, the key file is usable, and the factory forgets.

use std::time::SystemTime;

use axum::http::StatusCode;
use keyfleet_provisioning::api::{
    BindingError, CREDENTIAL_RESPONSE_TYP, CredentialResponse, PIN_RESPONSE_TYP, PinResponse,
};
use keyfleet_provisioning::b64;
use keyfleet_provisioning::sealed::{OpenError, open};
use keyfleet_softkey::SoftKey;
use keyfleet_webauthn_rp::{AttestationFormat, AttestationPolicy, CrossOriginPolicy, RegistrationContext};
use serde_json::json;

use crate::support::{LOGS, ORIGIN, World, capture_logs, options};

#[tokio::test]
async fn programs_ships_answers_and_forgets() {
    let _logs = capture_logs();
    let w = World::new().await;
    let options = options("alice");
    let id = w.create(&options).await;
    let path = format!("/v1/shipments/{id}");
    let a = w.call("GET", &path, Some(&w.token), None).await;
    assert_eq!(a.body["state"], "received");
    assert!(a.body.get("pinResponse").is_none());

    let row = w.factory.fulfil(&id, "cli:test").await.unwrap();
    assert_eq!(row.state, "shipped", "{:?}", row.failure);

    let a = w.call("GET", &path, Some(&w.token), None).await;
    assert_eq!(a.status, StatusCode::OK);
    let shipment = &a.body;
    assert_eq!(shipment["state"], "shipped");
    let tracking = shipment["trackingNumber"].as_str().unwrap();
    let serial = shipment["serialNumber"].as_str().unwrap();
    assert_eq!(shipment["firmwareVersion"], "1.0.0");

    // The customer opens the answers with its response key and the published signing keys.
    let signers = w.sign_jwks().await;
    let ours = std::slice::from_ref(&w.customer);
    let responses = shipment["credentialResponses"].as_array().unwrap();
    assert_eq!(responses.len(), 1);
    let credential: CredentialResponse =
        open(responses[0].as_str().unwrap(), ours, &signers, CREDENTIAL_RESPONSE_TYP).unwrap();
    assert_eq!(
        (credential.shipment_id.as_str(), credential.serial_number.as_str()),
        (id.as_str(), serial)
    );
    assert_eq!(credential.aaguid, "3559c435-ff17-4bc9-b942-325c1f348b94");
    // It belongs to this shipment and this key: the attestation certificate names the serial.
    credential.check_binding(&id, serial).unwrap();
    assert_eq!(
        credential.check_binding("shp_other", serial),
        Err(BindingError::OtherShipment)
    );
    assert_eq!(
        credential.check_binding(&id, "KF-000000000000"),
        Err(BindingError::OtherSerial)
    );
    let mut forged = credential.clone();
    forged.serial_number = "KF-000000000000".into();
    assert_eq!(
        forged.check_binding(&id, "KF-000000000000"),
        Err(BindingError::OtherSerial),
        "the certificate decides"
    );
    let mut forged = credential.clone();
    forged.aaguid = "9b7493dd-e22e-4369-bbdf-25177d6eb596".into();
    assert_eq!(forged.check_binding(&id, serial), Err(BindingError::OtherAaguid));
    let pin: PinResponse = open(
        shipment["pinResponse"].as_str().unwrap(),
        ours,
        &signers,
        PIN_RESPONSE_TYP,
    )
    .unwrap();
    assert_eq!(pin.pin.len(), 8);
    assert!(pin.pin.chars().all(|c| c.is_ascii_digit()));
    assert!(pin.force_pin_change);
    // A PIN answer is not a credential answer.
    assert_eq!(
        open::<CredentialResponse>(
            shipment["pinResponse"].as_str().unwrap(),
            ours,
            &signers,
            CREDENTIAL_RESPONSE_TYP
        )
        .unwrap_err(),
        OpenError::Payload(CREDENTIAL_RESPONSE_TYP)
    );

    // The attestation verifies against keyfleet's own options, clientDataJSON included.
    let client_data: serde_json::Value =
        serde_json::from_slice(&credential.public_key_credential.response.client_data_json.0).unwrap();
    assert_eq!(
        client_data,
        json!({"type": "webauthn.create", "challenge": b64::encode(&options.challenge.0), "origin": ORIGIN, "crossOrigin": false})
    );
    let verified = options
        .state()
        .unwrap()
        .verify(
            RegistrationContext {
                origins: &[ORIGIN],
                cross_origin: CrossOriginPolicy::Deny,
                user_presence_required: true,
                reject_unsolicited_extensions: true,
                attestation: AttestationPolicy::StatementOnly,
                now: SystemTime::now(),
            },
            &credential.public_key_credential,
        )
        .unwrap();
    assert!(verified.flags.user_verified);
    assert_eq!(verified.fmt, AttestationFormat::Packed);

    // The parcel: a key file that opens, with a PIN that must be changed and one credential.
    let outbox = w.dir.0.join("outbox");
    let key = SoftKey::open(&outbox.join(format!("{tracking}.key")), &outbox.join("file-keys")).unwrap();
    let summary = key.summary();
    assert!(summary.contains("model=nfc-key"), "{summary}");
    assert!(
        summary.contains("pin_set=true") && summary.contains("force_pin_change=true"),
        "{summary}"
    );
    assert!(summary.contains("credentials=1"), "{summary}");
    drop(key);

    // Forgotten: no table holds the PIN, the challenge, the user handle or the credential ID.
    let dump = w.factory.store.dump().await.unwrap();
    let secrets = [
        ("PIN", pin.pin.clone()),
        ("challenge", b64::encode(&options.challenge.0)),
        ("challenge (hex)", hex::encode(&options.challenge.0)),
        ("user handle", b64::encode(&options.user.id.0)),
        ("credential ID", b64::encode(&verified.credential_id)),
        ("credential ID (hex)", hex::encode(&verified.credential_id)),
    ];
    for (what, secret) in &secrets {
        assert!(!dump.contains(secret.as_str()), "the database still holds the {what}");
    }
    assert!(w.factory.shipment(&id).await.unwrap().credential_requests.is_none());
    // Nor does any log line, nor any answer.
    let logs = String::from_utf8(LOGS.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("shipment shipped"), "the log was captured");
    for (what, secret) in &secrets {
        assert!(!logs.contains(secret.as_str()), "a log line holds the {what}");
        assert!(
            !a.text.contains(secret.as_str()),
            "the shipment's JSON holds the {what} in clear"
        );
    }
    let audit = w.factory.store.audit_log().await.unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .filter(|e| e.3.as_deref() == Some(id.as_str()))
        .map(|e| e.2.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "shipment.received",
            "shipment.locked",
            "shipment.programmed",
            "shipment.shipped"
        ]
    );

    // Completed: no more edits, no second fulfilment; then delivered.
    for (method, body) in [("PATCH", Some(json!({"recipient": "Mallory"}))), ("DELETE", None)] {
        let a = w.call(method, &path, Some(&w.token), body).await;
        assert_eq!(a.status, StatusCode::CONFLICT, "{method}");
        assert_eq!(a.body["code"], "shipment_locked");
    }
    assert_eq!(
        w.factory.fulfil(&id, "cli:test").await.unwrap_err().code(),
        "shipment_locked"
    );
    assert_eq!(w.factory.deliver(&id, "cli:test").await.unwrap().state, "delivered");
    let a = w.call("GET", &path, Some(&w.token), None).await;
    assert_eq!(a.body["state"], "delivered");
    assert_eq!(a.body["trackingNumber"], tracking);
}

#[tokio::test]
async fn the_clock_ships_and_delivers() {
    let w = World::new().await;
    // The longest user handle WebAuthn allows (64 bytes) goes through the engine.
    let mut o = options("alice");
    o.user.id.0 = vec![7u8; 64];
    let id = w.create(&o).await;
    assert_eq!(w.factory.tick(0).await.unwrap(), 1, "the clock ships what was received");
    let row = w.factory.shipment(&id).await.unwrap();
    assert_eq!(row.state, "shipped", "{:?}", row.failure);
    assert_eq!(w.factory.tick(0).await.unwrap(), 1, "then delivers what shipped");
    assert_eq!(w.factory.shipment(&id).await.unwrap().state, "delivered");
    let audit = w.factory.store.audit_log().await.unwrap();
    assert!(audit.iter().any(|e| e.1 == "clock" && e.2 == "shipment.delivered"));
}
