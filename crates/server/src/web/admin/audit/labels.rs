//! Audit actions in plain words, and stable names that wrap at their dots and underscores.
//!
//! A label is a match on the typed [`Action`], reached by parsing the stored name with the
//! domain's parser; an unknown name (written by a newer version) keeps its stable name. The
//! domain's `Action` is `#[non_exhaustive]`, so the match needs a fallback arm; the test
//! below walks [`Action::ALL`] and fails for any action that reaches it.

use keyfleet_domain::audit::Action;

/// What an action did, in words people use (`credential.lost` → "Key reported lost").
pub fn label(name: &str) -> Option<&'static str> {
    Action::parse(name).and_then(action_label)
}

fn action_label(action: Action) -> Option<&'static str> {
    Some(match action {
        Action::SystemBootstrap => "First start: administrator created",
        Action::AccessDenied => "Access refused",
        Action::UserCreate => "User created",
        Action::UserUpdate => "User changed",
        Action::UserDisable => "User disabled",
        Action::UserEnable => "User enabled",
        Action::UserDelete => "User deleted",
        Action::UserDirectoryDelete => "User deleted by directory sync (recoverable)",
        Action::UserPurge => "Deleted user removed for good",
        Action::GroupUpdate => "Group changed",
        Action::GroupCreate => "Group created",
        Action::GroupDelete => "Group deleted",
        Action::GroupMemberAdd => "Member added to group",
        Action::GroupMemberRemove => "Member removed from group",
        Action::SessionLogout => "Signed out",
        Action::SessionRevoke => "Session ended",
        Action::SessionRevokeAll => "All sessions ended",
        Action::SessionRevokeCredential => "Sessions of a key ended",
        Action::SessionRevokeRemovedKeys => "Sessions of removed keys ended",
        Action::TapIssue => "Temporary access pass issued",
        Action::TapRedeem => "Sign-in with a temporary access pass",
        Action::TapDelete => "Temporary access pass revoked",
        Action::ClientCreate => "API client created",
        Action::ClientEnable => "API client enabled",
        Action::ClientDisable => "API client disabled",
        Action::ClientDelete => "API client deleted",
        Action::ClientSecretAdd => "Client secret added",
        Action::ClientSecretPhaseOut => "Client secret set to expire",
        Action::ClientSecretPurge => "Expired client secret removed",
        Action::ClientSecretRevoke => "Client secret revoked",
        Action::ClientSecretRehash => "Client secret storage upgraded",
        Action::TokenIssue => "Access token requested",
        Action::CredentialRegister => "Key registered",
        Action::CredentialRename => "Key renamed",
        Action::CredentialDelete => "Key removed",
        Action::CredentialLost => "Key reported lost",
        Action::CredentialReset => "All keys of a user removed",
        Action::CredentialCloneSuspected => "Key flagged as possibly cloned",
        Action::CredentialReassign => "Band reassigned to another wearer",
        Action::CredentialOnBehalfOptions => "Key registration prepared on the user's behalf",
        Action::AuthWebauthn => "Sign-in with a security key",
        Action::JobRun => "Scheduled job ran",
        Action::MetadataImport => "Authenticator metadata imported",
        Action::MetadataRefused => "Authenticator metadata refused",
        Action::ApplicationCreate => "Single sign-on application created",
        Action::ApplicationUpdate => "Single sign-on application changed",
        Action::ApplicationDelete => "Single sign-on application deleted",
        Action::OidcAuthorize => "Signed in to an application",
        Action::OidcToken => "Application token request",
        Action::OidcRevoke => "Application sign-in revoked",
        Action::OidcBackchannelLogout => "Application told of a sign-out",
        Action::ApplicationRotateSecret => "Single sign-on application secret rotated",
        Action::SigningKeyRotate => "Token-signing key rotation started",
        Action::SigningKeyPromote => "New token-signing key in use",
        Action::SigningKeyPurge => "Retired token-signing keys deleted",
        Action::OidcConsent => "Consent given to an application",
        Action::OidcConsentRevoke => "Consent to an application withdrawn",
        Action::StrengthCreate => "Authentication strength created",
        Action::StrengthUpdate => "Authentication strength changed",
        Action::StrengthDelete => "Authentication strength deleted",
        Action::PolicyCreate => "Group policy created",
        Action::PolicyUpdate => "Group policy changed",
        Action::PolicyDelete => "Group policy deleted",
        Action::MetadataKeysFlagged => "Keys of a compromised model flagged",
        Action::MetadataRefreshFailed => "Authenticator metadata refresh failed",
        Action::UserRestore => "Deleted user restored",
        Action::GroupRuleCreate => "Group rule created",
        Action::GroupRuleUpdate => "Group rule changed",
        Action::GroupRuleDelete => "Group rule deleted",
        Action::ShipmentOrder => "Key ordered",
        Action::ShipmentApprove => "Key order approved",
        Action::ShipmentCancel => "Key order cancelled",
        Action::ShipmentSubmit => "Key order sent to the factory",
        Action::ShipmentRegister => "Shipped key registered, PIN email queued",
        Action::ShipmentFail => "Key order failed or needs attention",
        Action::ShipmentResendPin => "Key order's PIN email queued again",
        Action::ShipmentComplete => "Key order marked complete",
        Action::CredentialCollectionRequested => "Key flagged for collection",
        Action::CredentialCollectionCleared => "Key collection flag cleared",
        Action::CredentialReturned => "Key returned",
        Action::MailSent => "Email sent",
        Action::MailUncertain => "Email may not have been delivered",
        Action::MailAlarm => "Email keeps failing (SMTP)",
        Action::MailRequeue => "Email queued again",
        Action::MasterKeyRotate => "Master key rotated",
        Action::MasterKeyRetire => "Earlier master key retired",
        Action::SecretSettingSet => "Secret setting changed",
        _ => return None,
    })
}

/// What the actions under a prefix (`credential.`) are about, for the action filter's
/// suggestions.
fn prefix_label(prefix: &str) -> Option<&'static str> {
    Some(match prefix {
        "system." => "first start",
        "access." => "refusals",
        "user." => "users",
        "group." => "groups",
        "group.member." => "group members",
        "group_rule." => "group rules",
        "shipment." => "key orders",
        "session." => "sessions",
        "tap." => "temporary access passes",
        "client." => "API clients",
        "client.secret." => "client secrets",
        "token." => "access tokens",
        "credential." => "security keys",
        "auth." => "sign-ins",
        "job." => "scheduled jobs",
        "metadata." => "authenticator metadata",
        "application." => "single sign-on applications",
        "oidc." => "application sign-ins",
        "strength." => "authentication strengths",
        "policy." => "group policies",
        "signing_key." => "token-signing keys",
        "mail." => "email",
        "master_key." => "master key",
        "secret_setting." => "secret settings",
        _ => return None,
    })
}

/// One suggestion of the action filter: a value to filter by and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The filter value: a stable name or a prefix ending in `.`.
    pub value: String,
    /// In words.
    pub label: String,
}

/// Every prefix (`group.`, `group.member.`, …) and every action, each prefix before the
/// actions it covers, in the domain's order.
pub fn suggestions() -> Vec<Suggestion> {
    let mut out: Vec<Suggestion> = Vec::new();
    for action in Action::ALL {
        let name = action.as_str();
        for (i, _) in name.match_indices('.') {
            let prefix = &name[..=i];
            if !out.iter().any(|s| s.value == prefix) {
                let about = prefix_label(prefix).unwrap_or(prefix);
                out.push(Suggestion {
                    value: prefix.to_owned(),
                    label: format!("Everything about {about}"),
                });
            }
        }
        out.push(Suggestion {
            value: name.to_owned(),
            label: action_label(*action).unwrap_or(name).to_owned(),
        });
    }
    out
}

/// `text` cut after each `.`, `_` and `:`, where a line may break (the template puts a
/// `<wbr>` between the parts): `credential.clone_suspected` wraps as `credential.` /
/// `clone_` / `suspected`, never inside a word.
pub fn break_after_separators(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if matches!(c, '.' | '_' | ':') {
            let end = i + c.len_utf8();
            parts.push(text[start..end].to_owned());
            start = end;
        }
    }
    if start < text.len() || parts.is_empty() {
        parts.push(text[start..].to_owned());
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_label_of_its_own() {
        let mut seen = std::collections::HashSet::new();
        for action in Action::ALL {
            let label = label(action.as_str()).unwrap_or_else(|| panic!("{} has no label", action.as_str()));
            assert!(seen.insert(label), "two actions read “{label}”");
            assert!(!label.contains('.'), "{label} reads like a stable name");
        }
        assert_eq!(label("credential.lost"), Some("Key reported lost"));
        assert_eq!(label("credential.sold"), None, "an unknown name has no label");
    }

    #[test]
    fn every_prefix_is_described_and_precedes_its_actions() {
        let list = suggestions();
        for action in Action::ALL {
            let name = action.as_str();
            let at = list.iter().position(|s| s.value == name).expect(name);
            for (i, _) in name.match_indices('.') {
                let prefix = &name[..=i];
                assert!(prefix_label(prefix).is_some(), "{prefix} has no description");
                let p = list.iter().position(|s| s.value == prefix).expect(prefix);
                assert!(p < at, "{prefix} comes before {name}");
            }
        }
        assert_eq!(
            list.len(),
            Action::ALL.len() + 24,
            "one entry per action and per prefix"
        );
        assert!(list.contains(&Suggestion {
            value: "group.member.".into(),
            label: "Everything about group members".into()
        }));
    }

    #[test]
    fn names_break_after_dots_underscores_and_colons_only() {
        assert_eq!(
            break_after_separators("credential.clone_suspected"),
            ["credential.", "clone_", "suspected"]
        );
        assert_eq!(break_after_separators("user:1f0e"), ["user:", "1f0e"]);
        assert_eq!(break_after_separators("tap."), ["tap."]);
        assert_eq!(break_after_separators("system"), ["system"]);
        assert_eq!(break_after_separators(""), [""]);
        assert_eq!(break_after_separators("é.ü"), ["é.", "ü"]);
    }
}
