//! The single sign-on statements, in PostgreSQL's dialect.

use keyfleet_store_sql::OidcSql;

/// Columns of `oidc_applications`, in the order they are read (by name).
macro_rules! application_columns {
    () => {
        "client_id, name, client_type, secret_hash, redirect_uris, post_logout_redirect_uris, scopes, \
         access_token_lifetime_s, refresh_token_lifetime_s, authentication_strength, backchannel_logout_uri, \
         created_at, updated_at, third_party"
    };
}

/// Columns of `oidc_grants`.
macro_rules! grant_columns {
    () => {
        "id, code_hash, client_id, user_id, session_id, redirect_uri, scope, nonce, code_challenge, auth_time, \
         amr, acr, created_at, code_expires_at, code_used_at, revoked_at"
    };
}

pub(crate) static OIDC_SQL: OidcSql = OidcSql {
    insert_application: concat!(
        "INSERT INTO oidc_applications (",
        application_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ),
    application: concat!("SELECT ", application_columns!(), " FROM oidc_applications WHERE client_id = $1"),
    list_applications: concat!(
        "SELECT ",
        application_columns!(),
        " FROM oidc_applications ORDER BY name, client_id"
    ),
    update_application: "UPDATE oidc_applications SET name = $2, client_type = $3, secret_hash = $4, redirect_uris = $5,
                             post_logout_redirect_uris = $6, scopes = $7, access_token_lifetime_s = $8,
                             refresh_token_lifetime_s = $9, authentication_strength = $10,
                             backchannel_logout_uri = $11, updated_at = $12, third_party = $13
                         WHERE client_id = $1",
    delete_application: "DELETE FROM oidc_applications WHERE client_id = $1",
    insert_grant: "INSERT INTO oidc_grants (id, code_hash, client_id, user_id, session_id, redirect_uri, scope, nonce,
                       code_challenge, auth_time, amr, acr, created_at, code_expires_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    grant_by_code: concat!("SELECT ", grant_columns!(), " FROM oidc_grants WHERE code_hash = $1"),
    grant: concat!("SELECT ", grant_columns!(), " FROM oidc_grants WHERE id = $1"),
    // The conditional update is the one-time rule (the row lock the UPDATE takes serialises racing redemptions; the loser re-checks the condition and changes nothing).
    redeem_code: "UPDATE oidc_grants SET code_used_at = $2
                  WHERE id = $1 AND code_used_at IS NULL AND revoked_at IS NULL AND code_expires_at > $2",
    insert_refresh: "INSERT INTO oidc_refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    refresh: "SELECT token_hash, grant_id, created_at, expires_at, used_at FROM oidc_refresh_tokens WHERE token_hash = $1",
    use_refresh: "UPDATE oidc_refresh_tokens SET used_at = $2
                  WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
                    AND EXISTS (SELECT 1 FROM oidc_grants g WHERE g.id = oidc_refresh_tokens.grant_id AND g.revoked_at IS NULL)",
    revoke_grant: "UPDATE oidc_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
    revoke_session_grants: "UPDATE oidc_grants SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL",
    revoke_user_grants: "UPDATE oidc_grants SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
    revoke_credential_grants: "UPDATE oidc_grants SET revoked_at = $2
                               WHERE revoked_at IS NULL
                                 AND session_id IN (SELECT id FROM sessions WHERE credential_id = $1)",
};
