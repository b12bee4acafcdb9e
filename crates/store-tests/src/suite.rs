//! The conformance suite. Each function expects a [`Stores`] on an empty, migrated database
//! and panics with a message naming the rule a store broke.
//!
//! [`CASES`] lists every function that takes one store; [`bootstrap_admin_race`] takes two
//! handles on the same database (two processes starting together).

use std::collections::BTreeSet;
use std::fmt::Debug;

use keyfleet_domain::StoreError;
use keyfleet_domain::audit::{Action, Actor, AuditQuery, NewAuditEvent, Outcome, Target};
use keyfleet_domain::client::Scope;
use keyfleet_domain::ids::SessionId;
use keyfleet_domain::store::{SchemaState, StoreResult, Stores};
use keyfleet_domain::user::{Role, UserQuery, Username};
use keyfleet_domain::{GroupId, Timestamp, UserId};
use rand_core::OsRng;

use crate::fixtures::{self, HOUR, MINUTE, T0, all_audit, at, audit_actions, event, user, user_target};

mod directory;
mod limits;
mod mail;
mod metadata;
mod nul;
mod oidc;
mod oidc_consent;
mod onbehalf;
mod policies;
mod reports;
mod shipments;
mod strengths;
mod webauthn;

pub use directory::{directory_groups, directory_users_replace_delete_purge, directory_users_round_trip_and_filters};
pub use limits::{
    job_claim_race, job_claim_race_one_handle, job_lease_rules, rate_limit_release, rate_limit_reserve,
    rate_limit_reserve_race,
};
pub use mail::{mail_claim_race, mail_outbox_lifecycle, master_key_ring_and_columns};
pub use metadata::{
    metadata_import_and_lookup, metadata_import_race, metadata_rollback_keeps_last_good, metadata_validators_round_trip,
};
pub use nul::{nul_lookups_match_nothing, nul_writes_are_invalid};
pub use oidc::{
    oidc_application_round_trip, oidc_backchannel_outbox, oidc_code_redeem_race, oidc_codes_and_refresh_tokens,
    oidc_secrets_and_assertions,
};
pub use oidc_consent::oidc_consent_round_trip;
pub use onbehalf::{onbehalf_options_consumed_once, onbehalf_options_round_trip};
pub use policies::{policy_crud, policy_sign_in_read};
pub use reports::{
    report_fleet_counts, report_keys_by_model, report_registration_filters, report_registration_rows_and_paging,
};
pub use shipments::{
    collection_flags, connector_claims_and_purge, group_rule_crud, groups_and_members_batched, shipment_orders,
};
pub use strengths::{session_records_user_verification, strength_crud, strength_uniqueness};
pub use webauthn::{
    ceremony_store_and_purge, credential_rename_delete_flag, credential_round_trip, credential_unique_across_users,
    finish_authentication_cancelled, finish_authentication_race, finish_authentication_refusals,
    finish_authentication_together, finish_authentication_updates, finish_registration_once, flag_possible_clone_race,
    flag_possible_clone_rules, revoke_credential_sessions, revoke_sessions_of_removed_keys, sign_count_race,
    user_delete_cascades_webauthn,
};

/// Asserts `r` is `Conflict(rule)`.
#[track_caller]
pub fn assert_conflict<T: Debug>(r: StoreResult<T>, rule: &str) {
    match r {
        Err(StoreError::Conflict(got)) if got == rule => {}
        other => panic!("expected Conflict({rule:?}), got {other:?}"),
    }
}

/// Asserts `r` is `NotFound`.
#[track_caller]
pub fn assert_not_found<T: Debug>(r: StoreResult<T>) {
    match r {
        Err(StoreError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

/// Every case that runs on one fresh store, by name.
pub const CASES: &[&str] = &[
    "smoke",
    "health_ping",
    "user_round_trip",
    "cancelled_writes_leave_nothing_half_done",
    "finish_authentication_cancelled",
    "user_unique_username",
    "user_list_search_and_paging",
    "user_update",
    "user_disable_revokes_sessions",
    "user_delete_cascades",
    "bootstrap_admin_once",
    "group_crud",
    "group_membership",
    "session_liveness",
    "session_touch",
    "session_revoke",
    "session_list_and_purge",
    "tap_issue_replace_delete",
    "tap_redeem_rules",
    "tap_redeem_race",
    "client_crud",
    "client_secrets",
    "client_secret_limit_race",
    "signing_keys",
    "audit_filters_and_paging",
    "rate_limit_window",
    "rate_limit_race",
    "credential_round_trip",
    "credential_unique_across_users",
    "credential_rename_delete_flag",
    "ceremony_store_and_purge",
    "finish_registration_once",
    "finish_authentication_updates",
    "finish_authentication_refusals",
    "finish_authentication_race",
    "finish_authentication_together",
    "sign_count_race",
    "revoke_credential_sessions",
    "revoke_sessions_of_removed_keys",
    "user_delete_cascades_webauthn",
    "schema_ready",
    "client_secret_upgrade",
    "rate_limit_reserve",
    "rate_limit_reserve_race",
    "rate_limit_release",
    "job_lease_rules",
    "job_claim_race_one_handle",
    "flag_possible_clone_rules",
    "flag_possible_clone_race",
    "nul_lookups_match_nothing",
    "nul_writes_are_invalid",
    "report_fleet_counts",
    "report_keys_by_model",
    "report_registration_rows_and_paging",
    "report_registration_filters",
    "metadata_import_and_lookup",
    "metadata_rollback_keeps_last_good",
    "metadata_import_race",
    "oidc_application_round_trip",
    "oidc_codes_and_refresh_tokens",
    "oidc_code_redeem_race",
    "oidc_backchannel_outbox",
    "oidc_secrets_and_assertions",
    "signing_key_rotation",
    "oidc_consent_round_trip",
    "strength_crud",
    "strength_uniqueness",
    "session_records_user_verification",
    "policy_crud",
    "policy_sign_in_read",
    "metadata_validators_round_trip",
    "directory_users_round_trip_and_filters",
    "directory_users_replace_delete_purge",
    "directory_groups",
    "onbehalf_options_round_trip",
    "onbehalf_options_consumed_once",
    "group_rule_crud",
    "shipment_orders",
    "connector_claims_and_purge",
    "collection_flags",
    "groups_and_members_batched",
    "mail_outbox_lifecycle",
    "mail_claim_race",
    "master_key_ring_and_columns",
];

/// The basics a server needs first: create and read a user, open and find a session, issue
/// and redeem a TAP.
pub async fn smoke(s: &Stores) {
    let alice = user("alice");
    s.users
        .create_user(&alice, &event(Action::UserCreate, user_target(alice.id)))
        .await
        .expect("create user");
    assert_eq!(s.users.get_user(alice.id).await.unwrap().as_ref(), Some(&alice));

    let session = fixtures::default_session(alice.id);
    s.sessions
        .create_session(&session, &event(Action::AuthWebauthn, None))
        .await
        .expect("create session");
    let (found, owner) = s
        .sessions
        .find_live_session(&session.token_hash, at(MINUTE))
        .await
        .unwrap()
        .expect("session is live");
    assert_eq!((found, owner), (session, alice.clone()));

    let tap = fixtures::tap(alice.id, true, HOUR);
    s.taps
        .issue_tap(&tap, &event(Action::TapIssue, None))
        .await
        .expect("issue tap");
    let tap_session = fixtures::session(alice.id, at(MINUTE), 10 * MINUTE, HOUR);
    s.taps
        .redeem_tap(&tap, &tap_session, at(MINUTE), &event(Action::TapRedeem, None))
        .await
        .expect("redeem tap");
    assert!(
        s.sessions
            .find_live_session(&tap_session.token_hash, at(2 * MINUTE))
            .await
            .unwrap()
            .is_some()
    );
}

/// `ping` answers on a working database.
pub async fn health_ping(s: &Stores) {
    s.health.ping().await.expect("ping");
}

/// A freshly migrated database holds the schema this build expects, at its newest migration.
pub async fn schema_ready(s: &Stores) {
    assert_eq!(s.health.schema().await.unwrap(), SchemaState::Ready { version: 19 });
}

/// Every user attribute survives the round trip, through every lookup; the creation is
/// audited with every field of the event.
/// A write whose future is dropped at any point (a client that went away) commits whole or
/// not at all, and leaves the store usable: a transaction left open on a connection would
/// hold the write lock and block every later writer. The same write sent again then either
/// goes through or finds the user there (waiting, on PostgreSQL, for a cut-short statement
/// the server was still running): either way the user and its one audit event exist.
pub async fn cancelled_writes_leave_nothing_half_done(s: &Stores) {
    for step in 0..40u32 {
        let u = user(&format!("cancel-{step}"));
        let ev = event(Action::UserCreate, user_target(u.id));
        // Cut short after 0, 20, 40 … µs: before its BEGIN, in the middle, or after COMMIT.
        let cut = std::time::Duration::from_micros(u64::from(step) * 20);
        let _ = tokio::time::timeout(cut, s.users.create_user(&u, &ev)).await;
        match s.users.create_user(&u, &ev).await {
            // The same id, handle and username: whichever unique rule the database checks first.
            Ok(()) | Err(StoreError::Conflict("user_id" | "user_handle" | "username")) => {}
            other => panic!("step {step}: the same write again: {other:?}"),
        }
        assert!(s.users.get_user(u.id).await.unwrap().is_some(), "step {step}: the user");
        let target = format!("user:{}", u.id);
        let events = all_audit(s)
            .await
            .iter()
            .filter(|e| e.target.as_deref() == Some(target.as_str()))
            .count();
        assert_eq!(events, 1, "step {step}: one audit event with the user");
    }
}

pub async fn user_round_trip(s: &Stores) {
    let mut u = user("Bob.Builder+ops@example.com");
    u.manager_email = Some("boss@example.com".into());
    u.shipping_address = Some("1 Main St\nSpringfield".into());
    u.role = Role::Helpdesk;
    u.updated_at = at(5);
    let ev = NewAuditEvent::new(
        T0,
        &Actor::User(UserId::new_random(&mut OsRng)),
        Action::UserCreate,
        user_target(u.id),
        Some("req-9"),
    )
    .with_outcome(Outcome::Success)
    .with_detail(r#"{"role":"helpdesk"}"#.into());
    s.users.create_user(&u, &ev).await.expect("create");

    assert_eq!(s.users.get_user(u.id).await.unwrap().as_ref(), Some(&u), "get_user");
    assert_eq!(
        s.users.find_user_by_username(&u.username).await.unwrap().as_ref(),
        Some(&u),
        "find_user_by_username"
    );
    assert_eq!(
        s.users.find_user_by_handle(&u.user_handle).await.unwrap().as_ref(),
        Some(&u),
        "find_user_by_handle"
    );
    assert_eq!(s.users.get_user(UserId::new_random(&mut OsRng)).await.unwrap(), None);
    let other = Username::parse("nobody").unwrap();
    assert_eq!(s.users.find_user_by_username(&other).await.unwrap(), None);
    assert_eq!(s.users.find_user_by_handle(&[0u8; 32]).await.unwrap(), None);
    assert_eq!(s.users.count_users().await.unwrap(), 1);

    let log = all_audit(s).await;
    assert_eq!(log.len(), 1, "one audit event per change");
    assert_eq!(log[0], fixtures::stored(log[0].id, &ev), "the audit event round-trips");
}

/// A taken username is `Conflict("username")`, and the refused change leaves no audit event
/// (the audit insert shares the transaction).
pub async fn user_unique_username(s: &Stores) {
    let first = user("carol");
    s.users
        .create_user(&first, &event(Action::UserCreate, None))
        .await
        .unwrap();
    let second = user("carol");
    assert_conflict(
        s.users.create_user(&second, &event(Action::UserCreate, None)).await,
        "username",
    );
    assert_eq!(s.users.count_users().await.unwrap(), 1);
    assert_eq!(s.users.get_user(second.id).await.unwrap(), None);
    assert_eq!(
        audit_actions(s).await,
        ["user.create"],
        "a refused change is not audited"
    );
}

/// Search is a case-insensitive substring of username, display name or email, with `%`
/// and `_` taken literally; paging is keyset on username.
pub async fn user_list_search_and_paging(s: &Stores) {
    let mut names = vec!["dave", "erin", "a_b", "axb", "frank", "grace"];
    for name in &names {
        let mut u = user(name);
        if *name == "frank" {
            u.display_name = "Frank 100% Real".into();
        }
        if *name == "grace" {
            u.email = "Grace.Hopper@Navy.example".into();
        }
        s.users.create_user(&u, &event(Action::UserCreate, None)).await.unwrap();
    }
    names.sort_unstable();
    let list = |search: Option<&str>, after: Option<&str>, limit: u32| UserQuery {
        search: search.map(str::to_owned),
        after: after.map(str::to_owned),
        limit,
    };
    let usernames = |users: Vec<keyfleet_domain::user::User>| -> Vec<String> {
        users.into_iter().map(|u| u.username.as_str().to_owned()).collect()
    };

    let all = usernames(s.users.list_users(&list(None, None, 100)).await.unwrap());
    assert_eq!(all, names, "ordered by username");

    let page1 = usernames(s.users.list_users(&list(None, None, 2)).await.unwrap());
    assert_eq!(page1, ["a_b", "axb"]);
    let page2 = usernames(s.users.list_users(&list(None, Some("axb"), 2)).await.unwrap());
    assert_eq!(page2, ["dave", "erin"]);
    let page4 = usernames(s.users.list_users(&list(None, Some("grace"), 2)).await.unwrap());
    assert!(page4.is_empty());

    let hit = |q: &'static str| {
        let query = list(Some(q), None, 100);
        async move { usernames(s.users.list_users(&query).await.unwrap()) }
    };
    assert_eq!(hit("ERI").await, ["erin"], "username, case-insensitive");
    assert_eq!(hit("REAL").await, ["frank"], "display name, case-insensitive");
    assert_eq!(hit("navy.EXAMPLE").await, ["grace"], "email, case-insensitive");
    assert_eq!(hit("_").await, ["a_b"], "'_' is literal, not a wildcard");
    assert_eq!(hit("%").await, ["frank"], "'%' is literal, not a wildcard");
    assert_eq!(hit("a%b").await, Vec::<String>::new(), "'%' inside is literal");
    assert_eq!(hit("zzz").await, Vec::<String>::new());
    let filtered_page = usernames(
        s.users
            .list_users(&list(Some("example.com"), Some("dave"), 2))
            .await
            .unwrap(),
    );
    assert_eq!(filtered_page, ["erin", "frank"], "search and paging combine");
}

/// `update_user` replaces the mutable attributes and nothing else; an unknown id is
/// `NotFound` and leaves no audit event.
pub async fn user_update(s: &Stores) {
    let u = user("heidi");
    s.users.create_user(&u, &event(Action::UserCreate, None)).await.unwrap();
    let mut changed = u.clone();
    changed.display_name = "Heidi H.".into();
    changed.email = "heidi@corp.example".into();
    changed.manager_email = Some("m@corp.example".into());
    changed.shipping_address = Some("Elsewhere 2".into());
    changed.role = Role::Admin;
    changed.updated_at = at(HOUR);
    s.users
        .update_user(&changed, &event(Action::UserUpdate, None))
        .await
        .unwrap();
    assert_eq!(s.users.get_user(u.id).await.unwrap(), Some(changed.clone()));

    // The username, handle and creation time are not mutable attributes.
    let mut sneaky = changed.clone();
    sneaky.username = Username::parse("mallory").unwrap();
    sneaky.user_handle = vec![7; 32];
    sneaky.created_at = at(-HOUR);
    s.users
        .update_user(&sneaky, &event(Action::UserUpdate, None))
        .await
        .unwrap();
    assert_eq!(s.users.get_user(u.id).await.unwrap(), Some(changed.clone()));

    let ghost = user("ghost");
    assert_not_found(s.users.update_user(&ghost, &event(Action::UserUpdate, None)).await);
    assert_eq!(audit_actions(s).await, ["user.create", "user.update", "user.update"]);
}

/// Disabling a user revokes their sessions in the same transaction: they stay dead after
/// the user is enabled again. A disabled user's sessions are not found even if unrevoked.
pub async fn user_disable_revokes_sessions(s: &Stores) {
    let u = user("ivan");
    let other = user("judy");
    s.users.create_user(&u, &event(Action::UserCreate, None)).await.unwrap();
    s.users
        .create_user(&other, &event(Action::UserCreate, None))
        .await
        .unwrap();
    let s1 = fixtures::default_session(u.id);
    let s2 = fixtures::default_session(u.id);
    let s3 = fixtures::default_session(other.id);
    for sess in [&s1, &s2, &s3] {
        s.sessions
            .create_session(sess, &event(Action::AuthWebauthn, None))
            .await
            .unwrap();
    }
    let now = at(MINUTE);

    let mut disabled = u.clone();
    disabled.enabled = false;
    disabled.updated_at = now;
    s.users
        .update_user(&disabled, &event(Action::UserDisable, None))
        .await
        .unwrap();
    assert_eq!(s.sessions.find_live_session(&s1.token_hash, now).await.unwrap(), None);
    assert!(
        s.sessions.list_user_sessions(u.id, now).await.unwrap().is_empty(),
        "sessions revoked"
    );
    assert!(
        s.sessions
            .find_live_session(&s3.token_hash, now)
            .await
            .unwrap()
            .is_some(),
        "another user's session is untouched"
    );

    let mut enabled = disabled.clone();
    enabled.enabled = true;
    s.users
        .update_user(&enabled, &event(Action::UserEnable, None))
        .await
        .unwrap();
    assert_eq!(
        s.sessions.find_live_session(&s2.token_hash, now).await.unwrap(),
        None,
        "revoked, not merely hidden"
    );

    // A session created while the user is disabled (unrevoked) is still not live.
    let s4 = fixtures::default_session(u.id);
    s.sessions
        .create_session(&s4, &event(Action::AuthWebauthn, None))
        .await
        .unwrap();
    assert!(
        s.sessions
            .find_live_session(&s4.token_hash, now)
            .await
            .unwrap()
            .is_some()
    );
    let mut off = enabled.clone();
    off.enabled = false;
    s.users
        .update_user(&off, &event(Action::UserDisable, None))
        .await
        .unwrap();
    let s5 = fixtures::default_session(u.id);
    s.sessions
        .create_session(&s5, &event(Action::AuthWebauthn, None))
        .await
        .unwrap();
    assert_eq!(
        s.sessions.find_live_session(&s5.token_hash, now).await.unwrap(),
        None,
        "a disabled user's session is not live"
    );
}

/// Deleting a user removes their sessions, TAP and memberships; their audit history stays.
/// A second delete is `NotFound`, and the username is free again.
pub async fn user_delete_cascades(s: &Stores) {
    let u = user("ken");
    let keep = user("leo");
    s.users
        .create_user(&u, &event(Action::UserCreate, user_target(u.id)))
        .await
        .unwrap();
    s.users
        .create_user(&keep, &event(Action::UserCreate, user_target(keep.id)))
        .await
        .unwrap();
    let sess = fixtures::default_session(u.id);
    s.sessions
        .create_session(&sess, &event(Action::AuthWebauthn, user_target(u.id)))
        .await
        .unwrap();
    s.taps
        .issue_tap(
            &fixtures::tap(u.id, true, HOUR),
            &event(Action::TapIssue, user_target(u.id)),
        )
        .await
        .unwrap();
    let g = fixtures::group("Ops");
    s.groups
        .create_group(&g, &event(Action::GroupCreate, None))
        .await
        .unwrap();
    s.groups
        .add_member(g.id, u.id, &event(Action::GroupMemberAdd, None))
        .await
        .unwrap();
    s.groups
        .add_member(g.id, keep.id, &event(Action::GroupMemberAdd, None))
        .await
        .unwrap();

    s.users
        .delete_user(u.id, &event(Action::UserDelete, user_target(u.id)))
        .await
        .unwrap();
    assert_eq!(s.users.get_user(u.id).await.unwrap(), None);
    assert_eq!(
        s.sessions.find_live_session(&sess.token_hash, at(1)).await.unwrap(),
        None
    );
    assert!(s.sessions.list_user_sessions(u.id, at(1)).await.unwrap().is_empty());
    assert_eq!(s.taps.find_tap(u.id).await.unwrap(), None);
    let members: Vec<UserId> = s
        .groups
        .list_members(g.id)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(members, [keep.id]);
    assert!(s.groups.list_user_groups(u.id).await.unwrap().is_empty());
    assert_eq!(s.users.count_users().await.unwrap(), 1);

    let history = s
        .audit
        .list(&AuditQuery {
            target: Some(format!("user:{}", u.id)),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["user.delete", "tap.issue", "auth.webauthn", "user.create"],
        "audit stays"
    );

    assert_not_found(s.users.delete_user(u.id, &event(Action::UserDelete, None)).await);
    assert_eq!(all_audit(s).await.len(), 8, "a refused delete is not audited");
    s.users
        .create_user(&user("ken"), &event(Action::UserCreate, None))
        .await
        .expect("username free again");
}

/// The first bootstrap creates the administrator, their TAP and one audit event; every
/// later one returns false and writes nothing.
pub async fn bootstrap_admin_once(s: &Stores) {
    let mut admin = user("admin");
    admin.role = Role::Admin;
    let tap = fixtures::tap(admin.id, true, HOUR);
    let created = s
        .users
        .bootstrap_admin(&admin, &tap, &event(Action::SystemBootstrap, user_target(admin.id)))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(s.users.get_user(admin.id).await.unwrap(), Some(admin.clone()));
    assert_eq!(s.taps.find_tap(admin.id).await.unwrap(), Some(tap));

    let mut again = user("root");
    again.role = Role::Admin;
    let tap2 = fixtures::tap(again.id, true, HOUR);
    let created = s
        .users
        .bootstrap_admin(&again, &tap2, &event(Action::SystemBootstrap, None))
        .await
        .unwrap();
    assert!(!created, "the marker row decides once");
    assert_eq!(s.users.get_user(again.id).await.unwrap(), None);

    // Even when every user is gone, the instance has been bootstrapped.
    s.users
        .delete_user(admin.id, &event(Action::UserDelete, None))
        .await
        .unwrap();
    let created = s
        .users
        .bootstrap_admin(&again, &tap2, &event(Action::SystemBootstrap, None))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(s.users.count_users().await.unwrap(), 0);
    assert_eq!(audit_actions(s).await, ["system.bootstrap", "user.delete"]);
}

/// Two processes starting together on one database (`a` and `b` are two handles on it)
/// create exactly one administrator.
pub async fn bootstrap_admin_race(a: &Stores, b: &Stores) {
    let mut admin_a = user("admin-a");
    admin_a.role = Role::Admin;
    let mut admin_b = user("admin-b");
    admin_b.role = Role::Admin;
    let tap_a = fixtures::tap(admin_a.id, true, HOUR);
    let tap_b = fixtures::tap(admin_b.id, true, HOUR);
    let ev = event(Action::SystemBootstrap, None);
    let (ra, rb) = tokio::join!(
        a.users.bootstrap_admin(&admin_a, &tap_a, &ev),
        b.users.bootstrap_admin(&admin_b, &tap_b, &ev),
    );
    let (ra, rb) = (ra.expect("bootstrap a"), rb.expect("bootstrap b"));
    assert!(ra ^ rb, "exactly one bootstrap wins: {ra} {rb}");
    assert_eq!(a.users.count_users().await.unwrap(), 1);
    assert_eq!(audit_actions(a).await, ["system.bootstrap"]);
    let winner = if ra { &admin_a } else { &admin_b };
    assert!(b.taps.find_tap(winner.id).await.unwrap().is_some());
}

/// Groups: create, read, list by name, unique names ignoring case, delete.
pub async fn group_crud(s: &Stores) {
    let ops = fixtures::group("Ops");
    let admins = fixtures::group("admins");
    let zeta = fixtures::group("Zeta");
    for g in [&ops, &zeta, &admins] {
        s.groups
            .create_group(g, &event(Action::GroupCreate, None))
            .await
            .unwrap();
    }
    assert_eq!(s.groups.get_group(ops.id).await.unwrap(), Some(ops.clone()));
    assert_eq!(s.groups.get_group(GroupId::new_random(&mut OsRng)).await.unwrap(), None);
    let names: Vec<String> = s
        .groups
        .list_groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["admins", "Ops", "Zeta"], "ordered by name, ignoring case");

    assert_conflict(
        s.groups
            .create_group(&fixtures::group("OPS"), &event(Action::GroupCreate, None))
            .await,
        "group_name",
    );
    s.groups
        .delete_group(zeta.id, &event(Action::GroupDelete, None))
        .await
        .unwrap();
    assert_eq!(s.groups.get_group(zeta.id).await.unwrap(), None);
    assert_not_found(s.groups.delete_group(zeta.id, &event(Action::GroupDelete, None)).await);
    assert_eq!(
        audit_actions(s).await,
        ["group.create", "group.create", "group.create", "group.delete"]
    );
}

/// Membership: idempotent adds, ordered listings both ways, `NotFound` cases, and deleting
/// a group removes its memberships.
pub async fn group_membership(s: &Stores) {
    let (bob, amy) = (user("bob"), user("amy"));
    for u in [&bob, &amy] {
        s.users.create_user(u, &event(Action::UserCreate, None)).await.unwrap();
    }
    let (ops, dev) = (fixtures::group("ops"), fixtures::group("Dev"));
    for g in [&ops, &dev] {
        s.groups
            .create_group(g, &event(Action::GroupCreate, None))
            .await
            .unwrap();
    }
    s.groups
        .add_member(ops.id, bob.id, &event(Action::GroupMemberAdd, None))
        .await
        .unwrap();
    s.groups
        .add_member(ops.id, amy.id, &event(Action::GroupMemberAdd, None))
        .await
        .unwrap();
    s.groups
        .add_member(ops.id, amy.id, &event(Action::GroupMemberAdd, None))
        .await
        .expect("adding an existing member is a no-op");
    s.groups
        .add_member(dev.id, bob.id, &event(Action::GroupMemberAdd, None))
        .await
        .unwrap();

    let members: Vec<UserId> = s
        .groups
        .list_members(ops.id)
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(members, [amy.id, bob.id], "members ordered by username, no duplicates");
    let groups: Vec<GroupId> = s
        .groups
        .list_user_groups(bob.id)
        .await
        .unwrap()
        .iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(groups, [dev.id, ops.id], "groups ordered by name");
    assert_eq!(s.groups.list_user_groups(bob.id).await.unwrap()[0], dev);

    let before = all_audit(s).await.len();
    let ghost_user = UserId::new_random(&mut OsRng);
    let ghost_group = GroupId::new_random(&mut OsRng);
    assert_not_found(
        s.groups
            .add_member(ops.id, ghost_user, &event(Action::GroupMemberAdd, None))
            .await,
    );
    assert_not_found(
        s.groups
            .add_member(ghost_group, bob.id, &event(Action::GroupMemberAdd, None))
            .await,
    );
    assert_not_found(
        s.groups
            .remove_member(dev.id, amy.id, &event(Action::GroupMemberRemove, None))
            .await,
    );
    assert_eq!(all_audit(s).await.len(), before, "refused changes are not audited");

    s.groups
        .remove_member(ops.id, amy.id, &event(Action::GroupMemberRemove, None))
        .await
        .unwrap();
    let members: Vec<UserId> = s
        .groups
        .list_members(ops.id)
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(members, [bob.id]);
    assert_not_found(
        s.groups
            .remove_member(ops.id, amy.id, &event(Action::GroupMemberRemove, None))
            .await,
    );

    s.groups
        .delete_group(ops.id, &event(Action::GroupDelete, None))
        .await
        .unwrap();
    let groups: Vec<GroupId> = s
        .groups
        .list_user_groups(bob.id)
        .await
        .unwrap()
        .iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(groups, [dev.id], "deleting a group removes its memberships");
    assert!(s.groups.list_members(ops.id).await.unwrap().is_empty());
    assert!(
        s.users.get_user(bob.id).await.unwrap().is_some(),
        "members survive their group"
    );
}

/// A session is live strictly before its idle and absolute ends; unknown digests and
/// unknown users are handled.
pub async fn session_liveness(s: &Stores) {
    let u = user("mia");
    s.users.create_user(&u, &event(Action::UserCreate, None)).await.unwrap();
    let sess = fixtures::session(u.id, T0, 10 * MINUTE, HOUR);
    s.sessions
        .create_session(&sess, &event(Action::AuthWebauthn, None))
        .await
        .unwrap();
    let live = |t: Timestamp| {
        let hash = sess.token_hash;
        async move { s.sessions.find_live_session(&hash, t).await.unwrap().is_some() }
    };
    assert!(live(T0).await);
    assert!(live(at(10 * MINUTE - 1)).await, "idle end is exclusive");
    assert!(!live(at(10 * MINUTE)).await, "idle timeout");
    assert_eq!(
        s.sessions.find_live_session(&fixtures::digest(), T0).await.unwrap(),
        None
    );

    // Activity keeps it alive until the absolute end.
    for minute in [9, 18, 27, 36, 45, 54] {
        s.sessions.touch_session(sess.id, at(minute * MINUTE)).await.unwrap();
    }
    assert!(live(at(HOUR - 1)).await);
    assert!(!live(at(HOUR)).await, "absolute timeout, whatever the activity");

    // A huge idle timeout does not overflow.
    let forever = fixtures::session(u.id, T0, i64::MAX, HOUR);
    s.sessions
        .create_session(&forever, &event(Action::AuthWebauthn, None))
        .await
        .unwrap();
    assert!(
        s.sessions
            .find_live_session(&forever.token_hash, at(1))
            .await
            .unwrap()
            .is_some()
    );

    assert_not_found(
        s.sessions
            .create_session(
                &fixtures::default_session(UserId::new_random(&mut OsRng)),
                &event(Action::AuthWebauthn, None),
            )
            .await,
    );
    assert_eq!(
        audit_actions(s).await,
        ["user.create", "auth.webauthn", "auth.webauthn"]
    );
}

/// `touch_session` records activity, never moves it backwards, and names unknown sessions.
pub async fn session_touch(s: &Stores) {
    let u = user("nia");
    s.users.create_user(&u, &event(Action::UserCreate, None)).await.unwrap();
    let sess = fixtures::session(u.id, T0, 10 * MINUTE, HOUR);
    s.sessions
        .create_session(&sess, &event(Action::AuthWebauthn, None))
        .await
        .unwrap();
    s.sessions.touch_session(sess.id, at(5 * MINUTE)).await.unwrap();
    s.sessions.touch_session(sess.id, at(2 * MINUTE)).await.unwrap();
    let (found, _) = s
        .sessions
        .find_live_session(&sess.token_hash, at(14 * MINUTE))
        .await
        .unwrap()
        .expect("touched session is live");
    assert_eq!(found.last_seen_at, at(5 * MINUTE), "last_seen_at never moves backwards");
    assert_not_found(s.sessions.touch_session(SessionId::new_random(&mut OsRng), T0).await);
}

/// Revoking one session, then all of a user's: counts, `NotFound` cases, audit.
pub async fn session_revoke(s: &Stores) {
    let (u, other) = (user("olga"), user("pete"));
    for x in [&u, &other] {
        s.users.create_user(x, &event(Action::UserCreate, None)).await.unwrap();
    }
    let one = fixtures::default_session(u.id);
    s.sessions
        .create_session(&one, &event(Action::AuthWebauthn, None))
        .await
        .unwrap();
    s.sessions
        .revoke_session(one.id, &event(Action::SessionRevoke, None))
        .await
        .unwrap();
    assert_eq!(
        s.sessions.find_live_session(&one.token_hash, at(1)).await.unwrap(),
        None
    );
    assert_not_found(
        s.sessions
            .revoke_session(one.id, &event(Action::SessionRevoke, None))
            .await,
    );
    assert_not_found(
        s.sessions
            .revoke_session(SessionId::new_random(&mut OsRng), &event(Action::SessionRevoke, None))
            .await,
    );

    // At the event's time: two live sessions, one idled out, one already revoked.
    let live1 = fixtures::default_session(u.id);
    let live2 = fixtures::default_session(u.id);
    let idle = fixtures::session(u.id, T0, MINUTE, HOUR);
    let theirs = fixtures::default_session(other.id);
    for x in [&live1, &live2, &idle, &theirs] {
        s.sessions
            .create_session(x, &event(Action::AuthWebauthn, None))
            .await
            .unwrap();
    }
    let mut ev = event(Action::SessionRevokeAll, user_target(u.id));
    ev.at = at(5 * MINUTE);
    assert_eq!(
        s.sessions.revoke_user_sessions(u.id, &ev).await.unwrap(),
        2,
        "counts live sessions"
    );
    assert!(
        s.sessions
            .list_user_sessions(u.id, at(5 * MINUTE))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.sessions
            .find_live_session(&theirs.token_hash, at(5 * MINUTE))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(s.sessions.revoke_user_sessions(u.id, &ev).await.unwrap(), 0);
    let actions = audit_actions(s).await;
    assert_eq!(
        actions.iter().filter(|a| a.as_str() == "session.revoke").count(),
        1,
        "refused revocations are not audited"
    );
    assert_eq!(actions.iter().filter(|a| a.as_str() == "session.revoke_all").count(), 2);
}

/// Listing returns live, unrevoked sessions newest first; purging deletes sessions that
/// ended (revoked, expired or idled out) before the cut-off.
pub async fn session_list_and_purge(s: &Stores) {
    let u = user("quinn");
    s.users.create_user(&u, &event(Action::UserCreate, None)).await.unwrap();
    let old = fixtures::session(u.id, T0, HOUR, 8 * HOUR);
    let newer = fixtures::session(u.id, at(MINUTE), HOUR, 8 * HOUR);
    let newest = fixtures::session(u.id, at(2 * MINUTE), HOUR, 8 * HOUR);
    let idled = fixtures::session(u.id, T0, 5 * MINUTE, 8 * HOUR);
    let expired = fixtures::session(u.id, T0, HOUR, 10 * MINUTE);
    let revoked = fixtures::session(u.id, at(3 * MINUTE), HOUR, 8 * HOUR);
    for x in [&old, &newer, &newest, &idled, &expired, &revoked] {
        s.sessions
            .create_session(x, &event(Action::AuthWebauthn, None))
            .await
            .unwrap();
    }
    let mut ev = event(Action::SessionRevoke, None);
    ev.at = at(4 * MINUTE);
    s.sessions.revoke_session(revoked.id, &ev).await.unwrap();

    let now = at(20 * MINUTE);
    let listed: Vec<SessionId> = s
        .sessions
        .list_user_sessions(u.id, now)
        .await
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(listed, [newest.id, newer.id, old.id], "live sessions, newest first");
    assert_eq!(s.sessions.list_user_sessions(u.id, now).await.unwrap()[0], newest);

    // Ends: idled at +5 min, revoked at +4 min, expired at +10 min.
    assert_eq!(s.sessions.purge_sessions(at(3 * MINUTE)).await.unwrap(), 0);
    assert_eq!(
        s.sessions.purge_sessions(at(6 * MINUTE)).await.unwrap(),
        2,
        "revoked and idled"
    );
    assert_eq!(s.sessions.purge_sessions(now).await.unwrap(), 1, "expired");
    assert_eq!(s.sessions.purge_sessions(now).await.unwrap(), 0);
    assert_eq!(
        s.sessions.list_user_sessions(u.id, now).await.unwrap().len(),
        3,
        "live ones stay"
    );
}

/// Issuing replaces the user's TAP (the old one can no longer be redeemed); delete and the
/// `NotFound` cases.
pub async fn tap_issue_replace_delete(s: &Stores) {
    let u = user("rita");
    s.users.create_user(&u, &event(Action::UserCreate, None)).await.unwrap();
    assert_eq!(s.taps.find_tap(u.id).await.unwrap(), None);
    let first = fixtures::tap(u.id, true, HOUR);
    s.taps.issue_tap(&first, &event(Action::TapIssue, None)).await.unwrap();
    assert_eq!(s.taps.find_tap(u.id).await.unwrap(), Some(first.clone()));

    let second = fixtures::tap(u.id, false, 2 * HOUR);
    s.taps.issue_tap(&second, &event(Action::TapIssue, None)).await.unwrap();
    assert_eq!(
        s.taps.find_tap(u.id).await.unwrap(),
        Some(second.clone()),
        "one TAP per user"
    );
    let sess = fixtures::default_session(u.id);
    assert_conflict(
        s.taps
            .redeem_tap(&first, &sess, at(1), &event(Action::TapRedeem, None))
            .await,
        "tap_used",
    );

    assert_not_found(
        s.taps
            .issue_tap(
                &fixtures::tap(UserId::new_random(&mut OsRng), true, HOUR),
                &event(Action::TapIssue, None),
            )
            .await,
    );
    s.taps.delete_tap(u.id, &event(Action::TapDelete, None)).await.unwrap();
    assert_eq!(s.taps.find_tap(u.id).await.unwrap(), None);
    assert_not_found(s.taps.delete_tap(u.id, &event(Action::TapDelete, None)).await);
    assert_conflict(
        s.taps
            .redeem_tap(&second, &sess, at(1), &event(Action::TapRedeem, None))
            .await,
        "tap_used",
    );
    assert_eq!(
        audit_actions(s).await,
        ["user.create", "tap.issue", "tap.issue", "tap.delete"]
    );
}

/// One-time TAPs redeem once, multi-use ones until they expire; a refused redemption
/// writes no session and no audit event.
pub async fn tap_redeem_rules(s: &Stores) {
    let (u, v) = (user("sam"), user("tess"));
    for x in [&u, &v] {
        s.users.create_user(x, &event(Action::UserCreate, None)).await.unwrap();
    }
    let once = fixtures::tap(u.id, true, HOUR);
    s.taps.issue_tap(&once, &event(Action::TapIssue, None)).await.unwrap();
    let s1 = fixtures::session(u.id, at(MINUTE), 10 * MINUTE, HOUR);
    s.taps
        .redeem_tap(&once, &s1, at(MINUTE), &event(Action::TapRedeem, None))
        .await
        .unwrap();
    assert_eq!(s.taps.find_tap(u.id).await.unwrap().map(|t| t.use_count), Some(1));
    assert!(
        s.sessions
            .find_live_session(&s1.token_hash, at(MINUTE))
            .await
            .unwrap()
            .is_some()
    );

    let s2 = fixtures::session(u.id, at(2 * MINUTE), 10 * MINUTE, HOUR);
    assert_conflict(
        s.taps
            .redeem_tap(&once, &s2, at(2 * MINUTE), &event(Action::TapRedeem, None))
            .await,
        "tap_used",
    );
    assert_eq!(
        s.sessions
            .find_live_session(&s2.token_hash, at(2 * MINUTE))
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.taps.find_tap(u.id).await.unwrap().map(|t| t.use_count), Some(1));

    let multi = fixtures::tap(v.id, false, HOUR);
    s.taps.issue_tap(&multi, &event(Action::TapIssue, None)).await.unwrap();
    for i in 1..=3 {
        let sess = fixtures::session(v.id, at(i * MINUTE), 10 * MINUTE, HOUR);
        s.taps
            .redeem_tap(&multi, &sess, at(i * MINUTE), &event(Action::TapRedeem, None))
            .await
            .unwrap();
    }
    assert_eq!(s.taps.find_tap(v.id).await.unwrap().map(|t| t.use_count), Some(3));
    let late = fixtures::session(v.id, at(HOUR), 10 * MINUTE, HOUR);
    assert_conflict(
        s.taps
            .redeem_tap(&multi, &late, at(HOUR), &event(Action::TapRedeem, None))
            .await,
        "tap_used",
    );
    assert_eq!(
        s.sessions.list_user_sessions(v.id, at(4 * MINUTE)).await.unwrap().len(),
        3
    );
    let redeemed = audit_actions(s)
        .await
        .iter()
        .filter(|a| a.as_str() == "tap.redeem")
        .count();
    assert_eq!(redeemed, 4, "only successful redemptions are audited");
}

/// Two concurrent redemptions of a one-time TAP: exactly one wins.
pub async fn tap_redeem_race(s: &Stores) {
    let u = user("uma");
    s.users.create_user(&u, &event(Action::UserCreate, None)).await.unwrap();
    let tap = fixtures::tap(u.id, true, HOUR);
    s.taps.issue_tap(&tap, &event(Action::TapIssue, None)).await.unwrap();
    let (a, b) = (fixtures::default_session(u.id), fixtures::default_session(u.id));
    let ev = event(Action::TapRedeem, None);
    let (ra, rb) = tokio::join!(
        s.taps.redeem_tap(&tap, &a, at(1), &ev),
        s.taps.redeem_tap(&tap, &b, at(1), &ev),
    );
    let wins = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "exactly one redemption succeeds: {ra:?} {rb:?}");
    let loser = if ra.is_ok() { rb } else { ra };
    assert_conflict(loser, "tap_used");
    assert_eq!(s.sessions.list_user_sessions(u.id, at(2)).await.unwrap().len(), 1);
    assert_eq!(s.taps.find_tap(u.id).await.unwrap().map(|t| t.use_count), Some(1));
}

/// Clients: create with a first secret, read, list by name, enable/disable, delete with
/// secrets; duplicates and unknown ids.
pub async fn client_crud(s: &Stores) {
    let c1 = fixtures::client("kfc_one", "Zeta sync");
    let mut c2 = fixtures::client("kfc_two", "Alpha import");
    c2.scopes = Scope::ALL.to_vec();
    c2.enabled = false;
    let sec1 = fixtures::secret("kfc_one", 0);
    s.clients
        .create_client(&c1, &sec1, &event(Action::ClientCreate, None))
        .await
        .unwrap();
    s.clients
        .create_client(&c2, &fixtures::secret("kfc_two", 0), &event(Action::ClientCreate, None))
        .await
        .unwrap();
    assert_eq!(s.clients.get_client("kfc_one").await.unwrap(), Some(c1.clone()));
    assert_eq!(s.clients.get_client("kfc_two").await.unwrap(), Some(c2.clone()));
    assert_eq!(s.clients.get_client("kfc_nope").await.unwrap(), None);
    assert_eq!(
        s.clients.list_clients().await.unwrap(),
        [c2.clone(), c1.clone()],
        "ordered by name"
    );
    assert_eq!(s.clients.list_secrets("kfc_one").await.unwrap(), [sec1]);

    assert_conflict(
        s.clients
            .create_client(
                &fixtures::client("kfc_one", "Again"),
                &fixtures::secret("kfc_one", 1),
                &event(Action::ClientCreate, None),
            )
            .await,
        "client_id",
    );
    assert_eq!(
        s.clients.list_secrets("kfc_one").await.unwrap().len(),
        1,
        "nothing written"
    );

    s.clients
        .set_client_enabled("kfc_one", false, &event(Action::ClientDisable, None))
        .await
        .unwrap();
    assert!(!s.clients.get_client("kfc_one").await.unwrap().unwrap().enabled);
    s.clients
        .set_client_enabled("kfc_one", true, &event(Action::ClientEnable, None))
        .await
        .unwrap();
    assert!(s.clients.get_client("kfc_one").await.unwrap().unwrap().enabled);
    assert_not_found(
        s.clients
            .set_client_enabled("kfc_nope", true, &event(Action::ClientEnable, None))
            .await,
    );

    s.clients
        .delete_client("kfc_one", &event(Action::ClientDelete, None))
        .await
        .unwrap();
    assert_eq!(s.clients.get_client("kfc_one").await.unwrap(), None);
    assert!(
        s.clients.list_secrets("kfc_one").await.unwrap().is_empty(),
        "secrets go with the client"
    );
    assert_not_found(
        s.clients
            .delete_client("kfc_one", &event(Action::ClientDelete, None))
            .await,
    );
    assert_eq!(
        audit_actions(s).await,
        [
            "client.create",
            "client.create",
            "client.disable",
            "client.enable",
            "client.delete"
        ]
    );
}

/// Secrets: the limit (checked in the transaction), oldest-first listing, expiry set and
/// cleared, delete, and `NotFound` for another client's secret.
pub async fn client_secrets(s: &Stores) {
    let first = fixtures::secret("kfc_a", 0);
    s.clients
        .create_client(
            &fixtures::client("kfc_a", "A"),
            &first,
            &event(Action::ClientCreate, None),
        )
        .await
        .unwrap();
    s.clients
        .create_client(
            &fixtures::client("kfc_b", "B"),
            &fixtures::secret("kfc_b", 0),
            &event(Action::ClientCreate, None),
        )
        .await
        .unwrap();
    let second = fixtures::secret("kfc_a", MINUTE);
    s.clients
        .add_secret(&second, 2, &event(Action::ClientSecretAdd, None))
        .await
        .unwrap();
    let third = fixtures::secret("kfc_a", 2 * MINUTE);
    assert_conflict(
        s.clients
            .add_secret(&third, 2, &event(Action::ClientSecretAdd, None))
            .await,
        "secret_limit",
    );
    assert_eq!(
        s.clients.list_secrets("kfc_a").await.unwrap(),
        [first.clone(), second.clone()],
        "oldest first"
    );
    // The token endpoint's one read: the client with its secrets, oldest first.
    assert_eq!(
        s.clients.client_with_secrets("kfc_a").await.unwrap(),
        Some((
            s.clients.get_client("kfc_a").await.unwrap().unwrap(),
            vec![first.clone(), second.clone()]
        ))
    );
    assert_eq!(s.clients.client_with_secrets("kfc_nope").await.unwrap(), None);
    let b_secrets = s.clients.list_secrets("kfc_b").await.unwrap();
    s.clients
        .delete_secret("kfc_b", b_secrets[0].id, &event(Action::ClientSecretRevoke, None))
        .await
        .unwrap();
    let (b, none) = s.clients.client_with_secrets("kfc_b").await.unwrap().unwrap();
    assert_eq!(
        (b.client_id.as_str(), none),
        ("kfc_b", vec![]),
        "a client without secrets"
    );
    assert_not_found(
        s.clients
            .add_secret(
                &fixtures::secret("kfc_nope", 0),
                2,
                &event(Action::ClientSecretAdd, None),
            )
            .await,
    );

    s.clients
        .set_secret_expiry(
            "kfc_a",
            first.id,
            Some(at(HOUR)),
            &event(Action::ClientSecretPhaseOut, None),
        )
        .await
        .unwrap();
    assert_eq!(
        s.clients.list_secrets("kfc_a").await.unwrap()[0].expires_at,
        Some(at(HOUR))
    );
    s.clients
        .set_secret_expiry("kfc_a", first.id, None, &event(Action::ClientSecretPhaseOut, None))
        .await
        .unwrap();
    assert_eq!(s.clients.list_secrets("kfc_a").await.unwrap()[0].expires_at, None);
    assert_not_found(
        s.clients
            .set_secret_expiry("kfc_b", first.id, None, &event(Action::ClientSecretPhaseOut, None))
            .await,
    );

    assert_not_found(
        s.clients
            .delete_secret("kfc_b", first.id, &event(Action::ClientSecretRevoke, None))
            .await,
    );
    s.clients
        .delete_secret("kfc_a", first.id, &event(Action::ClientSecretRevoke, None))
        .await
        .unwrap();
    assert_not_found(
        s.clients
            .delete_secret("kfc_a", first.id, &event(Action::ClientSecretRevoke, None))
            .await,
    );
    s.clients
        .add_secret(&third, 2, &event(Action::ClientSecretAdd, None))
        .await
        .expect("room again");
    assert_eq!(s.clients.list_secrets("kfc_a").await.unwrap(), [second, third]);
    assert_eq!(
        audit_actions(s).await,
        [
            "client.create",
            "client.create",
            "client.secret.add",
            "client.secret.revoke",
            "client.secret.phase_out",
            "client.secret.phase_out",
            "client.secret.revoke",
            "client.secret.add"
        ],
        "refused changes are not audited"
    );
}

/// Concurrent additions cannot exceed the limit.
pub async fn client_secret_limit_race(s: &Stores) {
    s.clients
        .create_client(
            &fixtures::client("kfc_r", "R"),
            &fixtures::secret("kfc_r", 0),
            &event(Action::ClientCreate, None),
        )
        .await
        .unwrap();
    let (a, b, c) = (
        fixtures::secret("kfc_r", 1),
        fixtures::secret("kfc_r", 2),
        fixtures::secret("kfc_r", 3),
    );
    let ev = event(Action::ClientSecretAdd, None);
    let (ra, rb, rc) = tokio::join!(
        s.clients.add_secret(&a, 2, &ev),
        s.clients.add_secret(&b, 2, &ev),
        s.clients.add_secret(&c, 2, &ev),
    );
    let wins = [&ra, &rb, &rc].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "one addition fits: {ra:?} {rb:?} {rc:?}");
    for r in [ra, rb, rc] {
        if r.is_err() {
            assert_conflict(r, "secret_limit");
        }
    }
    assert_eq!(s.clients.list_secrets("kfc_r").await.unwrap().len(), 2);
}

/// At most one active key; listing is active first, then newest first.
pub async fn signing_keys(s: &Stores) {
    assert!(s.signing_keys.list_signing_keys().await.unwrap().is_empty());
    let old = fixtures::signing_key("k-old", 0, false);
    let active = fixtures::signing_key("k-active", MINUTE, true);
    let newer = fixtures::signing_key("k-new", 2 * MINUTE, false);
    s.signing_keys.insert_signing_key(&old).await.unwrap();
    s.signing_keys.insert_signing_key(&active).await.unwrap();
    assert_conflict(
        s.signing_keys
            .insert_signing_key(&fixtures::signing_key("k-rival", 3 * MINUTE, true))
            .await,
        "active_key",
    );
    s.signing_keys
        .insert_signing_key(&newer)
        .await
        .expect("inactive keys are unlimited");
    assert_conflict(
        s.signing_keys
            .insert_signing_key(&fixtures::signing_key("k-old", 4 * MINUTE, false))
            .await,
        "kid",
    );
    assert_eq!(s.signing_keys.list_signing_keys().await.unwrap(), [active, newer, old]);
}

/// A waiting key is promoted once (the active one retired in the same transaction); retired
/// keys are purged after their time, the active and waiting ones never.
pub async fn signing_key_rotation(s: &Stores) {
    let active = fixtures::signing_key("k-1", 0, true);
    let waiting = keyfleet_domain::signing_key::StoredSigningKey {
        activates_at: Some(at(10 * MINUTE)),
        ..fixtures::signing_key("k-2", MINUTE, false)
    };
    s.signing_keys.insert_signing_key(&active).await.unwrap();
    s.signing_keys.insert_signing_key(&waiting).await.unwrap();
    assert_eq!(
        s.signing_keys.list_signing_keys().await.unwrap(),
        [active.clone(), waiting.clone()]
    );
    let promote = event(Action::SigningKeyPromote, None);
    assert!(
        !s.signing_keys
            .promote_signing_key("k-1", at(11 * MINUTE), &promote)
            .await
            .unwrap()
    );
    assert!(
        !s.signing_keys
            .promote_signing_key("k-nope", at(11 * MINUTE), &promote)
            .await
            .unwrap()
    );
    assert!(
        s.signing_keys
            .promote_signing_key("k-2", at(11 * MINUTE), &promote)
            .await
            .unwrap()
    );
    assert!(
        !s.signing_keys
            .promote_signing_key("k-2", at(12 * MINUTE), &promote)
            .await
            .unwrap()
    );
    let keys = s.signing_keys.list_signing_keys().await.unwrap();
    assert_eq!(
        (keys[0].kid.as_str(), keys[0].active, keys[0].activates_at),
        ("k-2", true, None)
    );
    assert_eq!(
        (keys[1].kid.as_str(), keys[1].active, keys[1].retired_at),
        ("k-1", false, Some(at(11 * MINUTE)))
    );
    let purge = event(Action::SigningKeyPurge, None);
    assert_eq!(
        s.signing_keys
            .purge_signing_keys(at(10 * MINUTE), &purge)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.signing_keys
            .purge_signing_keys(at(11 * MINUTE), &purge)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.signing_keys
            .purge_signing_keys(at(999 * MINUTE), &purge)
            .await
            .unwrap(),
        0
    );
    let keys = s.signing_keys.list_signing_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid, "k-2");
    let actions = audit_actions(s).await;
    assert_eq!(
        actions.iter().filter(|a| a.starts_with("signing_key.")).count(),
        2,
        "{actions:?}"
    );
}

/// Upgrading a secret's digest is a compare-and-set: it replaces the digest only while it
/// still is the one read, and is audited with it; otherwise `NotFound` and nothing changes.
pub async fn client_secret_upgrade(s: &Stores) {
    let first = fixtures::secret("kfc_u", 0);
    s.clients
        .create_client(
            &fixtures::client("kfc_u", "U"),
            &first,
            &event(Action::ClientCreate, None),
        )
        .await
        .unwrap();
    let other = fixtures::secret("kfc_v", 0);
    s.clients
        .create_client(
            &fixtures::client("kfc_v", "V"),
            &other,
            &event(Action::ClientCreate, None),
        )
        .await
        .unwrap();
    let before = all_audit(s).await.len();
    let rehash = || event(Action::ClientSecretRehash, Some(Target::Client("kfc_u".into())));
    let c = &s.clients;

    c.upgrade_secret_hash("kfc_u", first.id, &first.secret_hash, "$argon2id$new", &rehash())
        .await
        .expect("upgrade");
    let upgraded = c.list_secrets("kfc_u").await.unwrap();
    assert_eq!(upgraded.len(), 1);
    assert_eq!(upgraded[0].secret_hash, "$argon2id$new");
    assert_eq!((upgraded[0].id, upgraded[0].created_at), (first.id, first.created_at));

    assert_not_found(
        c.upgrade_secret_hash("kfc_u", first.id, &first.secret_hash, "$argon2id$late", &rehash())
            .await,
    );
    assert_not_found(
        c.upgrade_secret_hash("kfc_v", first.id, "$argon2id$new", "$argon2id$x", &rehash())
            .await,
    );
    assert_not_found(
        c.upgrade_secret_hash("kfc_u", other.id, &other.secret_hash, "$argon2id$x", &rehash())
            .await,
    );
    assert_eq!(c.list_secrets("kfc_u").await.unwrap()[0].secret_hash, "$argon2id$new");
    assert_eq!(c.list_secrets("kfc_v").await.unwrap(), [other]);
    let log = all_audit(s).await;
    assert_eq!(log.len(), before + 1, "only the upgrade is audited");
    assert_eq!(
        (log[0].action.as_str(), log[0].target.as_deref()),
        ("client.secret.rehash", Some("client:kfc_u"))
    );
}

/// Filters (actor, target, exact action, action prefix, time range, actor-or-target,
/// request id), newest-first order, keyset paging, and reading one event by id.
pub async fn audit_filters_and_paging(s: &Stores) {
    let (a, u1, u2) = (
        UserId::new_random(&mut OsRng),
        UserId::new_random(&mut OsRng),
        UserId::new_random(&mut OsRng),
    );
    let mk = |minute: i64, actor: Actor, action: Action, target: Option<Target>| NewAuditEvent {
        at: at(minute * MINUTE),
        actor,
        action,
        target,
        outcome: Outcome::Success,
        request_id: None,
        detail: None,
    };
    let events = [
        mk(0, Actor::System, Action::UserCreate, Some(Target::User(u1))),
        NewAuditEvent {
            request_id: Some("req-a".into()),
            ..mk(1, Actor::User(a), Action::UserUpdate, Some(Target::User(u1)))
        },
        NewAuditEvent {
            request_id: Some("req-a".into()),
            ..mk(2, Actor::User(a), Action::GroupCreate, None)
        },
        mk(
            3,
            Actor::Client("c".into()),
            Action::GroupMemberAdd,
            Some(Target::User(u2)),
        ),
        mk(4, Actor::User(u1), Action::AuthWebauthn, None).with_outcome(Outcome::Failure),
        NewAuditEvent {
            request_id: Some("req-b".into()),
            ..mk(5, Actor::User(a), Action::UserDelete, Some(Target::User(u2))).with_outcome(Outcome::Denied)
        },
        mk(6, Actor::System, Action::SystemBootstrap, None),
    ];
    for e in &events {
        s.audit.append(e).await.unwrap();
    }
    let query = |f: &dyn Fn(&mut AuditQuery)| {
        let mut q = AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        };
        f(&mut q);
        async move {
            s.audit
                .list(&q)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.at.as_millis() - T0.as_millis())
                .map(|ms| ms / MINUTE)
                .collect::<Vec<i64>>()
        }
    };

    let all = all_audit(s).await;
    assert_eq!(all.len(), 7);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest (highest id) first");
    let written: Vec<_> = all
        .iter()
        .rev()
        .zip(&events)
        .map(|(s, e)| fixtures::stored(s.id, e))
        .collect();
    assert_eq!(
        all.iter().rev().cloned().collect::<Vec<_>>(),
        written,
        "events round-trip"
    );

    assert_eq!(query(&|q| q.actor = Some(format!("user:{a}"))).await, [5, 2, 1]);
    assert_eq!(query(&|q| q.actor = Some("client:c".into())).await, [3]);
    assert_eq!(query(&|q| q.target = Some(format!("user:{u2}"))).await, [5, 3]);
    assert_eq!(
        query(&|q| q.action = Some("user.create".into())).await,
        [0],
        "exact, case-sensitive"
    );
    assert_eq!(query(&|q| q.action = Some("user.".into())).await, [5, 1, 0], "prefix");
    assert_eq!(query(&|q| q.action = Some("group.".into())).await, [3, 2]);
    assert_eq!(query(&|q| q.action = Some("group.member.".into())).await, [3]);
    for literal in ["USER.", "use_.", "%.", "us%."] {
        assert_eq!(
            query(&|q| q.action = Some(literal.into())).await,
            Vec::<i64>::new(),
            "a prefix is literal and case-sensitive: {literal}"
        );
    }
    assert_eq!(
        query(&|q| q.action = Some("user".into())).await,
        Vec::<i64>::new(),
        "no prefix without '.'"
    );
    assert_eq!(
        query(&|q| q.since = Some(at(2 * MINUTE))).await,
        [6, 5, 4, 3, 2],
        "since is inclusive"
    );
    assert_eq!(
        query(&|q| q.until = Some(at(2 * MINUTE))).await,
        [1, 0],
        "until is exclusive"
    );
    assert_eq!(
        query(&|q| {
            q.actor = Some(format!("user:{a}"));
            q.action = Some("user.".into());
            q.since = Some(at(MINUTE));
        })
        .await,
        [5, 1],
        "filters combine"
    );
    assert_eq!(
        query(&|q| q.involving = Some(format!("user:{u1}"))).await,
        [4, 1, 0],
        "involving: as actor or as target"
    );
    assert_eq!(query(&|q| q.involving = Some(format!("user:{u2}"))).await, [5, 3]);
    assert_eq!(
        query(&|q| {
            q.involving = Some(format!("user:{u1}"));
            q.actor = Some(format!("user:{a}"));
        })
        .await,
        [1],
        "involving combines with the other filters"
    );
    assert_eq!(query(&|q| q.request_id = Some("req-a".into())).await, [2, 1]);
    assert_eq!(
        query(&|q| q.request_id = Some("req-".into())).await,
        Vec::<i64>::new(),
        "exact"
    );

    // One event by id; an id that was never written is none.
    for e in &all {
        assert_eq!(s.audit.get(e.id).await.unwrap().as_ref(), Some(e));
    }
    let past_the_end = all[0].id + 1;
    assert_eq!(s.audit.get(past_the_end).await.unwrap(), None);
    assert_eq!(s.audit.get(-1).await.unwrap(), None);

    // Keyset paging: pages of 3 by before_id.
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page = s
            .audit
            .list(&AuditQuery {
                before_id: before,
                limit: 3,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        pages.push(page.iter().map(|e| e.id).collect::<Vec<_>>());
    }
    let ids: Vec<i64> = all.iter().map(|e| e.id).collect();
    assert_eq!(pages, [ids[0..3].to_vec(), ids[3..6].to_vec(), ids[6..7].to_vec()]);
}

/// A window starts at the first hit and lasts `window_ms`; after it the count restarts at 1.
pub async fn rate_limit_window(s: &Stores) {
    let rl = &s.rate_limits;
    let w = MINUTE;
    assert_eq!(rl.peek("ip:1", T0, w).await.unwrap(), 0);
    assert_eq!(rl.hit("ip:1", T0, w).await.unwrap(), 1);
    assert_eq!(rl.hit("ip:1", at(10_000), w).await.unwrap(), 2);
    assert_eq!(
        rl.hit("ip:1", at(w - 1), w).await.unwrap(),
        3,
        "window end is exclusive"
    );
    assert_eq!(rl.peek("ip:1", at(w - 1), w).await.unwrap(), 3);
    assert_eq!(rl.hit("ip:2", at(1), w).await.unwrap(), 1, "keys are independent");
    assert_eq!(rl.peek("ip:1", at(w), w).await.unwrap(), 0, "the window has passed");
    assert_eq!(rl.hit("ip:1", at(w + 5), w).await.unwrap(), 1, "a new window starts");
    assert_eq!(
        rl.hit("ip:1", at(2 * w), w).await.unwrap(),
        2,
        "the new window starts at its first hit"
    );
    assert_eq!(rl.hit("ip:1", at(2 * w + 5), w).await.unwrap(), 1);
    rl.clear("ip:1").await.unwrap();
    assert_eq!(rl.peek("ip:1", at(2 * w + 6), w).await.unwrap(), 0);
    assert_eq!(rl.hit("ip:1", at(2 * w + 7), w).await.unwrap(), 1);
    assert_eq!(
        rl.peek("ip:2", at(2), w).await.unwrap(),
        1,
        "clearing one key keeps the others"
    );
    rl.clear("never-seen").await.expect("clearing an unknown key is fine");
}

/// Concurrent hits on one key never lose a count.
pub async fn rate_limit_race(s: &Stores) {
    let hits = (0..16).map(|_| s.rate_limits.hit("login:x", at(1), HOUR));
    let mut counts: Vec<u32> = futures_join_all(hits).await.into_iter().map(|r| r.unwrap()).collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=16).collect::<Vec<u32>>());
    assert_eq!(s.rate_limits.peek("login:x", at(2), HOUR).await.unwrap(), 16);
}

/// Polls all `futures` together on the current task and returns their outputs in order
/// (as `futures::future::join_all`, without the dependency).
async fn futures_join_all<F, T>(futures: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T>,
{
    let mut pending: Vec<_> = futures.map(Box::pin).collect();
    let mut done: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(move |cx| {
        let mut all = true;
        for (i, f) in pending.iter_mut().enumerate() {
            if done[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => done[i] = Some(v),
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(done.iter_mut().map(|d| d.take()).collect::<Option<Vec<T>>>())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
    .unwrap_or_default()
}

/// The set of `CASES` names, for runners that check none is forgotten.
pub fn case_names() -> BTreeSet<&'static str> {
    CASES.iter().copied().collect()
}
