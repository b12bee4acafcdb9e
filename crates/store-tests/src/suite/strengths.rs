//! Authentication strengths: the administrators' own, their unique ids, names and acr values,
//! and what a session records of its sign-in.

use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::session::SessionKind;
use keyfleet_domain::store::Stores;
use keyfleet_domain::strength::AuthenticationStrength;

use super::{assert_conflict, assert_not_found};
use crate::fixtures::{self, T0, at, audit_actions, event, user, user_target};

fn strength(id: &str, name: &str, acr: &str) -> AuthenticationStrength {
    AuthenticationStrength {
        id: id.into(),
        name: name.into(),
        acr: acr.into(),
        require_user_verification: true,
        require_attestation: false,
        allow_synced: false,
        allowed_aaguids: Some(vec![[7; 16], [1; 16]]),
        built_in: false,
        created_at: T0,
        updated_at: T0,
    }
}

fn audit(action: Action, id: &str) -> keyfleet_domain::audit::NewAuditEvent {
    event(action, Some(Target::Strength(id.into())))
}

/// Create, read, list by name, change, delete; each change with its audit event.
pub async fn strength_crud(s: &Stores) {
    assert!(s.strengths.list_strengths().await.unwrap().is_empty());
    let finance = strength("finance", "Finance apps", "urn:example:finance");
    let mut any = strength("any-model", "Any model", "urn:example:any");
    any.allowed_aaguids = None;
    any.allow_synced = true;
    s.strengths
        .create_strength(&finance, &audit(Action::StrengthCreate, "finance"))
        .await
        .unwrap();
    s.strengths
        .create_strength(&any, &audit(Action::StrengthCreate, "any-model"))
        .await
        .unwrap();
    assert_eq!(
        s.strengths.get_strength("finance").await.unwrap().as_ref(),
        Some(&finance)
    );
    assert_eq!(
        s.strengths.get_strength("any-model").await.unwrap().as_ref(),
        Some(&any)
    );
    assert_eq!(s.strengths.get_strength("nope").await.unwrap(), None);
    let listed = s.strengths.list_strengths().await.unwrap();
    assert_eq!(listed, vec![any.clone(), finance.clone()], "by name");

    let mut changed = finance.clone();
    changed.name = "Finance".into();
    changed.acr = "urn:example:finance:v2".into();
    changed.allowed_aaguids = None;
    changed.require_attestation = true;
    changed.updated_at = at(5);
    s.strengths
        .update_strength(&changed, &audit(Action::StrengthUpdate, "finance"))
        .await
        .unwrap();
    assert_eq!(
        s.strengths.get_strength("finance").await.unwrap().as_ref(),
        Some(&changed)
    );

    let mut ghost = changed.clone();
    ghost.id = "ghost".into();
    ghost.name = "Ghost".into();
    ghost.acr = "urn:example:ghost".into();
    assert_not_found(
        s.strengths
            .update_strength(&ghost, &audit(Action::StrengthUpdate, "ghost"))
            .await,
    );
    assert_not_found(
        s.strengths
            .delete_strength("ghost", &audit(Action::StrengthDelete, "ghost"))
            .await,
    );

    s.strengths
        .delete_strength("finance", &audit(Action::StrengthDelete, "finance"))
        .await
        .unwrap();
    assert_eq!(s.strengths.get_strength("finance").await.unwrap(), None);
    assert_eq!(
        audit_actions(s).await,
        [
            "strength.create",
            "strength.create",
            "strength.update",
            "strength.delete"
        ],
        "one event per change, none for the refusals"
    );
}

/// Ids, names and acr values are unique; a refused change writes nothing.
pub async fn strength_uniqueness(s: &Stores) {
    let a = strength("a", "A", "urn:a");
    let b = strength("b", "B", "urn:b");
    s.strengths
        .create_strength(&a, &audit(Action::StrengthCreate, "a"))
        .await
        .unwrap();
    s.strengths
        .create_strength(&b, &audit(Action::StrengthCreate, "b"))
        .await
        .unwrap();
    let before = audit_actions(s).await;

    assert_conflict(
        s.strengths
            .create_strength(
                &strength("a", "Other", "urn:other"),
                &audit(Action::StrengthCreate, "a"),
            )
            .await,
        "strength_id",
    );
    assert_conflict(
        s.strengths
            .create_strength(&strength("c", "A", "urn:c"), &audit(Action::StrengthCreate, "c"))
            .await,
        "strength_name",
    );
    assert_conflict(
        s.strengths
            .create_strength(&strength("c", "C", "urn:a"), &audit(Action::StrengthCreate, "c"))
            .await,
        "strength_acr",
    );
    let mut b_takes_a = b.clone();
    b_takes_a.acr = "urn:a".into();
    assert_conflict(
        s.strengths
            .update_strength(&b_takes_a, &audit(Action::StrengthUpdate, "b"))
            .await,
        "strength_acr",
    );
    assert_eq!(
        s.strengths.get_strength("b").await.unwrap().as_ref(),
        Some(&b),
        "unchanged"
    );
    assert_eq!(s.strengths.get_strength("c").await.unwrap(), None);
    assert_eq!(audit_actions(s).await, before, "no audit event for a refusal");
}

/// A session keeps whether its sign-in verified the user.
pub async fn session_records_user_verification(s: &Stores) {
    let alice = user("alice");
    s.users
        .create_user(&alice, &event(Action::UserCreate, user_target(alice.id)))
        .await
        .unwrap();
    for verified in [true, false] {
        let mut session = fixtures::default_session(alice.id);
        session.user_verified = verified;
        s.sessions
            .create_session(&session, &event(Action::AuthWebauthn, None))
            .await
            .unwrap();
        let (found, _) = s
            .sessions
            .find_live_session(&session.token_hash, T0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.user_verified, verified);
        assert_eq!(found, session);
    }
    let listed = s.sessions.list_user_sessions(alice.id, T0).await.unwrap();
    assert_eq!(listed.iter().filter(|x| x.user_verified).count(), 1);
    assert!(listed.iter().all(|x| x.kind == SessionKind::Full));
}
