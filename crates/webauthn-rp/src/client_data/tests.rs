//! Client data parsing and checks.

use super::*;

const CHALLENGE: &[u8] = b"challenge bytes!";

fn expectations<'a>(origins: &'a [&'a str], cross_origin: CrossOriginPolicy<'a>) -> ClientDataExpectations<'a> {
    ClientDataExpectations {
        type_: TYPE_GET,
        challenge: CHALLENGE,
        origins,
        cross_origin,
    }
}

fn verify_json(json: &str) -> Result<[u8; 32], ClientDataError> {
    verify(
        json.as_bytes(),
        &expectations(&["https://example.com"], CrossOriginPolicy::Deny),
    )
}

const OK: &str = r#"{"type":"webauthn.get","challenge":"Y2hhbGxlbmdlIGJ5dGVzIQ","origin":"https://example.com"}"#;

#[test]
fn valid_client_data_is_hashed_as_received() {
    let hash = verify_json(OK).unwrap();
    assert_eq!(hash, <[u8; 32]>::from(Sha256::digest(OK.as_bytes())));
}

#[test]
fn escaped_strings_are_compared_after_decoding() {
    let json = r#"{"type":"webauthn.get","challenge":"Y2hhbGxlbmdlIGJ5dGVzIQ","origin":"https:\/\/example.com"}"#;
    assert!(verify_json(json).is_ok());
}

#[test]
fn padded_or_standard_base64_challenges_are_rejected() {
    let padded = OK.replace("IQ\"", "IQ==\"");
    assert_eq!(verify_json(&padded), Err(ClientDataError::ChallengeMismatch));
    let std_alphabet =
        r#"{"type":"webauthn.get","challenge":"Y2hhbGxlbmdlIGJ5dGVzIQ+/","origin":"https://example.com"}"#;
    assert_eq!(verify_json(std_alphabet), Err(ClientDataError::ChallengeMismatch));
}

#[test]
fn required_members_must_be_strings() {
    assert_eq!(
        verify_json(r#"{"type":"webauthn.get","origin":"https://example.com"}"#),
        Err(ClientDataError::MissingMember("challenge"))
    );
    assert_eq!(
        verify_json(r#"{"type":1,"challenge":"Y2hhbGxlbmdlIGJ5dGVzIQ","origin":"https://example.com"}"#),
        Err(ClientDataError::MissingMember("type"))
    );
    let bad_cross = OK.replace('}', r#","crossOrigin":"true"}"#);
    assert_eq!(
        verify_json(&bad_cross),
        Err(ClientDataError::MissingMember("crossOrigin"))
    );
}

#[test]
fn duplicates_are_found_at_any_depth() {
    let nested = OK.replace('}', r#","tokenBinding":{"status":"present","status":"supported"}}"#);
    assert_eq!(
        verify_json(&nested),
        Err(ClientDataError::DuplicateKey("status".into()))
    );
    let in_array = OK.replace('}', r#","x":[{"a":1,"a":2}]}"#);
    assert_eq!(verify_json(&in_array), Err(ClientDataError::DuplicateKey("a".into())));
    // Escapes do not hide a duplicate.
    let escaped = OK.replace('}', r#","\u006frigin":"https://evil.example"}"#);
    assert_eq!(
        verify_json(&escaped),
        Err(ClientDataError::DuplicateKey("origin".into()))
    );
}

#[test]
fn many_members_are_handled_in_linear_time() {
    let mut json = OK.trim_end_matches('}').to_owned();
    for i in 0..20_000 {
        json.push_str(&format!(",\"k{i}\":{i}"));
    }
    json.push('}');
    assert!(verify_json(&json).is_ok());
    json.insert_str(json.len() - 1, ",\"k19999\":0");
    assert_eq!(verify_json(&json), Err(ClientDataError::DuplicateKey("k19999".into())));
}

#[test]
fn trailing_garbage_and_non_objects_are_rejected() {
    assert!(matches!(
        verify_json(&format!("{OK} x")),
        Err(ClientDataError::NotJson(_))
    ));
    assert!(matches!(verify_json("\"text\""), Err(ClientDataError::NotJson(_))));
    // A BOM in the middle is not stripped.
    assert!(matches!(
        verify(
            &[b" ".as_slice(), b"\xEF\xBB\xBF", OK.as_bytes()].concat(),
            &expectations(&["https://example.com"], CrossOriginPolicy::Deny)
        ),
        Err(ClientDataError::NotJson(_))
    ));
}

#[test]
fn cross_origin_policy() {
    let framed = OK.replace('}', r#","crossOrigin":true,"topOrigin":"https://shop.example"}"#);
    let deny = expectations(&["https://example.com"], CrossOriginPolicy::Deny);
    assert_eq!(
        verify(framed.as_bytes(), &deny),
        Err(ClientDataError::CrossOriginNotAllowed)
    );
    let allow = expectations(
        &["https://example.com"],
        CrossOriginPolicy::Allow {
            top_origins: &["https://shop.example"],
        },
    );
    assert!(verify(framed.as_bytes(), &allow).is_ok());
    let allow_other = expectations(
        &["https://example.com"],
        CrossOriginPolicy::Allow {
            top_origins: &["https://a.example"],
        },
    );
    assert_eq!(
        verify(framed.as_bytes(), &allow_other),
        Err(ClientDataError::TopOriginNotAllowed("https://shop.example".into()))
    );
    // crossOrigin false is fine under Deny.
    assert!(verify_json(&OK.replace('}', r#","crossOrigin":false}"#)).is_ok());
}

#[test]
fn challenges_of_any_length_are_compared_whole() {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    // Short, the usual 32 bytes, and longer than the 96-byte stack buffer.
    for len in [1, 16, 32, 64, 72, 96, 97, 200] {
        let issued: Vec<u8> = (0..len).map(|i| (i * 13 + 1) as u8).collect();
        assert!(challenge_matches(&b64(&issued), &issued), "len {len}");
        assert!(!challenge_matches(&b64(&issued[..len - 1]), &issued), "len {len}");
        let mut other = issued.clone();
        other[len - 1] ^= 1;
        assert!(!challenge_matches(&b64(&other), &issued), "len {len}");
        // Padding and the standard alphabet are refused.
        let padded = base64::engine::general_purpose::URL_SAFE.encode(&issued);
        assert_eq!(challenge_matches(&padded, &issued), !padded.ends_with('='), "len {len}");
        assert!(!challenge_matches(&format!("{}!", b64(&issued)), &issued), "len {len}");
    }
}
