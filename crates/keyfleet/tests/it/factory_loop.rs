//! Issue 14, "What it must show", the whole loop with no mocks and both services as processes:
//! keyfleet (`keyfleet serve`) makes creation options for alice through its on-behalf API; the
//! request is encrypted to the key the factory (`keyfleet factory serve`) publishes; the
//! factory programs and ships; keyfleet-side code (`keyfleet_provisioning::sealed::open`)
//! verifies the signed answer and the key is registered for alice with
//! `POST /api/v1/users/{id}/fido2/methods`, its attestation chained to the factory's model CA.
//! Then the refusals: the same answer again, an answer altered, truncated, for another customer.
//! Neither service's output holds the PIN, the challenge or a token. (The worker's side, PIN
//! change and sign-in through pcscd, is `crates/softkey/tests/interop/test_factory_story.py`.)

use keyfleet_provisioning::api::{CREDENTIAL_RESPONSE_TYP, CredentialResponse, PIN_RESPONSE_TYP, PinResponse};
use keyfleet_provisioning::b64;
use keyfleet_provisioning::jwk::EcPrivateKey;
use keyfleet_provisioning::sealed::{OpenError, open};
use rand_core::OsRng;
use serde_json::{Value, json};

use crate::factory_process::{Factory, encrypted_request, factory_roots, shipment_body, token};
use crate::http::{self, json_post};
use crate::process::{Scratch, Server, client_credentials_bearer, run_ok};

const ORIGIN: &str = "http://localhost:8080";

fn bearer_for(s: &Server, dir: &Scratch, url: &str, scope: &str) -> String {
    let creds: Value = serde_json::from_str(&run_ok(
        &dir.0,
        &[
            "admin",
            "create-client",
            "--name",
            "provisioner",
            "--scope",
            scope,
            "--database-url",
            url,
        ],
        &[],
    ))
    .unwrap();
    client_credentials_bearer(s, &creds)
}

#[test]
fn keyfleet_orders_a_key_for_alice_and_registers_what_the_factory_ships() {
    let dir = Scratch::new("factory-loop");
    let factory = Factory::start(&dir.0, &[]);
    let (_, factory_token) = token(&factory.cli(&dir.0, &["create-token", "--name", "keyfleet"]));

    // keyfleet trusts the factory's nfc-key CA as an attestation root.
    let roots = factory_roots(&dir);
    let url = dir.sqlite_url();
    let keyfleet = Server::start(
        &dir.0,
        &url,
        &[
            ("KEYFLEET_RP_ID", "localhost"),
            ("KEYFLEET_ORIGINS", ORIGIN),
            ("KEYFLEET_ATTESTATION_ROOTS_FILE", &roots),
        ],
    );
    let alice: Value = serde_json::from_str(&run_ok(
        &dir.0,
        &[
            "admin",
            "create-user",
            "--username",
            "alice",
            "--display-name",
            "Alice Example",
            "--email",
            "alice@example.com",
            "--database-url",
            &url,
        ],
        &[],
    ))
    .unwrap();
    let alice_id = alice["id"].as_str().unwrap().to_string();
    let bearer = bearer_for(&keyfleet, &dir, &url, "provisioning");
    let auth = [("Authorization", bearer.as_str())];

    // 1. keyfleet: creation options for alice.
    let r = json_post(
        keyfleet.addr,
        &format!("/api/v1/users/{alice_id}/fido2/creation-options"),
        &auth,
        &json!({"challengeTimeoutMinutes": 60, "model": "nfc-key"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let options = r.json()["publicKey"].clone();
    let challenge = options["challenge"].as_str().unwrap().to_string();

    // 2. The request, encrypted to the factory's published transport key; the shipment.
    let customer = EcPrivateKey::generate(&mut OsRng);
    let request = encrypted_request(&factory, ORIGIN, &options);
    let r = factory.post(
        "/v1/shipments",
        &factory_token,
        &shipment_body("nfc-key", 8, &[request], &customer),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let shipment_id = r.json()["shipmentId"].as_str().unwrap().to_string();

    // 3. The factory programs and ships.
    factory.cli(&dir.0, &["ship", "--shipment", &shipment_id]);
    let shipment = factory
        .get(&format!("/v1/shipments/{shipment_id}"), Some(&factory_token))
        .json();
    assert_eq!(shipment["state"], "shipped");

    // 4. keyfleet's side: verify the signed answers with the factory's published signing keys.
    let signers = factory.jwks("sign");
    let ours = std::slice::from_ref(&customer);
    let answer = shipment["credentialResponses"][0].as_str().unwrap();
    let credential: CredentialResponse = open(answer, ours, &signers, CREDENTIAL_RESPONSE_TYP).unwrap();
    let pin: PinResponse = open(
        shipment["pinResponse"].as_str().unwrap(),
        ours,
        &signers,
        PIN_RESPONSE_TYP,
    )
    .unwrap();
    // It answers this shipment, for this key: the attestation certificate names the serial.
    credential
        .check_binding(&shipment_id, shipment["serialNumber"].as_str().unwrap())
        .unwrap();

    // Refused whole: altered, cut short, for another customer.
    let mut parts: Vec<String> = answer.split('.').map(str::to_string).collect();
    let mut ciphertext = b64::decode(&parts[3]).unwrap();
    ciphertext[5] ^= 1;
    parts[3] = b64::encode(&ciphertext);
    let altered = parts.join(".");
    assert_eq!(
        open::<CredentialResponse>(&altered, ours, &signers, CREDENTIAL_RESPONSE_TYP).unwrap_err(),
        OpenError::Tampered
    );
    assert_eq!(
        open::<CredentialResponse>(&answer[..answer.len() - 10], ours, &signers, CREDENTIAL_RESPONSE_TYP).unwrap_err(),
        OpenError::Truncated
    );
    let stranger = EcPrivateKey::generate(&mut OsRng);
    assert_eq!(
        open::<CredentialResponse>(
            answer,
            std::slice::from_ref(&stranger),
            &signers,
            CREDENTIAL_RESPONSE_TYP
        )
        .unwrap_err(),
        OpenError::WrongRecipient
    );

    // 5. keyfleet registers the key for alice: the attestation verified against its own options.
    //    Posted for another user, it is refused (and alice's options stay).
    let body = json!({
        "displayName": format!("Shipped key {}", credential.serial_number),
        "publicKeyCredential": credential.public_key_credential,
    });
    let bob: Value = serde_json::from_str(&run_ok(
        &dir.0,
        &[
            "admin",
            "create-user",
            "--username",
            "bob",
            "--display-name",
            "Bob",
            "--email",
            "bob@example.com",
            "--database-url",
            &url,
        ],
        &[],
    ))
    .unwrap();
    let bobs = format!("/api/v1/users/{}/fido2/methods", bob["id"].as_str().unwrap());
    let r = json_post(keyfleet.addr, &bobs, &auth, &body);
    assert!(
        r.status >= 400 && r.status < 500,
        "another user's key is refused: {}",
        r.body
    );
    let methods = format!("/api/v1/users/{alice_id}/fido2/methods");
    let r = json_post(keyfleet.addr, &methods, &auth, &body);
    assert_eq!(r.status, 201, "{}", r.body);
    let method = r.json();
    assert_eq!(method["aaGuid"], credential.aaguid);
    assert_eq!(method["attestationLevel"], "attested");
    assert_eq!(method["passkeyType"], "deviceBound");
    // The same answer again: its options are spent.
    let r = json_post(keyfleet.addr, &methods, &auth, &body);
    assert!(r.status >= 400, "a replayed registration is refused: {}", r.body);
    let r = http::request(keyfleet.addr, "GET", &methods, &auth, None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["value"].as_array().unwrap().len(), 1, "{}", r.body);

    // Neither service printed the PIN, the challenge or a token.
    let keyfleet_output = format!(
        "{}\n{}",
        keyfleet.stdout_text(),
        keyfleet.stderr.lock().unwrap().join("\n")
    );
    let factory_output = factory.stop();
    assert!(factory_output.contains("shipment received"));
    for (what, secret) in [
        ("PIN", pin.pin.as_str()),
        ("challenge", challenge.as_str()),
        ("factory token", factory_token.as_str()),
        ("access token", bearer.trim_start_matches("Bearer ")),
    ] {
        assert!(
            !factory_output.contains(secret),
            "the factory's output holds the {what}"
        );
        assert!(!keyfleet_output.contains(secret), "keyfleet's output holds the {what}");
    }
    keyfleet.terminate();
}
