//! The single sign-on statements, in PostgreSQL's dialect.

use keyfleet_store_sql::OidcSql;

/// Columns of `oidc_applications`, in the order they are read (by name).
macro_rules! application_columns {
    () => {
        "client_id, name, client_type, secret_hash, redirect_uris, post_logout_redirect_uris, scopes, \
         access_token_lifetime_s, refresh_token_lifetime_s, authentication_strength, backchannel_logout_uri, \
         jwks, created_at, updated_at, third_party"
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
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
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
                             backchannel_logout_uri = $11, jwks = $12, updated_at = $13, third_party = $14
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
    refresh_with_grant: "SELECT t.token_hash AS t_token_hash, t.grant_id AS t_grant_id, t.created_at AS t_created_at,
                                t.expires_at AS t_expires_at, t.used_at AS t_used_at,
                                g.id, g.code_hash, g.client_id, g.user_id, g.session_id, g.redirect_uri, g.scope,
                                g.nonce, g.code_challenge, g.auth_time, g.amr, g.acr, g.created_at,
                                g.code_expires_at, g.code_used_at, g.revoked_at
                         FROM oidc_refresh_tokens t JOIN oidc_grants g ON g.id = t.grant_id
                         WHERE t.token_hash = $1",
    use_refresh: "UPDATE oidc_refresh_tokens SET used_at = $2
                  WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
                    AND EXISTS (SELECT 1 FROM oidc_grants g WHERE g.id = oidc_refresh_tokens.grant_id AND g.revoked_at IS NULL)",
    revoke_grant: "UPDATE oidc_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
    revoke_session_grants: "UPDATE oidc_grants SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL",
    revoke_user_grants: "UPDATE oidc_grants SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
    revoke_credential_grants: "UPDATE oidc_grants SET revoked_at = $2
                               WHERE revoked_at IS NULL
                                 AND session_id IN (SELECT id FROM sessions WHERE credential_id = $1)",
    // Queued in the same transaction as the revocation, before it, for the grants it is about
    // to revoke (a grant is revoked once, so it is queued once).
    enqueue_session_logouts: "INSERT INTO oidc_logout_outbox (grant_id, client_id, user_id, created_at, attempts, next_attempt_at)
         SELECT g.id, g.client_id, g.user_id, $2::BIGINT, 0, $2::BIGINT
         FROM oidc_grants g JOIN oidc_applications a ON a.client_id = g.client_id
         WHERE g.session_id = $1 AND g.revoked_at IS NULL AND g.code_used_at IS NOT NULL
           AND a.backchannel_logout_uri IS NOT NULL
         ON CONFLICT (grant_id) DO NOTHING",
    enqueue_user_logouts: "INSERT INTO oidc_logout_outbox (grant_id, client_id, user_id, created_at, attempts, next_attempt_at)
         SELECT g.id, g.client_id, g.user_id, $2::BIGINT, 0, $2::BIGINT
         FROM oidc_grants g JOIN oidc_applications a ON a.client_id = g.client_id
         WHERE g.user_id = $1 AND g.revoked_at IS NULL AND g.code_used_at IS NOT NULL
           AND a.backchannel_logout_uri IS NOT NULL
         ON CONFLICT (grant_id) DO NOTHING",
    enqueue_credential_logouts: "INSERT INTO oidc_logout_outbox (grant_id, client_id, user_id, created_at, attempts, next_attempt_at)
         SELECT g.id, g.client_id, g.user_id, $2::BIGINT, 0, $2::BIGINT
         FROM oidc_grants g JOIN oidc_applications a ON a.client_id = g.client_id
         WHERE g.session_id IN (SELECT id FROM sessions WHERE credential_id = $1) AND g.revoked_at IS NULL AND g.code_used_at IS NOT NULL
           AND a.backchannel_logout_uri IS NOT NULL
         ON CONFLICT (grant_id) DO NOTHING",
    due_logouts: "SELECT o.grant_id, o.client_id, o.user_id, o.created_at, o.attempts, o.next_attempt_at,
                         a.backchannel_logout_uri AS uri
                  FROM oidc_logout_outbox o JOIN oidc_applications a ON a.client_id = o.client_id
                  WHERE o.next_attempt_at IS NOT NULL AND o.next_attempt_at <= $1
                  ORDER BY o.next_attempt_at, o.grant_id LIMIT $2",
    logout_delivered: "UPDATE oidc_logout_outbox SET attempts = attempts + 1, next_attempt_at = NULL,
                           delivered_at = $2, last_error = NULL
                       WHERE grant_id = $1 AND next_attempt_at IS NOT NULL",
    logout_retry: "UPDATE oidc_logout_outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3
                   WHERE grant_id = $1 AND next_attempt_at IS NOT NULL",
    logout_failed: "UPDATE oidc_logout_outbox SET attempts = attempts + 1, next_attempt_at = NULL,
                        failed_at = $2, last_error = $3
                    WHERE grant_id = $1 AND next_attempt_at IS NOT NULL",
    previous_secrets: "SELECT secret_hash FROM oidc_application_secrets
                       WHERE client_id = $1 AND expires_at > $2 ORDER BY expires_at, secret_hash",
    purge_previous_secrets: "DELETE FROM oidc_application_secrets WHERE client_id = $1 AND expires_at <= $2",
    keep_previous_secret: "INSERT INTO oidc_application_secrets (client_id, secret_hash, expires_at)
                           SELECT client_id, secret_hash, $2::BIGINT FROM oidc_applications
                           WHERE client_id = $1 AND secret_hash IS NOT NULL
                           ON CONFLICT (client_id, secret_hash) DO UPDATE SET expires_at = excluded.expires_at",
    set_application_secret: "UPDATE oidc_applications SET secret_hash = $2, updated_at = $3
                             WHERE client_id = $1 AND secret_hash IS NOT NULL",
    purge_logouts: "DELETE FROM oidc_logout_outbox
                    WHERE next_attempt_at IS NULL AND COALESCE(delivered_at, failed_at) < $1",
    purge_client_assertions: "DELETE FROM oidc_client_assertions WHERE client_id = $1 AND expires_at <= $2",
    spend_client_assertion: "INSERT INTO oidc_client_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3)
                             ON CONFLICT (client_id, jti) DO NOTHING",
    // The at-once writes: one statement of data-modifying CTEs, its own transaction, one
    // round trip. Each step feeds the next, and the final division fails the whole statement
    // (changing nothing) unless the audit event was written; the caller then takes the steps,
    // which name the failure.
    create_grant_at_once: Some(
        "WITH granted AS (
              INSERT INTO oidc_grants (id, code_hash, client_id, user_id, session_id, redirect_uri, scope, nonce,
                                       code_challenge, auth_time, amr, acr, created_at, code_expires_at)
              VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
              RETURNING 1),
              audited AS (
              INSERT INTO audit_events (at, actor, action, target, outcome, request_id, detail)
              SELECT $15, $16, $17, $18, $19, $20, $21 FROM granted
              RETURNING 1)
         SELECT 1 / (SELECT count(*) FROM audited)::int AS ok",
    ),
    // The row lock the UPDATE takes serialises racing redemptions, as in redeem_code.
    redeem_code_at_once: Some(
        "WITH redeemed AS (
              UPDATE oidc_grants SET code_used_at = $2
               WHERE id = $1 AND code_used_at IS NULL AND revoked_at IS NULL AND code_expires_at > $2
              RETURNING id),
              kept AS (
              INSERT INTO oidc_refresh_tokens (token_hash, grant_id, created_at, expires_at)
              SELECT $3, id, $4, $5 FROM redeemed WHERE $3 IS NOT NULL
              RETURNING 1),
              audited AS (
              INSERT INTO audit_events (at, actor, action, target, outcome, request_id, detail)
              SELECT $6, $7, $8, $9, $10, $11, $12 FROM redeemed
              RETURNING 1)
         SELECT 1 / (SELECT count(*) FROM audited)::int AS ok, (SELECT count(*) FROM kept) AS refresh",
    ),
    rotate_refresh_at_once: Some(
        "WITH used AS (
              UPDATE oidc_refresh_tokens SET used_at = $2
               WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
                 AND EXISTS (SELECT 1 FROM oidc_grants g WHERE g.id = oidc_refresh_tokens.grant_id AND g.revoked_at IS NULL)
              RETURNING 1),
              kept AS (
              INSERT INTO oidc_refresh_tokens (token_hash, grant_id, created_at, expires_at)
              SELECT $3, $4, $5, $6 FROM used
              RETURNING 1),
              audited AS (
              INSERT INTO audit_events (at, actor, action, target, outcome, request_id, detail)
              SELECT $7, $8, $9, $10, $11, $12, $13 FROM kept
              RETURNING 1)
         SELECT 1 / (SELECT count(*) FROM audited)::int AS ok",
    ),
};
