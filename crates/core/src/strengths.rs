//! Authentication strengths, for the JSON routes, the console, the CLI and single sign-on
//! alike: the two built-in ones and the administrators' own, and which of them a session
//! meets.
//!
//! Reading needs `ReadPolicies` (administrators and helpdesk); every change needs
//! `ManagePolicies` (administrators and the CLI). The built-in strengths cannot be changed or
//! deleted, and no stored strength may take a built-in one's id, name or `acr`. Every change
//! is audited with what it changed (`strength.create`, `strength.update` with the fields
//! before and after, `strength.delete`).

use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::policy::format_aaguid;
use keyfleet_domain::report::Aaguid;
use keyfleet_domain::session::Session;
use keyfleet_domain::strength::{self, AuthenticationStrength, KeyFacts, StrengthError, built_in};
use serde::Serialize;

use crate::access::{Permission, Principal, authorize};
use crate::audit::Detail;
use crate::{CoreError, Ctx};

/// A strength to create.
#[derive(Debug, Clone)]
pub struct NewStrength {
    /// Its id (a slug, unique, not a built-in's).
    pub id: String,
    /// What people see.
    pub name: String,
    /// The `acr` value ID tokens carry when it is met.
    pub acr: String,
    /// The sign-in must have verified the user.
    pub require_user_verification: bool,
    /// The key's attestation must have reached a trusted root.
    pub require_attestation: bool,
    /// Synced passkeys meet it.
    pub allow_synced: bool,
    /// Only these models meet it (with a trusted attestation); `None`: any model.
    pub allowed_aaguids: Option<Vec<Aaguid>>,
}

/// A change to a strength: each field given replaces the stored one.
#[derive(Debug, Clone, Default)]
pub struct StrengthChange {
    /// New name.
    pub name: Option<String>,
    /// New `acr` value.
    pub acr: Option<String>,
    /// New UV requirement.
    pub require_user_verification: Option<bool>,
    /// New attestation requirement.
    pub require_attestation: Option<bool>,
    /// Whether synced passkeys meet it.
    pub allow_synced: Option<bool>,
    /// New allow list: `Some(None)` lifts it, `Some(Some(list))` replaces it.
    pub allowed_aaguids: Option<Option<Vec<Aaguid>>>,
}

fn invalid(e: StrengthError) -> CoreError {
    CoreError::invalid("invalid_field", e.to_string())
}

/// Every strength: the built-in ones first, then the stored ones by name.
pub async fn list(ctx: &Ctx<'_>, principal: &Principal) -> Result<Vec<AuthenticationStrength>, CoreError> {
    authorize(ctx, principal, Permission::ReadPolicies).await?;
    all(ctx).await
}

/// Every strength, without an access check (for evaluating a session's sign-in).
async fn all(ctx: &Ctx<'_>) -> Result<Vec<AuthenticationStrength>, CoreError> {
    let mut out: Vec<AuthenticationStrength> = built_in().into();
    out.extend(ctx.stores.strengths.list_strengths().await?);
    Ok(out)
}

/// One strength by id.
pub async fn get(ctx: &Ctx<'_>, principal: &Principal, id: &str) -> Result<AuthenticationStrength, CoreError> {
    authorize(ctx, principal, Permission::ReadPolicies).await?;
    find(ctx, id).await?.ok_or(CoreError::NotFound)
}

/// A strength by id, without an access check: for applications that name one.
pub async fn find(ctx: &Ctx<'_>, id: &str) -> Result<Option<AuthenticationStrength>, CoreError> {
    if let Some(b) = built_in().into_iter().find(|b| b.id == id) {
        return Ok(Some(b));
    }
    Ok(ctx.stores.strengths.get_strength(id).await?)
}

/// The strength an `acr` value names, if any (for `acr_values` in an authorization request).
pub async fn by_acr(ctx: &Ctx<'_>, acr: &str) -> Result<Option<AuthenticationStrength>, CoreError> {
    Ok(all(ctx).await?.into_iter().find(|s| s.acr == acr))
}

/// The built-in strength whose name or `acr` this is, if any: stored strengths may not take
/// either.
fn clashes_with_built_in(name: &str, acr: &str) -> Result<(), CoreError> {
    for b in built_in() {
        if b.name.eq_ignore_ascii_case(name) {
            return Err(CoreError::conflict(
                "strength_name_taken",
                "a built-in authentication strength has this name",
            ));
        }
        if b.acr == acr {
            return Err(CoreError::conflict(
                "acr_taken",
                "a built-in authentication strength has this acr value",
            ));
        }
    }
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Fields<'a> {
    name: &'a str,
    acr: &'a str,
    require_user_verification: bool,
    require_attestation: bool,
    allow_synced: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_aaguids: Option<Vec<String>>,
}

impl<'a> From<&'a AuthenticationStrength> for Fields<'a> {
    fn from(s: &'a AuthenticationStrength) -> Self {
        Self {
            name: &s.name,
            acr: &s.acr,
            require_user_verification: s.require_user_verification,
            require_attestation: s.require_attestation,
            allow_synced: s.allow_synced,
            allowed_aaguids: s
                .allowed_aaguids
                .as_ref()
                .map(|l| l.iter().map(format_aaguid).collect()),
        }
    }
}

impl Detail for Fields<'_> {}

#[derive(Serialize)]
struct Diff<'a> {
    before: Fields<'a>,
    after: Fields<'a>,
}

impl Detail for Diff<'_> {}

fn validated(name: &str, acr: &str, aaguids: Option<&[Aaguid]>) -> Result<(String, Option<Vec<Aaguid>>), CoreError> {
    let name = strength::validate_name(name).map_err(invalid)?;
    strength::validate_acr(acr).map_err(invalid)?;
    let aaguids = aaguids.map(strength::validate_aaguids).transpose().map_err(invalid)?;
    clashes_with_built_in(&name, acr)?;
    Ok((name, aaguids))
}

/// Validates and stores a new strength.
pub async fn create(
    ctx: &Ctx<'_>,
    principal: &Principal,
    new: NewStrength,
) -> Result<AuthenticationStrength, CoreError> {
    authorize(ctx, principal, Permission::ManagePolicies).await?;
    match strength::validate_id(&new.id) {
        Err(StrengthError::BuiltInId(_)) => {
            return Err(CoreError::conflict(
                "strength_id_taken",
                "a built-in authentication strength has this id",
            ));
        }
        other => other.map_err(invalid)?,
    }
    let (name, allowed_aaguids) = validated(&new.name, &new.acr, new.allowed_aaguids.as_deref())?;
    let s = AuthenticationStrength {
        id: new.id,
        name,
        acr: new.acr,
        require_user_verification: new.require_user_verification,
        require_attestation: new.require_attestation,
        allow_synced: new.allow_synced,
        allowed_aaguids,
        built_in: false,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let audit = ctx.audit_with(
        Action::StrengthCreate,
        Some(Target::Strength(s.id.clone())),
        &Fields::from(&s),
    );
    ctx.stores.strengths.create_strength(&s, &audit).await?;
    Ok(s)
}

fn built_in_refusal() -> CoreError {
    CoreError::conflict(
        "strength_built_in",
        "the built-in authentication strengths cannot be changed or deleted",
    )
}

/// Changes a stored strength; the built-in ones are refused (`strength_built_in`).
pub async fn update(
    ctx: &Ctx<'_>,
    principal: &Principal,
    id: &str,
    change: StrengthChange,
) -> Result<AuthenticationStrength, CoreError> {
    authorize(ctx, principal, Permission::ManagePolicies).await?;
    if built_in().iter().any(|b| b.id == id) {
        return Err(built_in_refusal());
    }
    let before = ctx
        .stores
        .strengths
        .get_strength(id)
        .await?
        .ok_or(CoreError::NotFound)?;
    let name = change.name.unwrap_or_else(|| before.name.clone());
    let acr = change.acr.unwrap_or_else(|| before.acr.clone());
    let aaguids = change.allowed_aaguids.unwrap_or_else(|| before.allowed_aaguids.clone());
    let (name, allowed_aaguids) = validated(&name, &acr, aaguids.as_deref())?;
    let after = AuthenticationStrength {
        name,
        acr,
        require_user_verification: change
            .require_user_verification
            .unwrap_or(before.require_user_verification),
        require_attestation: change.require_attestation.unwrap_or(before.require_attestation),
        allow_synced: change.allow_synced.unwrap_or(before.allow_synced),
        allowed_aaguids,
        updated_at: ctx.now,
        ..before.clone()
    };
    let audit = ctx.audit_with(
        Action::StrengthUpdate,
        Some(Target::Strength(after.id.clone())),
        &Diff {
            before: Fields::from(&before),
            after: Fields::from(&after),
        },
    );
    ctx.stores.strengths.update_strength(&after, &audit).await?;
    Ok(after)
}

/// Deletes a stored strength; the built-in ones are refused (`strength_built_in`).
pub async fn delete(ctx: &Ctx<'_>, principal: &Principal, id: &str) -> Result<(), CoreError> {
    authorize(ctx, principal, Permission::ManagePolicies).await?;
    if built_in().iter().any(|b| b.id == id) {
        return Err(built_in_refusal());
    }
    let s = ctx
        .stores
        .strengths
        .get_strength(id)
        .await?
        .ok_or(CoreError::NotFound)?;
    let audit = ctx.audit_with(
        Action::StrengthDelete,
        Some(Target::Strength(s.id.clone())),
        &Fields::from(&s),
    );
    ctx.stores.strengths.delete_strength(id, &audit).await?;
    Ok(())
}

/// What the sign-in that opened `session` showed, and its key: `None` for a session not
/// opened with a key (a temporary access pass) or whose key has since been removed.
pub async fn key_facts(ctx: &Ctx<'_>, session: &Session) -> Result<Option<KeyFacts>, CoreError> {
    let Some(id) = session.credential_id.as_deref() else {
        return Ok(None);
    };
    let Some(cred) = ctx.stores.credentials.get_credential(id).await? else {
        return Ok(None);
    };
    if cred.user_id != session.user_id {
        return Ok(None);
    }
    Ok(Some(KeyFacts {
        user_verified: session.user_verified,
        attestation_trusted: cred.is_attested(),
        synced: cred.backup_eligible,
        aaguid: cred.aaguid,
    }))
}

/// The strengths `session` meets (built-in ones first): none for a session without a key.
pub async fn met_by_session(ctx: &Ctx<'_>, session: &Session) -> Result<Vec<AuthenticationStrength>, CoreError> {
    let facts = key_facts(ctx, session).await?;
    met_by(ctx, facts.as_ref()).await
}

/// The strengths a sign-in with these facts meets (built-in ones first): none without a key.
/// For a caller that already has the facts from [`key_facts`] and needs them for more.
pub async fn met_by(ctx: &Ctx<'_>, facts: Option<&KeyFacts>) -> Result<Vec<AuthenticationStrength>, CoreError> {
    let Some(facts) = facts else {
        return Ok(Vec::new());
    };
    Ok(all(ctx).await?.into_iter().filter(|s| s.is_met_by(facts)).collect())
}
