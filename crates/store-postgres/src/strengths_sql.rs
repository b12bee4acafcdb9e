//! The authentication-strength statements, in PostgreSQL's dialect.

use keyfleet_store_sql::StrengthSql;

/// Columns of `authentication_strengths`, in the order they are read (by name).
macro_rules! strength_columns {
    () => {
        "id, name, acr, require_user_verification, require_attestation, allow_synced, allowed_aaguids, created_at, \
         updated_at"
    };
}

pub(crate) static STRENGTH_SQL: StrengthSql = StrengthSql {
    insert: concat!(
        "INSERT INTO authentication_strengths (",
        strength_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ),
    update: "UPDATE authentication_strengths
                SET name = $2, acr = $3, require_user_verification = $4, require_attestation = $5,
                    allow_synced = $6, allowed_aaguids = $7, updated_at = $8
              WHERE id = $1",
    delete: "DELETE FROM authentication_strengths WHERE id = $1",
    get: concat!(
        "SELECT ",
        strength_columns!(),
        " FROM authentication_strengths WHERE id = $1"
    ),
    list: concat!(
        "SELECT ",
        strength_columns!(),
        " FROM authentication_strengths ORDER BY name, id"
    ),
};
