//! The options serialise to exactly what keyfleet's server sent as `serde_json::json!`, read
//! the spec's sample options, read back what they write, reject absurd input, and imply the
//! expectations verification needs.

mod bounds;
mod expectations;

use serde_json::{Value, json};

use super::*;

/// The server's `OFFERED_ALGS`.
const OFFERED: [CoseAlgorithm; 5] = [
    CoseAlgorithm::Es256,
    CoseAlgorithm::EdDsa,
    CoseAlgorithm::Es384,
    CoseAlgorithm::Ps256,
    CoseAlgorithm::Rs256,
];
const CHALLENGE: &[u8] = b"0123456789abcdef0123456789abcdef";
const CHALLENGE_B64: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";

/// Registration options as the server builds them, with one key that reported transports
/// and one that reported none.
fn server_creation_options() -> PublicKeyCredentialCreationOptions {
    PublicKeyCredentialCreationOptions {
        timeout: Some(300_000),
        exclude_credentials: vec![
            CredentialDescriptor::stored(&[1, 2, 3, 4], &["usb", "nfc"]),
            CredentialDescriptor::stored::<&str>(b"key-2", &[]),
        ],
        authenticator_selection: Some(AuthenticatorSelection {
            resident_key: Some(ResidentKeyRequirement::Preferred),
            require_resident_key: Some(false),
            user_verification: Some(UserVerificationRequirement::Preferred),
            ..AuthenticatorSelection::default()
        }),
        attestation: Some(AttestationConveyance::Direct),
        extensions: Extensions {
            cred_props: true,
            ..Extensions::default()
        },
        ..PublicKeyCredentialCreationOptions::new(
            RelyingParty::new("example.com", "Keyfleet"),
            UserEntity::new(*b"user-42", "alice", "Alice Example"),
            CHALLENGE,
            CredentialParameter::list(&OFFERED),
        )
    }
}

/// Sign-in options as the server builds them for a known username.
fn server_request_options() -> PublicKeyCredentialRequestOptions {
    PublicKeyCredentialRequestOptions {
        timeout: Some(300_000),
        allow_credentials: vec![
            CredentialDescriptor::stored(&[1, 2, 3, 4], &["usb", "nfc"]),
            CredentialDescriptor::stored::<&str>(b"key-2", &[]),
        ],
        user_verification: Some(UserVerificationRequirement::Required),
        ..PublicKeyCredentialRequestOptions::new(CHALLENGE, "example.com")
    }
}

/// The server's `descriptor()`.
fn descriptor(id: &[u8], transports: &[&str]) -> Value {
    let mut d = json!({ "type": "public-key", "id": Base64UrlBytes::encode(id) });
    if !transports.is_empty() {
        d["transports"] = json!(transports);
    }
    d
}

#[test]
fn creation_options_serialise_as_the_server_sent_them() {
    let expected = concat!(
        r#"{"attestation":"direct","#,
        r#""authenticatorSelection":{"requireResidentKey":false,"residentKey":"preferred","userVerification":"preferred"},"#,
        r#""challenge":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY","#,
        r#""excludeCredentials":[{"id":"AQIDBA","transports":["usb","nfc"],"type":"public-key"},{"id":"a2V5LTI","type":"public-key"}],"#,
        r#""extensions":{"credProps":true},"#,
        r#""pubKeyCredParams":[{"alg":-7,"type":"public-key"},{"alg":-8,"type":"public-key"},{"alg":-35,"type":"public-key"},{"alg":-37,"type":"public-key"},{"alg":-257,"type":"public-key"}],"#,
        r#""rp":{"id":"example.com","name":"Keyfleet"},"#,
        r#""timeout":300000,"#,
        r#""user":{"displayName":"Alice Example","id":"dXNlci00Mg","name":"alice"}}"#,
    );
    let options = server_creation_options();
    assert_eq!(serde_json::to_string(&options).unwrap(), expected);

    // What registration.rs `start` builds today, byte for byte.
    let today = json!({
        "rp": { "id": "example.com", "name": "Keyfleet" },
        "user": { "id": Base64UrlBytes::encode(b"user-42"), "name": "alice", "displayName": "Alice Example" },
        "challenge": CHALLENGE_B64,
        "pubKeyCredParams": OFFERED.iter().map(|a| json!({ "type": "public-key", "alg": a.id() })).collect::<Vec<_>>(),
        "timeout": 300_000u64,
        "excludeCredentials": [descriptor(&[1, 2, 3, 4], &["usb", "nfc"]), descriptor(b"key-2", &[])],
        "authenticatorSelection": {
            "residentKey": "preferred",
            "requireResidentKey": false,
            "userVerification": "preferred",
        },
        "attestation": "direct",
        "extensions": { "credProps": true },
    });
    assert_eq!(today.to_string(), expected);
    assert_eq!(serde_json::to_value(&options).unwrap(), today);
}

#[test]
fn creation_options_without_keys_still_send_an_empty_exclude_list() {
    let options = PublicKeyCredentialCreationOptions {
        exclude_credentials: Vec::new(),
        ..server_creation_options()
    };
    let text = serde_json::to_string(&options).unwrap();
    assert!(text.contains(r#""excludeCredentials":[],"#), "{text}");
}

#[test]
fn request_options_serialise_as_the_server_sent_them() {
    let expected = concat!(
        r#"{"allowCredentials":[{"id":"AQIDBA","transports":["usb","nfc"],"type":"public-key"},{"id":"a2V5LTI","type":"public-key"}],"#,
        r#""challenge":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY","#,
        r#""rpId":"example.com","timeout":300000,"userVerification":"required"}"#,
    );
    let options = server_request_options();
    assert_eq!(serde_json::to_string(&options).unwrap(), expected);

    // What authentication.rs `start` builds today, byte for byte.
    let today = json!({
        "challenge": CHALLENGE_B64,
        "timeout": 300_000u64,
        "rpId": "example.com",
        "allowCredentials": [descriptor(&[1, 2, 3, 4], &["usb", "nfc"]), descriptor(b"key-2", &[])],
        "userVerification": "required",
    });
    assert_eq!(today.to_string(), expected);
    assert_eq!(serde_json::to_value(&options).unwrap(), today);
}

#[test]
fn usernameless_request_options_send_an_empty_allow_list() {
    let options = PublicKeyCredentialRequestOptions {
        timeout: Some(60_000),
        user_verification: Some(UserVerificationRequirement::Preferred),
        ..PublicKeyCredentialRequestOptions::new(CHALLENGE, "example.com")
    };
    assert_eq!(
        serde_json::to_string(&options).unwrap(),
        concat!(
            r#"{"allowCredentials":[],"challenge":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY","#,
            r#""rpId":"example.com","timeout":60000,"userVerification":"preferred"}"#
        )
    );
}

#[test]
fn options_round_trip() {
    let creation = server_creation_options();
    let text = serde_json::to_string(&creation).unwrap();
    assert_eq!(
        serde_json::from_str::<PublicKeyCredentialCreationOptions>(&text).unwrap(),
        creation
    );
    let request = server_request_options();
    let text = serde_json::to_string(&request).unwrap();
    assert_eq!(
        serde_json::from_str::<PublicKeyCredentialRequestOptions>(&text).unwrap(),
        request
    );
}

/// Every member, including the Level 3 ones keyfleet does not send and values this crate
/// does not know (`transports`, `hints`), round-trips unchanged.
#[test]
fn every_member_round_trips() {
    let text = concat!(
        r#"{"attestation":"enterprise","attestationFormats":["packed","tpm"],"#,
        r#""authenticatorSelection":{"authenticatorAttachment":"cross-platform","requireResidentKey":true,"residentKey":"required","userVerification":"discouraged"},"#,
        r#""challenge":"AQID","excludeCredentials":[{"id":"AQIDBA","transports":["smart-card","hybrid","internal","ble","quantum-link"],"type":"public-key"}],"#,
        r#""extensions":{"appidExclude":"https://example.com/appid","credProps":true},"#,
        r#""hints":["security-key","client-device","hybrid","telepathy"],"#,
        r#""pubKeyCredParams":[{"alg":-19,"type":"public-key"}],"rp":{"name":"No RP ID"},"timeout":1,"#,
        r#""user":{"displayName":"","id":"AA","name":""}}"#,
    );
    let options: PublicKeyCredentialCreationOptions = serde_json::from_str(text).unwrap();
    assert_eq!(
        options.exclude_credentials[0].transports[4],
        AuthenticatorTransport::Other("quantum-link".into())
    );
    assert_eq!(options.hints[3].as_str(), "telepathy");
    assert_eq!(serde_json::to_string(&options).unwrap(), text);

    let text = concat!(
        r#"{"allowCredentials":[],"challenge":"AQID","extensions":{"appid":"https://example.com/appid"},"#,
        r#""hints":["client-device"],"userVerification":"discouraged"}"#,
    );
    let options: PublicKeyCredentialRequestOptions = serde_json::from_str(text).unwrap();
    assert_eq!(serde_json::to_string(&options).unwrap(), text);
}

/// The member paths of a JSON value (`a.b`, arrays as `a[]`).
fn member_paths(value: &Value, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                out.insert(path.clone());
                member_paths(v, &path, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| member_paths(v, &format!("{prefix}[]"), out)),
        _ => {}
    }
}

fn assert_same_members(ours: &Value, spec: &Value) {
    let (mut a, mut b) = (Default::default(), Default::default());
    member_paths(ours, "", &mut a);
    member_paths(spec, "", &mut b);
    assert_eq!(a, b);
    assert_eq!(ours, spec);
}

/// §1.3.1 "Registration": the sample `publicKey` options, in their §5.1.8 JSON form (binary
/// members as base64url; the challenge's "29 more random bytes" are 0..=28).
#[test]
fn spec_sample_registration_options() {
    let spec = json!({
        "challenge": "FR9pAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw",
        "rp": { "name": "ACME Corporation" },
        "user": {
            "id": "MIIBkzCCATigAwIBAjCCAZMwggE4oAMCAQIwggGTMII",
            "name": "alex.mueller@example.com",
            "displayName": "Alex Müller"
        },
        "pubKeyCredParams": [
            { "type": "public-key", "alg": -7 },
            { "type": "public-key", "alg": -257 }
        ],
        "authenticatorSelection": { "userVerification": "preferred" },
        "timeout": 300000,
        "excludeCredentials": [
            { "id": "ufJWp8YGlibm1Kd9XQBWN1WAw2jy5In2Xhou-LJSPb8", "type": "public-key" },
            { "id": "E_e1dhZc--mIsz4f9hb6NifAzJpF1V4mEtRlIPBiWdY", "type": "public-key" }
        ],
        "extensions": { "appidExclude": "https://acme.example.com" }
    });
    let parsed: PublicKeyCredentialCreationOptions = serde_json::from_value(spec.clone()).unwrap();
    assert_eq!(parsed.rp.id, None);
    assert_eq!(parsed.state(), Err(OptionsError::MissingRpId));

    // The same options built with this crate's types.
    let built = PublicKeyCredentialCreationOptions {
        authenticator_selection: Some(AuthenticatorSelection {
            user_verification: Some(UserVerificationRequirement::Preferred),
            ..AuthenticatorSelection::default()
        }),
        timeout: Some(300_000),
        exclude_credentials: parsed.exclude_credentials.clone(),
        extensions: Extensions {
            appid_exclude: Some("https://acme.example.com".into()),
            ..Extensions::default()
        },
        ..PublicKeyCredentialCreationOptions::new(
            RelyingParty {
                id: None,
                name: "ACME Corporation".into(),
            },
            UserEntity::new(parsed.user.id.0.clone(), "alex.mueller@example.com", "Alex Müller"),
            [&[21u8, 31, 105][..], &(0..29).collect::<Vec<u8>>()].concat(),
            CredentialParameter::list(&[CoseAlgorithm::Es256, CoseAlgorithm::Rs256]),
        )
    };
    assert_eq!(built, parsed);
    assert_same_members(&serde_json::to_value(&built).unwrap(), &spec);
}

/// §1.3.3 "Authentication": the sample options without hints, in their §5.1.9 JSON form.
#[test]
fn spec_sample_authentication_options() {
    let spec = json!({
        "challenge": "BGUPAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw",
        "timeout": 300000,
        "allowCredentials": [{ "type": "public-key", "id": "t5T1AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw" }]
    });
    let parsed: PublicKeyCredentialRequestOptions = serde_json::from_value(spec.clone()).unwrap();
    assert_eq!(parsed.user_verification, None);
    assert_eq!(parsed.state(), Err(OptionsError::MissingRpId));
    assert_same_members(&serde_json::to_value(&parsed).unwrap(), &spec);
}

#[test]
fn enums_parse_what_they_print() {
    fn closed<T: std::fmt::Debug + PartialEq>(values: &[&str], parse: fn(&str) -> Option<T>, print: fn(&T) -> &str) {
        for text in values {
            let value = parse(text).unwrap();
            assert_eq!(print(&value), *text);
            let json = serde_json::to_string(text).unwrap();
            assert!(parse(&serde_json::from_str::<String>(&json).unwrap()).is_some());
        }
        assert_eq!(parse("Required"), None, "values are case-sensitive");
    }
    closed(
        UserVerificationRequirement::VALUES,
        UserVerificationRequirement::parse,
        UserVerificationRequirement::as_str,
    );
    closed(
        ResidentKeyRequirement::VALUES,
        ResidentKeyRequirement::parse,
        ResidentKeyRequirement::as_str,
    );
    closed(
        AttestationConveyance::VALUES,
        AttestationConveyance::parse,
        AttestationConveyance::as_str,
    );
    closed(
        AuthenticatorAttachment::VALUES,
        AuthenticatorAttachment::parse,
        AuthenticatorAttachment::as_str,
    );
    assert_eq!(
        UserVerificationRequirement::default(),
        UserVerificationRequirement::Preferred
    );
    assert_eq!(AttestationConveyance::default(), AttestationConveyance::None);

    assert_eq!(
        AuthenticatorTransport::VALUES,
        ["usb", "nfc", "ble", "smart-card", "hybrid", "internal"]
    );
    for text in AuthenticatorTransport::VALUES {
        let transport = AuthenticatorTransport::parse(text);
        assert!(!matches!(transport, AuthenticatorTransport::Other(_)), "{text}");
        assert_eq!(transport.as_str(), *text);
    }
    assert_eq!(
        AuthenticatorTransport::parse("smart-card"),
        AuthenticatorTransport::SmartCard
    );
    assert_eq!(AuthenticatorTransport::Other("usb".into()), AuthenticatorTransport::Usb);
    assert_eq!(
        AuthenticatorTransport::parse("lora"),
        AuthenticatorTransport::Other("lora".into())
    );
    assert_eq!(
        PublicKeyCredentialHint::parse("security-key"),
        PublicKeyCredentialHint::SecurityKey
    );
}

#[test]
fn empty_extensions_are_not_sent() {
    assert!(Extensions::default().is_empty());
    let options = PublicKeyCredentialCreationOptions {
        extensions: Extensions {
            cred_props: false,
            ..Extensions::default()
        },
        ..server_creation_options()
    };
    assert!(!serde_json::to_string(&options).unwrap().contains("extensions"));
}
