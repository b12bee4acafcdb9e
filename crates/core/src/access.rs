//! Who may do what: one table of permissions for every way in (JSON API, pages, CLI).
//!
//! A use case that needs a permission calls [`authorize`] first; a refusal is written to the
//! audit log as `access.denied` before it is returned, so it leaves the same trace whichever
//! way it came. The rules:
//!
//! | principal | permissions |
//! | --- | --- |
//! | the local CLI ([`Principal::System`]) | all |
//! | administrator, full session | all (registering keys on behalf of users included) |
//! | helpdesk user, full session | read users and groups, change workers (not delete them), read the audit log, read the authenticator metadata, read policies and authentication strengths |
//! | worker, or any TAP session | none (their own keys and sessions only) |
//! | API client | by scope: `users:read` reads users and groups, `users:write` changes and deletes workers and changes groups, `audit:read` reads the audit log, `scim` is directory sync (users and groups over SCIM), `provisioning` registers keys on behalf of users (and reads and removes them there) |
//!
//! Helpdesk staff may not register keys on behalf of users: the console offers them no such
//! action, and the JSON API refuses them by the same rule ([`Permission::ProvisionKeys`]).

use keyfleet_domain::audit::{Action, Actor, Outcome};
use keyfleet_domain::client::Scope;
use keyfleet_domain::ids::SessionId;
use keyfleet_domain::session::SessionKind;
use keyfleet_domain::user::Role;
use keyfleet_domain::{UserId, audit::Target};
use serde::Serialize;

use crate::audit::Detail;
use crate::{CoreError, Ctx};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The local CLI: an operator with access to the database and the master key.
    System,
    /// A person with a session.
    Person {
        /// The user.
        user: UserId,
        /// Their role.
        role: Role,
        /// Their session.
        session: SessionId,
        /// Full (a key sign-in) or TAP.
        kind: SessionKind,
    },
    /// An API client, with the scopes its access token carries.
    Client {
        /// The client id.
        client_id: String,
        /// Scopes granted to this token.
        scopes: Vec<Scope>,
    },
}

/// What a use case needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read users, their keys and sessions.
    ReadUsers,
    /// Create, change and delete users (workers only, unless an administrator), issue TAPs,
    /// remove keys, end sessions.
    WriteUsers,
    /// Delete users (administrators, and clients with `users:write` for leavers; not
    /// helpdesk staff).
    DeleteUsers,
    /// Read groups and their members.
    ReadGroups,
    /// Create and delete groups, change membership.
    ManageGroups,
    /// Create, change and delete API clients and their secrets.
    ManageClients,
    /// Read the audit log.
    ReadAudit,
    /// Import a FIDO Metadata Service BLOB (administrators and the CLI).
    ManageMetadata,
    /// Read the authenticator metadata (its status and entries).
    ReadMetadata,
    /// Create, change and delete single sign-on applications (administrators and the CLI).
    ManageApplications,
    /// Read single sign-on applications' settings (administrators and helpdesk staff).
    ReadApplications,
    /// Create, change and delete group policies and authentication strengths
    /// (administrators and the CLI).
    ManagePolicies,
    /// Read group policies and authentication strengths (administrators and helpdesk).
    ReadPolicies,
    /// Directory sync (SCIM): read, create, change and delete users (workers only, unless
    /// an administrator) and groups.
    Directory,
    /// Register keys on behalf of users (creation options, the attestation, the
    /// `fido2Methods` listing and removal): administrators, the CLI and clients with
    /// `provisioning`; not helpdesk staff.
    ProvisionKeys,
    /// Create, change and delete group rules; approve and cancel key orders
    /// (administrators, clients with `shipments`).
    ManageShipments,
    /// Read group rules and key orders (administrators, helpdesk, clients with `shipments`).
    ReadShipments,
    /// Rotate the master key and set secret settings (administrators and the CLI).
    ManageSecrets,
}

impl Permission {
    /// The API scope that grants it to a client, if any.
    pub fn scope(self) -> Option<Scope> {
        match self {
            Permission::ReadUsers | Permission::ReadGroups => Some(Scope::UsersRead),
            Permission::WriteUsers | Permission::DeleteUsers | Permission::ManageGroups => Some(Scope::UsersWrite),
            Permission::ReadAudit => Some(Scope::AuditRead),
            Permission::ManageClients
            | Permission::ManageMetadata
            | Permission::ReadMetadata
            | Permission::ManageApplications
            | Permission::ReadApplications
            | Permission::ManagePolicies
            | Permission::ReadPolicies
            | Permission::ManageSecrets => None,
            Permission::Directory => Some(Scope::Scim),
            Permission::ProvisionKeys => Some(Scope::Provisioning),
            Permission::ManageShipments | Permission::ReadShipments => Some(Scope::Shipments),
        }
    }

    fn helpdesk_may(self) -> bool {
        matches!(
            self,
            Permission::ReadUsers
                | Permission::WriteUsers
                | Permission::ReadGroups
                | Permission::ReadAudit
                | Permission::ReadMetadata
                | Permission::ReadPolicies
                | Permission::ReadShipments
                | Permission::ReadApplications
        )
    }
}

/// What rules on roles apply to the acting party.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    /// An administrator's session, or the local CLI: may act on anyone, grant any role.
    Admin,
    /// A helpdesk session: may not touch administrators or helpdesk users, nor grant roles.
    Helpdesk,
    /// An API client: may manage workers only and may not grant roles.
    Client,
}

impl Principal {
    /// A person signed in with `session`.
    pub fn for_session(user: &keyfleet_domain::user::User, session: &keyfleet_domain::session::Session) -> Self {
        Principal::Person {
            user: user.id,
            role: user.role,
            session: session.id,
            kind: session.kind,
        }
    }

    /// The audit actor.
    pub fn actor(&self) -> Actor {
        match self {
            Principal::System => Actor::System,
            Principal::Person { user, .. } => Actor::User(*user),
            Principal::Client { client_id, .. } => Actor::Client(client_id.clone()),
        }
    }

    /// The rules on roles that apply to this principal.
    pub fn authority(&self) -> Authority {
        match self {
            Principal::System => Authority::Admin,
            Principal::Person { role: Role::Admin, .. } => Authority::Admin,
            Principal::Person { .. } => Authority::Helpdesk,
            Principal::Client { .. } => Authority::Client,
        }
    }

    /// Whether this principal has `permission` (without auditing; for showing or hiding
    /// what a page offers).
    pub fn may(&self, permission: Permission) -> bool {
        match self {
            Principal::System => true,
            Principal::Person { role, kind, .. } => {
                *kind == SessionKind::Full
                    && match role {
                        Role::Admin => true,
                        Role::Helpdesk => permission.helpdesk_may(),
                        Role::Worker => false,
                    }
            }
            Principal::Client { scopes, .. } => permission.scope().is_some_and(|s| scopes.contains(&s)),
        }
    }

    /// Whether this is a person's TAP session.
    pub fn is_tap_session(&self) -> bool {
        matches!(
            self,
            Principal::Person {
                kind: SessionKind::Tap,
                ..
            }
        )
    }
}

#[derive(Serialize)]
struct DeniedDetail<'a> {
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
}

impl Detail for DeniedDetail<'_> {}

/// Refuses `principal` unless it has `permission`; the refusal is audited as
/// `access.denied`. Returns the rules on roles that apply.
pub async fn authorize(ctx: &Ctx<'_>, principal: &Principal, permission: Permission) -> Result<Authority, CoreError> {
    if principal.may(permission) {
        return Ok(principal.authority());
    }
    let refusal = match principal {
        Principal::Person {
            kind: SessionKind::Tap, ..
        } => CoreError::forbidden(
            "tap_session_restricted",
            "a temporary access pass session may only register a security key",
        ),
        Principal::Client { .. } => match permission.scope() {
            Some(scope) => CoreError::insufficient_scope(scope),
            None => CoreError::forbidden("admin_required", "only an administrator may do this"),
        },
        Principal::Person {
            role: Role::Helpdesk, ..
        }
        | Principal::Person { role: Role::Worker, .. }
            if matches!(
                permission,
                Permission::ManageClients
                    | Permission::ManageGroups
                    | Permission::DeleteUsers
                    | Permission::ManageMetadata
                    | Permission::ManageApplications
                    | Permission::ManagePolicies
                    | Permission::Directory
                    | Permission::ProvisionKeys
                    | Permission::ManageShipments
                    | Permission::ManageSecrets
            ) =>
        {
            CoreError::forbidden("admin_required", admin_message(permission))
        }
        _ => match permission.scope() {
            Some(scope) => CoreError::insufficient_scope(scope),
            None => CoreError::forbidden("admin_required", admin_message(permission)),
        },
    };
    Err(denied(ctx, refusal, None).await)
}

fn admin_message(permission: Permission) -> &'static str {
    match permission {
        Permission::ManageClients => "only an administrator may manage API clients",
        Permission::ManageGroups => "only an administrator may change groups",
        Permission::DeleteUsers => "only an administrator may delete users",
        Permission::ManageMetadata => "only an administrator may import authenticator metadata",
        Permission::ManageApplications => "only an administrator may manage single sign-on applications",
        Permission::ManagePolicies => "only an administrator may change policies and authentication strengths",
        Permission::Directory => "only an administrator may use directory sync",
        Permission::ProvisionKeys => "only an administrator may register keys on behalf of users",
        Permission::ManageShipments => "only an administrator may change group rules and key orders",
        Permission::ManageSecrets => "only an administrator may rotate the master key or set secrets",
        _ => "only an administrator may do this",
    }
}

/// Records a refusal (`Forbidden`) in the audit log as `access.denied` and returns it; any
/// other error is returned as it is.
pub async fn denied(ctx: &Ctx<'_>, e: CoreError, target: Option<Target>) -> CoreError {
    if let CoreError::Forbidden { code, scope, .. } = &e {
        let scope = scope.map(|s| s.as_str());
        let event = ctx
            .audit_with(Action::AccessDenied, target, &DeniedDetail { code, scope })
            .with_outcome(Outcome::Denied);
        if let Err(store) = ctx.stores.audit.append(&event).await {
            return store.into();
        }
    }
    e
}

/// Refuses a TAP session its own account's other pages (its keys, its sessions, signing out
/// everywhere): it may only register a key and sign itself out. Not audited: the person is
/// acting on their own account, and the refusal is what the pages expect on the way.
pub async fn require_full_session(_ctx: &Ctx<'_>, principal: &Principal) -> Result<(), CoreError> {
    if principal.is_tap_session() {
        return Err(CoreError::forbidden(
            "tap_session_restricted",
            "a temporary access pass session may only register a security key",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
