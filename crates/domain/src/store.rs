//! The narrow store traits, one per concern.
//!
//! Every method that changes state takes the audit event that records it, and the store
//! writes both in one transaction: a change without its audit entry, or an entry without its
//! change, cannot happen. Uniqueness and existence violations come back as
//! [`StoreError::Conflict`] and [`StoreError::NotFound`], never as raw database errors.
//!
//! The SQLite and PostgreSQL crates implement every trait; `keyfleet-store-tests` holds one
//! conformance suite that both must pass.

use std::sync::Arc;

use async_trait::async_trait;
use thiserror::Error;

use crate::audit::{AuditEvent, AuditQuery, NewAuditEvent};
use crate::ceremony::{Ceremony, FinishAssertion};
use crate::client::{ApiClient, ClientSecret};
use crate::consent::ConsentStore;
use crate::credential::Credential;
use crate::directory::DirectoryStore;
use crate::group::Group;
use crate::ids::{CeremonyId, SecretId, SessionId};
use crate::keyring::KeyringStore;
use crate::metadata::MetadataStore;
use crate::oidc::OidcStore;
use crate::onbehalf::OnBehalfStore;
use crate::outbox::MailStore;
use crate::policy::PolicyStore;
use crate::report::{FleetCounts, FleetQuery, ModelCount, RegistrationQuery, RegistrationRow};
use crate::session::Session;
use crate::shipment::ShipmentStore;
use crate::signing_key::StoredSigningKey;
use crate::strength::StrengthStore;
use crate::tap::Tap;
use crate::user::{User, UserQuery, Username};
use crate::{GroupId, Timestamp, UserId};

/// What can go wrong in a store.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The row to change or delete does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule would break; the string names the rule (`username`, `group_name`, …).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A value the database cannot hold (a NUL character in text); nothing was written.
    /// Lookups never report it: text with a NUL matches nothing, as in either database.
    #[error("invalid value: {0}")]
    Invalid(&'static str),
    /// The database could not be reached or the transaction failed; safe to retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A stored value could not be read back (a bug or a hand-edited database).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user. `Conflict("username")` when the canonical username is taken.
    async fn create_user(&self, user: &User, audit: &NewAuditEvent) -> StoreResult<()>;
    /// A user by id.
    async fn get_user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// The users among `ids` that exist, in no particular order (one query per 500 ids; the
    /// names on a page of a listing).
    async fn get_users(&self, ids: &[UserId]) -> StoreResult<Vec<User>>;
    /// A user by canonical username.
    async fn find_user_by_username(&self, username: &Username) -> StoreResult<Option<User>>;
    /// A user by WebAuthn user handle.
    async fn find_user_by_handle(&self, handle: &[u8]) -> StoreResult<Option<User>>;
    /// A page of users ordered by username.
    async fn list_users(&self, query: &UserQuery) -> StoreResult<Vec<User>>;
    /// How many users exist.
    async fn count_users(&self) -> StoreResult<u64>;
    /// Replaces the mutable attributes (display name, emails, address, enabled, role,
    /// updated_at) of an existing user. When `user.enabled` is false the same transaction
    /// revokes all the user's sessions. `NotFound` when the id is unknown.
    async fn update_user(&self, user: &User, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Deletes a user with their sessions, TAP, group memberships, credentials and
    /// ceremonies. `NotFound` when unknown.
    async fn delete_user(&self, id: UserId, audit: &NewAuditEvent) -> StoreResult<()>;
    /// First start: creates the initial administrator and their setup TAP, but only if no
    /// instance has ever done so (a marker row decides, so two processes starting together on
    /// one database create exactly one administrator). Returns whether this call created it.
    async fn bootstrap_admin(&self, user: &User, tap: &Tap, audit: &NewAuditEvent) -> StoreResult<bool>;
}

/// Groups and membership.
#[async_trait]
pub trait GroupStore: Send + Sync {
    /// Inserts a group. `Conflict("group_name")` when the name (case-insensitively) is taken.
    async fn create_group(&self, group: &Group, audit: &NewAuditEvent) -> StoreResult<()>;
    /// A group by id.
    async fn get_group(&self, id: GroupId) -> StoreResult<Option<Group>>;
    /// All groups ordered by name.
    async fn list_groups(&self) -> StoreResult<Vec<Group>>;
    /// Deletes a group and its memberships. `NotFound` when unknown.
    async fn delete_group(&self, id: GroupId, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Adds a member; adding an existing member is a no-op. `NotFound` when either is unknown.
    async fn add_member(&self, group: GroupId, user: UserId, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Removes a member. `NotFound` when the membership does not exist.
    async fn remove_member(&self, group: GroupId, user: UserId, audit: &NewAuditEvent) -> StoreResult<()>;
    /// The members of a group ordered by username.
    async fn list_members(&self, group: GroupId) -> StoreResult<Vec<User>>;
    /// The groups a user belongs to, ordered by name.
    async fn list_user_groups(&self, user: UserId) -> StoreResult<Vec<Group>>;
    /// The groups of each of `users` (one query per 500 users; a page of a list):
    /// `(user, group)` pairs, by user, then group name.
    async fn list_groups_of_users(&self, users: &[UserId]) -> StoreResult<Vec<(UserId, Group)>>;
    /// The members of each of `groups` (one query per 500 groups): `(group, user)` pairs, by
    /// group, then username.
    async fn list_members_of_groups(&self, groups: &[GroupId]) -> StoreResult<Vec<(GroupId, User)>>;
}

/// Server-side sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Inserts a session.
    async fn create_session(&self, session: &Session, audit: &NewAuditEvent) -> StoreResult<()>;
    /// The session with this token digest and its user, if the session exists, is not revoked,
    /// is live at `now` (idle and absolute lifetimes) and its user is enabled.
    async fn find_live_session(&self, token_hash: &[u8; 32], now: Timestamp) -> StoreResult<Option<(Session, User)>>;
    /// Records activity: sets `last_seen_at` to `now`.
    async fn touch_session(&self, id: SessionId, now: Timestamp) -> StoreResult<()>;
    /// Revokes one session. `NotFound` when it does not exist or is already revoked.
    async fn revoke_session(&self, id: SessionId, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Revokes every session of a user; returns how many were live.
    async fn revoke_user_sessions(&self, user: UserId, audit: &NewAuditEvent) -> StoreResult<u64>;
    /// Revokes every session opened with the credential `credential_id` (a lost or stolen
    /// key); returns how many were live at the event's time. Other sessions are untouched.
    async fn revoke_credential_sessions(&self, credential_id: &[u8], audit: &NewAuditEvent) -> StoreResult<u64>;
    /// The user's unrevoked sessions that are live at `now`, newest first.
    async fn list_user_sessions(&self, user: UserId, now: Timestamp) -> StoreResult<Vec<Session>>;
    /// Deletes sessions that ended before `before` (revoked or expired); returns how many.
    async fn purge_sessions(&self, before: Timestamp) -> StoreResult<u64>;
}

/// Temporary access passes.
#[async_trait]
pub trait TapStore: Send + Sync {
    /// Stores a TAP, replacing the user's previous one in the same transaction.
    /// `NotFound` when the user does not exist.
    async fn issue_tap(&self, tap: &Tap, audit: &NewAuditEvent) -> StoreResult<()>;
    /// The user's current TAP, if any (expired or used-up ones included until replaced).
    async fn find_tap(&self, user: UserId) -> StoreResult<Option<Tap>>;
    /// Redeems a TAP and opens the session in one transaction: increments `use_count` only if
    /// the TAP still exists, has not expired at `now` and (when one-time) is unused; then
    /// inserts `session` and the audit event. `Conflict("tap_used")` when another request
    /// redeemed or replaced it first; nothing is written then.
    async fn redeem_tap(&self, tap: &Tap, session: &Session, now: Timestamp, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Deletes the user's TAP. `NotFound` when there is none.
    async fn delete_tap(&self, user: UserId, audit: &NewAuditEvent) -> StoreResult<()>;
}

/// API clients and their secrets.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Inserts a client with its first secret. `Conflict("client_id")` on a duplicate id.
    async fn create_client(&self, client: &ApiClient, secret: &ClientSecret, audit: &NewAuditEvent) -> StoreResult<()>;
    /// A client by id.
    async fn get_client(&self, client_id: &str) -> StoreResult<Option<ApiClient>>;
    /// All clients ordered by name.
    async fn list_clients(&self) -> StoreResult<Vec<ApiClient>>;
    /// Sets `enabled`. `NotFound` when unknown.
    async fn set_client_enabled(&self, client_id: &str, enabled: bool, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Deletes a client and its secrets. `NotFound` when unknown.
    async fn delete_client(&self, client_id: &str, audit: &NewAuditEvent) -> StoreResult<()>;
    /// The client's secrets (hashes only), oldest first.
    async fn list_secrets(&self, client_id: &str) -> StoreResult<Vec<ClientSecret>>;
    /// A client with its secrets (oldest first) in one read, for the token endpoint; `None`
    /// when the client is unknown.
    async fn client_with_secrets(&self, client_id: &str) -> StoreResult<Option<(ApiClient, Vec<ClientSecret>)>> {
        let Some(client) = self.get_client(client_id).await? else {
            return Ok(None);
        };
        Ok(Some((client, self.list_secrets(client_id).await?)))
    }
    /// Adds a secret unless the client already holds `max` secrets, checked in the same
    /// transaction: `Conflict("secret_limit")` then. `NotFound` when the client is unknown.
    async fn add_secret(&self, secret: &ClientSecret, max: usize, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Sets or clears a secret's expiry (phasing it out). `NotFound` when unknown.
    async fn set_secret_expiry(
        &self,
        client_id: &str,
        id: SecretId,
        expires_at: Option<Timestamp>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// Replaces a secret's stored digest with one of the current scheme, only while it still
    /// holds `old_hash` (compare-and-set; a concurrent rotation wins). `NotFound` when the
    /// secret is gone or no longer holds `old_hash`.
    async fn upgrade_secret_hash(
        &self,
        client_id: &str,
        id: SecretId,
        old_hash: &str,
        new_hash: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// Deletes a secret. `NotFound` when unknown.
    async fn delete_secret(&self, client_id: &str, id: SecretId, audit: &NewAuditEvent) -> StoreResult<()>;
}

/// WebAuthn credentials (registered keys). Registration and sign-in write them through
/// [`CeremonyStore`], which consumes the challenge in the same transaction.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// A credential by id, whoever owns it.
    async fn get_credential(&self, id: &[u8]) -> StoreResult<Option<Credential>>;
    /// The credentials among `ids` that exist, whoever owns them, in no particular order (one
    /// query per 500 ids; the keys named on a page of a listing).
    async fn get_credentials(&self, ids: &[&[u8]]) -> StoreResult<Vec<Credential>>;
    /// The user's credentials, oldest first.
    async fn list_user_credentials(&self, user: UserId) -> StoreResult<Vec<Credential>>;
    /// The credentials of each of `users`, by user, oldest first (one query per 500 users; a
    /// page of people walked through).
    async fn list_credentials_of_users(&self, users: &[UserId]) -> StoreResult<Vec<Credential>>;
    /// Sets the nickname (validated by the caller). `NotFound` unless `user` owns `id`.
    async fn rename_credential(
        &self,
        user: UserId,
        id: &[u8],
        nickname: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// Deletes a credential. `NotFound` unless `user` owns `id`. Sessions opened with it are
    /// not revoked (see [`SessionStore::revoke_credential_sessions`]); if any are live, they
    /// are marked to end at the user's next sign-in
    /// ([`CeremonyStore::finish_authentication`] ends them).
    async fn delete_credential(&self, user: UserId, id: &[u8], audit: &NewAuditEvent) -> StoreResult<()>;
    /// Deletes every credential of a user; returns how many.
    async fn delete_user_credentials(&self, user: UserId, audit: &NewAuditEvent) -> StoreResult<u64>;
    /// How many credentials exist.
    async fn count_credentials(&self) -> StoreResult<u64>;
}

/// WebAuthn ceremonies in progress, and the transactions that finish them.
#[async_trait]
pub trait CeremonyStore: Send + Sync {
    /// Stores a started ceremony. `Conflict("ceremony")` on a duplicate id, `NotFound` when
    /// `user_id` names no user.
    async fn create_ceremony(&self, ceremony: &Ceremony) -> StoreResult<()>;
    /// A ceremony by id, expired ones included (the caller reports `challenge_expired`).
    async fn get_ceremony(&self, id: CeremonyId) -> StoreResult<Option<Ceremony>>;
    /// Deletes a ceremony; true when this call deleted it. Failure paths call it so a
    /// challenge is consumed whether the ceremony succeeds or fails.
    async fn consume_ceremony(&self, id: CeremonyId) -> StoreResult<bool>;
    /// Finishes a registration in one transaction: deletes the ceremony, inserts the
    /// credential, appends the audit event.
    ///
    /// `Conflict("ceremony_used")` when the ceremony is gone (used, purged) or is not a
    /// registration for `credential.user_id`; `Conflict("credential_id")` when any user
    /// already holds the id; `NotFound` when the user is gone. Nothing is written on error,
    /// the ceremony included: the caller consumes it with [`Self::consume_ceremony`].
    async fn finish_registration(
        &self,
        ceremony_id: CeremonyId,
        credential: &Credential,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// Records a sign-in ceremony (kept by the client, sealed: the store never saw it start)
    /// as spent until it expires; true when this call spent it. Failure paths call it so a
    /// challenge is consumed whether the sign-in succeeds or fails.
    async fn spend_ceremony(&self, id: CeremonyId, expires_at: Timestamp) -> StoreResult<bool>;
    /// Whether the sign-in ceremony `id` is recorded as spent (and not yet purged).
    async fn ceremony_spent(&self, id: CeremonyId) -> StoreResult<bool>;
    /// Finishes an authentication in one transaction: records the ceremony as spent,
    /// compares and swaps the credential's counter (setting `backup_state`, ORing
    /// `uv_initialized`, setting `last_used_at`), inserts the session, ends the sessions
    /// waiting for the user's next sign-in because their key was removed (their audit event
    /// in `finish.removed_key_sessions`), appends the audit event.
    ///
    /// `Conflict("ceremony_used")` when the ceremony was already spent;
    /// `Conflict("sign_count")` when the stored counter is no longer `old_sign_count`
    /// (another sign-in with this key won the race); `NotFound` when the credential is gone
    /// or is not the session user's. Nothing is written on error, the ceremony included.
    async fn finish_authentication(&self, finish: &FinishAssertion<'_>, audit: &NewAuditEvent) -> StoreResult<()>;
    /// WebAuthn L3 §7.2 step 21 (A13): an authentic assertion whose counter did not increase.
    /// In one transaction: records the ceremony as spent and, only when this call spent it
    /// (it was still unspent) and the credential's stored counter is still
    /// `seen_sign_count`, flags the credential as possibly cloned and appends the audit event.
    ///
    /// `Conflict("ceremony_used")` when the ceremony was already spent (a double submission
    /// of one assertion whose first copy signed in): nothing changes, the key is not flagged.
    /// `Conflict("sign_count")` when the counter moved since it was read (another sign-in
    /// with the key committed meanwhile): the ceremony is spent, the key is not flagged.
    /// `NotFound` when the credential is gone (the ceremony is spent).
    async fn flag_possible_clone(
        &self,
        ceremony_id: CeremonyId,
        expires_at: Timestamp,
        credential_id: &[u8],
        seen_sign_count: u32,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// Deletes ceremonies, and records of spent ones, that expired before `before`; returns
    /// how many.
    async fn purge_ceremonies(&self, before: Timestamp) -> StoreResult<u64>;
}

/// Token-signing keys.
#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// Inserts a key. `Conflict("active_key")` when `key.active` and another key is active
    /// (two processes racing on first start: the loser reads the winner's key).
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> StoreResult<()>;
    /// All keys, active first, then newest first.
    async fn list_signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>>;
    /// Makes the waiting key `kid` the active one in one transaction: the active key is
    /// retired at `now`, `kid` becomes active, the audit event is appended. False (nothing
    /// written) when `kid` is not a waiting key (already promoted, or retired).
    async fn promote_signing_key(&self, kid: &str, now: Timestamp, audit: &NewAuditEvent) -> StoreResult<bool>;
    /// Deletes the keys retired at or before `retired_before`; returns how many. The audit
    /// event is appended only when one was deleted.
    async fn purge_signing_keys(&self, retired_before: Timestamp, audit: &NewAuditEvent) -> StoreResult<u64>;
}

/// The audit log. There is no update or delete: the log is append-only (the databases
/// enforce it with triggers as well).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an event on its own (for actions that change nothing, like a refused sign-in).
    async fn append(&self, event: &NewAuditEvent) -> StoreResult<()>;
    /// A page of events, newest first.
    async fn list(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>>;
    /// One event by its id.
    async fn get(&self, id: i64) -> StoreResult<Option<AuditEvent>>;
}

/// The console's reports: figures counted by the database, and the registration report.
/// Reads only; each method is one statement, so its figures come from one snapshot.
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// The dashboard's figures (see [`FleetCounts`]).
    async fn count_fleet(&self, query: &FleetQuery) -> StoreResult<FleetCounts>;
    /// How many keys of each model exist, most first (ties by AAGUID).
    async fn count_keys_by_model(&self) -> StoreResult<Vec<ModelCount>>;
    /// A page of users with what they hold, ordered by username, filtered by
    /// [`RegistrationQuery::filter`].
    async fn list_registrations(&self, query: &RegistrationQuery) -> StoreResult<Vec<RegistrationRow>>;
}

/// Fixed-window counters for rate limits, shared by every process on the database.
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Counts one hit on `key` and returns the count in the current window. A window starts
    /// at the first hit and lasts `window_ms`; a hit after it starts a new window at 1.
    async fn hit(&self, key: &str, now: Timestamp, window_ms: i64) -> StoreResult<u32>;
    /// The count in the current window without adding to it (0 if the window has passed).
    async fn peek(&self, key: &str, now: Timestamp, window_ms: i64) -> StoreResult<u32>;
    /// Forgets `key`.
    async fn clear(&self, key: &str) -> StoreResult<()>;
    /// Reserves one attempt on `key` before the attempt is evaluated, atomically: when the
    /// count in the current window is below `limit`, adds one and answers
    /// [`Reservation::Granted`] with the new count; otherwise changes nothing and answers
    /// [`Reservation::Refused`] with the end of the window. A window starts at the first
    /// reservation and lasts `window_ms`; one after it starts a new window at 1. However many
    /// callers race, at most `limit` are granted per window (on every process sharing the
    /// database).
    async fn reserve(&self, key: &str, now: Timestamp, window_ms: i64, limit: u32) -> StoreResult<Reservation>;
    /// Gives back one reserved attempt (it succeeded, or was not evaluated): subtracts one
    /// from the count of the current window, never below zero. A window that has passed is
    /// left alone.
    async fn release(&self, key: &str, now: Timestamp, window_ms: i64) -> StoreResult<()>;
}

/// The answer to [`RateLimitStore::reserve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt may go ahead; `count` attempts are now reserved in this window.
    Granted {
        /// The count including this attempt.
        count: u32,
    },
    /// The limit is reached; the window ends at `retry_at`.
    Refused {
        /// When the window ends.
        retry_at: Timestamp,
    },
}

/// The lease-holding state of one scheduled job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    /// The job's name.
    pub job: String,
    /// When its next run is due.
    pub due_at: Timestamp,
    /// Who holds the lease of the run in progress, if anyone.
    pub lease_holder: Option<String>,
    /// Until when that lease holds.
    pub lease_until: Option<Timestamp>,
    /// When the last run finished, and how (`ok` or `error`).
    pub last_finished_at: Option<Timestamp>,
    /// How the last run finished.
    pub last_outcome: Option<String>,
}

/// Scheduled jobs: one row per job, and a lease so that exactly one process runs each due
/// run, whatever the number of processes sharing the database.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Registers `job` with its first due time; a known job is left as it is.
    async fn ensure_job(&self, job: &str, first_due: Timestamp) -> StoreResult<()>;
    /// Claims the due run of `job` for `holder`: atomically takes the lease until
    /// `lease_until` when the run is due at `now` and nobody holds an unexpired lease.
    /// Returns the run's due time when this call took the lease, `None` otherwise (not due,
    /// or another holder has it). A holder whose lease expired (it crashed) loses the run to
    /// the next claimant, which runs the same due time again.
    async fn claim_job(
        &self,
        job: &str,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<Timestamp>>;
    /// Finishes the run `holder` claimed: sets the next due time, clears the lease, records
    /// when and how it finished. `NotFound` when `holder` no longer holds the lease.
    async fn finish_job(
        &self,
        job: &str,
        holder: &str,
        now: Timestamp,
        next_due: Timestamp,
        outcome: &str,
    ) -> StoreResult<()>;
    /// Every job's state, by name.
    async fn list_jobs(&self) -> StoreResult<Vec<JobState>>;
}

/// Health of the store itself.
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> StoreResult<()>;
    /// Whether the schema is the one this build expects: every migration this build knows
    /// is applied (and none it does not know), and every table it uses exists.
    async fn schema(&self) -> StoreResult<SchemaState>;
}

/// The answer to [`HealthStore::schema`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaState {
    /// The schema is at the expected migration.
    Ready {
        /// The latest migration applied.
        version: i64,
    },
    /// The schema is not what this build expects; the text says what is wrong (a missing
    /// table, a migration not applied). Never includes data.
    NotReady(String),
}

/// Every store trait, as one handle per concern. Built once from a concrete store.
#[derive(Clone)]
pub struct Stores {
    /// Users.
    pub users: Arc<dyn UserStore>,
    /// Groups.
    pub groups: Arc<dyn GroupStore>,
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// TAPs.
    pub taps: Arc<dyn TapStore>,
    /// API clients.
    pub clients: Arc<dyn ClientStore>,
    /// Signing keys.
    pub signing_keys: Arc<dyn SigningKeyStore>,
    /// Audit log.
    pub audit: Arc<dyn AuditStore>,
    /// Rate-limit counters.
    pub rate_limits: Arc<dyn RateLimitStore>,
    /// WebAuthn credentials.
    pub credentials: Arc<dyn CredentialStore>,
    /// WebAuthn ceremonies.
    pub ceremonies: Arc<dyn CeremonyStore>,
    /// Scheduled jobs.
    pub jobs: Arc<dyn JobStore>,
    /// Reports.
    pub reports: Arc<dyn ReportStore>,
    /// Authenticator metadata (the MDS BLOB and its entries).
    pub metadata: Arc<dyn MetadataStore>,
    /// Single sign-on applications, grants and refresh tokens.
    pub oidc: Arc<dyn OidcStore>,
    /// Users' consents to third-party applications.
    pub consents: Arc<dyn ConsentStore>,
    /// Administrators' authentication strengths.
    pub strengths: Arc<dyn StrengthStore>,
    /// Group policies.
    pub policies: Arc<dyn PolicyStore>,
    /// Directory sync (SCIM).
    pub directory: Arc<dyn DirectoryStore>,
    /// Creation options issued on behalf of users.
    pub onbehalf: Arc<dyn OnBehalfStore>,
    /// Group rules, key orders and collection flags.
    pub shipments: Arc<dyn ShipmentStore>,
    /// The mail outbox, as the mail job sends it.
    pub mail: Arc<dyn MailStore>,
    /// The master-key ring, encrypted columns and secret settings.
    pub keyring: Arc<dyn KeyringStore>,
    /// Health.
    pub health: Arc<dyn HealthStore>,
}

impl Stores {
    /// One handle per concern, all backed by `store`.
    pub fn from_store<S>(store: S) -> Self
    where
        S: UserStore
            + GroupStore
            + SessionStore
            + TapStore
            + ClientStore
            + SigningKeyStore
            + AuditStore
            + RateLimitStore
            + CredentialStore
            + CeremonyStore
            + JobStore
            + ReportStore
            + MetadataStore
            + OidcStore
            + ConsentStore
            + StrengthStore
            + PolicyStore
            + DirectoryStore
            + OnBehalfStore
            + ShipmentStore
            + MailStore
            + KeyringStore
            + HealthStore
            + 'static,
    {
        let s = Arc::new(store);
        Self {
            users: s.clone(),
            groups: s.clone(),
            sessions: s.clone(),
            taps: s.clone(),
            clients: s.clone(),
            signing_keys: s.clone(),
            audit: s.clone(),
            rate_limits: s.clone(),
            credentials: s.clone(),
            ceremonies: s.clone(),
            jobs: s.clone(),
            reports: s.clone(),
            metadata: s.clone(),
            oidc: s.clone(),
            consents: s.clone(),
            strengths: s.clone(),
            policies: s.clone(),
            directory: s.clone(),
            onbehalf: s.clone(),
            shipments: s.clone(),
            mail: s.clone(),
            keyring: s.clone(),
            health: s,
        }
    }
}
