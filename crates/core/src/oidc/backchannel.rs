//! OpenID Connect Back-Channel Logout 1.0: telling applications that a session ended.
//!
//! The revoke-many store calls ([`super::end_user_grants`], [`super::end_credential_grants`],
//! RP-initiated logout, sign-out) queue one delivery per ended grant whose application has a
//! `backchannel_logout_uri`, in the same transaction as the revocation. The scheduled job
//! [`crate::jobs::Job::BackchannelLogout`] calls [`deliver_due`]: for each due delivery it signs
//! a logout token (with the ID tokens' key) and hands it to a [`LogoutSender`] (the server posts
//! it over HTTP, all of a batch at once, so one slow application delays no other). A failure is
//! tried again after [`retry_delay`]; after [`MAX_ATTEMPTS`] it is given up on and audited.

use std::time::Duration;

use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::{Action, Outcome, Target};
use keyfleet_domain::backchannel::{LogoutAttempt, LogoutDelivery};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};

use crate::audit::Detail;
use crate::{CoreError, Ctx};

/// The event a logout token carries (Back-Channel Logout §2.4).
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The JWS `typ` of a logout token (Back-Channel Logout §2.4, RFC 8725 §3.11).
pub const TYP: &str = "logout+jwt";

/// How long a logout token is valid, in seconds.
pub const TOKEN_LIFETIME_S: i64 = 120;

/// Attempts made before a delivery is given up on.
pub const MAX_ATTEMPTS: u32 = 8;

/// The wait after the first failed attempt; it doubles after each further one.
pub const FIRST_RETRY: Duration = Duration::from_secs(10);

/// Deliveries handled per run of the job.
pub const BATCH: u32 = 100;

/// Posts logout tokens: the server implements it over HTTP (the core does no IO).
#[async_trait::async_trait]
pub trait LogoutSender: Send + Sync {
    /// Posts each `(uri, logout_token)` as the form field `logout_token`; one result per
    /// item, in order: `Ok` for a 2xx answer, else why not (one line, without the token).
    async fn post_all(&self, batch: &[(String, String)]) -> Vec<Result<(), String>>;
}

/// The claims of a logout token (Back-Channel Logout §2.4). No `nonce`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutTokenClaims {
    /// Issuer.
    pub iss: String,
    /// The user's immutable id (the ID tokens' `sub`).
    pub sub: String,
    /// The application.
    pub aud: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// Token id.
    pub jti: String,
    /// The grant (the ID tokens' `sid`).
    pub sid: String,
    /// `{"http://schemas.openid.net/event/backchannel-logout": {}}`.
    pub events: serde_json::Value,
}

/// How long to wait after `attempts` failed attempts (1, 2, …): [`FIRST_RETRY`] doubled
/// `attempts - 1` times.
pub fn retry_delay(attempts: u32) -> Duration {
    FIRST_RETRY * 2u32.saturating_pow(attempts.saturating_sub(1).min(16))
}

/// The logout token for a delivery, signed now.
pub fn logout_token(ctx: &Ctx<'_>, d: &LogoutDelivery) -> String {
    let now_s = ctx.now.as_millis() / 1000;
    let claims = LogoutTokenClaims {
        iss: ctx.config.clients.issuer.clone(),
        sub: d.user_id.to_string(),
        aud: d.client_id.clone(),
        iat: now_s,
        exp: now_s + TOKEN_LIFETIME_S,
        jti: keyfleet_domain::secret::random_token(16, &mut OsRng),
        sid: d.grant_id.clone(),
        events: serde_json::json!({ EVENT: {} }),
    };
    ctx.core.tokens.sign_jwt(TYP, &claims)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryDetail<'a> {
    grant_id: &'a str,
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}
impl Detail for DeliveryDetail<'_> {}

/// Delivers the logouts due now (at most [`BATCH`]); returns what it did, as named counts.
/// A delivery is audited (`oidc.backchannel_logout`) when it succeeds and when it is given up
/// on; a retry is only logged.
pub async fn deliver_due(ctx: &Ctx<'_>, sender: &dyn LogoutSender) -> Result<Vec<(&'static str, u64)>, CoreError> {
    let due = ctx.stores.oidc.due_logouts(ctx.now, BATCH).await?;
    let (mut delivered, mut retried, mut failed) = (0u64, 0u64, 0u64);
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let sendable: Vec<&LogoutDelivery> = due.iter().filter(|d| d.uri.is_some()).collect();
    let batch: Vec<(String, String)> = sendable
        .iter()
        .map(|d| (d.uri.clone().unwrap_or_default(), logout_token(ctx, d)))
        .collect();
    let mut results = sender.post_all(&batch).await.into_iter();
    for d in &due {
        let result = if d.uri.is_some() {
            results
                .next()
                .unwrap_or_else(|| Err("the sender answered too few results".to_owned()))
        } else {
            Err("the application no longer has a back-channel logout URI".to_owned())
        };
        let attempts = d.attempts + 1;
        let (attempt, outcome) = match result {
            Ok(()) => {
                delivered += 1;
                (LogoutAttempt::Delivered, Some(Outcome::Success))
            }
            Err(error) if attempts < MAX_ATTEMPTS && d.uri.is_some() => {
                retried += 1;
                tracing::info!(client_id = %d.client_id, attempts, %error, "back-channel logout failed; will retry");
                let next_attempt_at: Timestamp = ctx.now.plus(retry_delay(attempts));
                (LogoutAttempt::Retry { next_attempt_at, error }, None)
            }
            Err(error) => {
                failed += 1;
                tracing::warn!(client_id = %d.client_id, attempts, %error, "back-channel logout given up");
                (LogoutAttempt::Failed { error }, Some(Outcome::Failure))
            }
        };
        let error = match &attempt {
            LogoutAttempt::Failed { error } => Some(error.as_str()),
            _ => None,
        };
        let detail = DeliveryDetail {
            grant_id: &d.grant_id,
            attempts,
            error,
        };
        let audit = outcome.map(|o| {
            ctx.audit_with(
                Action::OidcBackchannelLogout,
                Some(Target::Application(d.client_id.clone())),
                &detail,
            )
            .with_outcome(o)
        });
        match ctx
            .stores
            .oidc
            .record_logout_attempt(&d.grant_id, ctx.now, &attempt, audit.as_ref())
            .await
        {
            // Another process recorded it meanwhile (a lease taken over): theirs stands.
            Ok(()) | Err(keyfleet_domain::StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(vec![
        ("logoutsDelivered", delivered),
        ("logoutsRetried", retried),
        ("logoutsFailed", failed),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially() {
        assert_eq!(retry_delay(1), Duration::from_secs(10));
        assert_eq!(retry_delay(2), Duration::from_secs(20));
        assert_eq!(retry_delay(4), Duration::from_secs(80));
        let total: Duration = (1..MAX_ATTEMPTS).map(retry_delay).sum();
        assert!(total < Duration::from_secs(3600), "given up within the hour: {total:?}");
    }
}
