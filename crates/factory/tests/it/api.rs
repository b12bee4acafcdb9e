//! The API's refusals: tokens, bad input changing nothing, unknown and locked shipments.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{World, options};

/// What the factory holds of shipments, as text.
async fn shipments_in_db(w: &World) -> usize {
    w.factory
        .store
        .dump()
        .await
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("shipments|"))
        .count()
}

#[tokio::test]
async fn publishes_its_transport_and_signing_keys() {
    let w = World::new().await;
    let transport = w.transport_jwks().await;
    let sign = w.sign_jwks().await;
    assert_eq!(transport.keys.len(), 1);
    assert_eq!(sign.keys.len(), 1);
    let t = &transport.keys[0];
    assert_eq!(
        (t.use_.as_deref(), t.alg.as_deref()),
        (Some("enc"), Some("ECDH-ES+A256KW"))
    );
    let s = &sign.keys[0];
    assert_eq!((s.use_.as_deref(), s.alg.as_deref()), (Some("sig"), Some("ES256")));
    assert_ne!(t.kid, s.kid);
    let raw = w.call("GET", "/.well-known/sign-keys.jwks", None, None).await;
    assert!(!raw.text.contains("\"d\""), "no private member: {}", raw.text);
}

#[tokio::test]
async fn rotation_keeps_old_keys_for_decryption_and_verification() {
    let w = World::new().await;
    let old = w.transport_jwks().await.keys[0].kid.clone();
    // A request encrypted to the key published before the rotation.
    let body = w.shipment_body(&options("alice"), 6).await;
    w.factory.rotate_keys("cli:test").await.unwrap();
    let transport = w.transport_jwks().await;
    assert_eq!(transport.keys.len(), 1);
    assert_ne!(transport.keys[0].kid, old);
    assert_eq!(
        w.sign_jwks().await.keys.len(),
        2,
        "the retired signing key stays published"
    );
    let a = w.call("POST", "/v1/shipments", Some(&w.token), Some(body)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
}

#[tokio::test]
async fn refuses_missing_unknown_and_revoked_tokens() {
    let w = World::new().await;
    let body = w.shipment_body(&options("alice"), 6).await;
    for token in [None, Some("kff_not-a-token"), Some("Basic x")] {
        let a = w.call("POST", "/v1/shipments", token, Some(body.clone())).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_eq!(a.content_type, "application/problem+json");
        assert_eq!(a.body["code"], "unauthorized");
    }
    // Several tokens are active at once; revoking one is immediate and leaves the others.
    let (second_id, second) = w.factory.create_token("rotation", "cli:test").await.unwrap();
    let first_id = w
        .factory
        .tokens()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "test")
        .unwrap()
        .id;
    w.factory.revoke_token(&first_id, "cli:test").await.unwrap();
    let a = w
        .call("POST", "/v1/shipments", Some(&w.token), Some(body.clone()))
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "a revoked token is refused at once");
    let a = w.call("GET", "/v1/shipments/shp_x", Some(&w.token), None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(shipments_in_db(&w).await, 0);
    let a = w.call("POST", "/v1/shipments", Some(&second), Some(body)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let tokens = w.factory.tokens().await.unwrap();
    assert!(tokens.iter().any(|t| t.id == second_id && t.revoked_at.is_none()));
    assert!(tokens.iter().any(|t| t.id == first_id && t.revoked_at.is_some()));
    // The token itself is nowhere in the database, only its digest.
    let dump = w.factory.store.dump().await.unwrap();
    assert!(!dump.contains(second.as_str()) && !dump.contains(&w.token));
    let log = w.factory.store.audit_log().await.unwrap();
    assert!(log.iter().any(|(_, _, action, _, _)| action == "token.revoked"));
}

#[tokio::test]
async fn refuses_pin_lengths_3_and_64_storing_nothing() {
    let w = World::new().await;
    for length in [3u8, 64, 0] {
        let body = w.shipment_body(&options("alice"), length).await;
        let a = w.call("POST", "/v1/shipments", Some(&w.token), Some(body)).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "length {length}");
        assert_eq!(a.body["code"], "invalid_pin_length");
    }
    assert_eq!(shipments_in_db(&w).await, 0);
    for length in [4u8, 63] {
        let body = w.shipment_body(&options("alice"), length).await;
        let a = w.call("POST", "/v1/shipments", Some(&w.token), Some(body)).await;
        assert_eq!(a.status, StatusCode::CREATED, "length {length}: {}", a.text);
    }
}

#[tokio::test]
async fn refuses_bad_shipments_whole() {
    let w = World::new().await;
    let good = w.shipment_body(&options("alice"), 6).await;
    let other_key = keyfleet_provisioning::jwk::EcPrivateKey::generate(&mut rand_core::OsRng);
    let foreign = keyfleet_provisioning::jwe::encrypt(
        b"{}",
        &other_key.public_jwk("enc", "ECDH-ES+A256KW"),
        None,
        &mut rand_core::OsRng,
    )
    .unwrap();
    // A credential request past its `exp`.
    let transport = w.factory.transport_jwks().await.unwrap().keys[0].clone();
    let mut expired = serde_json::to_value(keyfleet_provisioning::api::CredentialRequest {
        origin: "http://localhost:8080".into(),
        public_key: options("alice"),
    })
    .unwrap();
    expired["exp"] = json!(1_577_836_800);
    let expired =
        keyfleet_provisioning::jwe::encrypt(expired.to_string().as_bytes(), &transport, None, &mut rand_core::OsRng)
            .unwrap();
    let mut wrong_origin = options("alice");
    wrong_origin.rp.id = Some("evil.example".into());
    let wrong_origin = w.shipment_body(&wrong_origin, 6).await["credentialRequests"][0].clone();
    let cases = [
        ("model", json!("yubikey"), "unknown_model"),
        ("credentialRequests", json!([]), "invalid_credential_requests"),
        ("credentialRequests", json!([foreign]), "credential_request_refused"),
        (
            "credentialRequests",
            json!([good["credentialRequests"][0], "a.b.c"]),
            "credential_request_refused",
        ),
        (
            "credentialRequests",
            json!([wrong_origin]),
            "credential_request_refused",
        ),
        ("credentialRequests", json!([expired]), "credential_request_refused"),
        (
            "responseKey",
            json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}),
            "invalid_response_key",
        ),
        // A P-384 key (made with pyca/cryptography): jwt-simple's ECDH-ES is P-256 only.
        (
            "responseKey",
            json!({"kty": "EC", "crv": "P-384",
                   "x": "bvZ4dI81eevpzGI07FOLlFtlw0_pLRGrTeZzAM0ZvUucGYKx_RjWd1Ih_GxrcuIm",
                   "y": "gqRFanKKhHC7CK97swpDr9vVQvOcjkJGOIXm33XoryNvktWA1DSeyg_yYdXj6K20"}),
            "invalid_response_key",
        ),
        // A signing key offered as the response key.
        (
            "responseKey",
            serde_json::to_value(other_key.public_jwk("sig", "ES256")).unwrap(),
            "invalid_response_key",
        ),
        ("recipient", json!(""), "invalid_recipient"),
        ("address", json!("x".repeat(513)), "invalid_address"),
        ("deliveryType", json!("teleport"), "invalid_json"),
    ];
    for (member, value, code) in cases {
        let mut body = good.clone();
        body[member] = value;
        let a = w.call("POST", "/v1/shipments", Some(&w.token), Some(body)).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{member}: {}", a.text);
        assert_eq!(a.body["code"], code, "{member}");
    }
    let a = w
        .call("POST", "/v1/shipments", Some(&w.token), Some(json!({"model": 1})))
        .await;
    assert_eq!(a.body["code"], "invalid_json");
    assert_eq!(shipments_in_db(&w).await, 0);
}

#[tokio::test]
async fn unknown_shipments_are_404_and_audited() {
    let w = World::new().await;
    for method in ["GET", "PATCH", "DELETE"] {
        let body = (method == "PATCH").then(|| json!({"recipient": "Bob"}));
        let a = w.call(method, "/v1/shipments/shp_nope", Some(&w.token), body).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(a.body["code"], "shipment_not_found");
    }
    let log = w.factory.store.audit_log().await.unwrap();
    assert_eq!(
        log.iter()
            .filter(|(_, _, action, id, _)| action == "shipment.refused" && id.as_deref() == Some("shp_nope"))
            .count(),
        2,
        "the refused update and cancel"
    );
}

#[tokio::test]
async fn editable_and_cancellable_until_locked() {
    let w = World::new().await;
    let id = w.create(&options("alice")).await;
    let path = format!("/v1/shipments/{id}");
    let a = w
        .call(
            "PATCH",
            &path,
            Some(&w.token),
            Some(json!({"recipient": "Alice B. Example", "deliveryType": "express"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["recipient"], "Alice B. Example");
    assert_eq!(a.body["deliveryType"], "express");
    let a = w
        .call("PATCH", &path, Some(&w.token), Some(json!({"serial": "x"})))
        .await;
    assert_eq!(a.body["code"], "invalid_json", "unknown members are refused");
    // Cancelled: the credential requests are erased at once, and it can no longer ship.
    let a = w.call("DELETE", &path, Some(&w.token), None).await;
    assert_eq!(a.body["state"], "cancelled");
    let row = w.factory.shipment(&id).await.unwrap();
    assert!(row.credential_requests.is_none());
    let err = w.factory.fulfil(&id, "cli:test").await.unwrap_err();
    assert_eq!(err.code(), "shipment_locked");
}

/// `POST /v1/shipments` with an `Idempotency-Key`: the same key again (a customer retrying
/// after a lost answer) returns the first shipment and stores nothing; another key, or
/// another token, makes its own.
#[tokio::test]
async fn an_idempotency_key_makes_one_shipment() {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    let w = World::new().await;
    let post = |key: &'static str, token: String, body: serde_json::Value| {
        let router = w.router.clone();
        async move {
            let request = Request::builder()
                .method("POST")
                .uri("/v1/shipments")
                .header("authorization", format!("Bearer {token}"))
                .header("idempotency-key", key)
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            let response = router.oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::CREATED);
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            v["shipmentId"].as_str().unwrap().to_string()
        }
    };
    let body = w.shipment_body(&options("alice"), 8).await;
    let first = post("order-1:options-1", w.token.clone(), body.clone()).await;
    // A retry re-encrypts the same request: another body, the same key.
    let retry = post(
        "order-1:options-1",
        w.token.clone(),
        w.shipment_body(&options("alice"), 8).await,
    )
    .await;
    assert_eq!(first, retry);
    assert_eq!(shipments_in_db(&w).await, 1);
    let other = post("order-2:options-2", w.token.clone(), body.clone()).await;
    assert_ne!(first, other);
    let (_, second_token) = w.factory.create_token("other", "cli:test").await.unwrap();
    let foreign = post("order-1:options-1", second_token.to_string(), body).await;
    assert_ne!(first, foreign, "keys are per token");
    assert_eq!(shipments_in_db(&w).await, 3);
}
