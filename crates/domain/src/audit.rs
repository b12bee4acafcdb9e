//! The append-only audit log: who did what to whom, when, with what outcome.

use std::fmt;

use crate::Timestamp;

/// Whether the recorded action took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It happened.
    Success,
    /// It was attempted and failed (bad code, bad credentials).
    Failure,
    /// It was refused for lack of permission or by a limit.
    Denied,
}

impl Outcome {
    /// Stable name used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Outcome::Success),
            "failure" => Some(Outcome::Failure),
            "denied" => Some(Outcome::Denied),
            _ => None,
        }
    }
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user.
    User(crate::UserId),
    /// An API client with a bearer token.
    Client(String),
    /// keyfleet itself (first start, jobs).
    System,
    /// The local CLI (`keyfleet admin …`), run by this operating-system user; made with
    /// [`Actor::cli`], which cleans the name.
    Cli(String),
    /// Someone not yet authenticated (a sign-in attempt).
    Anonymous,
}

impl Actor {
    /// The local CLI run by the operating-system user `os_user` (`cli:alice`): the name as the
    /// system gave it, cleaned like any text from outside ([`clean_text`]: no control
    /// characters, at most 64 characters); `unknown` when it is empty.
    pub fn cli(os_user: &str) -> Self {
        let name = clean_text(os_user.trim());
        Actor::Cli(if name.is_empty() { "unknown".to_owned() } else { name })
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(id) => write!(f, "user:{id}"),
            Actor::Client(id) => write!(f, "client:{id}"),
            Actor::System => f.write_str("system"),
            Actor::Cli(os_user) => write!(f, "cli:{os_user}"),
            Actor::Anonymous => f.write_str("anonymous"),
        }
    }
}

/// Declares [`Action`] with its stable names in one list, so a name cannot drift between
/// the writer and the readers.
macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// What was done. The stable names (`noun.verb`) are the audit log's contract: filters,
        /// exports and outside readers rely on them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Action {
            $($(#[$doc])* $variant,)*
        }

        impl Action {
            /// Every action, in declaration order.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The stable name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            /// The action with this stable name.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($name => Some(Action::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

actions! {
    /// First start created the administrator.
    SystemBootstrap => "system.bootstrap",
    /// A refusal for lack of permission.
    AccessDenied => "access.denied",
    /// A user was created.
    UserCreate => "user.create",
    /// A user's attributes changed.
    UserUpdate => "user.update",
    /// A user was disabled (their sessions ended).
    UserDisable => "user.disable",
    /// A user was enabled.
    UserEnable => "user.enable",
    /// A user was deleted.
    UserDelete => "user.delete",
    /// The directory (SCIM) deleted a user: disabled, sessions ended, kept for the recovery
    /// period.
    UserDirectoryDelete => "user.directory_delete",
    /// A user the directory deleted was removed for good when the recovery period ended.
    UserPurge => "user.purge",
    /// A group's name or directory id changed.
    GroupUpdate => "group.update",
    /// A group was created.
    GroupCreate => "group.create",
    /// A group was deleted.
    GroupDelete => "group.delete",
    /// A member joined a group.
    GroupMemberAdd => "group.member.add",
    /// A member left a group.
    GroupMemberRemove => "group.member.remove",
    /// A session signed itself out.
    SessionLogout => "session.logout",
    /// One session was ended by someone else, or by its user from another session.
    SessionRevoke => "session.revoke",
    /// Every session of a user was ended.
    SessionRevokeAll => "session.revoke_all",
    /// The sessions opened with one key were ended.
    SessionRevokeCredential => "session.revoke_credential",
    /// Sessions of keys removed earlier ended at the user's next sign-in.
    SessionRevokeRemovedKeys => "session.revoke_removed_keys",
    /// A temporary access pass was issued.
    TapIssue => "tap.issue",
    /// A sign-in with a temporary access pass (success, failure or refusal).
    TapRedeem => "tap.redeem",
    /// A temporary access pass was revoked.
    TapDelete => "tap.delete",
    /// An API client was created.
    ClientCreate => "client.create",
    /// An API client was enabled.
    ClientEnable => "client.enable",
    /// An API client was disabled.
    ClientDisable => "client.disable",
    /// An API client was deleted.
    ClientDelete => "client.delete",
    /// A client secret was added.
    ClientSecretAdd => "client.secret.add",
    /// A client secret was set to expire.
    ClientSecretPhaseOut => "client.secret.phase_out",
    /// An expired client secret was removed.
    ClientSecretPurge => "client.secret.purge",
    /// A client secret was revoked.
    ClientSecretRevoke => "client.secret.revoke",
    /// A client secret's stored digest was upgraded to the current scheme.
    ClientSecretRehash => "client.secret.rehash",
    /// An access token request (success, failure or refusal).
    TokenIssue => "token.issue",
    /// A security key was registered.
    CredentialRegister => "credential.register",
    /// A security key was renamed.
    CredentialRename => "credential.rename",
    /// A security key was removed.
    CredentialDelete => "credential.delete",
    /// A security key was reported lost or stolen and removed.
    CredentialLost => "credential.lost",
    /// All of a user's security keys were removed.
    CredentialReset => "credential.reset",
    /// A key's counter went backwards: it was flagged as possibly cloned.
    CredentialCloneSuspected => "credential.clone_suspected",
    /// A band was taken from its wearer to be given to another: their band credential removed.
    CredentialReassign => "credential.reassign",
    /// Creation options were issued so that a key can be registered on behalf of a user
    /// (the key itself is `credential.register`, its detail marked `onBehalf`).
    CredentialOnBehalfOptions => "credential.onbehalf_options",
    /// A sign-in with a security key (success, failure or refusal).
    AuthWebauthn => "auth.webauthn",
    /// A scheduled job ran.
    JobRun => "job.run",
    /// A FIDO Metadata Service BLOB was verified and stored.
    MetadataImport => "metadata.import",
    /// A FIDO Metadata Service BLOB was refused (the last good one is kept): the alarm.
    MetadataRefused => "metadata.refused",
    /// A single sign-on application was created.
    ApplicationCreate => "application.create",
    /// A single sign-on application's settings changed.
    ApplicationUpdate => "application.update",
    /// A single sign-on application was deleted.
    ApplicationDelete => "application.delete",
    /// An authorization code was issued to an application (a user signed in to it).
    OidcAuthorize => "oidc.authorize",
    /// A token request of an application (success, failure or refusal).
    OidcToken => "oidc.token",
    /// A grant and every token issued from it were revoked.
    OidcRevoke => "oidc.revoke",
    /// A back-channel logout token was delivered to an application (success), or given up on
    /// after the last retry (failure).
    OidcBackchannelLogout => "oidc.backchannel_logout",
    /// A single sign-on application's secret was rotated (the earlier one works until the
    /// overlap ends).
    ApplicationRotateSecret => "application.rotate_secret",
    /// A new token-signing key was made: published now, signing after the publish delay.
    SigningKeyRotate => "signing_key.rotate",
    /// A waiting token-signing key became the active one (the previous one retired).
    SigningKeyPromote => "signing_key.promote",
    /// Retired token-signing keys were deleted (every token they signed had expired).
    SigningKeyPurge => "signing_key.purge",
    /// A user agreed that a third-party application may learn what its scopes name.
    OidcConsent => "oidc.consent",
    /// A user withdrew their consent to a third-party application.
    OidcConsentRevoke => "oidc.consent_revoke",
    /// An authentication strength was created.
    StrengthCreate => "strength.create",
    /// An authentication strength was changed.
    StrengthUpdate => "strength.update",
    /// An authentication strength was deleted.
    StrengthDelete => "strength.delete",
    /// A group policy was created.
    PolicyCreate => "policy.create",
    /// A group policy was replaced (its detail holds the before/after diff).
    PolicyUpdate => "policy.update",
    /// A group policy was deleted.
    PolicyDelete => "policy.delete",
    /// An imported BLOB reported models compromised that keys are stored of: those keys are
    /// flagged (one event per import, with the models and the number of keys).
    MetadataKeysFlagged => "metadata.keys_flagged",
    /// The scheduled metadata refresh could not download the BLOB (the last good one is
    /// kept): an alarm.
    MetadataRefreshFailed => "metadata.refresh_failed",
    /// A user the directory deleted was restored within the recovery period.
    UserRestore => "user.restore",
    /// A group rule was created.
    GroupRuleCreate => "group_rule.create",
    /// A group rule was changed (its detail holds the before/after diff).
    GroupRuleUpdate => "group_rule.update",
    /// A group rule was deleted.
    GroupRuleDelete => "group_rule.delete",
    /// A key order was placed (by a group rule, or by hand).
    ShipmentOrder => "shipment.order",
    /// A key order was approved (pendingApproval to requested).
    ShipmentApprove => "shipment.approve",
    /// A key order was cancelled.
    ShipmentCancel => "shipment.cancel",
    /// The connector submitted a key order to the factory (`requested` → `submitted`).
    ShipmentSubmit => "shipment.submit",
    /// The connector registered a shipped key and queued its PIN email (`registered`).
    ShipmentRegister => "shipment.register",
    /// A key order's step failed for good or too often: `needsAttention` or `failed`, with the
    /// reason.
    ShipmentFail => "shipment.fail",
    /// A key order's PIN email was queued again.
    ShipmentResendPin => "shipment.resend_pin",
    /// A key order was marked complete.
    ShipmentComplete => "shipment.complete",
    /// A key was flagged for collection (its holder left the group that gave it).
    CredentialCollectionRequested => "credential.collection_requested",
    /// A key's collection flag was cleared (its holder is entitled to it again).
    CredentialCollectionCleared => "credential.collection_cleared",
    /// A key flagged for collection was handed back and removed.
    CredentialReturned => "credential.returned",
    /// The SMTP server accepted a queued message.
    MailSent => "mail.sent",
    /// A message may or may not have been delivered (the connection was lost after it was
    /// handed over, or the sending process stopped): it waits for an administrator.
    MailUncertain => "mail.uncertain",
    /// Messages failed to be sent the alarm's number of times (SMTP down or refusing).
    MailAlarm => "mail.alarm",
    /// An administrator queued an uncertain or failed message again.
    MailRequeue => "mail.requeue",
    /// A new master data key was made: it encrypts from now on.
    MasterKeyRotate => "master_key.rotate",
    /// A master data key no ciphertext uses any more was retired.
    MasterKeyRetire => "master_key.retire",
    /// A secret setting (SMTP password, factory token) was set or removed.
    SecretSettingSet => "secret_setting.set",
}

/// What an action was done to. Shown as `kind:id` (`user:…`, `client:…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A user.
    User(crate::UserId),
    /// A group.
    Group(crate::GroupId),
    /// An API client, by client id (an unknown id that someone tried is kept, cleaned).
    Client(String),
    /// A scheduled job, by name.
    Job(&'static str),
    /// A single sign-on application, by client id (an unknown id someone tried is kept, cleaned).
    Application(String),
    /// An authentication strength, by id.
    Strength(String),
    /// A group policy.
    Policy(crate::ids::PolicyId),
    /// A group rule.
    GroupRule(crate::ids::GroupRuleId),
    /// A shipment (key order).
    Shipment(crate::ids::ShipmentId),
    /// A message of the mail outbox, by id.
    Mail(String),
    /// A master data key, by id.
    MasterKey(u32),
    /// A secret setting, by name.
    SecretSetting(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::User(id) => write!(f, "user:{id}"),
            Target::Group(id) => write!(f, "group:{id}"),
            Target::Client(id) => write!(f, "client:{id}"),
            Target::Job(name) => write!(f, "job:{name}"),
            Target::Application(id) => write!(f, "application:{id}"),
            Target::Strength(id) => write!(f, "strength:{id}"),
            Target::Policy(id) => write!(f, "policy:{id}"),
            Target::GroupRule(id) => write!(f, "group_rule:{id}"),
            Target::Shipment(id) => write!(f, "shipment:{id}"),
            Target::Mail(id) => write!(f, "mail:{id}"),
            Target::MasterKey(id) => write!(f, "master_key:{id}"),
            Target::SecretSetting(name) => write!(f, "secret_setting:{name}"),
        }
    }
}

/// Longest free text (a client id somebody typed) kept in a target, in characters.
const TARGET_TEXT_MAX: usize = 64;

/// Text from outside made fit for the log: no control characters (a NUL cannot be stored by
/// every database, and none belongs in a log line), at most [`TARGET_TEXT_MAX`] characters.
pub fn clean_text(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .take(TARGET_TEXT_MAX)
        .collect()
}

/// An event to append. It never contains a secret: callers record identifiers only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// When it happened.
    pub at: Timestamp,
    /// Who acted.
    pub actor: Actor,
    /// What they did.
    pub action: Action,
    /// What it was done to, if anything.
    pub target: Option<Target>,
    /// Whether it took effect.
    pub outcome: Outcome,
    /// The request that caused it.
    pub request_id: Option<String>,
    /// A small JSON object with non-secret details.
    pub detail: Option<String>,
}

impl NewAuditEvent {
    /// A successful action by `actor` on `target`.
    pub fn new(at: Timestamp, actor: &Actor, action: Action, target: Option<Target>, request_id: Option<&str>) -> Self {
        let target = target.map(|t| match t {
            Target::Client(id) => Target::Client(clean_text(&id)),
            Target::Application(id) => Target::Application(clean_text(&id)),
            other => other,
        });
        Self {
            at,
            actor: actor.clone(),
            action,
            target,
            outcome: Outcome::Success,
            request_id: request_id.map(clean_text),
            detail: None,
        }
    }

    /// The same event with another outcome.
    pub fn with_outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// The same event with a JSON detail object.
    pub fn with_detail(mut self, detail: String) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// An event as stored: the log holds what was written by every version, so its fields are
/// read back as text ([`Action::parse`] names the ones this version knows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Increasing sequence number.
    pub id: i64,
    /// When it happened.
    pub at: Timestamp,
    /// Who acted (`user:…`, `client:…`, `cli:…`, `system`, `anonymous`).
    pub actor: String,
    /// What they did (`user.create`).
    pub action: String,
    /// What it was done to (`user:…`), if anything.
    pub target: Option<String>,
    /// Whether it took effect.
    pub outcome: Outcome,
    /// The request that caused it.
    pub request_id: Option<String>,
    /// A small JSON object with non-secret details.
    pub detail: Option<String>,
}

/// A filter and page over the log, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Exact actor.
    pub actor: Option<String>,
    /// Exact target.
    pub target: Option<String>,
    /// Exact action, or a prefix ending in `.` (`user.`).
    pub action: Option<String>,
    /// Exact actor *or* exact target (`user:ID`): everything someone did or had done to them.
    pub involving: Option<String>,
    /// Exact request id: everything one request did.
    pub request_id: Option<String>,
    /// Events at or after this time.
    pub since: Option<Timestamp>,
    /// Events before this time.
    pub until: Option<Timestamp>,
    /// Events with an id below this one (keyset paging).
    pub before_id: Option<i64>,
    /// Page size.
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(*a));
            assert!(seen.insert(a.as_str()), "duplicate name {}", a.as_str());
            assert!(a.as_str().contains('.'), "{} is not noun.verb", a.as_str());
        }
        assert_eq!(Action::parse("user.nope"), None);
    }

    #[test]
    fn the_cli_actor_names_the_os_user_cleaned() {
        assert_eq!(Actor::cli("alice").to_string(), "cli:alice");
        assert_eq!(Actor::cli(" bob\n").to_string(), "cli:bob");
        assert_eq!(Actor::cli("ev\u{1b}[31mil").to_string(), "cli:ev\u{FFFD}[31mil");
        assert_eq!(Actor::cli(&"x".repeat(100)).to_string().len(), "cli:".len() + 64);
        assert_eq!(Actor::cli("").to_string(), "cli:unknown");
    }

    #[test]
    fn typed_text_in_targets_is_cleaned() {
        let e = NewAuditEvent::new(
            Timestamp::from_millis(0),
            &Actor::Anonymous,
            Action::TokenIssue,
            Some(Target::Client("a\0b".repeat(40))),
            Some("r\0"),
        );
        let t = e.target.unwrap().to_string();
        assert!(!t.contains('\0'));
        assert_eq!(t.chars().count(), "client:".len() + 64);
        assert_eq!(e.request_id.as_deref(), Some("r\u{FFFD}"));
    }
}
