//! Every statement of the store, in PostgreSQL's dialect. Lists are arrays; a parameter
//! compared with NULL carries its type (`$1::text IS NULL`).
//!
//! Writes run in READ COMMITTED transactions, and races are settled by the database rather
//! than by read-then-write logic: conditional `UPDATE`s whose row count decides (TAP
//! redemption, the counter's compare-and-swap, the clone flag, job claims), `INSERT … ON
//! CONFLICT` (first-start bootstrap, TAP replacement, rate-limit counters and reservations,
//! which lock the row and evaluate their condition on its latest version), unique indexes
//! (usernames, the single active signing key), the row lock a `DELETE` takes (of two
//! transactions finishing one ceremony the second waits, then finds it gone), and
//! `SELECT … FOR UPDATE` on the client before counting its secrets.

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
        "CASE WHEN $2 < expires_at AND $2 - last_seen_at < idle_timeout_ms THEN 1::bigint ELSE 0::bigint END"
    };
}

/// The statements.
pub(crate) static SQL: Sql = Sql {
    begin: "BEGIN",
    rollback: "ROLLBACK",
    ping: "SELECT 1",
    list_tables: "SELECT tablename::text AS name FROM pg_catalog.pg_tables WHERE schemaname = current_schema()",
    applied_migrations: "SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version",

    insert_user: "INSERT INTO users (id, username, display_name, email, manager_email, shipping_address, enabled,
                                     role, user_handle, created_at, updated_at)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    user_by_id: concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"),
    users_by_ids: concat!("SELECT ", user_columns!(), " FROM users WHERE id IN ({})"),
    user_by_username: concat!("SELECT ", user_columns!(), " FROM users WHERE username = $1"),
    user_by_handle: concat!("SELECT ", user_columns!(), " FROM users WHERE user_handle = $1"),
    // ILIKE folds case by the database's rules (beyond ASCII, unlike SQLite's LIKE).
    list_users: concat!(
        "SELECT ",
        user_columns!(),
        " FROM users
          WHERE ($1::text IS NULL OR username ILIKE $1 ESCAPE '\\' OR display_name ILIKE $1 ESCAPE '\\'
                 OR email ILIKE $1 ESCAPE '\\')
            AND ($2::text IS NULL OR username > $2)
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
            AND u.enabled
            AND $2 < s.expires_at
            AND $2 - s.last_seen_at < s.idle_timeout_ms"
    ),
    // Never moves backwards: two requests finishing out of order keep the later time.
    touch_session: "UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, $2) WHERE id = $1",
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
              WHERE id = $1 AND expires_at > $2 AND (NOT one_time OR use_count = 0)",
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
    // Locking the client row serialises concurrent additions for one client. The count is a
    // separate statement: under READ COMMITTED it then takes a snapshot after the lock was
    // granted and sees the secrets the previous holder committed.
    lock_client: "SELECT 1 FROM api_clients WHERE client_id = $1 FOR UPDATE",
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
                              VALUES ($1, $2, $3, $4, $5, FALSE, $6)",
    retire_active_signing_key: "UPDATE signing_keys SET active = FALSE, retired_at = $1 WHERE active = TRUE",
    activate_signing_key: "UPDATE signing_keys SET active = TRUE, activates_at = NULL
                           WHERE kid = $1 AND active = FALSE AND activates_at IS NOT NULL AND retired_at IS NULL",
    purge_signing_keys: "DELETE FROM signing_keys WHERE active = FALSE AND retired_at IS NOT NULL AND retired_at <= $1",

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
    flag_clone: "UPDATE credentials SET possibly_cloned = TRUE WHERE id = $1 AND sign_count = $2",

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
    // A prefix is compared with substr: LIKE treats '_' as a wildcard.
    get_audit: "SELECT id, at, actor, action, target, outcome, request_id, detail FROM audit_events WHERE id = $1",

    // Every SET expression sees the row as it was before this statement; the upsert locks
    // the row, so concurrent hits never lose a count.
    // Rate-limit counters are written with an asynchronous commit (`synchronous_commit` off
    // for that statement's own transaction): the count is visible to every process at once,
    // but its commit does not wait for the WAL flush. A crash can lose the last few
    // milliseconds of counts, which admits at most that many extra attempts; waiting for a
    // flush on every sign-in attempt cost 15% of sign-ins per second (docs/performance.md).
    hit: "INSERT INTO rate_limits (key, window_start, count)
          SELECT $1, $2, 1 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
          ON CONFLICT (key) DO UPDATE SET
              count = CASE WHEN $2 - rate_limits.window_start >= $3 THEN 1 ELSE rate_limits.count + 1 END,
              window_start = CASE WHEN $2 - rate_limits.window_start >= $3 THEN $2 ELSE rate_limits.window_start END
          RETURNING count",
    peek: keyfleet_store_sql::failures_in_window!("$1", "$2", "$3"),
    clear: "DELETE FROM rate_limits WHERE key = $1",
    reserve: "INSERT INTO rate_limits (key, window_start, count)
              SELECT $1, $2, 1 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
              ON CONFLICT (key) DO UPDATE SET
                  count = CASE WHEN $2 - rate_limits.window_start >= $3 THEN 1 ELSE rate_limits.count + 1 END,
                  window_start = CASE WHEN $2 - rate_limits.window_start >= $3 THEN $2
                                      ELSE rate_limits.window_start END
              WHERE $2 - rate_limits.window_start >= $3 OR rate_limits.count < $4
              RETURNING count",
    window_start: "SELECT window_start FROM rate_limits WHERE key = $1",
    release: "WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true) AS v)
              UPDATE rate_limits SET count = count - 1
              FROM async_commit
              WHERE key = $1 AND count > 0 AND $2 - window_start < $3 AND async_commit.v = 'off'",
    // Not in the sign-in's transaction: its row lock would be held until that commit, so
    // every sign-in from one address (an office behind one NAT) would wait for the last.
    // A sign-in in one statement, one round trip, its own transaction. Each step feeds the
    // next (no counter swap, no session; no session, no audit event), and the final division
    // fails the whole statement, so it changes nothing, unless the audit event was written; a
    // spent ceremony fails it at once (unique key).
    // Only the common case: a user with sessions pending an end (a key of theirs removed
    // since, `session_ends_pending`, nearly always empty) writes nothing here, and the steps
    // end those sessions. Ending them in this statement (an UPDATE of sessions, a DELETE and a
    // second audit INSERT that nearly never touch a row) cost PostgreSQL's executor as much
    // to set up on every sign-in as the rest of the statement (perf, 5 December 2026). The
    // pending check reads the statement's snapshot, as the steps' read does. The removed-key
    // event's parameters ($25–$31) are left to the steps.
    finish_authentication_body: None,
    finish_authentication_at_once: Some(
        "WITH spent AS (
                  INSERT INTO spent_ceremonies (id, expires_at)
                  SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM session_ends_pending WHERE user_id = $4)
               RETURNING 1),
              swapped AS (
                  UPDATE credentials
                     SET sign_count = $6, backup_state = $7, uv_initialized = (uv_initialized OR $8),
                         last_used_at = $9
                   WHERE id = $3 AND user_id = $4 AND sign_count = $5 AND EXISTS (SELECT 1 FROM spent)
               RETURNING 1),
              opened AS (
                  INSERT INTO sessions (id, token_hash, user_id, kind, created_at, last_seen_at, expires_at,
                                        idle_timeout_ms, client_addr, credential_id, user_verified)
                  SELECT $10, $11, $4, $12, $13, $14, $15, $16, $17, $3, $32 FROM swapped
               RETURNING 1),
              audited AS (
                  INSERT INTO audit_events (at, actor, action, target, outcome, request_id, detail)
                  SELECT $18, $19, $20, $21, $22, $23, $24 FROM opened
               RETURNING 1)
              SELECT 1 / (EXISTS (SELECT 1 FROM audited))::int AS ok",
    ),

    // One statement, so the figures come from one snapshot and add up. The key figures are
    // one pass over credentials (an index-only scan of credentials_report_idx once vacuumed),
    // grouped per user and summed; users without a key are the users less those with one
    // (every key has its user: a foreign key). Passes are counted from taps_expires_idx, lost
    // keys from audit_events_action_idx.
    count_fleet: "SELECT u.users, u.users_enabled, u.users - k.users_with_key AS users_without_key,
                         k.keys_total, k.keys_unused, k.users_with_unused_key, k.keys_cloned,
                         k.users_with_cloned_key,
                         (SELECT COUNT(*) FROM taps WHERE expires_at > $2 AND (NOT one_time OR use_count = 0))
                             AS pending_taps,
                         (SELECT COUNT(*) FROM audit_events WHERE action = $4 AND at >= $3) AS lost_keys
                  FROM (SELECT COUNT(*) AS users, COUNT(*) FILTER (WHERE enabled) AS users_enabled FROM users) u
                  CROSS JOIN (
                      SELECT COUNT(*) AS users_with_key, COALESCE(SUM(n), 0)::bigint AS keys_total,
                             COALESCE(SUM(unused), 0)::bigint AS keys_unused,
                             COUNT(*) FILTER (WHERE unused > 0) AS users_with_unused_key,
                             COALESCE(SUM(cloned), 0)::bigint AS keys_cloned,
                             COUNT(*) FILTER (WHERE cloned > 0) AS users_with_cloned_key
                      FROM (SELECT COUNT(*) AS n,
                                   COUNT(*) FILTER (WHERE COALESCE(last_used_at, created_at) < $1) AS unused,
                                   COUNT(*) FILTER (WHERE possibly_cloned) AS cloned
                            FROM credentials GROUP BY user_id) per_user) k",
    count_keys_by_model: "SELECT aaguid, COUNT(*) AS key_count FROM credentials
                          GROUP BY aaguid ORDER BY key_count DESC, aaguid",
    // Walks users in username order (the unique index, from `after` on) and stops at the
    // limit; the per-user figures (one lateral aggregate over credentials_report_idx) are
    // computed only for the rows that pass. PostgreSQL plans a prepared statement with its
    // parameters' values, so an unused filter folds away; a used key filter is a hashed subplan,
    // built once per query from an index (the user's keys, the few flagged keys, the keys of the
    // chosen models through credentials_aaguid_idx), so a rare filter does not probe every user.
    list_registrations: "SELECT u.id, u.username, u.display_name, u.email, u.manager_email, u.shipping_address,
                                u.enabled, u.role, u.user_handle, u.created_at, u.updated_at,
                                k.key_count, k.models, k.first_key_at, k.last_used_at, k.possibly_cloned,
                                COALESCE(t.expires_at > $8 AND (NOT t.one_time OR t.use_count = 0), FALSE)
                                    AS pending_tap
         FROM users u
         LEFT JOIN taps t ON t.user_id = u.id
         CROSS JOIN LATERAL (
             SELECT COUNT(*) AS key_count,
                    string_agg(DISTINCT encode(c.aaguid, 'hex'), ',') AS models,
                    MIN(c.created_at) AS first_key_at,
                    MAX(c.last_used_at) AS last_used_at,
                    COALESCE(bool_or(c.possibly_cloned), FALSE) AS possibly_cloned
             FROM credentials c WHERE c.user_id = u.id) k
         WHERE u.username > $2
           AND ($10::bigint IS NULL OR u.enabled = ($10 = 1))
           AND ($1::text IS NULL OR u.username ILIKE $1 ESCAPE '\\' OR u.display_name ILIKE $1 ESCAPE '\\'
                OR u.email ILIKE $1 ESCAPE '\\')
           AND ($4::bigint IS DISTINCT FROM 1 OR EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id))
           AND ($4::bigint IS DISTINCT FROM 0 OR NOT EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id))
           AND (NOT $6 OR EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id AND c.possibly_cloned))
           AND (NOT $7 OR (t.expires_at > $8 AND (NOT t.one_time OR t.use_count = 0)))
           AND ($5::bigint IS NULL OR EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id
                                              AND COALESCE(c.last_used_at, c.created_at) < $5))
           AND ($3::text IS NULL OR EXISTS (
                   SELECT 1 FROM credentials c WHERE c.user_id = u.id
                   AND c.aaguid = ANY (ARRAY(SELECT decode(m, 'hex') FROM jsonb_array_elements_text($3::jsonb) AS m))))
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
