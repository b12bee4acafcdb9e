//! Text holding a NUL character: both databases answer alike. A lookup or filter by such
//! text matches nothing (as for an unknown key); a write of it is `Invalid("nul")` and
//! writes nothing, its audit event included.

use keyfleet_domain::StoreError;
use keyfleet_domain::audit::{Action, Actor, AuditQuery, NewAuditEvent};
use keyfleet_domain::store::{StoreResult, Stores};
use keyfleet_domain::user::{UserQuery, Username};

use super::assert_not_found;
use crate::fixtures::{self, HOUR, MINUTE, T0, all_audit, at, event, user};

/// Asserts `r` is `Invalid("nul")`.
#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(r: StoreResult<T>) {
    match r {
        Err(StoreError::Invalid("nul")) => {}
        other => panic!("expected Invalid(\"nul\"), got {other:?}"),
    }
}

/// Lookups and filters by text with a NUL find nothing and report no error.
pub async fn nul_lookups_match_nothing(s: &Stores) {
    let u = user("nul-user");
    s.users.create_user(&u, &event(Action::UserCreate, None)).await.unwrap();
    let secret = fixtures::secret("kfc_n", 0);
    s.clients
        .create_client(
            &fixtures::client("kfc_n", "N"),
            &secret,
            &event(Action::ClientCreate, None),
        )
        .await
        .unwrap();
    let before = all_audit(s).await.len();
    let bad = "kfc_n\0";

    let c = &s.clients;
    assert_eq!(c.get_client(bad).await.unwrap(), None);
    assert_eq!(c.list_secrets(bad).await.unwrap(), []);
    assert_not_found(
        c.set_client_enabled(bad, false, &event(Action::ClientDisable, None))
            .await,
    );
    assert_not_found(c.delete_client(bad, &event(Action::ClientDelete, None)).await);
    assert_not_found(
        c.delete_secret(bad, secret.id, &event(Action::ClientSecretRevoke, None))
            .await,
    );
    assert_not_found(
        c.set_secret_expiry(
            bad,
            secret.id,
            Some(at(HOUR)),
            &event(Action::ClientSecretPhaseOut, None),
        )
        .await,
    );
    assert_not_found(
        c.upgrade_secret_hash(
            bad,
            secret.id,
            &secret.secret_hash,
            "new",
            &event(Action::ClientSecretRehash, None),
        )
        .await,
    );
    assert_not_found(
        c.upgrade_secret_hash(
            "kfc_n",
            secret.id,
            "old\0",
            "new",
            &event(Action::ClientSecretRehash, None),
        )
        .await,
    );
    assert_not_found(
        c.add_secret(&fixtures::secret(bad, 0), 5, &event(Action::ClientSecretAdd, None))
            .await,
    );

    let named = Username::from_canonical("nul-user\0".into());
    assert_eq!(s.users.find_user_by_username(&named).await.unwrap(), None);
    for (search, after) in [(Some("nul\0"), None), (None, Some("\0"))] {
        let q = UserQuery {
            search: search.map(str::to_owned),
            after: after.map(str::to_owned),
            limit: 10,
        };
        assert_eq!(s.users.list_users(&q).await.unwrap(), []);
    }

    for q in [
        AuditQuery {
            actor: Some("system\0".into()),
            ..AuditQuery::default()
        },
        AuditQuery {
            target: Some("user:\0".into()),
            ..AuditQuery::default()
        },
        AuditQuery {
            action: Some("user.\0".into()),
            ..AuditQuery::default()
        },
        AuditQuery {
            involving: Some("user:\0".into()),
            ..AuditQuery::default()
        },
        AuditQuery {
            request_id: Some("r\0".into()),
            ..AuditQuery::default()
        },
    ] {
        let q = AuditQuery { limit: 10, ..q };
        assert_eq!(s.audit.list(&q).await.unwrap(), [], "{q:?}");
    }

    let rl = &s.rate_limits;
    assert_eq!(rl.peek("k\0", T0, MINUTE).await.unwrap(), 0);
    rl.clear("k\0").await.unwrap();
    rl.release("k\0", T0, MINUTE).await.unwrap();

    s.jobs.ensure_job("j", T0).await.unwrap();
    assert_eq!(s.jobs.claim_job("j\0", "h", T0, at(MINUTE)).await.unwrap(), None);
    assert_not_found(s.jobs.finish_job("j\0", "h", T0, at(HOUR), "ok").await);
    assert_not_found(s.jobs.finish_job("j", "h\0", T0, at(HOUR), "ok").await);

    assert_eq!(all_audit(s).await.len(), before, "nothing was audited");
    assert_eq!(c.list_secrets("kfc_n").await.unwrap(), [secret], "nothing changed");
}

/// Writes of text with a NUL are `Invalid("nul")` and leave no trace.
pub async fn nul_writes_are_invalid(s: &Stores) {
    let ev = || event(Action::UserCreate, None);
    let mut u = user("nul-writer");
    u.display_name = "Mallory\0".into();
    assert_invalid(s.users.create_user(&u, &ev()).await);
    let mut u = user("nul-writer");
    u.username = Username::from_canonical("nul\0writer".into());
    assert_invalid(s.users.create_user(&u, &ev()).await);
    let mut u = user("nul-writer");
    u.shipping_address = Some("1 Main St\0".into());
    assert_invalid(s.users.create_user(&u, &ev()).await);
    assert_eq!(s.users.count_users().await.unwrap(), 0);

    let u = user("nul-writer");
    s.users.create_user(&u, &ev()).await.unwrap();
    let before = all_audit(s).await.len();
    let mut changed = u.clone();
    changed.email = "a\0@example.com".into();
    assert_invalid(s.users.update_user(&changed, &event(Action::UserUpdate, None)).await);
    assert_eq!(s.users.get_user(u.id).await.unwrap(), Some(u.clone()));

    let mut g = fixtures::group("nul group");
    g.description = "\0".into();
    assert_invalid(s.groups.create_group(&g, &event(Action::GroupCreate, None)).await);
    assert_eq!(s.groups.list_groups().await.unwrap(), []);

    let mut client = fixtures::client("kfc_w", "W\0");
    assert_invalid(
        s.clients
            .create_client(
                &client,
                &fixtures::secret("kfc_w", 0),
                &event(Action::ClientCreate, None),
            )
            .await,
    );
    client.name = "W".into();
    let mut secret = fixtures::secret("kfc_w", 0);
    secret.secret_hash.push('\0');
    assert_invalid(
        s.clients
            .create_client(&client, &secret, &event(Action::ClientCreate, None))
            .await,
    );
    assert_eq!(s.clients.get_client("kfc_w").await.unwrap(), None);
    let first = fixtures::secret("kfc_w", 0);
    s.clients
        .create_client(&client, &first, &event(Action::ClientCreate, None))
        .await
        .unwrap();
    let mut extra = fixtures::secret("kfc_w", MINUTE);
    extra.secret_hash = "\0".into();
    assert_invalid(
        s.clients
            .add_secret(&extra, 5, &event(Action::ClientSecretAdd, None))
            .await,
    );
    assert_invalid(
        s.clients
            .upgrade_secret_hash(
                "kfc_w",
                first.id,
                &first.secret_hash,
                "new\0",
                &event(Action::ClientSecretRehash, None),
            )
            .await,
    );
    assert_eq!(s.clients.list_secrets("kfc_w").await.unwrap(), [first]);

    let mut cred = fixtures::credential(u.id);
    fixtures::register(s, &cred).await;
    let logged_cred = all_audit(s).await.len();
    assert_invalid(
        s.credentials
            .rename_credential(u.id, &cred.id, "Desk\0", &event(Action::CredentialRename, None))
            .await,
    );
    cred.id = fixtures::credential_id(16);
    cred.transports = vec!["usb\0".into()];
    let c = fixtures::ceremony(keyfleet_domain::ceremony::CeremonyKind::Registration, Some(u.id));
    s.ceremonies.create_ceremony(&c).await.unwrap();
    assert_invalid(
        s.ceremonies
            .finish_registration(c.id, &cred, &event(Action::CredentialRegister, None))
            .await,
    );
    assert!(
        s.ceremonies.get_ceremony(c.id).await.unwrap().is_some(),
        "nothing written"
    );
    let mut c = fixtures::ceremony(keyfleet_domain::ceremony::CeremonyKind::Authentication, Some(u.id));
    c.rp_id = "keyfleet.example\0".into();
    assert_invalid(s.ceremonies.create_ceremony(&c).await);
    assert_eq!(s.ceremonies.get_ceremony(c.id).await.unwrap(), None);
    assert_eq!(all_audit(s).await.len(), logged_cred);

    let mut session = fixtures::default_session(u.id);
    session.client_addr = Some("192.0.2.1\0".into());
    assert_invalid(
        s.sessions
            .create_session(&session, &event(Action::AuthWebauthn, None))
            .await,
    );
    assert_eq!(s.sessions.list_user_sessions(u.id, at(1)).await.unwrap(), []);

    let mut key = fixtures::signing_key("kid\0", 0, true);
    assert_invalid(s.signing_keys.insert_signing_key(&key).await);
    key.kid = "kid".into();
    key.alg = "ES\0".into();
    assert_invalid(s.signing_keys.insert_signing_key(&key).await);
    assert_eq!(s.signing_keys.list_signing_keys().await.unwrap(), []);

    assert_invalid(s.rate_limits.hit("k\0", T0, MINUTE).await);
    assert_invalid(s.rate_limits.reserve("k\0", T0, MINUTE, 5).await);
    assert_invalid(s.jobs.ensure_job("j\0", T0).await);
    s.jobs.ensure_job("j", T0).await.unwrap();
    assert_invalid(s.jobs.claim_job("j", "holder\0", T0, at(MINUTE)).await);
    assert_eq!(
        s.jobs.claim_job("j", "h", T0, at(MINUTE)).await.unwrap(),
        Some(T0),
        "nothing was leased"
    );
    assert_invalid(s.jobs.finish_job("j", "h", T0, at(HOUR), "ok\0").await);
    assert_eq!(s.jobs.list_jobs().await.unwrap()[0].last_outcome, None);

    // An audit event with a NUL (built by hand: the constructor cleans what outsiders typed).
    let raw = NewAuditEvent {
        actor: Actor::Client("kfc\0".into()),
        ..event(Action::TokenIssue, None)
    };
    assert_invalid(s.audit.append(&raw).await);
    let mut with_detail = event(Action::UserUpdate, None);
    with_detail.request_id = Some("r\0".into());
    let mut renamed = u.clone();
    renamed.display_name = "Renamed".into();
    assert_invalid(s.users.update_user(&renamed, &with_detail).await);
    assert_eq!(
        s.users.get_user(u.id).await.unwrap(),
        Some(u),
        "the change went with its event"
    );

    assert_eq!(
        all_audit(s).await.len(),
        before + 2,
        "only the client and the registration were audited"
    );
}
