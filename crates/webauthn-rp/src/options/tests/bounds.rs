//! Reading options back rejects absurd input with a serde error.

use serde_json::{Value, json};

use super::super::*;

fn creation(edit: impl FnOnce(&mut Value)) -> Result<PublicKeyCredentialCreationOptions, String> {
    let mut value = json!({
        "challenge": "AQID",
        "rp": { "id": "example.com", "name": "Keyfleet" },
        "user": { "id": "AA", "name": "alice", "displayName": "Alice" },
        "pubKeyCredParams": [{ "type": "public-key", "alg": -7 }]
    });
    edit(&mut value);
    serde_json::from_str(&value.to_string()).map_err(|e| e.to_string())
}

fn request(edit: impl FnOnce(&mut Value)) -> Result<PublicKeyCredentialRequestOptions, String> {
    let mut value = json!({ "challenge": "AQID", "rpId": "example.com" });
    edit(&mut value);
    serde_json::from_str(&value.to_string()).map_err(|e| e.to_string())
}

fn b64(len: usize) -> String {
    Base64UrlBytes::encode(&vec![7; len])
}

#[test]
fn the_minimal_options_are_read() {
    assert!(creation(|_| {}).is_ok());
    assert!(request(|_| {}).is_ok());
}

#[test]
fn user_handles_are_1_to_64_bytes() {
    assert!(creation(|v| v["user"]["id"] = json!(b64(64))).is_ok());
    let err = creation(|v| v["user"]["id"] = json!(b64(65))).unwrap_err();
    assert!(err.contains("invalid length"), "{err}");
    assert!(creation(|v| v["user"]["id"] = json!("")).is_err());
    assert!(creation(|v| v["user"]["id"] = json!("A".repeat(100_000))).is_err());
}

#[test]
fn challenges_and_credential_ids_are_bounded() {
    assert!(creation(|v| v["challenge"] = json!(b64(MAX_CHALLENGE))).is_ok());
    assert!(creation(|v| v["challenge"] = json!(b64(MAX_CHALLENGE + 1))).is_err());
    assert!(creation(|v| v["challenge"] = json!("not base64!")).is_err());
    assert!(request(|v| v["challenge"] = json!(b64(MAX_CHALLENGE + 1))).is_err());
    let descriptor = |len| json!([{ "type": "public-key", "id": b64(len) }]);
    assert!(request(|v| v["allowCredentials"] = descriptor(MAX_CREDENTIAL_ID)).is_ok());
    assert!(request(|v| v["allowCredentials"] = descriptor(MAX_CREDENTIAL_ID + 1)).is_err());
    assert!(creation(|v| v["excludeCredentials"] = descriptor(MAX_CREDENTIAL_ID + 1)).is_err());
}

#[test]
fn lists_are_bounded() {
    let descriptors = |n| Value::Array(vec![json!({ "type": "public-key", "id": "AQ" }); n]);
    assert!(request(|v| v["allowCredentials"] = descriptors(MAX_DESCRIPTORS)).is_ok());
    let err = request(|v| v["allowCredentials"] = descriptors(MAX_DESCRIPTORS + 1)).unwrap_err();
    assert!(err.contains("at most 1024"), "{err}");
    assert!(creation(|v| v["excludeCredentials"] = descriptors(MAX_DESCRIPTORS + 1)).is_err());
    let params = |n| Value::Array(vec![json!({ "type": "public-key", "alg": -7 }); n]);
    assert!(creation(|v| v["pubKeyCredParams"] = params(MAX_PARAMS + 1)).is_err());
    let transports = Value::Array(vec![json!("usb"); MAX_SHORT_LIST + 1]);
    assert!(
        request(|v| v["allowCredentials"] = json!([{ "type": "public-key", "id": "AQ", "transports": transports }]))
            .is_err()
    );
    assert!(request(|v| v["hints"] = Value::Array(vec![json!("hybrid"); MAX_SHORT_LIST + 1])).is_err());
}

#[test]
fn text_is_bounded() {
    let long = "x".repeat(MAX_TEXT + 1);
    assert!(creation(|v| v["rp"]["name"] = json!(long)).is_err());
    assert!(creation(|v| v["user"]["displayName"] = json!(long)).is_err());
    assert!(request(|v| v["rpId"] = json!(long)).is_err());
    assert!(request(|v| v["extensions"] = json!({ "appid": long })).is_err());
    let transport = |t: &str| json!([{ "type": "public-key", "id": "AQ", "transports": [t] }]);
    assert!(request(|v| v["allowCredentials"] = transport(&"t".repeat(64))).is_ok());
    assert!(request(|v| v["allowCredentials"] = transport(&"t".repeat(65))).is_err());
    assert!(request(|v| v["allowCredentials"] = transport("")).is_err());
}

#[test]
fn unknown_enumeration_values_and_algorithms_are_rejected() {
    let err = request(|v| v["userVerification"] = json!("sometimes")).unwrap_err();
    assert!(err.contains("unknown variant `sometimes`"), "{err}");
    assert!(creation(|v| v["attestation"] = json!("full")).is_err());
    assert!(creation(|v| v["authenticatorSelection"] = json!({ "residentKey": "maybe" })).is_err());
    assert!(creation(|v| v["pubKeyCredParams"] = json!([{ "type": "password", "alg": -7 }])).is_err());
    let err = creation(|v| v["pubKeyCredParams"] = json!([{ "type": "public-key", "alg": -1234 }])).unwrap_err();
    assert!(err.contains("-1234"), "{err}");
}

#[test]
fn malformed_numbers_and_shapes_are_rejected() {
    assert!(request(|v| v["timeout"] = json!(-1)).is_err());
    assert!(request(|v| v["timeout"] = json!(u64::from(u32::MAX) + 1)).is_err());
    assert!(request(|v| v["challenge"] = json!(42)).is_err());
    assert!(request(|v| v["allowCredentials"] = json!("AQ")).is_err());
    assert!(creation(|v| v.as_object_mut().unwrap().remove("user").map(drop).unwrap_or(())).is_err());
    // Deep nesting fails cleanly where a member is read, and is skipped without recursion
    // where it is ignored.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let read = |text: String| serde_json::from_str::<PublicKeyCredentialRequestOptions>(&text);
    assert!(read(format!(r#"{{"challenge":"AQ","hints":{deep}}}"#)).is_err());
    assert!(read(format!(r#"{{"challenge":"AQ","extensions":{{"credProps":{deep}}}}}"#)).is_err());
    assert!(read(format!(r#"{{"challenge":"AQ","future":{deep}}}"#)).is_ok());
}

#[test]
fn unknown_members_and_extensions_are_ignored() {
    let options = creation(|v| {
        v["futureMember"] = json!({ "a": 1 });
        v["extensions"] = json!({ "credProps": true, "largeBlob": { "support": "preferred" } });
    })
    .unwrap();
    assert!(options.extensions.cred_props);
}
