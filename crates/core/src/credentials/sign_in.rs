//! Signing in with a security key: WebAuthn L3 §7.2, username-first (with
//! `allowCredentials`) or username-less (discoverable credentials, owner found through
//! `userHandle`).
//!
//! Starting a sign-in writes nothing: the ceremony is sealed into the id the client sends
//! back ([`super::sealed`]). It is spent exactly once: by the transaction that updates the
//! counter and opens the session, or by the failure path. A counter that goes backwards flags the key as
//! possibly cloned, but only in a transaction that also consumes a still-unspent ceremony: a
//! second copy of an assertion that already signed in (a double click, a client retry) finds
//! its ceremony spent and gets `challenge_used`, changing nothing.
//!
//! Username-first options do not tell whether an account exists or has keys: an unknown
//! user, a disabled one and one without keys get stand-in descriptors derived from the
//! username (the same every time, shaped like real ones), after the same store reads as a
//! real user.

use keyfleet_domain::StoreError;
use keyfleet_domain::UserId;
use keyfleet_domain::audit::{Action, Actor, Outcome, Target};
use keyfleet_domain::ceremony::{Ceremony, CeremonyKind, FinishAssertion};
use keyfleet_domain::credential::Credential;
use keyfleet_domain::policy::{Refusal, SignInLookup, SignInRead};
use keyfleet_domain::session::{self, NewSession, SessionKind};
use keyfleet_domain::user::{User, Username};
use keyfleet_webauthn_rp::{
    AssertionContext, AuthenticationError, AuthenticationResponseJSON, CounterPolicy, CredentialDescriptor,
    CredentialPublicKey, CrossOriginPolicy, PublicKeyCredentialRequestOptions, StoredCredential, UserIdentification,
};
use rand_core::OsRng;
use serde::Deserialize;

use super::ceremony::{b64, invalid_shape, new_ceremony, request_state, timeout, user_verification};
use crate::audit::{CeremonyFailed, CloneSuspected, Reason, SignedIn as SignedInDetail};
use crate::limits;
use crate::{CeremonyError, CoreError, Ctx, FailureClass};

/// Starts a sign-in from `client_addr` (counted against the per-minute limit). With a
/// username, `allowCredentials` lists that user's keys, or stand-ins that look the same.
/// Without one, the list is empty (discoverable). Returns the ceremony's id, which is the
/// ceremony itself sealed ([`super::sealed`]): nothing is written.
pub async fn start(
    ctx: &Ctx<'_>,
    username: Option<&str>,
    client_addr: &str,
) -> Result<(String, serde_json::Value), CeremonyError> {
    if let Err(e) = limits::count_sign_in_start(ctx, client_addr).await {
        return Err(limited(ctx, e).await?);
    }
    let config = &ctx.config.ceremonies;
    let (user, allow) = match username.map(str::trim).filter(|u| !u.is_empty()) {
        None => (None, Vec::new()),
        Some(raw) => {
            let known = known_user(ctx, raw).await?;
            // The same reads whether or not the user exists: the key list is read for a
            // user id that matches nothing when there is no such user.
            let id = known
                .as_ref()
                .map_or_else(|| UserId::from_uuid(Default::default()), |u| u.id);
            let creds = ctx.stores.credentials.list_user_credentials(id).await?;
            match known {
                Some(user) if !creds.is_empty() => {
                    let allow = creds.iter().map(|c| (c.id.clone(), c.transports.clone())).collect();
                    (Some(user.id), allow)
                }
                _ => (None, decoys(&config.decoy_key, raw)),
            }
        }
    };
    let allow: Vec<_> = allow.into_iter().take(super::sealed::MAX_ALLOWED).collect();
    let ids = allow.iter().map(|(id, _)| id.clone()).collect();
    let ceremony = new_ceremony(CeremonyKind::Authentication, user, None, ids, config, ctx.now);
    let options = PublicKeyCredentialRequestOptions {
        timeout: timeout(config),
        allow_credentials: allow
            .iter()
            .map(|(id, t)| CredentialDescriptor::stored(id, t))
            .collect(),
        user_verification: user_verification(config),
        ..PublicKeyCredentialRequestOptions::new(ceremony.challenge.clone(), &config.rp_id)
    };
    let options = serde_json::to_value(&options)
        .map_err(|e| CeremonyError::new(FailureClass::Store, "options", e.to_string()))?;
    Ok((config.seal_key.seal(&ceremony), options))
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

/// Transport lists a stand-in key may carry, as real roaming keys report them.
const DECOY_TRANSPORTS: [&[&str]; 4] = [&["nfc", "usb"], &["usb"], &["nfc", "usb"], &["hybrid", "internal"]];

/// Stand-in keys for a username that has none to show: one or two, with ids and transports
/// derived from the username under a server key, so every request for the name gets the
/// same answer, shaped like real keys (64-byte ids, transports listed).
pub fn decoys(key: &[u8; 32], raw: &str) -> Vec<(Vec<u8>, Vec<String>)> {
    let canonical = Username::parse(raw).map_or_else(|_| raw.to_owned(), |u| u.as_str().to_owned());
    let seed = keyfleet_domain::secret::digest("keyfleet-decoy-credential-v2", &[key, canonical.as_bytes()]);
    let count = 1 + usize::from(seed[0] & 1);
    (0..count)
        .map(|i| {
            let index = [u8::try_from(i).unwrap_or(0)];
            let a = keyfleet_domain::secret::digest("keyfleet-decoy-id-a", &[&seed, &index]);
            let b = keyfleet_domain::secret::digest("keyfleet-decoy-id-b", &[&seed, &index]);
            let id = [a, b].concat();
            let transports = DECOY_TRANSPORTS[usize::from(a[0]) % DECOY_TRANSPORTS.len()];
            (id, transports.iter().map(|t| (*t).to_owned()).collect())
        })
        .collect()
}

async fn limited(ctx: &Ctx<'_>, e: CoreError) -> Result<CeremonyError, CeremonyError> {
    if let CoreError::Limited { .. } = e {
        let event = ctx
            .audit_with(Action::AuthWebauthn, None, &Reason { reason: "rate_limited" })
            .with_outcome(Outcome::Denied);
        ctx.stores.audit.append(&event).await?;
    }
    Ok(e.into())
}

/// A completed sign-in.
pub struct SignedIn {
    /// Who signed in.
    pub user: User,
    /// The new session and its cookie token.
    pub session: NewSession,
    /// The key used.
    pub credential: Credential,
    /// The names of the user's groups, in name order (read with the key).
    pub groups: Vec<String>,
}

fn concurrent() -> CeremonyError {
    CeremonyError::new(
        FailureClass::Conflict,
        "concurrent_sign_in",
        "another sign-in with this key finished first; try again",
    )
}

fn challenge_used() -> CeremonyError {
    CeremonyError::new(
        FailureClass::Rejected,
        "challenge_used",
        "the ceremony was already used",
    )
}

fn unauthenticated() -> CeremonyError {
    CeremonyError::new(
        FailureClass::Unauthenticated,
        "authentication_failed",
        "the security key was not accepted",
    )
}

/// The body of a finish request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FinishRequest {
    ceremony_id: String,
    credential: AuthenticationResponseJSON,
}

/// Finishes a sign-in from `client_addr`: `body` is the request as sent
/// (`{ceremonyId, credential}`). The attempt is admitted under the address's failure limit
/// before anything is verified (`limits::begin_sign_in`), on the failures read with the key;
/// only a failure is written for it.
pub async fn finish(ctx: &Ctx<'_>, body: serde_json::Value, client_addr: &str) -> Result<SignedIn, CeremonyError> {
    let pending = limits::begin_sign_in(ctx, client_addr);
    let (attempt, outcome) = match read_request(ctx, body) {
        Ok((body, ceremony)) => {
            let response = &body.credential;
            // One read: the address's failures, whether the ceremony is spent, and the key
            // with all a sign-in needs of it. A store error leaves the attempt unadmitted.
            let reading = ctx
                .stores
                .policies
                .sign_in_read(&response.raw_id.0, ceremony.id, pending.failures())
                .await?;
            let attempt = match pending.admit(reading.failures) {
                Ok(a) => a,
                Err(e) => return Err(limited(ctx, e).await?),
            };
            let outcome = finish_read(ctx, &ceremony, response, client_addr, reading.lookup).await;
            (attempt, outcome)
        }
        Err(unread) => {
            let attempt = match pending.peek_and_admit(ctx).await {
                Ok(a) => a,
                Err(e) => return Err(limited(ctx, e).await?),
            };
            (attempt, Err(refuse_unread(ctx, unread).await?))
        }
    };
    match outcome {
        Ok(done) => {
            attempt.succeeded();
            Ok(done)
        }
        // The store failed: neither a success nor the key's failure (the attempt is dropped).
        Err(e) if e.class == FailureClass::Store => Err(e),
        Err(e) => {
            attempt.failed(ctx).await?;
            Err(e)
        }
    }
}

/// A finish request that names no sign-in ceremony of this server.
enum Unread {
    /// The body has the wrong shape (A1); the ceremony id, if it has one, is still spent.
    Shape {
        refusal: CeremonyError,
        ceremony_id: Option<String>,
    },
    /// The id does not open as a sealed sign-in ceremony.
    Sealed { ceremony_id: String },
}

/// The request and its ceremony, opened without a store (the id is the ceremony, sealed).
fn read_request(ctx: &Ctx<'_>, raw: serde_json::Value) -> Result<(FinishRequest, Ceremony), Unread> {
    // Read in two steps so that a body of the wrong shape (A1) still consumes its ceremony.
    let ceremony_id = raw.get("ceremonyId").and_then(|v| v.as_str()).map(str::to_owned);
    let body: FinishRequest = serde_json::from_value(raw).map_err(|e| Unread::Shape {
        refusal: invalid_shape(&e),
        ceremony_id,
    })?;
    // One that does not open (forged, tampered, another server's, a registration's) names
    // no ceremony.
    match ctx.config.ceremonies.seal_key.open(&body.ceremony_id) {
        Some(ceremony) => Ok((body, ceremony)),
        None => Err(Unread::Sealed {
            ceremony_id: body.ceremony_id,
        }),
    }
}

fn unknown_ceremony() -> CeremonyError {
    CeremonyError::new(
        FailureClass::Rejected,
        "unknown_ceremony",
        "no such ceremony; it was used, or it expired",
    )
}

/// The refusal of an admitted request that names no sign-in ceremony (`Ok` is the refusal;
/// `Err` a store failure).
async fn refuse_unread(ctx: &Ctx<'_>, unread: Unread) -> Result<CeremonyError, CeremonyError> {
    match unread {
        Unread::Shape { refusal, ceremony_id } => {
            if let Some(id) = ceremony_id {
                abandon(ctx, &id, refusal.code).await?;
            }
            Ok(refusal)
        }
        Unread::Sealed { ceremony_id } => {
            // A registration's id is not spent here (it is not this ceremony's to spend).
            let registration = match ceremony_id.parse::<keyfleet_domain::ids::CeremonyId>() {
                Ok(id) => ctx.stores.ceremonies.get_ceremony(id).await?,
                Err(_) => None,
            };
            Ok(match registration {
                Some(_) => CeremonyError::new(FailureClass::Rejected, "ceremony_mismatch", "not a sign-in ceremony"),
                None => unknown_ceremony(),
            })
        }
    }
}

/// Finishes an admitted sign-in whose ceremony opened and whose key was read.
async fn finish_read(
    ctx: &Ctx<'_>,
    ceremony: &Ceremony,
    response: &AuthenticationResponseJSON,
    client_addr: &str,
    lookup: SignInLookup,
) -> Result<SignedIn, CeremonyError> {
    // A spent ceremony is answered like one never issued, before anything is evaluated (the
    // finishing transaction would refuse it anyway: this is the answer, not the guard).
    let read = match lookup {
        SignInLookup::Spent => return Err(unknown_ceremony()),
        SignInLookup::UnknownKey => None,
        SignInLookup::Found(read) => Some(*read),
    };
    match verify_and_sign_in(ctx, ceremony, response, client_addr, read).await {
        Ok(done) => Ok(done),
        Err((e, target)) => {
            ctx.stores
                .ceremonies
                .spend_ceremony(ceremony.id, ceremony.expires_at)
                .await?;
            let detail = CeremonyFailed {
                code: e.code,
                credential_id: Some(b64(&response.raw_id.0)),
            };
            let event = ctx
                .audit_with(Action::AuthWebauthn, target, &detail)
                .with_outcome(Outcome::Failure);
            ctx.stores.audit.append(&event).await?;
            Err(e)
        }
    }
}

/// Spends the sign-in ceremony named by a finish request that could not be read as one (its
/// body has the wrong shape, A1): every failure consumes the challenge and is audited. A
/// ceremony of another kind is left alone, as [`finish`] leaves it.
async fn abandon(ctx: &Ctx<'_>, ceremony_id: &str, code: &'static str) -> Result<(), CeremonyError> {
    let Some(ceremony) = ctx.config.ceremonies.seal_key.open(ceremony_id) else {
        return Ok(());
    };
    let detail = CeremonyFailed {
        code,
        credential_id: None,
    };
    let event = ctx
        .audit_with(Action::AuthWebauthn, None, &detail)
        .with_outcome(Outcome::Failure);
    Ok(super::ceremony::spend(ctx, &ceremony, event).await?)
}

type Failure = (CeremonyError, Option<Target>);

async fn verify_and_sign_in(
    ctx: &Ctx<'_>,
    ceremony: &Ceremony,
    response: &AuthenticationResponseJSON,
    client_addr: &str,
    read: Option<SignInRead>,
) -> Result<SignedIn, Failure> {
    let settings = &ctx.config.ceremonies;
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
    // Read with the spent flag: the key, its owner, the owner's policies and groups, and the
    // model's flag.
    let SignInRead {
        credential: cred,
        owner,
        policies,
        groups,
    } = read.ok_or((unauthenticated(), None))?;
    let target = Some(Target::User(cred.user_id));
    let fail = |e: CeremonyError| (e, target.clone());
    // A3: a user identified beforehand must own the credential.
    if ceremony.user_id.is_some_and(|u| u != owner.id) {
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
    let context = AssertionContext {
        origins: &origins,
        cross_origin: CrossOriginPolicy::Deny,
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
        reject_unsolicited_extensions: false,
        counter_policy: CounterPolicy::Reject,
    };
    let verified = match request_state(ceremony).verify(context, response) {
        Ok(v) => v,
        Err(e @ AuthenticationError::CounterRegression { .. }) => {
            // A13: an authentic assertion with a counter that did not increase: the key may be
            // cloned. Flag it (audited) and refuse, but only if this assertion's ceremony is
            // still unspent: a second copy of an assertion that already signed in is a replay
            // of ours, not a clone.
            let detail = CloneSuspected {
                credential_id: b64(&cred.id),
                nickname: &cred.nickname,
                stored_sign_count: cred.sign_count,
            };
            let audit = ctx
                .audit_with(Action::CredentialCloneSuspected, target.clone(), &detail)
                .with_outcome(Outcome::Denied);
            return match ctx
                .stores
                .ceremonies
                .flag_possible_clone(ceremony.id, ceremony.expires_at, &cred.id, cred.sign_count, &audit)
                .await
            {
                Ok(()) => Err(fail(CeremonyError::new(
                    FailureClass::Unauthenticated,
                    e.code(),
                    e.to_string(),
                ))),
                Err(StoreError::Conflict("sign_count")) => Err(fail(concurrent())),
                Err(StoreError::Conflict(_)) => Err(fail(challenge_used())),
                Err(StoreError::NotFound) => Err(fail(unauthenticated())),
                Err(e) => Err(store(e)),
            };
        }
        Err(e) => {
            return Err(fail(CeremonyError::new(
                FailureClass::Rejected,
                e.code(),
                e.to_string(),
            )));
        }
    };
    // A disabled account is refused only now, after the assertion proved possession of the
    // key: its holder is told why (and whom to ask) instead of a generic failure, and nobody
    // without the key learns whether an account is disabled.
    if !owner.enabled {
        return Err(fail(CeremonyError::new(
            FailureClass::Unauthenticated,
            "account_disabled",
            "this account is disabled; ask your administrator or helpdesk",
        )));
    }
    // The owner's policy, also only now (the refusal tells nothing to someone without the
    // key): a key it no longer allows is refused, and so is an assertion without UV where
    // it requires UV (A10). The policies came with the key: nothing more is read.
    match crate::policies::check_sign_in(ctx, &policies, &cred, verified.flags.user_verified) {
        Ok(()) => {}
        Err(Refusal::UserVerification) => {
            return Err(fail(CeremonyError::new(
                FailureClass::Rejected,
                "uv_required",
                "your policy requires the key to verify you (PIN or biometrics)",
            )));
        }
        Err(refusal) => {
            return Err(fail(CeremonyError::new(
                FailureClass::Unauthenticated,
                "credential_not_allowed",
                format!(
                    "this security key is not allowed by your policy ({}); sign in with another key or ask your helpdesk",
                    super::registration::policy_message(refusal)
                ),
            )));
        }
    }
    let lifetimes = ctx.config.sessions.lifetimes;
    let mut new = session::open(owner.id, SessionKind::Full, lifetimes, None, ctx.now, &mut OsRng);
    new.session.client_addr = Some(client_addr.to_owned());
    new.session.credential_id = Some(cred.id.clone());
    new.session.user_verified = verified.flags.user_verified;
    // Sessions opened with a key removed since then last until this sign-in (an ordinary
    // removal, as NHSmail's guide describes it); the sign-in's transaction ends them.
    let removed_key_sessions = ctx
        .as_actor(Actor::User(owner.id))
        .audit(Action::SessionRevokeRemovedKeys, Some(Target::User(owner.id)));
    let finish = FinishAssertion {
        ceremony_id: ceremony.id,
        ceremony_expires_at: ceremony.expires_at,
        credential_id: &cred.id,
        old_sign_count: cred.sign_count,
        new_sign_count: verified.new_sign_count,
        backup_state: verified.flags.backup_state,
        uv_initialized: verified.flags.user_verified,
        now: ctx.now,
        session: &new.session,
        removed_key_sessions: &removed_key_sessions,
    };
    let detail = SignedInDetail {
        credential_id: b64(&cred.id),
        nickname: &cred.nickname,
        session_id: new.session.id.to_string(),
        uv: verified.flags.user_verified,
    };
    let audit = ctx
        .as_actor(Actor::User(owner.id))
        .audit_with(Action::AuthWebauthn, target.clone(), &detail);
    match ctx.stores.ceremonies.finish_authentication(&finish, &audit).await {
        Ok(()) => Ok(SignedIn {
            user: owner,
            session: new,
            credential: cred,
            groups,
        }),
        Err(StoreError::Conflict("sign_count")) => Err(fail(concurrent())),
        Err(StoreError::Conflict(_)) => Err(fail(challenge_used())),
        Err(StoreError::NotFound) => Err(fail(unauthenticated())),
        Err(e) => Err(store(e)),
    }
}
