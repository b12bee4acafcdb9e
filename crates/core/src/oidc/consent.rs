//! Consent for third-party applications: before a third-party application gets a code, the
//! user sees its name and the scopes it asks for, and approves or denies. An approval is
//! remembered per user and application (the scopes agreed to) until the user withdraws it;
//! `prompt=consent` asks again; `prompt=none` without a stored consent answers
//! `consent_required`. First-party applications (the default) never ask.

use keyfleet_domain::UserId;
use keyfleet_domain::audit::{Action, Actor, Target};
use keyfleet_domain::consent::Consent;
use keyfleet_domain::oidc::Application;
use serde::Serialize;

use crate::access::Principal;
use crate::audit::{Detail, Reason};
use crate::{CoreError, Ctx};

/// What the browser decided on the consent page, if it was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// No decision in this request: ask when consent is needed.
    Ask,
    /// The user approved the scopes shown (a form posted from the consent page).
    Approve,
    /// The user denied.
    Deny,
}

/// What the authorization request does next, as far as consent goes.
pub(crate) enum Step {
    /// Go on to the code.
    Proceed,
    /// Show the consent page.
    Ask,
    /// Send this error back to the application.
    Refuse(&'static str, &'static str),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConsentDetail<'a> {
    client_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes: Option<&'a [String]>,
}
impl Detail for ConsentDetail<'_> {}

fn scopes_of(scope: &str) -> Vec<String> {
    scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The consent step of an authorization request for `app` by `user`, asking for `scope`
/// (the granted scopes, space-separated). An approval is stored (audited as `oidc.consent`),
/// widening what was agreed before.
pub(crate) async fn step(
    ctx: &Ctx<'_>,
    app: &Application,
    user: UserId,
    scope: &str,
    forced: bool,
    prompt_none: bool,
    decision: Decision,
) -> Result<Step, CoreError> {
    if !app.third_party {
        return Ok(Step::Proceed);
    }
    match decision {
        Decision::Deny => {
            let actor = ctx.as_actor(Actor::User(user));
            let audit = actor
                .audit_with(
                    Action::OidcConsent,
                    Some(Target::Application(app.client_id.clone())),
                    &Reason { reason: "denied" },
                )
                .with_outcome(keyfleet_domain::audit::Outcome::Denied);
            ctx.stores.audit.append(&audit).await?;
            Ok(Step::Refuse("access_denied", "the user did not allow the application"))
        }
        Decision::Approve => {
            let stored = ctx.stores.consents.get_consent(user, &app.client_id).await?;
            let mut scopes = stored.map(|c| c.scopes).unwrap_or_default();
            for s in scopes_of(scope) {
                if !scopes.contains(&s) {
                    scopes.push(s);
                }
            }
            let consent = Consent {
                user_id: user,
                client_id: app.client_id.clone(),
                scopes,
                granted_at: ctx.now,
            };
            let detail = ConsentDetail {
                client_id: &app.client_id,
                scopes: Some(&consent.scopes),
            };
            let audit = ctx.as_actor(Actor::User(user)).audit_with(
                Action::OidcConsent,
                Some(Target::Application(app.client_id.clone())),
                &detail,
            );
            ctx.stores.consents.save_consent(&consent, &audit).await?;
            Ok(Step::Proceed)
        }
        Decision::Ask => {
            let stored = ctx.stores.consents.get_consent(user, &app.client_id).await?;
            if !forced && stored.is_some_and(|c| c.covers(scope)) {
                Ok(Step::Proceed)
            } else if prompt_none {
                Ok(Step::Refuse(
                    "consent_required",
                    "the user has not agreed to what the application asks for",
                ))
            } else {
                Ok(Step::Ask)
            }
        }
    }
}

/// A consent as its user sees it.
#[derive(Debug, Clone)]
pub struct MyConsent {
    /// The application.
    pub client_id: String,
    /// Its name.
    pub application: String,
    /// The scopes agreed to.
    pub scopes: Vec<String>,
    /// When.
    pub granted_at: keyfleet_domain::Timestamp,
}

fn me(principal: &Principal) -> Result<UserId, CoreError> {
    match principal {
        Principal::Person { user, .. } if !principal.is_tap_session() => Ok(*user),
        Principal::Person { .. } => Err(CoreError::forbidden(
            "tap_session_restricted",
            "a temporary access pass session may only register a security key",
        )),
        _ => Err(CoreError::forbidden("session_required", "this is for signed-in people")),
    }
}

/// The consents the signed-in person gave (their own; not from a TAP session).
pub async fn list_mine(ctx: &Ctx<'_>, principal: &Principal) -> Result<Vec<MyConsent>, CoreError> {
    let user = me(principal)?;
    let mut out = Vec::new();
    for c in ctx.stores.consents.list_consents(user).await? {
        let name = ctx
            .stores
            .oidc
            .get_application(&c.client_id)
            .await?
            .map_or_else(|| c.client_id.clone(), |a| a.name);
        out.push(MyConsent {
            client_id: c.client_id,
            application: name,
            scopes: c.scopes,
            granted_at: c.granted_at,
        });
    }
    out.sort_by(|a, b| a.application.cmp(&b.application));
    Ok(out)
}

/// Withdraws the signed-in person's consent to an application: it asks again next time, and the user's
/// grants to it (refresh and access tokens) end now. Audited as `oidc.consent_revoke`.
/// `NotFound` when there was no consent.
pub async fn revoke_mine(ctx: &Ctx<'_>, principal: &Principal, client_id: &str) -> Result<(), CoreError> {
    let user = me(principal)?;
    let detail = ConsentDetail {
        client_id,
        scopes: None,
    };
    let audit = ctx.as_actor(Actor::User(user)).audit_with(
        Action::OidcConsentRevoke,
        Some(Target::Application(client_id.to_owned())),
        &detail,
    );
    ctx.stores
        .consents
        .delete_consent(user, client_id, ctx.now, &audit)
        .await?;
    Ok(())
}
