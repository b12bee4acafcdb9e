//! Single sign-on applications: create, change, delete (`ManageApplications`:
//! administrators and the CLI); read (`ReadApplications`: also helpdesk staff). A confidential application's secret is 256-bit random, shown
//! once, and stored as a keyed digest like an API client's ([`crate::clients::digest_secret`]).

use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::oidc::{self, Application, ApplicationError, ClientType};
use rand_core::OsRng;
use serde::Serialize;

use crate::access::{Permission, Principal, authorize};
use crate::audit::Detail;
use crate::clients::digest_secret;
use crate::{CoreError, Ctx};

/// Default lifetime of access and ID tokens, in seconds.
pub const DEFAULT_ACCESS_TOKEN_LIFETIME_S: i64 = 600;
/// Default lifetime of refresh tokens, in seconds (8 hours: a working day).
pub const DEFAULT_REFRESH_TOKEN_LIFETIME_S: i64 = 8 * 3600;

/// What an administrator sets on an application.
#[derive(Debug, Clone, Default)]
pub struct ApplicationInput {
    /// Name.
    pub name: String,
    /// Redirect URIs (exact strings).
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs (exact strings).
    pub post_logout_redirect_uris: Vec<String>,
    /// `confidential` or `public`.
    pub client_type: Option<String>,
    /// Allowed scopes (default: all of them).
    pub scopes: Option<Vec<String>>,
    /// Access and ID token lifetime in seconds (60 to 3600).
    pub access_token_lifetime_s: Option<i64>,
    /// Refresh token lifetime in seconds (300 to 2 592 000).
    pub refresh_token_lifetime_s: Option<i64>,
    /// Required authentication strength, by id.
    pub authentication_strength: Option<String>,
    /// OpenID back-channel logout URI.
    pub backchannel_logout_uri: Option<String>,
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt` or `none`
    /// ([`super::client_auth::settle_auth`]).
    pub token_endpoint_auth_method: Option<String>,
    /// The public keys of `private_key_jwt` (a JWK Set).
    pub jwks: Option<serde_json::Value>,
    /// A third-party application (its users are asked for consent); default first-party.
    pub third_party: Option<bool>,
}

/// Changes to an application; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct ApplicationPatch {
    /// Name.
    pub name: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Allowed scopes.
    pub scopes: Option<Vec<String>>,
    /// Access and ID token lifetime in seconds.
    pub access_token_lifetime_s: Option<i64>,
    /// Refresh token lifetime in seconds.
    pub refresh_token_lifetime_s: Option<i64>,
    /// Required strength: `Some(None)` clears it.
    pub authentication_strength: Option<Option<String>>,
    /// Back-channel logout URI: `Some(None)` clears it.
    pub backchannel_logout_uri: Option<Option<String>>,
    /// Client authentication method.
    pub token_endpoint_auth_method: Option<String>,
    /// The public keys of `private_key_jwt`: `Some(None)` clears them.
    pub jwks: Option<Option<serde_json::Value>>,
    /// Third-party (consent asked) or first-party.
    pub third_party: Option<bool>,
}

/// A new application and its secret (confidential only), shown once.
pub struct CreatedApplication {
    /// The application.
    pub application: Application,
    /// The secret in clear.
    pub secret: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApplicationRef<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect_uris: Option<&'a [String]>,
}
impl Detail for ApplicationRef<'_> {}

fn invalid(e: ApplicationError) -> CoreError {
    let code = match e {
        ApplicationError::Uri(_) | ApplicationError::NoRedirectUri | ApplicationError::TooManyUris => {
            "invalid_redirect_uri"
        }
        ApplicationError::Scope(_) => "invalid_scope",
        ApplicationError::Name | ApplicationError::Lifetime(_) => "invalid_field",
    };
    CoreError::invalid(code, e.to_string())
}

fn lifetime(v: i64, range: std::ops::RangeInclusive<i64>, what: &'static str) -> Result<i64, CoreError> {
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(invalid(ApplicationError::Lifetime(what)))
    }
}

const ACCESS_RANGE: std::ops::RangeInclusive<i64> = 60..=3600;
const REFRESH_RANGE: std::ops::RangeInclusive<i64> = 300..=2_592_000;
const ACCESS_MSG: &str = "accessTokenLifetime must be 60 to 3600 seconds";
const REFRESH_MSG: &str = "refreshTokenLifetime must be 300 to 2592000 seconds";

/// An authentication strength named by id: it must exist.
async fn strength(ctx: &Ctx<'_>, s: Option<&str>) -> Result<Option<String>, CoreError> {
    let Some(id) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    match crate::strengths::find(ctx, id).await? {
        Some(found) => Ok(Some(found.id)),
        None => Err(CoreError::invalid(
            "invalid_field",
            "authenticationStrength names no authentication strength",
        )),
    }
}

fn backchannel(uri: Option<&str>) -> Result<Option<String>, CoreError> {
    uri.filter(|u| !u.is_empty())
        .map(|u| oidc::validate_redirect_uri(u).map_err(invalid))
        .transpose()
}

/// Creates an application (`ManageApplications`); a confidential one gets a secret, in this
/// answer only.
pub async fn create(
    ctx: &Ctx<'_>,
    principal: &Principal,
    input: ApplicationInput,
) -> Result<CreatedApplication, CoreError> {
    authorize(ctx, principal, Permission::ManageApplications).await?;
    let name = oidc::validate_name(&input.name).map_err(invalid)?;
    let client_type = match input.client_type.as_deref() {
        None => ClientType::Confidential,
        Some(t) => ClientType::parse(t)
            .ok_or_else(|| CoreError::invalid("invalid_field", "clientType must be confidential or public"))?,
    };
    let redirect_uris = oidc::validate_uris(&input.redirect_uris).map_err(invalid)?;
    if redirect_uris.is_empty() {
        return Err(invalid(ApplicationError::NoRedirectUri));
    }
    let post_logout_redirect_uris = oidc::validate_uris(&input.post_logout_redirect_uris).map_err(invalid)?;
    let scopes = match &input.scopes {
        Some(s) => oidc::validate_scopes(s).map_err(invalid)?,
        None => oidc::SCOPES.iter().map(|s| (*s).to_owned()).collect(),
    };
    let access = lifetime(
        input.access_token_lifetime_s.unwrap_or(DEFAULT_ACCESS_TOKEN_LIFETIME_S),
        ACCESS_RANGE,
        ACCESS_MSG,
    )?;
    let refresh = lifetime(
        input
            .refresh_token_lifetime_s
            .unwrap_or(DEFAULT_REFRESH_TOKEN_LIFETIME_S),
        REFRESH_RANGE,
        REFRESH_MSG,
    )?;
    let jwks = super::client_auth::settle_auth(
        client_type,
        input.token_endpoint_auth_method.as_deref(),
        input.jwks.as_ref().map(Some),
        None,
    )?;
    let secret = (client_type == ClientType::Confidential).then(|| oidc::new_client_secret(&mut OsRng));
    let application = Application {
        client_id: oidc::new_client_id(&mut OsRng),
        name,
        client_type,
        secret_hash: secret
            .as_ref()
            .map(|s| digest_secret(&ctx.config.clients.secret_digest_key, s)),
        redirect_uris,
        post_logout_redirect_uris,
        scopes,
        access_token_lifetime_s: access,
        refresh_token_lifetime_s: refresh,
        authentication_strength: strength(ctx, input.authentication_strength.as_deref()).await?,
        backchannel_logout_uri: backchannel(input.backchannel_logout_uri.as_deref())?,
        jwks,
        third_party: input.third_party.unwrap_or(false),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let detail = ApplicationRef {
        name: &application.name,
        client_type: Some(application.client_type.as_str()),
        redirect_uris: Some(&application.redirect_uris),
    };
    let audit = ctx.audit_with(
        Action::ApplicationCreate,
        Some(Target::Application(application.client_id.clone())),
        &detail,
    );
    ctx.stores.oidc.create_application(&application, &audit).await?;
    // An application that authenticates with private_key_jwt keeps a secret nobody is shown
    // (the store holds one for every confidential application) and cannot use.
    let secret = secret.filter(|_| application.jwks.is_none());
    Ok(CreatedApplication { application, secret })
}

/// Every application, by name (`ReadApplications`: administrators and helpdesk staff).
pub async fn list(ctx: &Ctx<'_>, principal: &Principal) -> Result<Vec<Application>, CoreError> {
    authorize(ctx, principal, Permission::ReadApplications).await?;
    Ok(ctx.stores.oidc.list_applications().await?)
}

/// One application (`ReadApplications`: administrators and helpdesk staff).
pub async fn get(ctx: &Ctx<'_>, principal: &Principal, client_id: &str) -> Result<Application, CoreError> {
    authorize(ctx, principal, Permission::ReadApplications).await?;
    find(ctx, client_id).await
}

async fn find(ctx: &Ctx<'_>, client_id: &str) -> Result<Application, CoreError> {
    ctx.stores
        .oidc
        .get_application(client_id)
        .await?
        .ok_or(CoreError::NotFound)
}

/// Changes an application's settings (`ManageApplications`). Every field is validated before
/// anything is written.
pub async fn update(
    ctx: &Ctx<'_>,
    principal: &Principal,
    client_id: &str,
    patch: ApplicationPatch,
) -> Result<Application, CoreError> {
    authorize(ctx, principal, Permission::ManageApplications).await?;
    let mut app = find(ctx, client_id).await?;
    if let Some(name) = &patch.name {
        app.name = oidc::validate_name(name).map_err(invalid)?;
    }
    if let Some(uris) = &patch.redirect_uris {
        app.redirect_uris = oidc::validate_uris(uris).map_err(invalid)?;
        if app.redirect_uris.is_empty() {
            return Err(invalid(ApplicationError::NoRedirectUri));
        }
    }
    if let Some(uris) = &patch.post_logout_redirect_uris {
        app.post_logout_redirect_uris = oidc::validate_uris(uris).map_err(invalid)?;
    }
    if let Some(scopes) = &patch.scopes {
        app.scopes = oidc::validate_scopes(scopes).map_err(invalid)?;
    }
    if let Some(v) = patch.access_token_lifetime_s {
        app.access_token_lifetime_s = lifetime(v, ACCESS_RANGE, ACCESS_MSG)?;
    }
    if let Some(v) = patch.refresh_token_lifetime_s {
        app.refresh_token_lifetime_s = lifetime(v, REFRESH_RANGE, REFRESH_MSG)?;
    }
    if let Some(s) = &patch.authentication_strength {
        app.authentication_strength = strength(ctx, s.as_deref()).await?;
    }
    if let Some(u) = &patch.backchannel_logout_uri {
        app.backchannel_logout_uri = backchannel(u.as_deref())?;
    }
    app.jwks = super::client_auth::settle_auth(
        app.client_type,
        patch.token_endpoint_auth_method.as_deref(),
        patch.jwks.as_ref().map(Option::as_ref),
        app.jwks.take(),
    )?;
    if let Some(t) = patch.third_party {
        app.third_party = t;
    }
    app.updated_at = ctx.now;
    let detail = ApplicationRef {
        name: &app.name,
        client_type: None,
        redirect_uris: patch.redirect_uris.as_ref().map(|_| app.redirect_uris.as_slice()),
    };
    let audit = ctx.audit_with(
        Action::ApplicationUpdate,
        Some(Target::Application(app.client_id.clone())),
        &detail,
    );
    ctx.stores.oidc.update_application(&app, &audit).await?;
    Ok(app)
}

/// Deletes an application with its grants and tokens (`ManageApplications`).
pub async fn delete(ctx: &Ctx<'_>, principal: &Principal, client_id: &str) -> Result<(), CoreError> {
    authorize(ctx, principal, Permission::ManageApplications).await?;
    let app = find(ctx, client_id).await?;
    let detail = ApplicationRef {
        name: &app.name,
        client_type: None,
        redirect_uris: None,
    };
    let audit = ctx.audit_with(
        Action::ApplicationDelete,
        Some(Target::Application(app.client_id.clone())),
        &detail,
    );
    ctx.stores.oidc.delete_application(client_id, &audit).await?;
    Ok(())
}
