use super::*;

fn keys() -> TokenKeys {
    let signing = SigningKey::random(&mut OsRng);
    let mut verifying = HashMap::new();
    let point = signing.verifying_key().to_encoded_point(false);
    verifying.insert("k1".to_owned(), point.as_bytes().to_vec());
    let public = signing.verifying_key().to_encoded_point(false);
    TokenKeys {
        inner: std::sync::RwLock::new(Loaded {
            active_kid: "k1".into(),
            signing: EcdsaKeyPair::from_private_key_and_public_key(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &signing.to_bytes(),
                public.as_bytes(),
            )
            .unwrap(),
            verifying,
        }),
    }
}

fn claims(now: i64) -> AccessClaims {
    AccessClaims {
        iss: "https://id.example".into(),
        sub: "kfc_x".into(),
        aud: "https://id.example/api".into(),
        exp: now + 600,
        iat: now,
        nbf: now,
        jti: "j".into(),
        scope: "users:read".into(),
        client_id: "kfc_x".into(),
    }
}

const ISS: &str = "https://id.example";
const AUD: &str = "https://id.example/api";

#[test]
fn signs_and_verifies() {
    let k = keys();
    let t = k.sign(&claims(1000));
    assert_eq!(k.verify(&t, ISS, AUD, 1000).unwrap(), claims(1000));
}

#[test]
fn refuses_expired_and_early_tokens() {
    let k = keys();
    let t = k.sign(&claims(1000));
    assert_eq!(k.verify(&t, ISS, AUD, 1600), Err(TokenError::Expired));
    assert_eq!(k.verify(&t, ISS, AUD, 999), Err(TokenError::Expired));
}

#[test]
fn refuses_wrong_issuer_or_audience() {
    let k = keys();
    let t = k.sign(&claims(1000));
    assert_eq!(k.verify(&t, "https://other", AUD, 1000), Err(TokenError::Audience));
    assert_eq!(k.verify(&t, ISS, "https://other/api", 1000), Err(TokenError::Audience));
}

#[test]
fn refuses_tampering() {
    let k = keys();
    let t = k.sign(&claims(1000));
    let parts: Vec<&str> = t.split('.').collect();
    let mut c = claims(1000);
    c.scope = "users:read users:write".into();
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap());
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(k.verify(&forged, ISS, AUD, 1000), Err(TokenError::Signature));
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[5] ^= 1;
    let bad_sig = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    assert_eq!(k.verify(&bad_sig, ISS, AUD, 1000), Err(TokenError::Signature));
    assert_eq!(k.verify(&format!("{t}.x"), ISS, AUD, 1000), Err(TokenError::Malformed));
    assert_eq!(k.verify("a.b", ISS, AUD, 1000), Err(TokenError::Malformed));
}

#[test]
fn refuses_other_algorithms_and_unknown_keys() {
    let k = keys();
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(1000)).unwrap());
    for header in [
        r#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#,
        r#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#,
        r#"{"alg":"ES256","typ":"JWT","kid":"k1"}"#,
        r#"{"alg":"ES256","typ":"at+jwt","kid":"k2"}"#,
        r#"{"alg":"ES256","typ":"at+jwt","kid":"k1","crit":["exp"]}"#,
    ] {
        let t = format!("{}.{body}.", URL_SAFE_NO_PAD.encode(header));
        assert_eq!(k.verify(&t, ISS, AUD, 1000), Err(TokenError::Header), "{header}");
    }
    let other = keys();
    assert_eq!(
        other.verify(&k.sign(&claims(1000)), ISS, AUD, 1000),
        Err(TokenError::Signature)
    );
}

#[test]
fn jwks_lists_public_keys_only() {
    let k = keys();
    let jwks = k.jwks().to_string();
    assert!(jwks.contains("\"kid\":\"k1\"") && !jwks.contains("\"d\""));
}
