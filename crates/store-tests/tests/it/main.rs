//! Runs the conformance suite against every store: SQLite in memory, SQLite in a temporary
//! file, and PostgreSQL in a throwaway database (which must be reachable: see
//! `keyfleet_store_tests::postgres`). Backend-specific checks (append-only triggers,
//! concurrent migration, matching migration directories) live in their own modules.

mod backends;
mod postgres;
mod schema;
mod sqlite;

/// One test per suite case and backend.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        /// Every case this binary runs, to check against `suite::CASES`.
        const RUN_CASES: &[&str] = &[$(stringify!($case)),*];

        mod sqlite_memory {
            $(
                #[tokio::test]
                async fn $case() {
                    let backend = crate::backends::Backend::sqlite_memory().await;
                    keyfleet_store_tests::suite::$case(&backend.stores).await;
                    backend.finish().await;
                }
            )*
        }

        mod sqlite_file {
            $(
                #[tokio::test]
                async fn $case() {
                    let backend = crate::backends::Backend::sqlite_file().await;
                    keyfleet_store_tests::suite::$case(&backend.stores).await;
                    backend.finish().await;
                }
            )*
        }

        mod postgres_db {
            $(
                #[tokio::test]
                async fn $case() {
                    let backend = crate::backends::Backend::postgres().await;
                    keyfleet_store_tests::suite::$case(&backend.stores).await;
                    backend.finish().await;
                }
            )*
        }
    };
}

conformance!(
    smoke,
    health_ping,
    user_round_trip,
    cancelled_writes_leave_nothing_half_done,
    finish_authentication_cancelled,
    user_unique_username,
    user_list_search_and_paging,
    user_update,
    user_disable_revokes_sessions,
    user_delete_cascades,
    bootstrap_admin_once,
    group_crud,
    group_membership,
    session_liveness,
    session_touch,
    session_revoke,
    session_list_and_purge,
    tap_issue_replace_delete,
    tap_redeem_rules,
    tap_redeem_race,
    client_crud,
    client_secrets,
    client_secret_limit_race,
    signing_keys,
    audit_filters_and_paging,
    rate_limit_window,
    rate_limit_race,
    credential_round_trip,
    credential_unique_across_users,
    credential_rename_delete_flag,
    ceremony_store_and_purge,
    finish_registration_once,
    finish_authentication_updates,
    finish_authentication_refusals,
    finish_authentication_race,
    finish_authentication_together,
    sign_count_race,
    revoke_credential_sessions,
    revoke_sessions_of_removed_keys,
    user_delete_cascades_webauthn,
    schema_ready,
    client_secret_upgrade,
    rate_limit_reserve,
    rate_limit_reserve_race,
    rate_limit_release,
    job_lease_rules,
    job_claim_race_one_handle,
    flag_possible_clone_rules,
    flag_possible_clone_race,
    nul_lookups_match_nothing,
    nul_writes_are_invalid,
    report_fleet_counts,
    report_keys_by_model,
    report_registration_rows_and_paging,
    report_registration_filters,
    metadata_import_and_lookup,
    metadata_rollback_keeps_last_good,
    metadata_import_race,
    oidc_application_round_trip,
    oidc_codes_and_refresh_tokens,
    oidc_code_redeem_race,
    oidc_backchannel_outbox,
    oidc_secrets_and_assertions,
    signing_key_rotation,
    oidc_consent_round_trip,
    strength_crud,
    strength_uniqueness,
    session_records_user_verification,
    policy_crud,
    policy_sign_in_read,
    metadata_validators_round_trip,
    directory_users_round_trip_and_filters,
    directory_users_replace_delete_purge,
    directory_groups,
    onbehalf_options_round_trip,
    onbehalf_options_consumed_once,
    group_rule_crud,
    shipment_orders,
    connector_claims_and_purge,
    collection_flags,
    groups_and_members_batched,
    mail_outbox_lifecycle,
    mail_claim_race,
    master_key_ring_and_columns,
);

#[test]
fn every_suite_case_runs() {
    let run: std::collections::BTreeSet<&str> = RUN_CASES.iter().copied().collect();
    assert_eq!(run, keyfleet_store_tests::suite::case_names());
}
