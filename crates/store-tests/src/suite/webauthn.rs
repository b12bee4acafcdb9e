//! The WebAuthn part of the contract: credentials, ceremonies, and the two transactions that
//! finish a ceremony (security checklist R20–R22, A13–A14, bad inputs 8–11, 23, 37, 38).

use keyfleet_domain::audit::{Action, AuditQuery};
use keyfleet_domain::ceremony::{Ceremony, CeremonyKind, FinishAssertion};
use keyfleet_domain::credential::{Credential, MAX_CREDENTIAL_ID_LEN};
use keyfleet_domain::ids::CeremonyId;
use keyfleet_domain::session::Session;
use keyfleet_domain::store::{StoreResult, Stores};
use keyfleet_domain::user::User;
use keyfleet_domain::{Timestamp, UserId};
use rand_core::OsRng;

use super::{assert_conflict, assert_not_found};
use crate::fixtures::{
    self, HOUR, MINUTE, T0, all_audit, at, audit_actions, ceremony, credential, event, register, user, user_target,
};

/// Creates a user named `name`.
async fn new_user(s: &Stores, name: &str) -> User {
    let u = user(name);
    s.users
        .create_user(&u, &event(Action::UserCreate, None))
        .await
        .expect("create user");
    u
}

/// A registered credential of `user` with counter `sign_count`.
async fn registered(s: &Stores, user: UserId, sign_count: u32) -> Credential {
    let mut c = credential(user);
    c.sign_count = sign_count;
    register(s, &c).await;
    c
}

/// A started authentication ceremony for `user` (`None`: username-less). Sign-in
/// ceremonies are sealed and held by the client: the store sees them only when they are spent.
async fn started_authentication(_: &Stores, user: Option<UserId>) -> Ceremony {
    ceremony(CeremonyKind::Authentication, user)
}

/// Whether the sign-in ceremony `c` was still unspent; spends it.
async fn was_unspent(s: &Stores, c: &Ceremony) -> bool {
    s.ceremonies.spend_ceremony(c.id, c.expires_at).await.unwrap()
}

/// The audit event of ending sessions of removed keys, as the core passes it.
fn removed_keys_event() -> &'static keyfleet_domain::audit::NewAuditEvent {
    Box::leak(Box::new(event(Action::SessionRevokeRemovedKeys, None)))
}

/// A session for `user` opened with `credential` at `now`.
fn key_session(user: UserId, credential: &[u8], now: Timestamp) -> Session {
    let mut session = fixtures::session(user, now, 30 * MINUTE, 8 * HOUR);
    session.credential_id = Some(credential.to_vec());
    session
}

/// The assertion that moves `cred`'s counter from `old` to `new` at `now`, opening `session`.
fn assertion<'a>(
    ceremony: CeremonyId,
    cred: &'a Credential,
    old: u32,
    new: u32,
    session: &'a Session,
) -> FinishAssertion<'a> {
    FinishAssertion {
        ceremony_id: ceremony,
        ceremony_expires_at: at(HOUR),
        credential_id: &cred.id,
        old_sign_count: old,
        new_sign_count: new,
        backup_state: false,
        uv_initialized: false,
        now: session.created_at,
        session,
        removed_key_sessions: removed_keys_event(),
    }
}

/// Finishes `ceremony` with `cred` moving the counter from `old` to `new`.
async fn authenticate(s: &Stores, ceremony: CeremonyId, cred: &Credential, old: u32, new: u32) -> StoreResult<Session> {
    let session = key_session(cred.user_id, &cred.id, at(MINUTE));
    let finish = assertion(ceremony, cred, old, new, &session);
    s.ceremonies
        .finish_authentication(&finish, &event(Action::AuthWebauthn, None))
        .await
        .map(|()| session)
}

/// The stored credential `id`, which must exist.
async fn stored(s: &Stores, id: &[u8]) -> Credential {
    s.credentials
        .get_credential(id)
        .await
        .unwrap()
        .expect("credential exists")
}

/// Whether the ceremony is still stored.
async fn ceremony_exists(s: &Stores, id: CeremonyId) -> bool {
    s.ceremonies.get_ceremony(id).await.unwrap().is_some()
}

/// Every credential field survives the round trip (R22), at the limits: a 1023-byte id,
/// `u32::MAX` counter, no transports; lookups, listing oldest first and counting. The
/// registration is audited and consumes its ceremony.
pub async fn credential_round_trip(s: &Stores) {
    let u = new_user(s, "cred-alice").await;
    let mut full = credential(u.id);
    full.id = fixtures::credential_id(MAX_CREDENTIAL_ID_LEN);
    full.sign_count = u32::MAX;
    full.alg = i64::MIN;
    full.aaguid = [0xff; 16];
    full.transports = Vec::new();
    full.backup_eligible = true;
    full.backup_state = true;
    full.uv_initialized = false;
    full.attestation_format = "none".into();
    full.attestation_trust = "none".into();
    full.attestation_object = Vec::new();
    full.nickname = "'; DROP TABLE credentials; -- ✓".into();
    full.created_at = at(2 * MINUTE);
    full.last_used_at = Some(at(3 * MINUTE));
    full.possibly_cloned = true;
    let mut first = credential(u.id);
    first.transports = vec!["usb".into(), "smart card".into(), String::new()];
    first.alg = -257;
    register(s, &full).await;
    register(s, &first).await;

    assert_eq!(stored(s, &full.id).await, full, "every field round-trips");
    let unspent = keyfleet_domain::ids::CeremonyId::new_random(&mut OsRng);
    let keyfleet_domain::policy::SignInLookup::Found(read) = super::policies::read_key(s, &full.id, unspent).await
    else {
        panic!("the sign-in's read finds the key");
    };
    assert_eq!(
        (read.credential, read.owner),
        (full.clone(), u.clone()),
        "with its owner, in one read"
    );
    assert!(read.policies.policies.is_empty() && !read.policies.model_compromised);
    assert_eq!(
        super::policies::read_key(s, &[9; 16], unspent).await,
        keyfleet_domain::policy::SignInLookup::UnknownKey
    );
    assert_eq!(stored(s, &first.id).await, first);
    assert_eq!(s.credentials.get_credential(&[9; 16]).await.unwrap(), None);
    let mut both = s
        .credentials
        .get_credentials(&[&full.id, &[9; 16], &first.id])
        .await
        .unwrap();
    both.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected = vec![first.clone(), full.clone()];
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(both, expected, "the keys that exist, every field, in one batch");
    assert!(s.credentials.get_credentials(&[]).await.unwrap().is_empty());
    assert_eq!(
        s.credentials.list_user_credentials(u.id).await.unwrap(),
        [first.clone(), full.clone()],
        "oldest first"
    );
    assert!(
        s.credentials
            .list_user_credentials(UserId::new_random(&mut OsRng))
            .await
            .unwrap()
            .is_empty()
    );
    // Several users' keys at once, each user's oldest first: a second owner's key, and users
    // with none or who do not exist, among 1 200 ids (three statements).
    let other = new_user(s, "cred-bob").await;
    let mut bobs = credential(other.id);
    bobs.created_at = at(MINUTE);
    register(s, &bobs).await;
    let mut ids: Vec<UserId> = (0..1_198).map(|_| UserId::new_random(&mut OsRng)).collect();
    ids.insert(17, u.id);
    ids.push(other.id);
    let listed = s.credentials.list_credentials_of_users(&ids).await.unwrap();
    let of = |owner: UserId| {
        listed
            .iter()
            .filter(|c| c.user_id == owner)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(of(u.id), [first.clone(), full.clone()], "oldest first, every field");
    assert_eq!(of(other.id), [bobs]);
    assert_eq!(listed.len(), 3);
    assert!(s.credentials.list_credentials_of_users(&[]).await.unwrap().is_empty());
    assert_eq!(s.credentials.count_credentials().await.unwrap(), 3);
    assert_eq!(
        audit_actions(s).await,
        [
            "user.create",
            "credential.register",
            "credential.register",
            "user.create",
            "credential.register"
        ]
    );
}

/// A credential id already registered to any user is `Conflict("credential_id")` (R21): the
/// whole transaction rolls back, so nothing is stored, nothing audited, and the ceremony
/// remains for the caller to consume. An over-long id is refused too (R20).
pub async fn credential_unique_across_users(s: &Stores) {
    let (a, b) = (new_user(s, "cred-a").await, new_user(s, "cred-b").await);
    let original = registered(s, a.id, 0).await;
    let before = all_audit(s).await.len();

    let mut copy = credential(b.id);
    copy.id = original.id.clone();
    let c = ceremony(CeremonyKind::Registration, Some(b.id));
    s.ceremonies.create_ceremony(&c).await.unwrap();
    assert_conflict(
        s.ceremonies
            .finish_registration(c.id, &copy, &event(Action::CredentialRegister, None))
            .await,
        "credential_id",
    );
    assert_eq!(stored(s, &original.id).await, original, "the original is untouched");
    assert!(s.credentials.list_user_credentials(b.id).await.unwrap().is_empty());
    assert_eq!(s.credentials.count_credentials().await.unwrap(), 1);
    assert_eq!(
        all_audit(s).await.len(),
        before,
        "a refused registration is not audited"
    );
    assert!(ceremony_exists(s, c.id).await, "the whole transaction rolled back");
    assert!(s.ceremonies.consume_ceremony(c.id).await.unwrap());

    let mut long = credential(b.id);
    long.id = fixtures::credential_id(MAX_CREDENTIAL_ID_LEN + 1);
    let c = ceremony(CeremonyKind::Registration, Some(b.id));
    s.ceremonies.create_ceremony(&c).await.unwrap();
    let refused = s
        .ceremonies
        .finish_registration(c.id, &long, &event(Action::CredentialRegister, None))
        .await;
    assert!(refused.is_err(), "a 1024-byte id is refused: {refused:?}");
    assert_eq!(s.credentials.count_credentials().await.unwrap(), 1);
    assert_eq!(all_audit(s).await.len(), before);
}

/// Renaming and deleting need the owner: another user's credential is `NotFound` and
/// nothing changes (IDOR). Deleting leaves the key's sessions alone; flagging a clone.
pub async fn credential_rename_delete_flag(s: &Stores) {
    let (owner, other) = (new_user(s, "cred-owner").await, new_user(s, "cred-other").await);
    let key = registered(s, owner.id, 5).await;
    let spare = registered(s, owner.id, 0).await;
    let theirs = registered(s, other.id, 0).await;
    let session = key_session(owner.id, &key.id, T0);
    s.sessions
        .create_session(&session, &event(Action::AuthWebauthn, None))
        .await
        .unwrap();
    let before = all_audit(s).await.len();

    assert_not_found(
        s.credentials
            .rename_credential(other.id, &key.id, "mine now", &event(Action::CredentialRename, None))
            .await,
    );
    assert_not_found(
        s.credentials
            .delete_credential(other.id, &key.id, &event(Action::CredentialDelete, None))
            .await,
    );
    assert_not_found(
        s.credentials
            .delete_credential(owner.id, &[1; 8], &event(Action::CredentialDelete, None))
            .await,
    );
    let c = started_authentication(s, Some(owner.id)).await;
    assert_not_found(
        s.ceremonies
            .flag_possible_clone(
                c.id,
                c.expires_at,
                &[1; 8],
                5,
                &event(Action::CredentialCloneSuspected, None),
            )
            .await,
    );
    assert_eq!(stored(s, &key.id).await, key, "nothing changed");
    assert_eq!(all_audit(s).await.len(), before, "refused changes are not audited");

    s.credentials
        .rename_credential(owner.id, &key.id, "Desk key", &event(Action::CredentialRename, None))
        .await
        .unwrap();
    assert_eq!(stored(s, &key.id).await.nickname, "Desk key");
    for _ in 0..2 {
        let c = started_authentication(s, Some(owner.id)).await;
        s.ceremonies
            .flag_possible_clone(
                c.id,
                c.expires_at,
                &key.id,
                5,
                &event(Action::CredentialCloneSuspected, None),
            )
            .await
            .expect("flagging again is harmless");
    }
    let flagged = stored(s, &key.id).await;
    assert!(flagged.possibly_cloned);
    assert_eq!((flagged.sign_count, flagged.nickname.as_str()), (5, "Desk key"));

    s.credentials
        .delete_credential(owner.id, &key.id, &event(Action::CredentialDelete, None))
        .await
        .unwrap();
    assert_eq!(s.credentials.get_credential(&key.id).await.unwrap(), None);
    assert_not_found(
        s.credentials
            .delete_credential(owner.id, &key.id, &event(Action::CredentialDelete, None))
            .await,
    );
    assert!(
        s.sessions
            .find_live_session(&session.token_hash, at(1))
            .await
            .unwrap()
            .is_some(),
        "an ordinary removal revokes no session"
    );

    let n = s
        .credentials
        .delete_user_credentials(owner.id, &event(Action::CredentialReset, None))
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(s.credentials.get_credential(&spare.id).await.unwrap(), None);
    assert_eq!(stored(s, &theirs.id).await, theirs, "another user's key stays");
    let none = s
        .credentials
        .delete_user_credentials(owner.id, &event(Action::CredentialReset, None))
        .await;
    assert_eq!(none.unwrap(), 0);
    let actions = audit_actions(s).await;
    assert_eq!(
        actions[before..],
        [
            "credential.rename",
            "credential.clone_suspected",
            "credential.clone_suspected",
            "credential.delete",
            "credential.reset",
            "credential.reset"
        ]
    );
}

/// Ceremonies: every field round-trips, expired ones are still returned, consuming deletes
/// exactly once, duplicates and unknown users are refused, purging deletes expired ones.
pub async fn ceremony_store_and_purge(s: &Stores) {
    let u = new_user(s, "cer-user").await;
    let reg = ceremony(CeremonyKind::Registration, Some(u.id));
    let mut anon = ceremony(CeremonyKind::Authentication, None);
    anon.session_id = None;
    anon.allow_credentials = Vec::new();
    anon.user_verification = "discouraged".into();
    anon.expires_at = at(HOUR);
    for c in [&reg, &anon] {
        s.ceremonies.create_ceremony(c).await.unwrap();
    }
    assert_eq!(s.ceremonies.get_ceremony(reg.id).await.unwrap().as_ref(), Some(&reg));
    assert_eq!(s.ceremonies.get_ceremony(anon.id).await.unwrap().as_ref(), Some(&anon));
    assert_eq!(
        s.ceremonies
            .get_ceremony(CeremonyId::new_random(&mut OsRng))
            .await
            .unwrap(),
        None
    );
    assert_conflict(s.ceremonies.create_ceremony(&reg).await, "ceremony");
    assert_not_found(
        s.ceremonies
            .create_ceremony(&ceremony(
                CeremonyKind::Registration,
                Some(UserId::new_random(&mut OsRng)),
            ))
            .await,
    );

    // reg expires at +5 min, anon at +1 h; purging is strictly before.
    assert_eq!(s.ceremonies.purge_ceremonies(at(5 * MINUTE)).await.unwrap(), 0);
    assert!(
        ceremony_exists(s, reg.id).await,
        "expired ceremonies are still returned"
    );
    assert_eq!(s.ceremonies.purge_ceremonies(at(5 * MINUTE + 1)).await.unwrap(), 1);
    assert!(!ceremony_exists(s, reg.id).await);
    assert!(ceremony_exists(s, anon.id).await);

    assert!(s.ceremonies.consume_ceremony(anon.id).await.unwrap());
    assert!(!s.ceremonies.consume_ceremony(anon.id).await.unwrap(), "consumed once");
    assert_eq!(s.ceremonies.purge_ceremonies(at(2 * HOUR)).await.unwrap(), 0);

    // Sign-in ceremonies are recorded as spent once, until they expire.
    let sealed = CeremonyId::new_random(&mut OsRng);
    assert!(s.ceremonies.spend_ceremony(sealed, at(3 * HOUR)).await.unwrap());
    assert!(
        !s.ceremonies.spend_ceremony(sealed, at(3 * HOUR)).await.unwrap(),
        "spent once"
    );
    assert_eq!(s.ceremonies.purge_ceremonies(at(3 * HOUR)).await.unwrap(), 0);
    assert!(!s.ceremonies.spend_ceremony(sealed, at(3 * HOUR)).await.unwrap());
    assert_eq!(s.ceremonies.purge_ceremonies(at(3 * HOUR + 1)).await.unwrap(), 1);
    assert!(
        s.ceremonies.spend_ceremony(sealed, at(3 * HOUR)).await.unwrap(),
        "purged with its expiry (a replay is refused for expiry by then)"
    );
    assert!(
        all_audit(s).await.iter().all(|e| e.action == "user.create"),
        "ceremonies are not audited"
    );
}

/// A registration ceremony finishes once (bad input 8): the second attempt is
/// `Conflict("ceremony_used")` and stores nothing. A ceremony of the other kind, or started
/// for another user, cannot finish a registration.
pub async fn finish_registration_once(s: &Stores) {
    let (u, v) = (new_user(s, "reg-u").await, new_user(s, "reg-v").await);
    let c = ceremony(CeremonyKind::Registration, Some(u.id));
    s.ceremonies.create_ceremony(&c).await.unwrap();
    let key = credential(u.id);
    s.ceremonies
        .finish_registration(c.id, &key, &event(Action::CredentialRegister, None))
        .await
        .unwrap();
    assert!(!ceremony_exists(s, c.id).await, "the challenge is consumed");
    let again = credential(u.id);
    assert_conflict(
        s.ceremonies
            .finish_registration(c.id, &again, &event(Action::CredentialRegister, None))
            .await,
        "ceremony_used",
    );

    let auth = started_authentication(s, Some(u.id)).await;
    let theirs = ceremony(CeremonyKind::Registration, Some(v.id));
    s.ceremonies.create_ceremony(&theirs).await.unwrap();
    for id in [auth.id, theirs.id] {
        assert_conflict(
            s.ceremonies
                .finish_registration(id, &again, &event(Action::CredentialRegister, None))
                .await,
            "ceremony_used",
        );
        assert!(id == auth.id || ceremony_exists(s, id).await, "nothing written");
    }
    assert_eq!(s.credentials.list_user_credentials(u.id).await.unwrap(), [key]);
    let registered = audit_actions(s)
        .await
        .iter()
        .filter(|a| *a == "credential.register")
        .count();
    assert_eq!(registered, 1);
}

/// A successful assertion consumes the ceremony, moves the counter, sets BS and
/// `last_used_at`, ORs `uv_initialized`, opens the session (with its credential id) and is
/// audited, all at once (A14). A replay is `Conflict("ceremony_used")` (bad input 8).
pub async fn finish_authentication_updates(s: &Stores) {
    let u = new_user(s, "auth-u").await;
    let key = registered(s, u.id, 7).await;
    let c = started_authentication(s, None).await;
    let session = key_session(u.id, &key.id, at(MINUTE));
    let mut finish = assertion(c.id, &key, 7, 8, &session);
    finish.backup_state = true;
    finish.uv_initialized = false;
    finish.now = at(MINUTE + 1);
    s.ceremonies
        .finish_authentication(&finish, &event(Action::AuthWebauthn, user_target(u.id)))
        .await
        .unwrap();

    let after = stored(s, &key.id).await;
    assert_eq!(after.sign_count, 8);
    assert!(after.backup_state);
    assert!(after.uv_initialized, "uv_initialized is never cleared");
    assert_eq!(after.last_used_at, Some(at(MINUTE + 1)));
    let expected = Credential {
        sign_count: 8,
        backup_state: true,
        last_used_at: Some(at(MINUTE + 1)),
        ..key.clone()
    };
    assert_eq!(after, expected, "nothing else changes");
    let (found, _) = s
        .sessions
        .find_live_session(&session.token_hash, at(2 * MINUTE))
        .await
        .unwrap()
        .expect("the session is open");
    assert_eq!(found, session, "the session round-trips with its credential id");
    assert_eq!(audit_actions(s).await.last().map(String::as_str), Some("auth.webauthn"));

    assert_conflict(authenticate(s, c.id, &key, 8, 9).await, "ceremony_used");
    assert_eq!(stored(s, &key.id).await.sign_count, 8);

    // uv_initialized goes from false to true, never back.
    let mut plain = credential(u.id);
    plain.uv_initialized = false;
    register(s, &plain).await;
    let c = started_authentication(s, Some(u.id)).await;
    let session = key_session(u.id, &plain.id, at(MINUTE));
    let mut finish = assertion(c.id, &plain, 0, 0, &session);
    finish.uv_initialized = true;
    s.ceremonies
        .finish_authentication(&finish, &event(Action::AuthWebauthn, None))
        .await
        .unwrap();
    assert!(stored(s, &plain.id).await.uv_initialized);
    assert_eq!(
        stored(s, &plain.id).await.sign_count,
        0,
        "counters at zero may stay zero"
    );
}

/// A compare-and-swap mismatch is `Conflict("sign_count")` and the whole transaction rolls
/// back: counter, sessions and the ceremony untouched, nothing audited (A13, A14, bad
/// input 11). A credential the session's user does not own is `NotFound` (A3; that the
/// key's owner is the user a ceremony was started for is the core's check, the ceremony
/// being sealed).
pub async fn finish_authentication_refusals(s: &Stores) {
    let (u, v) = (new_user(s, "cas-u").await, new_user(s, "cas-v").await);
    let key = registered(s, u.id, 10).await;
    let theirs = registered(s, v.id, 0).await;
    let c = started_authentication(s, Some(u.id)).await;
    let before = all_audit(s).await.len();

    assert_conflict(authenticate(s, c.id, &key, 9, 11).await, "sign_count");
    assert_eq!(stored(s, &key.id).await, key, "counter untouched");
    assert!(
        s.sessions
            .list_user_sessions(u.id, at(MINUTE))
            .await
            .unwrap()
            .is_empty(),
        "no session"
    );
    assert_eq!(all_audit(s).await.len(), before, "nothing audited");

    // The session's user must own the credential.
    let session = key_session(u.id, &theirs.id, at(MINUTE));
    let anon = started_authentication(s, None).await;
    let finish = assertion(anon.id, &theirs, 0, 1, &session);
    assert_not_found(
        s.ceremonies
            .finish_authentication(&finish, &event(Action::AuthWebauthn, None))
            .await,
    );
    assert_eq!(stored(s, &theirs.id).await, theirs);
    let gone = fixtures::credential(u.id);
    assert_not_found(authenticate(s, anon.id, &gone, 0, 1).await);
    assert!(was_unspent(s, &anon).await, "the refusals rolled back the spending");
    assert_eq!(stored(s, &theirs.id).await, theirs);
    assert!(
        s.sessions
            .list_user_sessions(v.id, at(MINUTE))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(all_audit(s).await.len(), before);

    // The caller's failure path spends the challenge; then the ceremony is used.
    assert!(was_unspent(s, &c).await, "the counter refusal rolled back the spending");
    assert_conflict(authenticate(s, c.id, &key, 10, 11).await, "ceremony_used");
    assert_eq!(stored(s, &key.id).await, key);
}

/// Two concurrent finishes of one ceremony: exactly one succeeds, the other is
/// `ceremony_used`; one session, one counter step.
pub async fn finish_authentication_race(s: &Stores) {
    let u = new_user(s, "race-u").await;
    let key = registered(s, u.id, 1).await;
    let c = started_authentication(s, Some(u.id)).await;
    let (ra, rb) = tokio::join!(authenticate(s, c.id, &key, 1, 2), authenticate(s, c.id, &key, 1, 2));
    let wins = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "exactly one finish succeeds: {ra:?} {rb:?}");
    assert_conflict(if ra.is_ok() { rb } else { ra }, "ceremony_used");
    assert_eq!(
        s.sessions.list_user_sessions(u.id, at(2 * MINUTE)).await.unwrap().len(),
        1
    );
    assert_eq!(stored(s, &key.id).await.sign_count, 2);
    let signins = audit_actions(s).await.iter().filter(|a| *a == "auth.webauthn").count();
    assert_eq!(signins, 1);
}

/// Sign-ins finishing together (SQLite writes those that wait for the writer in one
/// transaction: group commit). Each good one is written whole; one that fails in their midst
/// (a replayed ceremony) fails alone, with its own error, and takes nobody with it.
pub async fn finish_authentication_together(s: &Stores) {
    let mut keys = Vec::new();
    for i in 0..5 {
        let u = new_user(s, &format!("together-{i}")).await;
        keys.push(registered(s, u.id, 10).await);
    }
    let other = new_user(s, "together-replay").await;
    let other_key = registered(s, other.id, 10).await;
    let replayed = started_authentication(s, None).await;
    authenticate(s, replayed.id, &other_key, 10, 11).await.unwrap();
    for round in 1..=2_u32 {
        let mut c = Vec::new();
        for _ in 0..5 {
            c.push(started_authentication(s, None).await);
        }
        let (old, new) = (9 + round, 10 + round);
        let (r0, r1, r2, r3, r4, replay) = tokio::join!(
            authenticate(s, c[0].id, &keys[0], old, new),
            authenticate(s, c[1].id, &keys[1], old, new),
            authenticate(s, c[2].id, &keys[2], old, new),
            authenticate(s, c[3].id, &keys[3], old, new),
            authenticate(s, c[4].id, &keys[4], old, new),
            // Round 1 replays a spent ceremony; round 2 has no failure in it.
            async {
                if round == 1 {
                    authenticate(s, replayed.id, &other_key, 11, 12).await.map(|_| ())
                } else {
                    Ok(())
                }
            },
        );
        for (i, r) in [r0, r1, r2, r3, r4].into_iter().enumerate() {
            let session = r.unwrap_or_else(|e| panic!("round {round}: sign-in {i} failed: {e:?}"));
            assert!(
                s.sessions
                    .find_live_session(&session.token_hash, at(2 * MINUTE))
                    .await
                    .unwrap()
                    .is_some(),
                "round {round}: sign-in {i}'s session"
            );
        }
        if round == 1 {
            assert_conflict(replay, "ceremony_used");
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(stored(s, &k.id).await.sign_count, new, "round {round}: key {i}");
            assert_eq!(
                s.sessions
                    .list_user_sessions(k.user_id, at(2 * MINUTE))
                    .await
                    .unwrap()
                    .len(),
                round as usize
            );
        }
        assert_eq!(
            stored(s, &other_key.id).await.sign_count,
            11,
            "the replay wrote nothing"
        );
        let signins = audit_actions(s).await.iter().filter(|a| *a == "auth.webauthn").count();
        assert_eq!(signins, 1 + 5 * round as usize, "round {round}: one event per sign-in");
    }
}

/// Two concurrent assertions of one key in two ceremonies, both read at the same counter:
/// the compare-and-swap lets exactly one through (bad input 38: no lost update); the loser
/// wrote nothing and its ceremony remains.
pub async fn sign_count_race(s: &Stores) {
    let u = new_user(s, "cas-race").await;
    let key = registered(s, u.id, 100).await;
    let (a, b) = (
        started_authentication(s, Some(u.id)).await,
        started_authentication(s, None).await,
    );
    let (ra, rb) = tokio::join!(
        authenticate(s, a.id, &key, 100, 101),
        authenticate(s, b.id, &key, 100, 102)
    );
    let wins = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "exactly one swap succeeds: {ra:?} {rb:?}");
    let (winner, _, count) = if ra.is_ok() {
        (a.id, b.id, 101)
    } else {
        (b.id, a.id, 102)
    };
    assert_conflict(if ra.is_ok() { rb } else { ra }, "sign_count");
    assert_eq!(stored(s, &key.id).await.sign_count, count);
    let (winner, loser) = if winner == a.id { (&a, &b) } else { (&b, &a) };
    assert!(!was_unspent(s, winner).await);
    assert!(was_unspent(s, loser).await, "the loser's transaction rolled back");
    assert_eq!(
        s.sessions.list_user_sessions(u.id, at(2 * MINUTE)).await.unwrap().len(),
        1
    );
}

/// "I lost this key": only the sessions opened with that key end; the count is of those
/// live at the event's time; the key's owner keeps other sessions, other users theirs.
pub async fn revoke_credential_sessions(s: &Stores) {
    let (u, v) = (new_user(s, "lost-u").await, new_user(s, "lost-v").await);
    let (lost, kept) = (registered(s, u.id, 0).await, registered(s, u.id, 0).await);
    let live1 = key_session(u.id, &lost.id, T0);
    let live2 = key_session(u.id, &lost.id, T0);
    let mut idled = key_session(u.id, &lost.id, T0);
    idled.idle_timeout_ms = MINUTE;
    let other_key = key_session(u.id, &kept.id, T0);
    let mut tap = fixtures::default_session(u.id);
    tap.credential_id = None;
    let mut theirs = fixtures::default_session(v.id);
    theirs.credential_id = Some(kept.id.clone());
    for x in [&live1, &live2, &idled, &other_key, &tap, &theirs] {
        s.sessions
            .create_session(x, &event(Action::AuthWebauthn, None))
            .await
            .unwrap();
    }
    let mut ev = event(Action::CredentialLost, None);
    ev.at = at(5 * MINUTE);
    assert_eq!(
        s.sessions.revoke_credential_sessions(&lost.id, &ev).await.unwrap(),
        2,
        "counts live sessions"
    );
    let now = at(6 * MINUTE);
    for x in [&live1, &live2] {
        assert_eq!(s.sessions.find_live_session(&x.token_hash, now).await.unwrap(), None);
    }
    let left: Vec<Session> = s.sessions.list_user_sessions(u.id, now).await.unwrap();
    assert_eq!(left.len(), 2, "other sessions stay: {left:?}");
    assert!(
        left.contains(&other_key) && left.contains(&tap),
        "credential_id None round-trips"
    );
    assert!(
        s.sessions
            .find_live_session(&theirs.token_hash, now)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(s.sessions.revoke_credential_sessions(&lost.id, &ev).await.unwrap(), 0);
    assert_eq!(stored(s, &lost.id).await, lost, "the credential itself stays");
    let audited = audit_actions(s)
        .await
        .iter()
        .filter(|a| *a == "credential.lost")
        .count();
    assert_eq!(audited, 2);
}

/// "Sessions last until the next sign-in": after a key is removed, the user's next sign-in
/// (its own transaction) ends the user's sessions opened with keys they no longer hold, and
/// only those, audited; with nothing to end it writes nothing more, audit included.
pub async fn revoke_sessions_of_removed_keys(s: &Stores) {
    let (u, v) = (new_user(s, "orphan-u").await, new_user(s, "orphan-v").await);
    let (removed, kept) = (registered(s, u.id, 0).await, registered(s, u.id, 0).await);
    let theirs_key = registered(s, v.id, 0).await;
    let on_removed = key_session(u.id, &removed.id, T0);
    let on_kept = key_session(u.id, &kept.id, T0);
    let mut tap = fixtures::default_session(u.id);
    tap.credential_id = None;
    let theirs = key_session(v.id, &theirs_key.id, T0);
    for x in [&on_removed, &on_kept, &tap, &theirs] {
        s.sessions
            .create_session(x, &event(Action::AuthWebauthn, None))
            .await
            .unwrap();
    }
    async fn count(s: &Stores) -> usize {
        audit_actions(s)
            .await
            .iter()
            .filter(|a| *a == "session.revoke_removed_keys")
            .count()
    }
    let mut counter = 0;
    let mut sign_in = async |s: &Stores| {
        let c = started_authentication(s, Some(u.id)).await;
        counter += 1;
        authenticate(s, c.id, &kept, counter - 1, counter)
            .await
            .expect("sign in")
    };
    let first = sign_in(s).await;
    assert_eq!(count(s).await, 0, "nothing ended, nothing audited");
    s.credentials
        .delete_credential(u.id, &removed.id, &event(Action::CredentialDelete, None))
        .await
        .unwrap();
    let now = at(MINUTE);
    assert!(
        s.sessions
            .find_live_session(&on_removed.token_hash, now)
            .await
            .unwrap()
            .is_some(),
        "a removed key's session lasts until the next sign-in"
    );
    let second = sign_in(s).await;
    assert_eq!(count(s).await, 1);
    let now = at(2 * MINUTE);
    assert_eq!(
        s.sessions.find_live_session(&on_removed.token_hash, now).await.unwrap(),
        None
    );
    let left = s.sessions.list_user_sessions(u.id, now).await.unwrap();
    for kept in [&on_kept, &tap, &first, &second] {
        assert!(left.contains(kept), "{kept:?} not in {left:?}");
    }
    assert!(
        s.sessions
            .find_live_session(&theirs.token_hash, now)
            .await
            .unwrap()
            .is_some()
    );
    // Another user's removed key is not this user's business.
    s.credentials
        .delete_credential(v.id, &theirs_key.id, &event(Action::CredentialDelete, None))
        .await
        .unwrap();
    sign_in(s).await;
    assert_eq!(count(s).await, 1, "nothing more to end");
    assert!(
        s.sessions
            .find_live_session(&theirs.token_hash, now)
            .await
            .unwrap()
            .is_some()
    );
}

/// Deleting a user deletes their credentials and ceremonies, and nobody else's; the id of a
/// deleted credential may be registered again.
pub async fn user_delete_cascades_webauthn(s: &Stores) {
    let (u, v) = (new_user(s, "gone").await, new_user(s, "stays").await);
    let key = registered(s, u.id, 3).await;
    let keep = registered(s, v.id, 0).await;
    let reg = ceremony(CeremonyKind::Registration, Some(u.id));
    s.ceremonies.create_ceremony(&reg).await.unwrap();
    let theirs = ceremony(CeremonyKind::Registration, Some(v.id));
    s.ceremonies.create_ceremony(&theirs).await.unwrap();

    s.users
        .delete_user(u.id, &event(Action::UserDelete, user_target(u.id)))
        .await
        .unwrap();
    assert_eq!(s.credentials.get_credential(&key.id).await.unwrap(), None);
    assert!(s.credentials.list_user_credentials(u.id).await.unwrap().is_empty());
    assert!(!ceremony_exists(s, reg.id).await);
    assert!(ceremony_exists(s, theirs.id).await);
    assert_eq!(stored(s, &keep.id).await, keep);
    assert_eq!(s.credentials.count_credentials().await.unwrap(), 1);

    let mut reused = credential(v.id);
    reused.id = key.id.clone();
    register(s, &reused).await;
    assert_eq!(stored(s, &key.id).await.user_id, v.id);
    let deletes = s
        .audit
        .list(&AuditQuery {
            target: Some(format!("user:{}", u.id)),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(deletes.len(), 1, "the deletion is audited once");
}

/// Flags `cred` as possibly cloned through `ceremony`, having seen the counter at `seen`.
async fn flag(s: &Stores, ceremony: CeremonyId, cred: &Credential, seen: u32) -> StoreResult<()> {
    s.ceremonies
        .flag_possible_clone(
            ceremony,
            at(HOUR),
            &cred.id,
            seen,
            &event(Action::CredentialCloneSuspected, None),
        )
        .await
}

/// A13: a clone flag needs an unspent ceremony and an unmoved counter. The flag consumes the
/// ceremony and is audited; a spent ceremony is `ceremony_used` and changes nothing; a moved
/// counter is `sign_count` (the ceremony is consumed, the key not flagged); a key that is gone
/// is `NotFound` (the ceremony is consumed).
pub async fn flag_possible_clone_rules(s: &Stores) {
    let u = new_user(s, "clone-u").await;
    let key = registered(s, u.id, 5).await;
    let before = all_audit(s).await.len();

    let c = started_authentication(s, Some(u.id)).await;
    flag(s, c.id, &key, 5).await.expect("an unspent ceremony flags");
    assert!(stored(s, &key.id).await.possibly_cloned);
    assert_eq!(stored(s, &key.id).await.sign_count, 5, "the counter is left alone");
    assert!(!was_unspent(s, &c).await, "the flag consumes the ceremony");
    assert_eq!(audit_actions(s).await[before..], ["credential.clone_suspected"]);
    assert_conflict(flag(s, c.id, &key, 5).await, "ceremony_used");

    // A double submission: the first copy signed in, the second must not flag.
    let clean = registered(s, u.id, 7).await;
    let c = started_authentication(s, Some(u.id)).await;
    authenticate(s, c.id, &clean, 7, 8).await.expect("sign in");
    let logged = all_audit(s).await.len();
    assert_conflict(flag(s, c.id, &clean, 7).await, "ceremony_used");
    assert!(
        !stored(s, &clean.id).await.possibly_cloned,
        "a spent ceremony flags nothing"
    );
    assert_eq!(all_audit(s).await.len(), logged, "nor is it audited");

    // The counter moved since it was read.
    let c = started_authentication(s, Some(u.id)).await;
    assert_conflict(flag(s, c.id, &clean, 7).await, "sign_count");
    assert!(!stored(s, &clean.id).await.possibly_cloned);
    assert!(!was_unspent(s, &c).await, "the ceremony is consumed");
    assert_eq!(all_audit(s).await.len(), logged);

    // The key is gone.
    let c = started_authentication(s, Some(u.id)).await;
    let gone = credential(u.id);
    assert_not_found(flag(s, c.id, &gone, 0).await);
    assert!(!was_unspent(s, &c).await, "the ceremony is consumed");
    assert_eq!(all_audit(s).await.len(), logged);
}

/// The double-submit race (A13): one assertion submitted twice, one copy signing in and the
/// other flagging, many times over. Exactly one wins each time, and the key is flagged only
/// when the flag won: never after a sign-in with the same ceremony.
pub async fn flag_possible_clone_race(s: &Stores) {
    let u = new_user(s, "clone-race").await;
    for trial in 0..200 {
        let key = registered(s, u.id, 5).await;
        let c = started_authentication(s, Some(u.id)).await;
        let (signed_in, flagged) = if trial % 2 == 0 {
            tokio::join!(authenticate(s, c.id, &key, 5, 6), flag(s, c.id, &key, 5))
        } else {
            let (f, a) = tokio::join!(flag(s, c.id, &key, 5), authenticate(s, c.id, &key, 5, 6));
            (a, f)
        };
        let now = stored(s, &key.id).await;
        match (&signed_in, &flagged) {
            (Ok(_), Err(_)) => {
                assert_conflict(flagged, "ceremony_used");
                assert!(!now.possibly_cloned, "trial {trial}: flagged after the sign-in won");
                assert_eq!(now.sign_count, 6);
            }
            (Err(_), Ok(())) => {
                assert_conflict(signed_in, "ceremony_used");
                assert!(now.possibly_cloned, "trial {trial}: the flag won but did not flag");
                assert_eq!(now.sign_count, 5, "trial {trial}: the losing sign-in moved the counter");
            }
            _ => panic!("trial {trial}: exactly one must win: {signed_in:?} {flagged:?}"),
        }
    }
}

/// A sign-in whose future is dropped at any point (the client went away) commits whole or
/// not at all, and leaves the store usable: the one-round-trip batch holds its own
/// `BEGIN … COMMIT`, which must not stay open on the writer's connection. The same sign-in
/// sent again then either goes through or finds the ceremony used (waiting, on PostgreSQL,
/// for a cut-short statement the server was still running): either way it counted once.
pub async fn finish_authentication_cancelled(s: &Stores) {
    let u = new_user(s, "cancel-auth-u").await;
    let key = registered(s, u.id, 0).await;
    for step in 0..40u32 {
        let count = stored(s, &key.id).await.sign_count;
        let c = started_authentication(s, None).await;
        let session = key_session(u.id, &key.id, at(MINUTE));
        let finish = assertion(c.id, &key, count, count + 1, &session);
        let audit = event(Action::AuthWebauthn, user_target(u.id));
        // Cut short after 0, 20, 40 … µs: before the write, during it, or after it.
        let cut = std::time::Duration::from_micros(u64::from(step) * 20);
        let _ = tokio::time::timeout(cut, s.ceremonies.finish_authentication(&finish, &audit)).await;
        match s.ceremonies.finish_authentication(&finish, &audit).await {
            Ok(()) | Err(keyfleet_domain::StoreError::Conflict("ceremony_used")) => {}
            other => panic!("step {step}: the same sign-in again: {other:?}"),
        }
        assert_eq!(
            stored(s, &key.id).await.sign_count,
            count + 1,
            "step {step}: counted once"
        );
        let opened = s
            .sessions
            .list_user_sessions(u.id, at(MINUTE))
            .await
            .unwrap()
            .iter()
            .any(|x| x.id == session.id);
        assert!(opened, "step {step}: the session opened with the counter");
    }
}
