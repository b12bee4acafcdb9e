//! Which rule a unique violation breaks, and which errors are text PostgreSQL cannot hold.

use keyfleet_store_sql::error::rule_named;

/// SQLSTATE `character_not_in_repertoire`: text holding a NUL character.
const NUL_IN_TEXT: &str = "22021";
/// SQLSTATE `untranslatable_character` (a `\u0000` escape in JSON text, for one).
const UNTRANSLATABLE: &str = "22P05";

/// Which uniqueness rule each named constraint or index enforces (names from the migrations).
const UNIQUE_RULES: &[(&str, &str)] = &[
    ("users_username_key", "username"),
    ("users_user_handle_key", "user_handle"),
    ("users_pkey", "user_id"),
    ("user_groups_name_key_key", "group_name"),
    ("user_groups_pkey", "group_id"),
    ("api_clients_pkey", "client_id"),
    ("client_secrets_pkey", "secret_id"),
    ("signing_keys_one_active", "active_key"),
    ("signing_keys_pkey", "kid"),
    ("sessions_pkey", "session"),
    ("sessions_token_hash_key", "session"),
    ("taps_pkey", "tap"),
    ("taps_user_id_key", "tap"),
    ("credentials_pkey", "credential_id"),
    ("ceremonies_pkey", "ceremony"),
    ("jobs_pkey", "job"),
    ("oidc_applications_pkey", "client_id"),
    ("oidc_grants_pkey", "grant"),
    ("oidc_grants_code_hash_key", "grant"),
    ("oidc_refresh_tokens_pkey", "refresh_token"),
    ("authentication_strengths_pkey", "strength_id"),
    ("authentication_strengths_name_key", "strength_name"),
    ("authentication_strengths_acr_key", "strength_acr"),
    ("policies_name_key_key", "policy_name"),
    ("policies_pkey", "policy_id"),
    ("directory_users_external_id_key", "external_id"),
    ("directory_groups_external_id_key", "group_external_id"),
    ("group_rules_group_model_key", "group_rule"),
    ("group_rules_pkey", "group_rule_id"),
    ("shipments_open_rule_key", "open_order"),
    ("shipments_pkey", "shipment_id"),
];

/// The rule a constraint enforces, or `unique` for one this table lacks.
pub(crate) fn unique_rule(constraint: Option<&str>) -> &'static str {
    rule_named(UNIQUE_RULES, constraint)
}

/// Whether SQLSTATE `code` means text PostgreSQL cannot hold.
pub(crate) fn is_invalid_text(code: Option<&str>) -> bool {
    matches!(code, Some(NUL_IN_TEXT | UNTRANSLATABLE))
}

#[cfg(test)]
mod tests {
    use super::{is_invalid_text, unique_rule};

    #[test]
    fn names_the_rule() {
        assert_eq!(unique_rule(Some("users_username_key")), "username");
        assert_eq!(unique_rule(Some("signing_keys_one_active")), "active_key");
        assert_eq!(unique_rule(Some("credentials_pkey")), "credential_id");
        assert_eq!(unique_rule(None), "unique");
    }

    #[test]
    fn nul_errors_are_invalid_text() {
        assert!(is_invalid_text(Some("22021")));
        assert!(is_invalid_text(Some("22P05")));
        assert!(!is_invalid_text(Some("23505")));
        assert!(!is_invalid_text(None));
    }
}
