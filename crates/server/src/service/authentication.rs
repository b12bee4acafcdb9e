//! Signing in with a security key: WebAuthn L3 §7.2, username-first (with
//! `allowCredentials`) or username-less (discoverable credentials, owner found through
//! `userHandle`).
//!
//! The ceremony is consumed exactly once: by the transaction that updates the counter and
//! opens the session, or by the failure path. A counter that goes backwards flags the key as
//! possibly cloned, refuses the sign-in and is audited.

use keyfleet_domain::StoreError;
use keyfleet_domain::audit::{Actor, Outcome};
use keyfleet_domain::ceremony::{Ceremony, CeremonyKind, FinishAssertion};
use keyfleet_domain::credential::Credential;
use keyfleet_domain::ids::CeremonyId;
use keyfleet_domain::session::{self, NewSession, SessionKind};
use keyfleet_domain::user::{User, Username};
use keyfleet_webauthn_rp::{
    AssertionExpectations, AuthenticationError, AuthenticationResponseJSON, CounterPolicy, CredentialPublicKey,
    CrossOriginPolicy, StoredCredential, UserIdentification, verify_authentication,
};
use rand_core::OsRng;
use serde_json::json;

use super::Ctx;
use super::webauthn::{CeremonyError, FailureClass, WebauthnConfig, b64, descriptor, new_ceremony, timeout_ms};
use crate::config::Settings;

/// Starts a sign-in. With a username, `allowCredentials` lists that user's keys; an unknown
/// or disabled username gets a stand-in key id derived from the username, so the answer does
/// not tell whether the account exists. Without one, the list is empty (discoverable).
pub async fn start(
    ctx: &Ctx<'_>,
    settings: &Settings,
    config: &WebauthnConfig,
    username: Option<&str>,
) -> Result<(Ceremony, serde_json::Value), CeremonyError> {
    let (user, allow) = match username.map(str::trim).filter(|u| !u.is_empty()) {
        None => (None, Vec::new()),
        Some(raw) => match known_user(ctx, raw).await? {
            Some(user) => {
                let creds = ctx.stores.credentials.list_user_credentials(user.id).await?;
                let allow: Vec<_> = creds.iter().map(|c| (c.id.clone(), c.transports.clone())).collect();
                (Some(user.id), allow)
            }
            None => (None, vec![(decoy_id(config, raw), Vec::new())]),
        },
    };
    let ids = allow.iter().map(|(id, _)| id.clone()).collect();
    let ceremony = new_ceremony(CeremonyKind::Authentication, user, None, ids, settings, ctx.now);
    ctx.stores.ceremonies.create_ceremony(&ceremony).await?;
    let options = json!({
        "challenge": b64(&ceremony.challenge),
        "timeout": timeout_ms(settings),
        "rpId": settings.rp_id,
        "allowCredentials": allow.iter().map(|(id, t)| descriptor(id, t)).collect::<Vec<_>>(),
        "userVerification": settings.user_verification,
    });
    Ok((ceremony, options))
}

async fn known_user(ctx: &Ctx<'_>, raw: &str) -> Result<Option<User>, StoreError> {
    let Ok(name) = Username::parse(raw) else {
        return Ok(None);
    };
    Ok(ctx
        .stores
        .users
        .find_user_by_username(&name)
        .await?
        .filter(|u| u.enabled))
}

fn decoy_id(config: &WebauthnConfig, raw: &str) -> Vec<u8> {
    let canonical = Username::parse(raw).map_or_else(|_| raw.to_owned(), |u| u.as_str().to_owned());
    keyfleet_domain::secret::digest(
        "keyfleet-decoy-credential-v1",
        &[&config.decoy_key, canonical.as_bytes()],
    )
    .to_vec()
}

/// A completed sign-in.
pub struct SignedIn {
    /// Who signed in.
    pub user: User,
    /// The new session and its cookie token.
    pub session: NewSession,
    /// The key used.
    pub credential: Credential,
}

fn unauthenticated() -> CeremonyError {
    CeremonyError::new(
        FailureClass::Unauthenticated,
        "authentication_failed",
        "the security key was not accepted",
    )
}

/// Finishes a sign-in.
pub async fn finish(
    ctx: &Ctx<'_>,
    settings: &Settings,
    ceremony_id: &str,
    response: &AuthenticationResponseJSON,
    client_addr: Option<String>,
) -> Result<SignedIn, CeremonyError> {
    let unknown = || {
        CeremonyError::new(
            FailureClass::Rejected,
            "unknown_ceremony",
            "no such ceremony; it was used, or it expired",
        )
    };
    let id: CeremonyId = ceremony_id.parse().map_err(|_| unknown())?;
    let ceremony = ctx.stores.ceremonies.get_ceremony(id).await?.ok_or_else(unknown)?;
    if ceremony.kind != CeremonyKind::Authentication {
        return Err(CeremonyError::new(
            FailureClass::Rejected,
            "ceremony_mismatch",
            "not a sign-in ceremony",
        ));
    }
    match verify_and_sign_in(ctx, settings, &ceremony, response, client_addr).await {
        Ok(done) => {
            // Sessions opened with a key removed since then last until this sign-in (an
            // ordinary removal, as NHSmail's guide describes it); they end now. The sign-in
            // itself is already committed, so a failure here is logged, not returned.
            let audit = ctx
                .as_actor(Actor::User(done.user.id))
                .audit("session.revoke_removed_keys", Some(format!("user:{}", done.user.id)));
            if let Err(e) = ctx
                .stores
                .sessions
                .revoke_sessions_of_removed_keys(done.user.id, &audit)
                .await
            {
                tracing::warn!(error = %e, "could not end the sessions of removed keys");
            }
            Ok(done)
        }
        Err((e, target)) => {
            ctx.stores.ceremonies.consume_ceremony(ceremony.id).await?;
            let event = ctx
                .audit("auth.webauthn", target)
                .with_outcome(Outcome::Failure)
                .with_detail(json!({ "code": e.code, "credentialId": b64(&response.raw_id.0) }).to_string());
            ctx.stores.audit.append(&event).await?;
            Err(e)
        }
    }
}

/// Spends the sign-in ceremony named by a finish request that could not be read as one (its
/// body has the wrong shape, A1): every failure consumes the challenge and is audited. A
/// ceremony of another kind is left alone, as [`finish`] leaves it.
pub async fn abandon(ctx: &Ctx<'_>, ceremony_id: &str, code: &'static str) -> Result<(), CeremonyError> {
    let Ok(id) = ceremony_id.parse::<CeremonyId>() else {
        return Ok(());
    };
    let Some(ceremony) = ctx.stores.ceremonies.get_ceremony(id).await? else {
        return Ok(());
    };
    if ceremony.kind != CeremonyKind::Authentication {
        return Ok(());
    }
    if ctx.stores.ceremonies.consume_ceremony(ceremony.id).await? {
        let event = ctx
            .audit("auth.webauthn", None)
            .with_outcome(Outcome::Failure)
            .with_detail(json!({ "code": code }).to_string());
        ctx.stores.audit.append(&event).await?;
    }
    Ok(())
}

type Failure = (CeremonyError, Option<String>);

async fn verify_and_sign_in(
    ctx: &Ctx<'_>,
    settings: &Settings,
    ceremony: &Ceremony,
    response: &AuthenticationResponseJSON,
    client_addr: Option<String>,
) -> Result<SignedIn, Failure> {
    let store = |e: StoreError| (CeremonyError::from(e), None);
    if !ceremony.is_live(ctx.now) {
        return Err((
            CeremonyError::new(
                FailureClass::Rejected,
                "challenge_expired",
                "the ceremony expired; start again",
            ),
            None,
        ));
    }
    // Row 12: an unknown credential gets the same generic answer as every owner mismatch.
    let cred = ctx
        .stores
        .credentials
        .get_credential(&response.raw_id.0)
        .await
        .map_err(store)?
        .ok_or((unauthenticated(), None))?;
    let target = Some(format!("user:{}", cred.user_id));
    let fail = |e: CeremonyError| (e, target.clone());
    let owner = ctx
        .stores
        .users
        .get_user(cred.user_id)
        .await
        .map_err(store)?
        .ok_or_else(|| fail(unauthenticated()))?;
    // A3: a user identified beforehand must own the credential.
    if ceremony.user_id.is_some_and(|u| u != owner.id) || !owner.enabled {
        return Err(fail(unauthenticated()));
    }
    if cred.possibly_cloned {
        return Err(fail(CeremonyError::new(
            FailureClass::Unauthenticated,
            "credential_suspended",
            "this security key was flagged as possibly cloned; ask the helpdesk",
        )));
    }
    let key = CredentialPublicKey::from_cose(&cred.public_key)
        .map_err(|e| fail(CeremonyError::new(FailureClass::Store, "store", e.to_string())))?;
    let origins: Vec<&str> = settings.origins.iter().map(String::as_str).collect();
    let allow: Vec<&[u8]> = ceremony.allow_credentials.iter().map(Vec::as_slice).collect();
    let expectations = AssertionExpectations {
        challenge: &ceremony.challenge,
        origins: &origins,
        cross_origin: CrossOriginPolicy::Deny,
        rp_id: &ceremony.rp_id,
        user_verification_required: ceremony.user_verification == "required",
        allow_credentials: &allow,
        user: if ceremony.user_id.is_some() {
            UserIdentification::IdentifiedBeforehand
        } else {
            UserIdentification::Usernameless
        },
        credential: StoredCredential {
            id: &cred.id,
            public_key: &key,
            sign_count: cred.sign_count,
            backup_eligible: Some(cred.backup_eligible),
            user_handle: &owner.user_handle,
        },
        requested_extensions: None,
        counter_policy: CounterPolicy::Reject,
    };
    let verified = match verify_authentication(&expectations, response) {
        Ok(v) => v,
        Err(e @ AuthenticationError::CounterRegression { .. }) => {
            // A13: an authentic assertion with a counter that did not increase: the key may be
            // cloned. Flag it (audited) and refuse.
            let audit = ctx
                .audit("credential.clone_suspected", target.clone())
                .with_outcome(Outcome::Denied)
                .with_detail(json!({ "credentialId": b64(&cred.id), "storedSignCount": cred.sign_count }).to_string());
            ctx.stores
                .credentials
                .mark_possibly_cloned(&cred.id, &audit)
                .await
                .map_err(store)?;
            return Err(fail(CeremonyError::new(
                FailureClass::Unauthenticated,
                e.code(),
                e.to_string(),
            )));
        }
        Err(e) => {
            return Err(fail(CeremonyError::new(
                FailureClass::Rejected,
                e.code(),
                e.to_string(),
            )));
        }
    };
    let lifetimes = settings.session_lifetimes();
    let mut new = session::open(owner.id, SessionKind::Full, lifetimes, None, ctx.now, &mut OsRng);
    new.session.client_addr = client_addr;
    new.session.credential_id = Some(cred.id.clone());
    let finish = FinishAssertion {
        ceremony_id: ceremony.id,
        credential_id: &cred.id,
        old_sign_count: cred.sign_count,
        new_sign_count: verified.new_sign_count,
        backup_state: verified.flags.backup_state,
        uv_initialized: verified.flags.user_verified,
        now: ctx.now,
        session: &new.session,
    };
    let audit = ctx
        .as_actor(Actor::User(owner.id))
        .audit("auth.webauthn", target.clone())
        .with_detail(json!({ "credentialId": b64(&cred.id), "sessionId": new.session.id.to_string(), "uv": verified.flags.user_verified }).to_string());
    match ctx.stores.ceremonies.finish_authentication(&finish, &audit).await {
        Ok(()) => Ok(SignedIn {
            user: owner,
            session: new,
            credential: cred,
        }),
        Err(StoreError::Conflict("sign_count")) => Err(fail(CeremonyError::new(
            FailureClass::Conflict,
            "concurrent_sign_in",
            "another sign-in with this key finished first; try again",
        ))),
        Err(StoreError::Conflict(_)) => Err(fail(CeremonyError::new(
            FailureClass::Rejected,
            "challenge_used",
            "the ceremony was already used",
        ))),
        Err(StoreError::NotFound) => Err(fail(unauthenticated())),
        Err(e) => Err(store(e)),
    }
}

/// Limits on the sign-in endpoints, per client address.
#[derive(Debug, Clone, Copy)]
pub struct SignInLimits {
    /// Ceremonies one address may start per minute (0: no limit).
    pub starts_per_minute: u32,
    /// Failed sign-ins one address may make per window.
    pub failures_per_address: u32,
    /// The failure window.
    pub window: std::time::Duration,
}

impl SignInLimits {
    /// The limits the settings name.
    pub fn from_settings(s: &Settings) -> Self {
        SignInLimits {
            starts_per_minute: s.signin_starts_per_address_per_minute,
            failures_per_address: s.signin_failures_per_address,
            window: s.rate_limit_window,
        }
    }
}

/// A refusal for going over a limit: retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited(pub u64);

fn start_key(addr: &str) -> String {
    format!("signin:start:{addr}")
}

fn failure_key(addr: &str) -> String {
    format!("signin:fail:{addr}")
}

/// Counts a ceremony start from `addr`; refuses it when the address started too many in the
/// last minute.
pub async fn count_start(ctx: &Ctx<'_>, limits: SignInLimits, addr: &str) -> Result<Option<Limited>, StoreError> {
    if limits.starts_per_minute == 0 {
        return Ok(None);
    }
    let n = ctx.stores.rate_limits.hit(&start_key(addr), ctx.now, 60_000).await?;
    Ok((n > limits.starts_per_minute).then_some(Limited(60)))
}

/// Refuses a sign-in from an address that failed too often in the window (audited, the
/// ceremony untouched).
pub async fn check_failures(ctx: &Ctx<'_>, limits: SignInLimits, addr: &str) -> Result<Option<Limited>, StoreError> {
    let window_ms = i64::try_from(limits.window.as_millis()).unwrap_or(i64::MAX);
    let n = ctx
        .stores
        .rate_limits
        .peek(&failure_key(addr), ctx.now, window_ms)
        .await?;
    if n < limits.failures_per_address {
        return Ok(None);
    }
    let event = ctx
        .audit("auth.webauthn", None)
        .with_outcome(Outcome::Denied)
        .with_detail(json!({ "reason": "rate_limited" }).to_string());
    ctx.stores.audit.append(&event).await?;
    Ok(Some(Limited(limits.window.as_secs())))
}

/// Counts a failed sign-in from `addr`.
pub async fn count_failure(ctx: &Ctx<'_>, limits: SignInLimits, addr: &str) -> Result<(), StoreError> {
    let window_ms = i64::try_from(limits.window.as_millis()).unwrap_or(i64::MAX);
    ctx.stores
        .rate_limits
        .hit(&failure_key(addr), ctx.now, window_ms)
        .await?;
    Ok(())
}
