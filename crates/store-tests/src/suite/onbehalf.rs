//! Creation options issued on behalf of users: stored with their audit event, found by
//! challenge, listed per user, consumed exactly once (by the registration that stores the key,
//! or by a failure path), purged once expired, and gone with their user.

use keyfleet_domain::audit::Action;
use keyfleet_domain::ids::CeremonyId;
use keyfleet_domain::onbehalf::OnBehalfOptions;
use keyfleet_domain::store::Stores;
use keyfleet_domain::user::User;
use keyfleet_domain::{UserId, audit::NewAuditEvent};
use rand_core::{OsRng, RngCore};

use super::{assert_conflict, assert_not_found};
use crate::fixtures::{HOUR, MINUTE, T0, at, audit_actions, credential, event, user, user_target};

async fn new_user(s: &Stores, name: &str) -> User {
    let u = user(name);
    s.users
        .create_user(&u, &event(Action::UserCreate, None))
        .await
        .expect("create user");
    u
}

fn options(user: UserId, caller: &str, lifetime_ms: i64, aaguid: Option<[u8; 16]>) -> OnBehalfOptions {
    let mut challenge = vec![0u8; 32];
    OsRng.fill_bytes(&mut challenge);
    OnBehalfOptions {
        id: CeremonyId::new_random(&mut OsRng),
        user_id: user,
        caller: caller.to_owned(),
        challenge,
        rp_id: "keyfleet.example".to_owned(),
        expected_aaguid: aaguid,
        created_at: T0,
        expires_at: at(lifetime_ms),
    }
}

fn issued(user: UserId) -> NewAuditEvent {
    event(Action::CredentialOnBehalfOptions, user_target(user))
}

fn count(actions: &[String], name: &str) -> usize {
    actions.iter().filter(|a| *a == name).count()
}

/// Round trip (with and without an expected model), lookup by challenge, the per-user list
/// oldest first, and options for a user who does not exist.
pub async fn onbehalf_options_round_trip(s: &Stores) {
    let (u, v) = (new_user(s, "obo-u").await, new_user(s, "obo-v").await);
    let first = options(u.id, "client:factory", 30 * 24 * HOUR, Some([7; 16]));
    let mut second = options(u.id, "user:admin", 5 * MINUTE, None);
    second.created_at = at(1);
    let theirs = options(v.id, "client:factory", HOUR, None);
    for o in [&first, &second, &theirs] {
        s.onbehalf
            .create_onbehalf_options(o, &issued(o.user_id))
            .await
            .expect("create options");
    }
    assert_eq!(count(&audit_actions(s).await, "credential.onbehalf_options"), 3);
    assert_eq!(
        s.onbehalf
            .onbehalf_options_by_challenge(&first.challenge)
            .await
            .unwrap(),
        Some(first.clone())
    );
    assert_eq!(s.onbehalf.onbehalf_options_by_challenge(&[9; 32]).await.unwrap(), None);
    assert_eq!(
        s.onbehalf.list_onbehalf_options(u.id).await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(s.onbehalf.list_onbehalf_options(v.id).await.unwrap(), vec![theirs]);
    // A user who does not exist: nothing written, not even the audit event.
    let ghost = options(UserId::new_random(&mut OsRng), "client:factory", HOUR, None);
    assert_not_found(s.onbehalf.create_onbehalf_options(&ghost, &issued(ghost.user_id)).await);
    assert_eq!(count(&audit_actions(s).await, "credential.onbehalf_options"), 3);
    // The same challenge twice is refused.
    let mut twin = options(v.id, "client:factory", HOUR, None);
    twin.challenge = first.challenge.clone();
    assert!(s.onbehalf.create_onbehalf_options(&twin, &issued(v.id)).await.is_err());
}

/// The registration consumes the options with the key in one transaction; a second use, or
/// options of another user, write nothing. A failure path's consumption is audited only by
/// the call that consumed them. Expired options are purged; a user's go with them.
pub async fn onbehalf_options_consumed_once(s: &Stores) {
    let (u, v) = (new_user(s, "obo-once-u").await, new_user(s, "obo-once-v").await);
    let o = options(u.id, "client:factory", HOUR, None);
    s.onbehalf.create_onbehalf_options(&o, &issued(u.id)).await.unwrap();
    let key = credential(u.id);
    // Another user's credential against u's options: refused, nothing written.
    let stray = credential(v.id);
    assert_conflict(
        s.onbehalf
            .finish_onbehalf_registration(o.id, &stray, &event(Action::CredentialRegister, None))
            .await,
        "ceremony_used",
    );
    assert!(s.credentials.list_user_credentials(v.id).await.unwrap().is_empty());
    s.onbehalf
        .finish_onbehalf_registration(o.id, &key, &event(Action::CredentialRegister, user_target(u.id)))
        .await
        .expect("register");
    assert_eq!(s.onbehalf.list_onbehalf_options(u.id).await.unwrap(), vec![]);
    assert_eq!(
        s.credentials.list_user_credentials(u.id).await.unwrap(),
        vec![key.clone()]
    );
    let again = credential(u.id);
    assert_conflict(
        s.onbehalf
            .finish_onbehalf_registration(o.id, &again, &event(Action::CredentialRegister, None))
            .await,
        "ceremony_used",
    );
    // A key id already held: nothing written, the options kept.
    let o2 = options(u.id, "client:factory", HOUR, None);
    s.onbehalf.create_onbehalf_options(&o2, &issued(u.id)).await.unwrap();
    assert_conflict(
        s.onbehalf
            .finish_onbehalf_registration(o2.id, &key, &event(Action::CredentialRegister, None))
            .await,
        "credential_id",
    );
    assert_eq!(s.onbehalf.list_onbehalf_options(u.id).await.unwrap(), vec![o2.clone()]);
    assert_eq!(count(&audit_actions(s).await, "credential.register"), 1);
    // A failure path: consumed once, audited once.
    let failed = event(Action::CredentialRegister, user_target(u.id));
    assert!(s.onbehalf.consume_onbehalf_options(o2.id, &failed).await.unwrap());
    assert!(!s.onbehalf.consume_onbehalf_options(o2.id, &failed).await.unwrap());
    assert_eq!(count(&audit_actions(s).await, "credential.register"), 2);
    // Purge: only what expired before the given time.
    let short = options(u.id, "client:factory", 5 * MINUTE, None);
    let long = options(u.id, "client:factory", HOUR, None);
    for o in [&short, &long] {
        s.onbehalf.create_onbehalf_options(o, &issued(u.id)).await.unwrap();
    }
    assert_eq!(s.onbehalf.purge_onbehalf_options(at(5 * MINUTE)).await.unwrap(), 0);
    assert_eq!(s.onbehalf.purge_onbehalf_options(at(5 * MINUTE + 1)).await.unwrap(), 1);
    assert_eq!(s.onbehalf.list_onbehalf_options(u.id).await.unwrap(), vec![long]);
    // Deleting the user deletes their options.
    let theirs = options(v.id, "client:factory", HOUR, None);
    s.onbehalf
        .create_onbehalf_options(&theirs, &issued(v.id))
        .await
        .unwrap();
    s.users
        .delete_user(v.id, &event(Action::UserDelete, user_target(v.id)))
        .await
        .unwrap();
    assert_eq!(
        s.onbehalf
            .onbehalf_options_by_challenge(&theirs.challenge)
            .await
            .unwrap(),
        None
    );
}
