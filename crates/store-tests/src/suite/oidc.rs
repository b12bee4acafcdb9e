//! Single sign-on: applications, grants (one-time codes) and refresh-token rotation.

use keyfleet_domain::StoreError;
use keyfleet_domain::audit::Action;
use keyfleet_domain::ids::SessionId;
use keyfleet_domain::oidc::{Application, ClientType, Grant, RefreshToken};
use keyfleet_domain::store::Stores;
use rand_core::OsRng;

use super::{assert_conflict, assert_not_found};
use crate::fixtures::{MINUTE, T0, at, audit_actions, event, user};

pub(crate) fn application(client_id: &str, name: &str) -> Application {
    Application {
        client_id: client_id.into(),
        name: name.into(),
        client_type: ClientType::Confidential,
        secret_hash: Some("hmac-sha256:00".into()),
        redirect_uris: vec!["https://a.example.com/cb".into(), "http://127.0.0.1:1/cb?x=a b".into()],
        post_logout_redirect_uris: Vec::new(),
        scopes: vec!["openid".into(), "email".into()],
        access_token_lifetime_s: 600,
        refresh_token_lifetime_s: 3600,
        authentication_strength: None,
        backchannel_logout_uri: Some("https://a.example.com/bcl".into()),
        jwks: None,
        third_party: false,
        created_at: T0,
        updated_at: T0,
    }
}

pub(crate) fn grant(id: &str, client_id: &str, user: keyfleet_domain::UserId, session: SessionId, code: u8) -> Grant {
    Grant {
        id: id.into(),
        code_hash: [code; 32],
        client_id: client_id.into(),
        user_id: user,
        session_id: session,
        redirect_uri: "https://a.example.com/cb".into(),
        scope: "openid offline_access".into(),
        nonce: Some("n".into()),
        code_challenge: "c".repeat(43),
        auth_time: T0,
        amr: "hwk pin".into(),
        acr: None,
        created_at: T0,
        code_expires_at: at(MINUTE),
        code_used_at: None,
        revoked_at: None,
    }
}

fn refresh(grant_id: &str, b: u8) -> RefreshToken {
    RefreshToken {
        token_hash: [b; 32],
        grant_id: grant_id.into(),
        created_at: T0,
        expires_at: at(60 * MINUTE),
        used_at: None,
    }
}

/// Applications round-trip, update, list by name, refuse a duplicate id, and delete with
/// their grants.
pub async fn oidc_application_round_trip(s: &Stores) {
    let a = application("kfa_a", "Zeta");
    let b = Application {
        client_type: ClientType::Public,
        secret_hash: None,
        ..application("kfa_b", "Alpha")
    };
    let audit = event(Action::ApplicationCreate, None);
    s.oidc.create_application(&a, &audit).await.unwrap();
    s.oidc.create_application(&b, &audit).await.unwrap();
    assert_conflict(s.oidc.create_application(&a, &audit).await, "client_id");
    assert_eq!(s.oidc.get_application("kfa_a").await.unwrap(), Some(a.clone()));
    assert_eq!(s.oidc.get_application("kfa_\0").await.unwrap(), None);
    let names: Vec<String> = s
        .oidc
        .list_applications()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["Alpha", "Zeta"]);
    let changed = Application {
        name: "Zeta 2".into(),
        redirect_uris: vec!["https://b.example.com/cb".into()],
        authentication_strength: Some("mfa".into()),
        backchannel_logout_uri: None,
        jwks: None,
        third_party: true,
        updated_at: at(5),
        ..a.clone()
    };
    s.oidc
        .update_application(&changed, &event(Action::ApplicationUpdate, None))
        .await
        .unwrap();
    assert_eq!(s.oidc.get_application("kfa_a").await.unwrap(), Some(changed));
    assert_not_found(
        s.oidc
            .update_application(&application("kfa_none", "x"), &event(Action::ApplicationUpdate, None))
            .await,
    );
    let u = user("alice");
    s.users.create_user(&u, &event(Action::UserCreate, None)).await.unwrap();
    let g = grant("g1", "kfa_a", u.id, SessionId::new_random(&mut OsRng), 1);
    s.oidc
        .create_grant(&g, &event(Action::OidcAuthorize, None))
        .await
        .unwrap();
    s.oidc
        .delete_application("kfa_a", &event(Action::ApplicationDelete, None))
        .await
        .unwrap();
    assert_eq!(
        s.oidc.get_grant("g1").await.unwrap(),
        None,
        "grants go with the application"
    );
    assert_not_found(
        s.oidc
            .delete_application("kfa_a", &event(Action::ApplicationDelete, None))
            .await,
    );
    assert_eq!(
        audit_actions(s).await,
        [
            "application.create",
            "application.create",
            "application.update",
            "user.create",
            "oidc.authorize",
            "application.delete"
        ]
    );
}

/// A code is redeemed once and not after it expires; refresh tokens rotate once; a revoked
/// grant's tokens no longer rotate; a session's grants are revoked together.
pub async fn oidc_codes_and_refresh_tokens(s: &Stores) {
    s.oidc
        .create_application(&application("kfa_a", "A"), &event(Action::ApplicationCreate, None))
        .await
        .unwrap();
    let u = user("alice");
    s.users.create_user(&u, &event(Action::UserCreate, None)).await.unwrap();
    let session = SessionId::new_random(&mut OsRng);
    let g = grant("g1", "kfa_a", u.id, session, 1);
    let audit = event(Action::OidcAuthorize, None);
    s.oidc.create_grant(&g, &audit).await.unwrap();
    assert_not_found(
        s.oidc
            .create_grant(&grant("g2", "kfa_none", u.id, session, 2), &audit)
            .await,
    );
    assert_eq!(s.oidc.find_grant_by_code(&[1; 32]).await.unwrap(), Some(g.clone()));
    assert_eq!(s.oidc.find_grant_by_code(&[9; 32]).await.unwrap(), None);
    let token = event(Action::OidcToken, None);
    let r0 = refresh("g1", 10);
    s.oidc.redeem_code("g1", at(1), Some(&r0), &token).await.unwrap();
    assert_conflict(s.oidc.redeem_code("g1", at(2), None, &token).await, "code_used");
    assert_eq!(s.oidc.get_grant("g1").await.unwrap().unwrap().code_used_at, Some(at(1)));
    assert_not_found(s.oidc.redeem_code("nope", at(2), None, &token).await);
    // Expired.
    s.oidc
        .create_grant(&grant("g3", "kfa_a", u.id, session, 3), &audit)
        .await
        .unwrap();
    assert_conflict(s.oidc.redeem_code("g3", at(MINUTE), None, &token).await, "code_expired");
    assert_eq!(s.oidc.get_grant("g3").await.unwrap().unwrap().code_used_at, None);
    // Rotation.
    let (stored, fam) = s.oidc.find_refresh_token(&[10; 32]).await.unwrap().unwrap();
    assert_eq!((stored, fam.id.as_str()), (r0.clone(), "g1"));
    let r1 = refresh("g1", 11);
    s.oidc
        .rotate_refresh_token(&[10; 32], at(5), &r1, &token)
        .await
        .unwrap();
    assert_conflict(
        s.oidc
            .rotate_refresh_token(&[10; 32], at(6), &refresh("g1", 12), &token)
            .await,
        "refresh_used",
    );
    assert_eq!(
        s.oidc.find_refresh_token(&[12; 32]).await.unwrap(),
        None,
        "nothing written"
    );
    assert_eq!(
        s.oidc.find_refresh_token(&[10; 32]).await.unwrap().unwrap().0.used_at,
        Some(at(5))
    );
    // Revoking the family stops rotation.
    let revoke = event(Action::OidcRevoke, None);
    assert!(s.oidc.revoke_grant("g1", at(7), &revoke).await.unwrap());
    assert!(!s.oidc.revoke_grant("g1", at(8), &revoke).await.unwrap());
    assert_conflict(
        s.oidc
            .rotate_refresh_token(&[11; 32], at(9), &refresh("g1", 13), &token)
            .await,
        "refresh_used",
    );
    // A session's grants.
    assert_eq!(
        s.oidc.revoke_session_grants(session, at(10), &revoke).await.unwrap(),
        1,
        "g3 only"
    );
    assert_eq!(s.oidc.revoke_session_grants(session, at(11), &revoke).await.unwrap(), 0);
    assert_eq!(s.oidc.get_grant("g3").await.unwrap().unwrap().revoked_at, Some(at(10)));
    // A user's grants, and the grants of a key's sessions.
    s.oidc
        .create_grant(&grant("g4", "kfa_a", u.id, session, 4), &audit)
        .await
        .unwrap();
    assert_eq!(s.oidc.revoke_user_grants(u.id, at(12), &revoke).await.unwrap(), 1);
    assert_eq!(s.oidc.revoke_user_grants(u.id, at(13), &revoke).await.unwrap(), 0);
    let keyed = crate::fixtures::session(u.id, T0, 60 * MINUTE, 60 * MINUTE);
    let keyed = keyfleet_domain::session::Session {
        credential_id: Some(vec![7; 16]),
        ..keyed
    };
    s.sessions
        .create_session(&keyed, &event(Action::AuthWebauthn, None))
        .await
        .unwrap();
    s.oidc
        .create_grant(&grant("g5", "kfa_a", u.id, keyed.id, 5), &audit)
        .await
        .unwrap();
    s.oidc
        .create_grant(&grant("g6", "kfa_a", u.id, session, 6), &audit)
        .await
        .unwrap();
    assert_eq!(
        s.oidc
            .revoke_credential_grants(&[8; 16], at(14), &revoke)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.oidc
            .revoke_credential_grants(&[7; 16], at(14), &revoke)
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.oidc.get_grant("g5").await.unwrap().unwrap().revoked_at, Some(at(14)));
    assert_eq!(s.oidc.get_grant("g6").await.unwrap().unwrap().revoked_at, None);
    let actions = audit_actions(s).await;
    assert_eq!(actions.iter().filter(|a| *a == "oidc.revoke").count(), 4, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "oidc.token").count(), 2, "{actions:?}");
}

/// Two redemptions of one code at once: exactly one wins.
pub async fn oidc_code_redeem_race(s: &Stores) {
    s.oidc
        .create_application(&application("kfa_a", "A"), &event(Action::ApplicationCreate, None))
        .await
        .unwrap();
    let u = user("alice");
    s.users.create_user(&u, &event(Action::UserCreate, None)).await.unwrap();
    let g = grant("g1", "kfa_a", u.id, SessionId::new_random(&mut OsRng), 1);
    s.oidc
        .create_grant(&g, &event(Action::OidcAuthorize, None))
        .await
        .unwrap();
    let (ra, rb) = (refresh("g1", 1), refresh("g1", 2));
    let token = event(Action::OidcToken, None);
    let (a, b) = tokio::join!(
        s.oidc.redeem_code("g1", at(1), Some(&ra), &token),
        s.oidc.redeem_code("g1", at(1), Some(&rb), &token),
    );
    match (a, b) {
        (Ok(()), Err(StoreError::Conflict("code_used"))) | (Err(StoreError::Conflict("code_used")), Ok(())) => {}
        other => panic!("exactly one redemption must win: {other:?}"),
    }
    let kept = [
        s.oidc.find_refresh_token(&[1; 32]).await.unwrap().is_some(),
        s.oidc.find_refresh_token(&[2; 32]).await.unwrap().is_some(),
    ];
    assert_eq!(kept.iter().filter(|k| **k).count(), 1, "one refresh token stored");
}

/// The revoke-many calls queue a back-channel logout for each redeemed grant they revoke
/// whose application has a URI, in their transaction; due ones come oldest first with the
/// application's URI now; an attempt is recorded once (then `NotFound`), with its audit.
pub async fn oidc_backchannel_outbox(s: &Stores) {
    use keyfleet_domain::backchannel::LogoutAttempt;
    let created = event(Action::ApplicationCreate, None);
    s.oidc
        .create_application(&application("kfa_a", "A"), &created)
        .await
        .unwrap();
    let quiet = Application {
        backchannel_logout_uri: None,
        ..application("kfa_q", "Quiet")
    };
    s.oidc.create_application(&quiet, &created).await.unwrap();
    let u = user("alice");
    s.users.create_user(&u, &event(Action::UserCreate, None)).await.unwrap();
    let session = SessionId::new_random(&mut OsRng);
    let authorize = event(Action::OidcAuthorize, None);
    let token = event(Action::OidcToken, None);
    for (id, app, code) in [("g1", "kfa_a", 1), ("g2", "kfa_q", 2), ("g3", "kfa_a", 3)] {
        s.oidc
            .create_grant(&grant(id, app, u.id, session, code), &authorize)
            .await
            .unwrap();
    }
    s.oidc.redeem_code("g1", at(1), None, &token).await.unwrap();
    s.oidc.redeem_code("g2", at(1), None, &token).await.unwrap();
    // g3's code was never redeemed: the application never had its tokens.
    assert!(s.oidc.due_logouts(at(100), 10).await.unwrap().is_empty());
    let revoke = event(Action::OidcRevoke, None);
    assert_eq!(s.oidc.revoke_session_grants(session, at(10), &revoke).await.unwrap(), 3);
    assert_eq!(s.oidc.due_logouts(at(9), 10).await.unwrap(), [], "not due before");
    let due = s.oidc.due_logouts(at(10), 10).await.unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(
        (
            due[0].grant_id.as_str(),
            due[0].client_id.as_str(),
            due[0].user_id,
            due[0].attempts
        ),
        ("g1", "kfa_a", u.id, 0)
    );
    assert_eq!(due[0].uri.as_deref(), Some("https://a.example.com/bcl"));
    // Revoking again queues nothing more.
    assert_eq!(s.oidc.revoke_user_grants(u.id, at(11), &revoke).await.unwrap(), 0);
    assert_eq!(s.oidc.due_logouts(at(11), 10).await.unwrap().len(), 1);
    // A retry, then a delivery; then it is not pending any more.
    let retry = LogoutAttempt::Retry {
        next_attempt_at: at(30),
        error: "answered 500".into(),
    };
    s.oidc.record_logout_attempt("g1", at(12), &retry, None).await.unwrap();
    assert!(s.oidc.due_logouts(at(29), 10).await.unwrap().is_empty());
    let due = s.oidc.due_logouts(at(30), 10).await.unwrap();
    assert_eq!((due[0].attempts, due[0].next_attempt_at), (1, at(30)));
    let delivered = event(Action::OidcBackchannelLogout, None);
    s.oidc
        .record_logout_attempt("g1", at(31), &LogoutAttempt::Delivered, Some(&delivered))
        .await
        .unwrap();
    assert!(s.oidc.due_logouts(at(1000), 10).await.unwrap().is_empty());
    assert_not_found(
        s.oidc
            .record_logout_attempt("g1", at(32), &LogoutAttempt::Delivered, None)
            .await,
    );
    // The user's grants and the grants of a key's sessions queue too; given up is final.
    s.oidc
        .create_grant(&grant("g4", "kfa_a", u.id, session, 4), &authorize)
        .await
        .unwrap();
    s.oidc.redeem_code("g4", at(40), None, &token).await.unwrap();
    assert_eq!(s.oidc.revoke_user_grants(u.id, at(41), &revoke).await.unwrap(), 1);
    let keyed = keyfleet_domain::session::Session {
        credential_id: Some(vec![7; 16]),
        ..crate::fixtures::session(u.id, T0, 60 * MINUTE, 60 * MINUTE)
    };
    s.sessions
        .create_session(&keyed, &event(Action::AuthWebauthn, None))
        .await
        .unwrap();
    s.oidc
        .create_grant(&grant("g5", "kfa_a", u.id, keyed.id, 5), &authorize)
        .await
        .unwrap();
    s.oidc.redeem_code("g5", at(42), None, &token).await.unwrap();
    assert_eq!(
        s.oidc
            .revoke_credential_grants(&[7; 16], at(43), &revoke)
            .await
            .unwrap(),
        1
    );
    let due: Vec<String> = s
        .oidc
        .due_logouts(at(50), 1)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.grant_id)
        .collect();
    assert_eq!(due, ["g4"], "oldest due first, at most the limit");
    let failed = LogoutAttempt::Failed {
        error: "timed out".into(),
    };
    s.oidc.record_logout_attempt("g4", at(51), &failed, None).await.unwrap();
    let due = s.oidc.due_logouts(at(5000), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].grant_id, "g5");
    // Finished ones are purged after their time; pending ones never.
    assert_eq!(s.oidc.purge_logouts(at(51)).await.unwrap(), 1, "g1, delivered at 31");
    assert_eq!(s.oidc.purge_logouts(at(52)).await.unwrap(), 1, "g4, given up at 51");
    assert_eq!(s.oidc.purge_logouts(at(9999)).await.unwrap(), 0, "g5 is pending");
    // Deleting the application drops its queued logouts with its grants.
    s.oidc
        .delete_application("kfa_a", &event(Action::ApplicationDelete, None))
        .await
        .unwrap();
    assert!(s.oidc.due_logouts(at(5000), 10).await.unwrap().is_empty());
    let actions = audit_actions(s).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "oidc.backchannel_logout").count(),
        1,
        "{actions:?}"
    );
}

/// A rotated application secret's earlier digest works until its expiry; a public
/// application has none to rotate; an assertion id is spent once per application.
pub async fn oidc_secrets_and_assertions(s: &Stores) {
    let created = event(Action::ApplicationCreate, None);
    s.oidc
        .create_application(&application("kfa_a", "A"), &created)
        .await
        .unwrap();
    let public = Application {
        client_type: ClientType::Public,
        secret_hash: None,
        ..application("kfa_p", "P")
    };
    s.oidc.create_application(&public, &created).await.unwrap();
    let rotate = event(Action::ApplicationRotateSecret, None);
    assert!(s.oidc.previous_secrets("kfa_a", at(0)).await.unwrap().is_empty());
    s.oidc
        .rotate_application_secret("kfa_a", "hmac-sha256:01", at(1), at(100), &rotate)
        .await
        .unwrap();
    let app = s.oidc.get_application("kfa_a").await.unwrap().unwrap();
    assert_eq!(
        (app.secret_hash.as_deref(), app.updated_at),
        (Some("hmac-sha256:01"), at(1))
    );
    assert_eq!(
        s.oidc.previous_secrets("kfa_a", at(99)).await.unwrap(),
        ["hmac-sha256:00"]
    );
    assert!(s.oidc.previous_secrets("kfa_a", at(100)).await.unwrap().is_empty());
    // A second rotation after the first overlap: only the newest earlier one is kept.
    s.oidc
        .rotate_application_secret("kfa_a", "hmac-sha256:02", at(200), at(300), &rotate)
        .await
        .unwrap();
    assert_eq!(
        s.oidc.previous_secrets("kfa_a", at(201)).await.unwrap(),
        ["hmac-sha256:01"]
    );
    assert_conflict(
        s.oidc
            .rotate_application_secret("kfa_p", "hmac-sha256:03", at(2), at(100), &rotate)
            .await,
        "public_client",
    );
    assert_not_found(
        s.oidc
            .rotate_application_secret("kfa_nope", "hmac-sha256:03", at(2), at(100), &rotate)
            .await,
    );
    assert_eq!(
        s.oidc.get_application("kfa_p").await.unwrap().unwrap().secret_hash,
        None
    );
    let actions = audit_actions(s).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "application.rotate_secret").count(),
        2,
        "{actions:?}"
    );
    // Assertion ids.
    assert!(
        s.oidc
            .spend_client_assertion("kfa_a", "j1", at(60), at(0))
            .await
            .unwrap()
    );
    assert!(
        !s.oidc
            .spend_client_assertion("kfa_a", "j1", at(60), at(10))
            .await
            .unwrap()
    );
    assert!(
        s.oidc
            .spend_client_assertion("kfa_p", "j1", at(60), at(10))
            .await
            .unwrap()
    );
    // Forgotten once expired (an expired assertion is refused before it is spent).
    assert!(
        s.oidc
            .spend_client_assertion("kfa_a", "j1", at(200), at(60))
            .await
            .unwrap()
    );
}
