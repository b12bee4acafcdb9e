//! The on-behalf registration statements, in SQLite's dialect.

use keyfleet_store_sql::OnBehalfSql;

/// Columns of `onbehalf_options`, in the order they are read (by name).
macro_rules! onbehalf_columns {
    () => {
        "id, user_id, caller, challenge, rp_id, expected_aaguid, created_at, expires_at"
    };
}

pub(crate) static ONBEHALF_SQL: OnBehalfSql = OnBehalfSql {
    insert: concat!(
        "INSERT INTO onbehalf_options (",
        onbehalf_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ),
    by_challenge: concat!(
        "SELECT ",
        onbehalf_columns!(),
        " FROM onbehalf_options WHERE challenge = $1"
    ),
    list_for_user: concat!(
        "SELECT ",
        onbehalf_columns!(),
        " FROM onbehalf_options WHERE user_id = $1 ORDER BY created_at, id"
    ),
    delete: "DELETE FROM onbehalf_options WHERE id = $1",
    take: "DELETE FROM onbehalf_options WHERE id = $1 AND user_id = $2",
    purge: "DELETE FROM onbehalf_options WHERE expires_at < $1",
};
