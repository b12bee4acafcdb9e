//! How an application proves itself at the token and revocation endpoints, and the rotation
//! of its secret.
//!
//! - `client_secret_basic` / `client_secret_post`: the secret's keyed digest
//!   ([`crate::clients::digest_secret`], as API clients') must match the current one or, during
//!   a rotation's overlap, an earlier one not yet expired.
//! - `none`: a public application sends its `client_id` alone (PKCE binds its codes).
//!
//! [`rotate_secret`] is the API clients' rotation ([`crate::clients::rotate`]) for
//! applications: the new secret is shown once and the earlier one keeps working for the
//! configured phase-out (`client_secret_phase_out`), so a deployment can switch without downtime.

use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::oidc::{self, Application, ClientType};
use keyfleet_domain::store::StoreError;
use rand_core::OsRng;
use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::access::{Permission, Principal, authorize};
use crate::audit::Detail;
use crate::clients::digest_secret;
use crate::{CoreError, Ctx};

/// Whether `secret` authenticates `app` (`None`: a public application's `none`). The earlier
/// secrets of a rotation are looked up only when the current one does not match.
pub(super) async fn secret_matches(ctx: &Ctx<'_>, app: &Application, secret: Option<&str>) -> Result<bool, StoreError> {
    let (ClientType::Confidential, Some(stored), Some(s)) = (app.client_type, &app.secret_hash, secret) else {
        return Ok(app.client_type == ClientType::Public && secret.is_none());
    };
    let got = digest_secret(&ctx.config.clients.secret_digest_key, s);
    if bool::from(got.as_bytes().ct_eq(stored.as_bytes())) {
        return Ok(true);
    }
    let earlier = ctx.stores.oidc.previous_secrets(&app.client_id, ctx.now).await?;
    let mut found = false;
    for h in &earlier {
        found |= bool::from(got.as_bytes().ct_eq(h.as_bytes()));
    }
    Ok(found)
}

/// A new application secret and when the earlier one stops working.
pub struct RotatedSecret {
    /// The secret in clear (shown once).
    pub secret: String,
    /// When the earlier secret stops working.
    pub previous_expires_at: Timestamp,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rotated {
    previous_secret_expires_at: i64,
}
impl Detail for Rotated {}

/// Gives a confidential application a new secret (`ManageApplications`); the earlier one
/// keeps working until the phase-out ends (`client_secret_phase_out`, as API clients'),
/// secrets of earlier rotations already expired are dropped. Audited as
/// `application.rotate_secret`. A public application has no secret (409 `public_client`).
pub async fn rotate_secret(ctx: &Ctx<'_>, principal: &Principal, client_id: &str) -> Result<RotatedSecret, CoreError> {
    authorize(ctx, principal, Permission::ManageApplications).await?;
    let secret = oidc::new_client_secret(&mut OsRng);
    let hash = digest_secret(&ctx.config.clients.secret_digest_key, &secret);
    let previous_expires_at = ctx.now.plus(ctx.config.clients.secret_phase_out);
    let audit = ctx.audit_with(
        Action::ApplicationRotateSecret,
        Some(Target::Application(client_id.to_owned())),
        &Rotated {
            previous_secret_expires_at: previous_expires_at.as_millis(),
        },
    );
    match ctx
        .stores
        .oidc
        .rotate_application_secret(client_id, &hash, ctx.now, previous_expires_at, &audit)
        .await
    {
        Ok(()) => Ok(RotatedSecret {
            secret,
            previous_expires_at,
        }),
        Err(StoreError::NotFound) => Err(CoreError::NotFound),
        Err(StoreError::Conflict("public_client")) => Err(CoreError::Conflict {
            code: "public_client",
            message: "a public application has no secret to rotate".into(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// The only client assertion type accepted (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Largest JWK Set an application may register, in bytes of JSON.
const MAX_JWKS_LEN: usize = 16 * 1024;
/// Most keys in an application's JWK Set.
const MAX_KEYS: usize = 10;
/// Longest client assertion accepted.
const MAX_ASSERTION_LEN: usize = 8192;
/// An assertion may not be valid for longer than this (its `jti` is kept until its `exp`).
const MAX_ASSERTION_LIFETIME_S: i64 = 3600;
/// Clock skew allowed on `nbf` and `iat`.
const SKEW_S: i64 = 60;

/// A public key of an application's JWK Set.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ClientKey {
    /// P-256, for ES256: the uncompressed SEC1 point.
    Es256(Vec<u8>),
    /// RSA (2048 to 8192 bits), for RS256: modulus and exponent, big-endian.
    Rs256 { n: Vec<u8>, e: Vec<u8> },
}

fn b64(v: &serde_json::Value, name: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let s = v[name].as_str().ok_or_else(|| format!("a key has no {name}"))?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| format!("a key's {name} is not base64url"))
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    &b[start..]
}

/// Reads one JWK (RFC 7517/7518): an EC P-256 key (ES256) or an RSA key of 2048 to 8192 bits
/// (RS256), for signatures, without private parts.
fn parse_jwk(k: &serde_json::Value) -> Result<(String, ClientKey), String> {
    let kid = k["kid"]
        .as_str()
        .filter(|s| !s.is_empty() && s.len() <= 128)
        .ok_or("every key needs a kid (1 to 128 characters)")?
        .to_owned();
    if ["d", "p", "q", "dp", "dq", "qi", "k"]
        .iter()
        .any(|f| k.get(f).is_some())
    {
        return Err(format!(
            "key {kid:?} holds private key material: register the public key only"
        ));
    }
    if k.get("use").is_some_and(|u| u != "sig") {
        return Err(format!("key {kid:?} is not for signatures (use)"));
    }
    let alg = k.get("alg").and_then(|a| a.as_str());
    match k["kty"].as_str() {
        Some("EC") => {
            if k["crv"] != "P-256" || alg.is_some_and(|a| a != "ES256") {
                return Err(format!("key {kid:?}: only P-256 with ES256 is accepted for EC keys"));
            }
            let (x, y) = (b64(k, "x")?, b64(k, "y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err(format!("key {kid:?}: x and y must be 32 bytes"));
            }
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            p256::PublicKey::from_sec1_bytes(&point).map_err(|_| format!("key {kid:?} is not a point on P-256"))?;
            Ok((kid, ClientKey::Es256(point)))
        }
        Some("RSA") => {
            if alg.is_some_and(|a| a != "RS256") {
                return Err(format!("key {kid:?}: only RS256 is accepted for RSA keys"));
            }
            let n = strip_zeros(&b64(k, "n")?).to_vec();
            let e = strip_zeros(&b64(k, "e")?).to_vec();
            if !(256..=1024).contains(&n.len()) {
                return Err(format!("key {kid:?}: an RSA modulus must be 2048 to 8192 bits"));
            }
            if e.is_empty() || e.len() > 4 || e.last().is_some_and(|b| b & 1 == 0) || e == [1] {
                return Err(format!("key {kid:?}: the RSA exponent must be odd and at least 3"));
            }
            Ok((kid, ClientKey::Rs256 { n, e }))
        }
        _ => Err(format!("key {kid:?}: kty must be EC (P-256) or RSA")),
    }
}

fn parse_jwks(json: &serde_json::Value) -> Result<Vec<(String, ClientKey)>, String> {
    let keys = json["keys"]
        .as_array()
        .ok_or("jwks must be a JWK Set: {\"keys\": [...]}")?;
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(format!("jwks must hold 1 to {MAX_KEYS} keys"));
    }
    let mut out: Vec<(String, ClientKey)> = Vec::new();
    for k in keys {
        let (kid, key) = parse_jwk(k)?;
        if out.iter().any(|(other, _)| *other == kid) {
            return Err(format!("two keys have the kid {kid:?}"));
        }
        out.push((kid, key));
    }
    Ok(out)
}

/// Validates a JWK Set an application registers for `private_key_jwt`: 1 to 10 public keys,
/// EC P-256 (ES256) or RSA 2048–8192 bits (RS256), each with a unique `kid`; the JSON as
/// stored. `Err` says what is wrong (400 `invalid_field`).
pub fn validate_jwks(jwks: &serde_json::Value) -> Result<String, CoreError> {
    let bad = |m: String| CoreError::invalid("invalid_field", format!("jwks: {m}"));
    let text = serde_json::to_string(jwks).map_err(|e| bad(e.to_string()))?;
    if text.len() > MAX_JWKS_LEN {
        return Err(bad(format!("at most {MAX_JWKS_LEN} bytes")));
    }
    parse_jwks(jwks).map_err(bad)?;
    Ok(text)
}

/// The client id a client assertion names (its `sub`, else `iss`), read before it is verified
/// so the application can be found; [`verify_assertion`] then checks everything.
pub fn assertion_subject(assertion: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v["sub"].as_str().or(v["iss"].as_str()).map(str::to_owned)
}

/// Verifies a client assertion (RFC 7523 §3, OIDC Core §9) for `app`, registered with a JWK
/// Set: header `alg` ES256 or RS256 (never `none`), a `kid` of the set whose key fits the
/// algorithm, no `crit`; the signature; `iss` = `sub` = the client id; `aud` the issuer or
/// one of its token or revocation endpoints; `exp` in the future and at most an hour away;
/// `nbf` and `iat` not in the future; a `jti` never used before (spent here, once the rest
/// verified). `Err` names why, for the audit log; the client sees `invalid_client`.
async fn verify_assertion(
    ctx: &Ctx<'_>,
    app: &Application,
    assertion: &str,
) -> Result<Result<(), &'static str>, StoreError> {
    match check_assertion(ctx, app, assertion) {
        Err(why) => Ok(Err(why)),
        Ok((jti, exp)) => {
            let until = Timestamp::from_millis(exp.saturating_mul(1000));
            let fresh = ctx
                .stores
                .oidc
                .spend_client_assertion(&app.client_id, &jti, until, ctx.now)
                .await?;
            Ok(if fresh { Ok(()) } else { Err("assertion_jti_replayed") })
        }
    }
}

/// Everything of [`verify_assertion`] but the `jti`'s single use; the `jti` and `exp`.
fn check_assertion(ctx: &Ctx<'_>, app: &Application, assertion: &str) -> Result<(String, i64), &'static str> {
    use aws_lc_rs::signature::{self as lc, RsaPublicKeyComponents, UnparsedPublicKey};
    use base64::Engine as _;
    let b64d = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s);
    let Some(jwks) = app.jwks.as_deref() else {
        return Err("not_registered_for_private_key_jwt");
    };
    let keys = serde_json::from_str(jwks)
        .ok()
        .and_then(|v| parse_jwks(&v).ok())
        .ok_or("stored_jwks_unreadable")?;
    if assertion.len() > MAX_ASSERTION_LEN {
        return Err("assertion_malformed");
    }
    let mut parts = assertion.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err("assertion_malformed");
    };
    let header: serde_json::Value = b64d(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("assertion_malformed")?;
    if header.get("crit").is_some() {
        return Err("assertion_crit");
    }
    let alg = header["alg"].as_str().unwrap_or("");
    if alg != "ES256" && alg != "RS256" {
        return Err("assertion_alg");
    }
    let kid = header["kid"].as_str().ok_or("assertion_unknown_kid")?;
    let key = keys
        .iter()
        .find(|(k, key)| {
            k == kid
                && matches!(
                    (alg, key),
                    ("ES256", ClientKey::Es256(_)) | ("RS256", ClientKey::Rs256 { .. })
                )
        })
        .map(|(_, key)| key)
        .ok_or("assertion_unknown_kid")?;
    let sig = b64d(s).map_err(|_| "assertion_malformed")?;
    let message = &assertion.as_bytes()[..h.len() + 1 + p.len()];
    let verified = match key {
        ClientKey::Es256(point) => UnparsedPublicKey::new(&lc::ECDSA_P256_SHA256_FIXED, point).verify(message, &sig),
        ClientKey::Rs256 { n, e } => {
            RsaPublicKeyComponents { n, e }.verify(&lc::RSA_PKCS1_2048_8192_SHA256, message, &sig)
        }
    };
    verified.map_err(|_| "assertion_signature")?;
    let claims: serde_json::Value = b64d(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("assertion_malformed")?;
    if claims["iss"] != app.client_id.as_str() || claims["sub"] != app.client_id.as_str() {
        return Err("assertion_iss_sub");
    }
    let issuer = &ctx.config.clients.issuer;
    let accepted = [
        issuer.clone(),
        format!("{issuer}/oauth2/token"),
        format!("{issuer}/oauth2/revoke"),
    ];
    let aud_ok = match &claims["aud"] {
        serde_json::Value::String(a) => accepted.contains(a),
        serde_json::Value::Array(list) => list
            .iter()
            .any(|a| a.as_str().is_some_and(|a| accepted.iter().any(|x| x == a))),
        _ => false,
    };
    if !aud_ok {
        return Err("assertion_aud");
    }
    let now_s = ctx.now.as_millis() / 1000;
    let exp = claims["exp"].as_i64().ok_or("assertion_exp")?;
    if exp <= now_s {
        return Err("assertion_expired");
    }
    if exp > now_s + MAX_ASSERTION_LIFETIME_S {
        return Err("assertion_exp_too_far");
    }
    for early in ["nbf", "iat"] {
        if claims[early].as_i64().is_some_and(|t| t > now_s + SKEW_S) {
            return Err("assertion_not_yet_valid");
        }
        if claims.get(early).is_some_and(|t| !t.is_i64()) {
            return Err("assertion_malformed");
        }
    }
    let jti = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or("assertion_jti")?;
    Ok((jti.to_owned(), exp))
}

/// Whether `auth` authenticates `app`: a client assertion for an application registered with
/// a JWK Set (and only then: such an application's secret is refused), else its secret (or
/// nothing, for a public application). `Ok(Err(why))` is a refusal, `why` for the audit log.
pub(super) async fn check(
    ctx: &Ctx<'_>,
    app: &Application,
    auth: &super::ClientAuth,
) -> Result<Result<(), &'static str>, StoreError> {
    match (&auth.assertion, &app.jwks) {
        (Some(a), Some(_)) => verify_assertion(ctx, app, a).await,
        (Some(_), None) => Ok(Err("not_registered_for_private_key_jwt")),
        (None, Some(_)) => Ok(Err("private_key_jwt_required")),
        (None, None) => Ok(if secret_matches(ctx, app, auth.secret.as_deref()).await? {
            Ok(())
        } else {
            Err("invalid_client")
        }),
    }
}

/// The `token_endpoint_auth_method` an application uses (as discovery names them): `none`
/// for a public application, `private_key_jwt` for one registered with a JWK Set, else
/// `client_secret_basic` (or `client_secret_post`, equally accepted).
pub fn auth_method(app: &Application) -> &'static str {
    match (app.client_type, &app.jwks) {
        (ClientType::Public, _) => "none",
        (_, Some(_)) => "private_key_jwt",
        _ => "client_secret_basic",
    }
}

/// Settles an application's client authentication from what an administrator asked:
/// `method` (`tokenEndpointAuthMethod`), `jwks` (`None`: unchanged, `Some(None)`: cleared)
/// and the `current` JWK Set; returns the JWK Set to store. A JWK Set given alone means
/// `private_key_jwt`; `private_key_jwt` needs one; a secret method clears it; a public
/// application has none. Refusals are 400 `invalid_field`.
pub fn settle_auth(
    client_type: ClientType,
    method: Option<&str>,
    jwks: Option<Option<&serde_json::Value>>,
    current: Option<String>,
) -> Result<Option<String>, CoreError> {
    let bad = |m: &str| CoreError::invalid("invalid_field", m);
    let given = jwks.is_some_and(|j| j.is_some());
    let mut stored = match jwks {
        None => current,
        Some(None) => None,
        Some(Some(v)) => Some(validate_jwks(v)?),
    };
    match method {
        None => {}
        Some("private_key_jwt") if stored.is_none() => {
            return Err(bad(
                "tokenEndpointAuthMethod private_key_jwt needs the application's jwks",
            ));
        }
        Some("private_key_jwt") => {}
        Some("client_secret_basic" | "client_secret_post") if given => {
            return Err(bad("jwks is only for tokenEndpointAuthMethod private_key_jwt"));
        }
        Some("client_secret_basic" | "client_secret_post") => stored = None,
        Some("none") if client_type == ClientType::Public => {}
        Some("none") => return Err(bad("tokenEndpointAuthMethod none is for public applications")),
        Some(_) => {
            return Err(bad(
                "tokenEndpointAuthMethod must be client_secret_basic, client_secret_post, private_key_jwt or none",
            ));
        }
    }
    if client_type == ClientType::Public && (stored.is_some() || method.is_some_and(|m| m != "none")) {
        return Err(bad(
            "a public application does not authenticate (tokenEndpointAuthMethod none)",
        ));
    }
    Ok(stored)
}
