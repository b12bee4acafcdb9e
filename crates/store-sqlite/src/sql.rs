//! Every statement of the store, in SQLite's dialect. Booleans are integers; lists are BLOBs
//! in the format of [`crate::lists`].
//!
//! Writes run in `BEGIN IMMEDIATE` transactions: the write lock is taken up front, so a
//! transaction that reads before it writes (the secret limit, TAP redemption, first-start
//! bootstrap, finishing a ceremony) can never fail to upgrade and never interleaves with
//! another writer, in this process or another. Single statements (`hit`, `reserve`,
//! `claim_job`) are atomic for the same reason: SQLite has one writer at a time.

use keyfleet_store_sql::Sql;

/// Columns of `users`, in the order they are read (by name).
macro_rules! user_columns {
    () => {
        "id, username, display_name, email, manager_email, shipping_address, enabled, role, user_handle, \
         created_at, updated_at"
    };
}
/// Columns of `users` aliased with the `u_` prefix, for joins (table alias `u`).
macro_rules! user_columns_u {
    () => {
        "u.id AS u_id, u.username AS u_username, u.display_name AS u_display_name, u.email AS u_email, \
         u.manager_email AS u_manager_email, u.shipping_address AS u_shipping_address, u.enabled AS u_enabled, \
         u.role AS u_role, u.user_handle AS u_user_handle, u.created_at AS u_created_at, \
         u.updated_at AS u_updated_at"
    };
}
pub(crate) use user_columns_u;
/// Columns of `user_groups`.
macro_rules! group_columns {
    () => {
        "id, name, name_key, description, created_at"
    };
}
/// Columns of `sessions`.
macro_rules! session_columns {
    () => {
        "id, token_hash, user_id, kind, created_at, last_seen_at, expires_at, idle_timeout_ms, client_addr, \
         credential_id, user_verified"
    };
}
/// Columns of `sessions` aliased with the `s_` prefix, for joins (table alias `s`).
macro_rules! session_columns_s {
    () => {
        "s.id AS s_id, s.token_hash AS s_token_hash, s.user_id AS s_user_id, s.kind AS s_kind, \
         s.created_at AS s_created_at, s.last_seen_at AS s_last_seen_at, s.expires_at AS s_expires_at, \
         s.idle_timeout_ms AS s_idle_timeout_ms, s.client_addr AS s_client_addr, s.credential_id AS s_credential_id, \
         s.user_verified AS s_user_verified"
    };
}
/// Columns of `credentials`.
macro_rules! credential_columns {
    () => {
        "id, user_id, public_key, alg, sign_count, aaguid, transports, backup_eligible, backup_state, \
         uv_initialized, attestation_format, attestation_trust, attestation_object, nickname, created_at, \
         last_used_at, possibly_cloned"
    };
}
/// Columns of `ceremonies`.
macro_rules! ceremony_columns {
    () => {
        "id, kind, challenge, user_id, session_id, rp_id, user_verification, allow_credentials, params, \
         created_at, expires_at"
    };
}

/// Whether a session is live at `$2` (written as a difference so that a huge idle timeout
/// cannot overflow), returning 1 or 0.
macro_rules! live_at_2 {
    () => {
        "CASE WHEN $2 < expires_at AND $2 - last_seen_at < idle_timeout_ms THEN 1 ELSE 0 END"
    };
}

/// A sign-in's statements (`Sql::finish_authentication_body`): its transaction is
/// `finish_authentication_at_once` alone, or one group commit's.
macro_rules! finish_authentication_body {
    () => {
        "         INSERT INTO spent_ceremonies (id, expires_at) VALUES ($1, $2);
         UPDATE credentials
            SET sign_count = $6, backup_state = $7, uv_initialized = (uv_initialized OR $8), last_used_at = $9
          WHERE id = $3 AND user_id = $4 AND sign_count = $5;
         INSERT INTO sessions (id, token_hash, user_id, kind, created_at, last_seen_at, expires_at,
                               idle_timeout_ms, client_addr, credential_id, user_verified)
              SELECT $10, $11, $4, $12, $13, $14, $15, $16, $17, $3, $32 WHERE changes() = 1;
         INSERT INTO audit_events (at, actor, action, target, outcome, request_id, detail)
              SELECT $18, $19, $20, $21, $22, $23, $24 WHERE changes() = 1;
         INSERT INTO spent_ceremonies (id, expires_at) SELECT $1, $2 WHERE changes() = 0;
         INSERT INTO audit_events (at, actor, action, target, outcome, request_id, detail)
              SELECT $25, $26, $27, $28, $29, $30, $31
               WHERE EXISTS (SELECT 1 FROM session_ends_pending WHERE user_id = $4);
         UPDATE sessions SET revoked_at = $9
          WHERE revoked_at IS NULL
            AND credential_id IN (SELECT credential_id FROM session_ends_pending WHERE user_id = $4);
         DELETE FROM session_ends_pending WHERE user_id = $4;
         "
    };
}

/// The statements.
pub(crate) static SQL: Sql = Sql {
    begin: "BEGIN IMMEDIATE",
    rollback: "ROLLBACK",
    ping: "SELECT 1",
    list_tables: "SELECT name FROM sqlite_master WHERE type = 'table'",
    applied_migrations: "SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version",

    insert_user: "INSERT INTO users (id, username, display_name, email, manager_email, shipping_address, enabled,
                                     role, user_handle, created_at, updated_at)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    user_by_id: concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"),
    users_by_ids: concat!("SELECT ", user_columns!(), " FROM users WHERE id IN ({})"),
    user_by_username: concat!("SELECT ", user_columns!(), " FROM users WHERE username = $1"),
    user_by_handle: concat!("SELECT ", user_columns!(), " FROM users WHERE user_handle = $1"),
    // LIKE is case-insensitive for ASCII letters in SQLite.
    list_users: concat!(
        "SELECT ",
        user_columns!(),
        " FROM users
          WHERE ($1 IS NULL OR username LIKE $1 ESCAPE '\\' OR display_name LIKE $1 ESCAPE '\\'
                 OR email LIKE $1 ESCAPE '\\')
            AND ($2 IS NULL OR username > $2)
          ORDER BY username
          LIMIT $3"
    ),
    count_users: "SELECT COUNT(*) FROM users",
    update_user: "UPDATE users SET display_name = $2, email = $3, manager_email = $4, shipping_address = $5,
                                   enabled = $6, role = $7, updated_at = $8
                  WHERE id = $1",
    revoke_sessions_of_user: "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
    delete_user: "DELETE FROM users WHERE id = $1",
    mark_bootstrapped: "INSERT INTO meta (key, value) VALUES ('bootstrapped', $1) ON CONFLICT (key) DO NOTHING",

    insert_group: "INSERT INTO user_groups (id, name, name_key, description, created_at) VALUES ($1, $2, $3, $4, $5)",
    group_by_id: concat!("SELECT ", group_columns!(), " FROM user_groups WHERE id = $1"),
    list_groups: concat!("SELECT ", group_columns!(), " FROM user_groups ORDER BY name_key, id"),
    delete_group: "DELETE FROM user_groups WHERE id = $1",
    group_and_user: "SELECT 1 FROM user_groups WHERE id = $1 UNION ALL SELECT 1 FROM users WHERE id = $2",
    insert_member: "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    delete_member: "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2",
    list_members: concat!(
        "SELECT ",
        user_columns_u!(),
        " FROM users u JOIN group_members m ON m.user_id = u.id WHERE m.group_id = $1 ORDER BY u.username"
    ),
    list_user_groups: "SELECT g.id, g.name, g.name_key, g.description, g.created_at
                       FROM user_groups g JOIN group_members m ON m.group_id = g.id
                       WHERE m.user_id = $1 ORDER BY g.name_key, g.id",

    insert_session: "INSERT INTO sessions (id, token_hash, user_id, kind, created_at, last_seen_at, expires_at,
                                           idle_timeout_ms, client_addr, credential_id, user_verified)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    find_live_session: concat!(
        "SELECT ",
        session_columns_s!(),
        ", ",
        user_columns_u!(),
        " FROM sessions s JOIN users u ON u.id = s.user_id
          WHERE s.token_hash = $1
            AND s.revoked_at IS NULL
            AND u.enabled = 1
            AND $2 < s.expires_at
            AND $2 - s.last_seen_at < s.idle_timeout_ms"
    ),
    // Never moves backwards: two requests finishing out of order keep the later time.
    touch_session: "UPDATE sessions SET last_seen_at = MAX(last_seen_at, $2) WHERE id = $1",
    revoke_session: "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
    revoke_user_sessions: concat!(
        "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL RETURNING ",
        live_at_2!()
    ),
    revoke_credential_sessions: concat!(
        "UPDATE sessions SET revoked_at = $2 WHERE credential_id = $1 AND revoked_at IS NULL RETURNING ",
        live_at_2!()
    ),
    removed_keys_pending: "SELECT 1 FROM session_ends_pending WHERE user_id = $1 LIMIT 1",
    revoke_removed_key_sessions: concat!(
        "UPDATE sessions SET revoked_at = $2
         WHERE revoked_at IS NULL
           AND credential_id IN (SELECT credential_id FROM session_ends_pending WHERE user_id = $1)
         RETURNING ",
        live_at_2!()
    ),
    clear_removed_keys: "DELETE FROM session_ends_pending WHERE user_id = $1",
    list_user_sessions: concat!(
        "SELECT ",
        session_columns!(),
        " FROM sessions
          WHERE user_id = $1 AND revoked_at IS NULL AND $2 < expires_at AND $2 - last_seen_at < idle_timeout_ms
          ORDER BY created_at DESC, id DESC"
    ),
    purge_sessions: "DELETE FROM sessions
                     WHERE (revoked_at IS NOT NULL AND revoked_at < $1)
                        OR expires_at < $1
                        OR $1 - last_seen_at > idle_timeout_ms",

    upsert_tap: "INSERT INTO taps (id, user_id, code_hash, one_time, created_at, expires_at, use_count)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (user_id) DO UPDATE SET
                     id = excluded.id, code_hash = excluded.code_hash, one_time = excluded.one_time,
                     created_at = excluded.created_at, expires_at = excluded.expires_at,
                     use_count = excluded.use_count",
    user_exists: "SELECT 1 FROM users WHERE id = $1",
    tap_of_user: "SELECT id, user_id, code_hash, one_time, created_at, expires_at, use_count FROM taps
                  WHERE user_id = $1",
    use_tap: "UPDATE taps SET use_count = use_count + 1
              WHERE id = $1 AND expires_at > $2 AND (one_time = 0 OR use_count = 0)",
    delete_tap: "DELETE FROM taps WHERE user_id = $1",

    insert_client: "INSERT INTO api_clients (client_id, name, scopes, enabled, created_at) VALUES ($1, $2, $3, $4, $5)",
    insert_secret: "INSERT INTO client_secrets (id, client_id, secret_hash, created_at, expires_at)
                    VALUES ($1, $2, $3, $4, $5)",
    client_by_id: "SELECT client_id, name, scopes, enabled, created_at FROM api_clients WHERE client_id = $1",
    list_clients: "SELECT client_id, name, scopes, enabled, created_at FROM api_clients ORDER BY name, client_id",
    set_client_enabled: "UPDATE api_clients SET enabled = $2 WHERE client_id = $1",
    delete_client: "DELETE FROM api_clients WHERE client_id = $1",
    client_with_secrets: "SELECT c.client_id, c.name, c.scopes, c.enabled, c.created_at,
                                 s.id AS s_id, s.client_id AS s_client_id, s.secret_hash AS s_secret_hash,
                                 s.created_at AS s_created_at, s.expires_at AS s_expires_at
                          FROM api_clients c LEFT JOIN client_secrets s ON s.client_id = c.client_id
                          WHERE c.client_id = $1 ORDER BY s.created_at, s.id",
    list_secrets: "SELECT id, client_id, secret_hash, created_at, expires_at FROM client_secrets
                   WHERE client_id = $1 ORDER BY created_at, id",
    // BEGIN IMMEDIATE already holds the write lock: no other writer can add a secret
    // between the count and the insert.
    lock_client: "SELECT 1 FROM api_clients WHERE client_id = $1",
    count_secrets: "SELECT COUNT(*) FROM client_secrets WHERE client_id = $1",
    set_secret_expiry: "UPDATE client_secrets SET expires_at = $3 WHERE client_id = $1 AND id = $2",
    upgrade_secret_hash: "UPDATE client_secrets SET secret_hash = $4
                          WHERE client_id = $1 AND id = $2 AND secret_hash = $3",
    delete_secret: "DELETE FROM client_secrets WHERE client_id = $1 AND id = $2",

    insert_signing_key: "INSERT INTO signing_keys (kid, alg, encrypted_private_key, public_key, created_at, active)
                         VALUES ($1, $2, $3, $4, $5, $6)",
    list_signing_keys: "SELECT kid, alg, encrypted_private_key, public_key, created_at, active, activates_at,
                               retired_at
                        FROM signing_keys ORDER BY active DESC, created_at DESC, kid DESC",
    insert_next_signing_key:
        "INSERT INTO signing_keys (kid, alg, encrypted_private_key, public_key, created_at, active,
                                  activates_at)
                              VALUES ($1, $2, $3, $4, $5, 0, $6)",
    retire_active_signing_key: "UPDATE signing_keys SET active = 0, retired_at = $1 WHERE active = 1",
    activate_signing_key: "UPDATE signing_keys SET active = 1, activates_at = NULL
                           WHERE kid = $1 AND active = 0 AND activates_at IS NOT NULL AND retired_at IS NULL",
    purge_signing_keys: "DELETE FROM signing_keys WHERE active = 0 AND retired_at IS NOT NULL AND retired_at <= $1",

    insert_credential: "INSERT INTO credentials (id, user_id, public_key, alg, sign_count, aaguid, transports,
                                                 backup_eligible, backup_state, uv_initialized, attestation_format,
                                                 attestation_trust, attestation_object, nickname, created_at,
                                                 last_used_at, possibly_cloned)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    credential_by_id: concat!("SELECT ", credential_columns!(), " FROM credentials WHERE id = $1"),
    credentials_by_ids: concat!("SELECT ", credential_columns!(), " FROM credentials WHERE id IN ({})"),
    list_user_credentials: concat!(
        "SELECT ",
        credential_columns!(),
        " FROM credentials WHERE user_id = $1 ORDER BY created_at, id"
    ),
    credentials_of_users: concat!(
        "SELECT ",
        credential_columns!(),
        " FROM credentials WHERE user_id IN ({}) ORDER BY user_id, created_at, id"
    ),
    rename_credential: "UPDATE credentials SET nickname = $3 WHERE id = $1 AND user_id = $2",
    delete_credential: "DELETE FROM credentials WHERE id = $1 AND user_id = $2",
    mark_removed_key: "INSERT INTO session_ends_pending (user_id, credential_id)
                       SELECT $2, $1
                       WHERE EXISTS (SELECT 1 FROM sessions WHERE credential_id = $1 AND revoked_at IS NULL)
                       ON CONFLICT DO NOTHING",
    delete_user_credentials: "DELETE FROM credentials WHERE user_id = $1",
    count_credentials: "SELECT COUNT(*) FROM credentials",
    credential_of_user: "SELECT 1 FROM credentials WHERE id = $1 AND user_id = $2",
    credential_exists: "SELECT 1 FROM credentials WHERE id = $1",
    swap_counter: "UPDATE credentials
                   SET sign_count = $4, backup_state = $5, uv_initialized = (uv_initialized OR $6),
                       last_used_at = $7
                   WHERE id = $1 AND user_id = $2 AND sign_count = $3",
    flag_clone: "UPDATE credentials SET possibly_cloned = 1 WHERE id = $1 AND sign_count = $2",

    insert_ceremony: "INSERT INTO ceremonies (id, kind, challenge, user_id, session_id, rp_id, user_verification,
                                              allow_credentials, params, created_at, expires_at)
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    ceremony_by_id: concat!("SELECT ", ceremony_columns!(), " FROM ceremonies WHERE id = $1"),
    delete_ceremony: "DELETE FROM ceremonies WHERE id = $1",
    take_ceremony: "DELETE FROM ceremonies
                    WHERE id = $1 AND kind = $2
                      AND (user_id = $3 OR (user_id IS NULL AND kind = 'authentication'))",
    spend_ceremony: "INSERT INTO spent_ceremonies (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
    purge_ceremonies: "DELETE FROM ceremonies WHERE expires_at < $1",
    ceremony_spent: "SELECT 1 FROM spent_ceremonies WHERE id = $1",
    purge_spent_ceremonies: "DELETE FROM spent_ceremonies WHERE expires_at < $1",

    insert_audit: "INSERT INTO audit_events (at, actor, action, target, outcome, request_id, detail)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)",
    // A prefix is compared with substr: LIKE is case-insensitive and treats '_' as a wildcard.
    get_audit: "SELECT id, at, actor, action, target, outcome, request_id, detail FROM audit_events WHERE id = $1",

    // Every SET expression sees the row as it was before this statement.
    hit: "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1)
          ON CONFLICT (key) DO UPDATE SET
              count = CASE WHEN $2 - rate_limits.window_start >= $3 THEN 1 ELSE rate_limits.count + 1 END,
              window_start = CASE WHEN $2 - rate_limits.window_start >= $3 THEN $2 ELSE rate_limits.window_start END
          RETURNING count",
    peek: keyfleet_store_sql::failures_in_window!("$1", "$2", "$3"),
    clear: "DELETE FROM rate_limits WHERE key = $1",
    reserve: "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1)
              ON CONFLICT (key) DO UPDATE SET
                  count = CASE WHEN $2 - rate_limits.window_start >= $3 THEN 1 ELSE rate_limits.count + 1 END,
                  window_start = CASE WHEN $2 - rate_limits.window_start >= $3 THEN $2
                                      ELSE rate_limits.window_start END
              WHERE $2 - rate_limits.window_start >= $3 OR rate_limits.count < $4
              RETURNING count",
    window_start: "SELECT window_start FROM rate_limits WHERE key = $1",
    release: "UPDATE rate_limits SET count = count - 1 WHERE key = $1 AND count > 0 AND $2 - window_start < $3",
    // A sign-in in one call to SQLite's thread, its own BEGIN IMMEDIATE … COMMIT (each
    // statement, BEGIN and COMMIT would otherwise be a round trip between threads). Each step
    // feeds the next through changes() (no counter swap, no session; no session, no audit
    // event); if the audit event was not written, the ceremony's id is inserted a second time,
    // whose unique key stops the batch before COMMIT and the caller rolls back. A spent
    // ceremony stops it at the first statement.
    finish_authentication_at_once: Some(concat!("BEGIN IMMEDIATE;", finish_authentication_body!(), "COMMIT")),
    finish_authentication_body: Some(finish_authentication_body!()),

    // One statement, so the figures come from one read snapshot and add up. The key figures
    // are one pass over credentials_report_idx in user order (a covering index: no key row is
    // read), grouped per user and summed; users without a key are the users less those with
    // one (every key has its user: a foreign key). Users are counted from users_enabled_idx,
    // passes from taps_expires_idx, lost keys from audit_events_action_idx.
    count_fleet: "SELECT u.users, u.users_enabled, u.users - k.users_with_key AS users_without_key,
                         k.keys_total, k.keys_unused, k.users_with_unused_key, k.keys_cloned,
                         k.users_with_cloned_key,
                         (SELECT COUNT(*) FROM taps WHERE expires_at > $2 AND (one_time = 0 OR use_count = 0))
                             AS pending_taps,
                         (SELECT COUNT(*) FROM audit_events WHERE action = $4 AND at >= $3) AS lost_keys
                  FROM (SELECT COUNT(*) AS users, COALESCE(SUM(enabled), 0) AS users_enabled FROM users) u,
                       (SELECT COUNT(*) AS users_with_key, COALESCE(SUM(n), 0) AS keys_total,
                               COALESCE(SUM(unused), 0) AS keys_unused,
                               COALESCE(SUM(unused > 0), 0) AS users_with_unused_key,
                               COALESCE(SUM(cloned), 0) AS keys_cloned,
                               COALESCE(SUM(cloned > 0), 0) AS users_with_cloned_key
                        FROM (SELECT COUNT(*) AS n, SUM(COALESCE(last_used_at, created_at) < $1) AS unused,
                                     SUM(possibly_cloned) AS cloned
                              FROM credentials GROUP BY user_id)) k",
    count_keys_by_model: "SELECT aaguid, COUNT(*) AS key_count FROM credentials
                          GROUP BY aaguid ORDER BY key_count DESC, aaguid",
    // Walks users in username order (the unique index, from `after` on) and stops at the
    // limit. Each key filter is a probe of credentials_report_idx for that user (covering), the
    // pass one lookup by user; the per-user figures are read the same way, only for the rows
    // returned. LIKE is case-insensitive for ASCII letters.
    list_registrations: "SELECT u.id, u.username, u.display_name, u.email, u.manager_email, u.shipping_address,
                                u.enabled, u.role, u.user_handle, u.created_at, u.updated_at,
          (SELECT COUNT(*) FROM credentials c WHERE c.user_id = u.id) AS key_count,
          (SELECT group_concat(m, ',') FROM
              (SELECT DISTINCT lower(hex(c.aaguid)) AS m FROM credentials c WHERE c.user_id = u.id)) AS models,
          (SELECT MIN(c.created_at) FROM credentials c WHERE c.user_id = u.id) AS first_key_at,
          (SELECT MAX(c.last_used_at) FROM credentials c WHERE c.user_id = u.id) AS last_used_at,
          COALESCE(t.expires_at > $8 AND (t.one_time = 0 OR t.use_count = 0), 0) AS pending_tap,
          EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id AND c.possibly_cloned = 1) AS possibly_cloned
         FROM users u LEFT JOIN taps t ON t.user_id = u.id
         WHERE u.username > $2
           AND ($10 IS NULL OR u.enabled = $10)
           AND ($1 IS NULL OR u.username LIKE $1 ESCAPE '\\' OR u.display_name LIKE $1 ESCAPE '\\'
                OR u.email LIKE $1 ESCAPE '\\')
           AND ($4 IS NULL OR ($4 = 1) = EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id))
           AND ($6 = 0 OR EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id AND c.possibly_cloned = 1))
           AND ($7 = 0 OR (t.expires_at > $8 AND (t.one_time = 0 OR t.use_count = 0)))
           AND ($5 IS NULL OR EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id
                                      AND COALESCE(c.last_used_at, c.created_at) < $5))
           AND ($3 IS NULL OR EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id
                                      AND lower(hex(c.aaguid)) IN (SELECT value FROM json_each($3))))
         ORDER BY u.username
         LIMIT $9",

    ensure_job: "INSERT INTO jobs (job, due_at) VALUES ($1, $2) ON CONFLICT (job) DO NOTHING",
    claim_job: "UPDATE jobs SET lease_holder = $2, lease_until = $4
                WHERE job = $1 AND due_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
                RETURNING due_at",
    finish_job: "UPDATE jobs SET due_at = $4, lease_holder = NULL, lease_until = NULL, last_finished_at = $3,
                                 last_outcome = $5
                 WHERE job = $1 AND lease_holder = $2",
    list_jobs: "SELECT job, due_at, lease_holder, lease_until, last_finished_at, last_outcome FROM jobs ORDER BY job",
};
