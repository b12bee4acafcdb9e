//! Values for the suite: users, sessions, TAPs, clients, keys, credentials, ceremonies and
//! audit events with random ids and digests, all at fixed, readable times.

use keyfleet_domain::audit::{Action, Actor, AuditEvent, AuditQuery, NewAuditEvent, Target};
use keyfleet_domain::ceremony::{Ceremony, CeremonyKind};
use keyfleet_domain::client::{ApiClient, ClientSecret, Scope};
use keyfleet_domain::credential::Credential;
use keyfleet_domain::group::{self, Group};
use keyfleet_domain::ids::{CeremonyId, SecretId, SessionId, TapId};
use keyfleet_domain::session::{Session, SessionKind};
use keyfleet_domain::signing_key::StoredSigningKey;
use keyfleet_domain::store::Stores;
use keyfleet_domain::tap::Tap;
use keyfleet_domain::user::{NewUser, Role, User, Username};
use keyfleet_domain::{GroupId, Timestamp, UserId};
use rand_core::{OsRng, RngCore};

/// The suite's "now": 2023-11-14T22:13:20Z.
pub const T0: Timestamp = Timestamp::from_millis(1_700_000_000_000);
/// One minute in milliseconds.
pub const MINUTE: i64 = 60_000;
/// One hour in milliseconds.
pub const HOUR: i64 = 60 * MINUTE;

/// `T0` plus `ms` milliseconds.
pub fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(T0.as_millis() + ms)
}

/// 32 random bytes.
pub fn digest() -> [u8; 32] {
    let mut d = [0u8; 32];
    OsRng.fill_bytes(&mut d);
    d
}

/// A worker named `name` (canonicalised), created at `T0`, with display name
/// `"Display <name>"` and email `<name>@example.com`.
pub fn user(name: &str) -> User {
    let username = Username::parse(name).unwrap_or_else(|e| panic!("fixture username {name:?}: {e}"));
    NewUser {
        display_name: format!("Display {}", username.as_str()),
        email: format!("{}@example.com", username.as_str()),
        username,
        manager_email: None,
        shipping_address: None,
        role: Role::Worker,
    }
    .into_user(T0, &mut OsRng)
}

/// An event by the system at `T0`.
pub fn event(action: Action, target: Option<Target>) -> NewAuditEvent {
    NewAuditEvent::new(T0, &Actor::System, action, target, Some("req-1"))
}

/// The audit target naming a user.
pub fn user_target(id: UserId) -> Option<Target> {
    Some(Target::User(id))
}

/// A full session for `user` opened at `now`, with the given idle and absolute lifetimes.
pub fn session(user: UserId, now: Timestamp, idle_ms: i64, absolute_ms: i64) -> Session {
    Session {
        id: SessionId::new_random(&mut OsRng),
        token_hash: digest(),
        user_id: user,
        kind: SessionKind::Full,
        created_at: now,
        last_seen_at: now,
        expires_at: Timestamp::from_millis(now.as_millis() + absolute_ms),
        idle_timeout_ms: idle_ms,
        client_addr: Some("192.0.2.7".to_owned()),
        credential_id: Some(vec![1, 2, 3, 4]),
        user_verified: true,
    }
}

/// A session with 30 minutes idle and 8 hours absolute lifetime, opened at `T0`.
pub fn default_session(user: UserId) -> Session {
    session(user, T0, 30 * MINUTE, 8 * HOUR)
}

/// A TAP for `user` issued at `T0`, valid for `lifetime_ms`.
pub fn tap(user: UserId, one_time: bool, lifetime_ms: i64) -> Tap {
    Tap {
        id: TapId::new_random(&mut OsRng),
        user_id: user,
        code_hash: digest(),
        one_time,
        created_at: T0,
        expires_at: at(lifetime_ms),
        use_count: 0,
    }
}

/// A group named `name`, created at `T0`.
pub fn group(name: &str) -> Group {
    let (name, name_key) = group::validate_name(name).unwrap_or_else(|e| panic!("fixture group {name:?}: {e}"));
    Group {
        id: GroupId::new_random(&mut OsRng),
        description: format!("about {name}"),
        name,
        name_key,
        created_at: T0,
    }
}

/// An enabled client with id `client_id` named `name` holding two scopes.
pub fn client(client_id: &str, name: &str) -> ApiClient {
    ApiClient {
        client_id: client_id.to_owned(),
        name: name.to_owned(),
        scopes: vec![Scope::UsersRead, Scope::AuditRead],
        enabled: true,
        created_at: T0,
    }
}

/// A secret of `client_id` created `offset_ms` after `T0`.
pub fn secret(client_id: &str, offset_ms: i64) -> ClientSecret {
    ClientSecret {
        id: SecretId::new_random(&mut OsRng),
        client_id: client_id.to_owned(),
        secret_hash: format!("$argon2id$v=19$m=19456,t=2,p=1${:016x}", OsRng.next_u64()),
        created_at: at(offset_ms),
        expires_at: None,
    }
}

/// A signing key created `offset_ms` after `T0`.
pub fn signing_key(kid: &str, offset_ms: i64, active: bool) -> StoredSigningKey {
    StoredSigningKey {
        kid: kid.to_owned(),
        alg: "ES256".to_owned(),
        encrypted_private_key: digest().to_vec(),
        public_key: [&[4u8][..], &digest(), &digest()].concat(),
        created_at: at(offset_ms),
        active,
        activates_at: None,
        retired_at: None,
    }
}

/// A random credential id of `len` bytes.
pub fn credential_id(len: usize) -> Vec<u8> {
    let mut id = vec![0u8; len];
    OsRng.fill_bytes(&mut id);
    id
}

/// A credential of `user` with a random 16-byte id, registered at `T0`: ES256, counter 0,
/// transports `usb` and `nfc`, not backed up, `packed` attestation.
pub fn credential(user: UserId) -> Credential {
    Credential {
        id: credential_id(16),
        user_id: user,
        public_key: [&[0xa5u8, 0x01, 0x02][..], &digest(), &digest()].concat(),
        alg: -7,
        sign_count: 0,
        aaguid: digest()[..16].try_into().unwrap_or([0; 16]),
        transports: vec!["usb".to_owned(), "nfc".to_owned()],
        backup_eligible: false,
        backup_state: false,
        uv_initialized: true,
        attestation_format: "packed".to_owned(),
        attestation_trust: "trusted".to_owned(),
        attestation_object: digest().to_vec(),
        nickname: "YubiKey".to_owned(),
        created_at: T0,
        last_used_at: None,
        possibly_cloned: false,
    }
}

/// A ceremony of `kind` for `user` started at `T0`, valid for five minutes.
pub fn ceremony(kind: CeremonyKind, user: Option<UserId>) -> Ceremony {
    Ceremony {
        id: CeremonyId::new_random(&mut OsRng),
        kind,
        challenge: digest().to_vec(),
        user_id: user,
        session_id: Some(SessionId::new_random(&mut OsRng)),
        rp_id: "keyfleet.example".to_owned(),
        user_verification: "required".to_owned(),
        allow_credentials: vec![credential_id(16), credential_id(64)],
        params: r#"{"algs":[-7,-8,-257]}"#.to_owned(),
        created_at: T0,
        expires_at: at(5 * MINUTE),
    }
}

/// Registers `credential` through a fresh registration ceremony, as the server does.
///
/// # Panics
/// When the store refuses.
pub async fn register(s: &Stores, credential: &Credential) {
    let c = ceremony(CeremonyKind::Registration, Some(credential.user_id));
    s.ceremonies
        .create_ceremony(&c)
        .await
        .expect("create registration ceremony");
    s.ceremonies
        .finish_registration(c.id, credential, &event(Action::CredentialRegister, None))
        .await
        .expect("finish registration");
}

/// Every audit event, newest first.
pub async fn all_audit(s: &Stores) -> Vec<AuditEvent> {
    s.audit
        .list(&AuditQuery {
            limit: 100_000,
            ..AuditQuery::default()
        })
        .await
        .expect("list audit")
}

/// The actions of every audit event, oldest first.
pub async fn audit_actions(s: &Stores) -> Vec<String> {
    let mut actions: Vec<String> = all_audit(s).await.into_iter().map(|e| e.action).collect();
    actions.reverse();
    actions
}

/// How `event` reads back from the log once stored with `id`: its fields as text.
pub fn stored(id: i64, event: &NewAuditEvent) -> AuditEvent {
    AuditEvent {
        id,
        at: event.at,
        actor: event.actor.to_string(),
        action: event.action.as_str().to_owned(),
        target: event.target.as_ref().map(ToString::to_string),
        outcome: event.outcome,
        request_id: event.request_id.clone(),
        detail: event.detail.clone(),
    }
}
