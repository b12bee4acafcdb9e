//! Which rule a unique violation breaks, by SQLite's message.

use keyfleet_store_sql::error::rule_named;

/// The rule each `table.column` enforces. SQLite reports columns in its message
/// (`UNIQUE constraint failed: table.column`), not constraint names.
const UNIQUE_RULES: &[(&str, &str)] = &[
    ("users.username", "username"),
    ("users.user_handle", "user_handle"),
    ("users.id", "user_id"),
    ("user_groups.name_key", "group_name"),
    ("user_groups.id", "group_id"),
    ("api_clients.client_id", "client_id"),
    ("client_secrets.id", "secret_id"),
    ("signing_keys.active", "active_key"),
    ("signing_keys.kid", "kid"),
    ("sessions.id", "session"),
    ("sessions.token_hash", "session"),
    ("taps.id", "tap"),
    ("taps.user_id", "tap"),
    ("credentials.id", "credential_id"),
    ("ceremonies.id", "ceremony"),
    ("jobs.job", "job"),
    ("oidc_applications.client_id", "client_id"),
    ("oidc_grants.id", "grant"),
    ("oidc_grants.code_hash", "grant"),
    ("oidc_refresh_tokens.token_hash", "refresh_token"),
    ("authentication_strengths.id", "strength_id"),
    ("authentication_strengths.name", "strength_name"),
    ("authentication_strengths.acr", "strength_acr"),
    ("policies.name_key", "policy_name"),
    ("policies.id", "policy_id"),
    ("directory_users.external_id", "external_id"),
    ("directory_groups.external_id", "group_external_id"),
    ("group_rules.group_id, group_rules.model", "group_rule"),
    ("group_rules.id", "group_rule_id"),
    ("shipments.user_id, shipments.rule_id", "open_order"),
    ("shipments.id", "shipment_id"),
];

/// The rule a unique-violation message names, or `unique` for one this table lacks.
pub(crate) fn unique_rule(message: &str) -> &'static str {
    let columns = message.rsplit_once(':').map_or(message, |(_, cols)| cols).trim();
    rule_named(UNIQUE_RULES, Some(columns))
}

#[cfg(test)]
mod tests {
    use super::unique_rule;

    #[test]
    fn names_the_rule() {
        assert_eq!(unique_rule("UNIQUE constraint failed: users.username"), "username");
        assert_eq!(
            unique_rule("UNIQUE constraint failed: signing_keys.active"),
            "active_key"
        );
        assert_eq!(unique_rule("UNIQUE constraint failed: credentials.id"), "credential_id");
        assert_eq!(unique_rule("UNIQUE constraint failed: a.b, a.c"), "unique");
    }
}
