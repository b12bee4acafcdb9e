//! The group-policy statements, in PostgreSQL's dialect.

use keyfleet_store_sql::PolicySql;

/// The columns a policy is read with (`p` is `policies`), each aliased with the `p_` prefix
/// so a policy can be read beside a joined key and user.
macro_rules! policy_columns {
    () => {
        "p.id AS p_id, p.name AS p_name, p.include_all AS p_include_all,
         p.self_service_registration AS p_self_service_registration, p.user_verification AS p_user_verification,
         p.attestation AS p_attestation, p.allow_device_bound AS p_allow_device_bound,
         p.allow_synced AS p_allow_synced, p.enforcement AS p_enforcement, p.aaguids AS p_aaguids,
         p.block_compromised_models AS p_block_compromised_models, p.max_keys_per_user AS p_max_keys_per_user,
         p.created_at AS p_created_at, p.updated_at AS p_updated_at,
         (SELECT string_agg(g.group_id, ',' ORDER BY g.group_id) FROM policy_groups g WHERE g.policy_id = p.id AND g.kind = 'include') AS p_include_groups,
         (SELECT string_agg(g.group_id, ',' ORDER BY g.group_id) FROM policy_groups g WHERE g.policy_id = p.id AND g.kind = 'exclude') AS p_exclude_groups"
    };
}

/// Whether policy `p` targets the user whose id is the SQL expression `$user`: included
/// (everyone, or through a group) and not excluded through a group. Indexed by
/// `policy_groups`' and `group_members`' keys.
macro_rules! targets_user {
    ($user:literal) => {
        concat!(
            "(p.include_all OR EXISTS (SELECT 1 FROM policy_groups g JOIN group_members m ON m.group_id = g.group_id
                                   WHERE g.policy_id = p.id AND g.kind = 'include' AND m.user_id = ",
            $user,
            "))
         AND NOT EXISTS (SELECT 1 FROM policy_groups g JOIN group_members m ON m.group_id = g.group_id
                         WHERE g.policy_id = p.id AND g.kind = 'exclude' AND m.user_id = ",
            $user,
            ")"
        )
    };
}

pub(crate) static POLICY_SQL: PolicySql = PolicySql {
    insert_policy:
        "INSERT INTO policies (id, name, name_key, include_all, self_service_registration, user_verification,
                        attestation, allow_device_bound, allow_synced, enforcement, aaguids, block_compromised_models,
                        max_keys_per_user, created_at, updated_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    update_policy: "UPDATE policies SET name = $2, name_key = $3, include_all = $4, self_service_registration = $5,
                        user_verification = $6, attestation = $7, allow_device_bound = $8, allow_synced = $9,
                        enforcement = $10, aaguids = $11, block_compromised_models = $12, max_keys_per_user = $13,
                        updated_at = $14
                    WHERE id = $1",
    delete_policy: "DELETE FROM policies WHERE id = $1",
    insert_policy_group: "INSERT INTO policy_groups (policy_id, group_id, kind) VALUES ($1, $2, $3)",
    delete_policy_groups: "DELETE FROM policy_groups WHERE policy_id = $1",
    policy_by_id: concat!("SELECT ", policy_columns!(), " FROM policies p WHERE p.id = $1"),
    list_policies: concat!(
        "SELECT ",
        policy_columns!(),
        " FROM policies p ORDER BY p.name_key, p.id"
    ),
    // One row per targeting policy; without any, one row of NULL policy columns, so the
    // model's flag comes back either way.
    sign_in_policies: concat!(
        "SELECT ",
        policy_columns!(),
        ", (SELECT e.compromised FROM metadata_entries e WHERE e.aaguid = $2) AS model_compromised
         FROM (SELECT 1 AS one) o LEFT JOIN policies p ON ",
        targets_user!("$1"),
        " ORDER BY p.name_key, p.id"
    ),
    // The same, joined to the key and its owner: one row per targeting policy (or one with
    // NULL policy columns), each carrying the key (`c.*`, read by name) and its owner (`u_`).
    // The spent flag and the failure count (`peek`'s own statement) are the one row every
    // answer has; the key, its owner and their policies join to it (no key: one row, NULL
    // but for those two; `u.id` NULL targets no policy).
    sign_in_read: concat!(
        "SELECT s.ceremony_spent, s.failures, c.*, ",
        user_columns_u!(),
        ", ",
        policy_columns!(),
        ", (SELECT e.compromised FROM metadata_entries e WHERE e.aaguid = c.aaguid) AS model_compromised,
           (SELECT json_agg(g.name ORDER BY g.name_key, g.id)::text
              FROM user_groups g JOIN group_members m ON m.group_id = g.id WHERE m.user_id = u.id) AS member_of
         FROM (SELECT EXISTS (SELECT 1 FROM spent_ceremonies WHERE id = $2) AS ceremony_spent,
                      (",
        keyfleet_store_sql::failures_in_window!("$3", "$4", "$5"),
        ") AS failures) s
         LEFT JOIN (credentials c JOIN users u ON u.id = c.user_id) ON c.id = $1
         LEFT JOIN policies p ON u.id IS NOT NULL AND ",
        targets_user!("u.id"),
        " ORDER BY p.name_key, p.id"
    ),
};
