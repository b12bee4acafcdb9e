//! Consents to third-party applications.

use keyfleet_domain::audit::Action;
use keyfleet_domain::consent::Consent;
use keyfleet_domain::ids::SessionId;
use keyfleet_domain::store::Stores;
use rand_core::OsRng;

use super::assert_not_found;
use super::oidc::{application, grant};
use crate::fixtures::{T0, at, audit_actions, event, user};

/// A consent is saved (replacing the previous one), read, listed per user, deleted once, and
/// goes with its application; one for an unknown application is refused.
pub async fn oidc_consent_round_trip(s: &Stores) {
    let app = application("kfa_c", "Third");
    s.oidc
        .create_application(&app, &event(Action::ApplicationCreate, None))
        .await
        .unwrap();
    let u = user("carol");
    s.users.create_user(&u, &event(Action::UserCreate, None)).await.unwrap();
    assert_eq!(s.consents.get_consent(u.id, "kfa_c").await.unwrap(), None);
    let first = Consent {
        user_id: u.id,
        client_id: "kfa_c".into(),
        scopes: vec!["openid".into()],
        granted_at: T0,
    };
    s.consents
        .save_consent(&first, &event(Action::OidcConsent, None))
        .await
        .unwrap();
    let wider = Consent {
        scopes: vec!["openid".into(), "email".into()],
        granted_at: at(3),
        ..first.clone()
    };
    s.consents
        .save_consent(&wider, &event(Action::OidcConsent, None))
        .await
        .unwrap();
    assert_eq!(
        s.consents.get_consent(u.id, "kfa_c").await.unwrap(),
        Some(wider.clone())
    );
    assert_eq!(s.consents.get_consent(u.id, "kfa_\0").await.unwrap(), None);
    assert_eq!(s.consents.list_consents(u.id).await.unwrap(), vec![wider.clone()]);
    let unknown = Consent {
        client_id: "kfa_none".into(),
        ..first.clone()
    };
    assert_not_found(
        s.consents
            .save_consent(&unknown, &event(Action::OidcConsent, None))
            .await,
    );
    let g = grant("gc", "kfa_c", u.id, SessionId::new_random(&mut OsRng), 9);
    s.oidc
        .create_grant(&g, &event(Action::OidcAuthorize, None))
        .await
        .unwrap();
    s.consents
        .delete_consent(u.id, "kfa_c", at(4), &event(Action::OidcConsentRevoke, None))
        .await
        .unwrap();
    assert_eq!(
        s.oidc.get_grant("gc").await.unwrap().and_then(|g| g.revoked_at),
        Some(at(4)),
        "withdrawing consent revokes the user's grants to the application"
    );
    assert_not_found(
        s.consents
            .delete_consent(u.id, "kfa_c", at(4), &event(Action::OidcConsentRevoke, None))
            .await,
    );
    assert!(s.consents.list_consents(u.id).await.unwrap().is_empty());
    s.consents
        .save_consent(&first, &event(Action::OidcConsent, None))
        .await
        .unwrap();
    s.oidc
        .delete_application("kfa_c", &event(Action::ApplicationDelete, None))
        .await
        .unwrap();
    assert_eq!(
        s.consents.get_consent(u.id, "kfa_c").await.unwrap(),
        None,
        "consents go with the application"
    );
    let actions = audit_actions(s).await;
    assert_eq!(
        actions.iter().filter(|a| a.as_str() == "oidc.consent").count(),
        3,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| a.as_str() == "oidc.consent_revoke").count(),
        1
    );
}
