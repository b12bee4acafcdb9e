//! The group-policy statements, in PostgreSQL's dialect.

use keyfleet_store_sql::PolicySql;

/// The columns a policy is read with (`p` is `policies`).
macro_rules! policy_columns {
    () => {
        "p.id, p.name, p.include_all, p.self_service_registration, p.user_verification, p.attestation,
         p.allow_device_bound, p.allow_synced, p.enforcement, p.aaguids, p.block_compromised_models,
         p.max_keys_per_user, p.created_at, p.updated_at,
         (SELECT string_agg(g.group_id, ',' ORDER BY g.group_id) FROM policy_groups g WHERE g.policy_id = p.id AND g.kind = 'include') AS include_groups,
         (SELECT string_agg(g.group_id, ',' ORDER BY g.group_id) FROM policy_groups g WHERE g.policy_id = p.id AND g.kind = 'exclude') AS exclude_groups"
    };
}

/// Whether policy `p` targets the user `$1`: included (everyone, or through a group) and not
/// excluded through a group. Indexed by `policy_groups`' and `group_members`' keys.
macro_rules! targets_user {
    () => {
        "(p.include_all OR EXISTS (SELECT 1 FROM policy_groups g JOIN group_members m ON m.group_id = g.group_id
                                   WHERE g.policy_id = p.id AND g.kind = 'include' AND m.user_id = $1))
         AND NOT EXISTS (SELECT 1 FROM policy_groups g JOIN group_members m ON m.group_id = g.group_id
                         WHERE g.policy_id = p.id AND g.kind = 'exclude' AND m.user_id = $1)"
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
        targets_user!(),
        " ORDER BY p.name_key, p.id"
    ),
};
