//! The statements of consents to third-party applications, in SQLite's dialect.

use keyfleet_store_sql::ConsentSql;

pub(crate) static CONSENT_SQL: ConsentSql = ConsentSql {
    consent: "SELECT user_id, client_id, scopes, granted_at FROM oidc_consents WHERE user_id = $1 AND client_id = $2",
    save: "INSERT INTO oidc_consents (user_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
    list: "SELECT user_id, client_id, scopes, granted_at FROM oidc_consents WHERE user_id = $1 ORDER BY client_id",
    delete: "DELETE FROM oidc_consents WHERE user_id = $1 AND client_id = $2",
    revoke_grants: "UPDATE oidc_grants SET revoked_at = $3 WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL",
};
