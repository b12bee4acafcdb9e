//! What one database brings to the shared store: its sqlx driver, its SQL, and the few steps
//! that truly differ (opening and migrating, list columns, naming constraint violations).

use std::future::Future;
use std::pin::Pin;

use keyfleet_domain::store::StoreResult;
use sqlx::error::DatabaseError;
use sqlx::migrate::Migrator;
use sqlx::{Database, Pool};

use crate::conns::WriterTurns;
use crate::exec::{Bound, DbRow, Driver};

/// One database: implemented by each store crate on a marker type, used as
/// [`SqlStore<B>`](crate::SqlStore).
pub trait Backend: Sized + Send + Sync + 'static {
    /// The sqlx database.
    type Db: Driver;

    /// Every statement the store runs, in this database's dialect.
    const SQL: &'static Sql;

    /// The authenticator-metadata statements, in this database's dialect.
    const METADATA_SQL: &'static crate::MetadataSql;
    /// The authentication-strength statements, in this database's dialect.
    const STRENGTH_SQL: &'static crate::StrengthSql;

    /// The group-policy statements, in this database's dialect.
    const POLICY_SQL: &'static crate::PolicySql;

    /// The directory-sync statements, in this database's dialect.
    const DIRECTORY_SQL: &'static crate::DirectorySql;
    /// The single sign-on statements, in this database's dialect.
    const OIDC_SQL: &'static crate::OidcSql;
    /// The on-behalf registration statements, in this database's dialect.
    const ONBEHALF_SQL: &'static crate::OnBehalfSql;
    /// The group-rule, order and collection statements.
    const SHIPMENT_SQL: &'static crate::ShipmentSql;
    /// The statements of consents to third-party applications, in this database's dialect.
    const CONSENT_SQL: &'static crate::ConsentSql;
    /// Claims the pending message of `mail_outbox` due soonest: holder, now, lease_until;
    /// returns its columns ([`crate::MAIL_COLUMNS`]). Never the same row for two callers.
    const MAIL_CLAIM: &'static str;

    /// The migrations embedded from the store crate's `migrations/`.
    fn migrator() -> &'static Migrator;

    /// Opens `url`, configured for this database, and applies pending migrations. Returns
    /// the pool reads use and, when writes need their own, the pool write transactions use.
    /// A database with one writer at a time (SQLite) gets a writers' pool of one connection,
    /// so writers queue in the process, in order, instead of sleeping in the database's busy
    /// handler; a database that runs writers concurrently (PostgreSQL), or an in-memory
    /// database on its one connection, uses one pool for both (`None`).
    fn open(url: &str) -> impl Future<Output = StoreResult<Opened<Self>>> + Send;

    /// How many rows a statement changed.
    fn rows_affected(done: &<Self::Db as Database>::QueryResult) -> u64;

    /// The rule (`username`, `credential_id`, …) a unique violation breaks, `unique` when
    /// unknown.
    fn unique_rule(e: &dyn DatabaseError) -> &'static str;

    /// Whether `e` is the database refusing text it cannot hold (a NUL character).
    fn is_invalid_text(e: &dyn DatabaseError) -> bool;

    /// Whether `e` is a `ROLLBACK` refused because no transaction was open (SQLite refuses
    /// it; PostgreSQL only warns): nothing was left to roll back.
    fn is_no_transaction(e: &dyn DatabaseError) -> bool;

    /// Binds a list of texts as this database stores one.
    fn bind_texts<'q>(q: Bound<'q, Self::Db>, items: &'q [String]) -> Bound<'q, Self::Db>;

    /// Binds a list of byte strings as this database stores one.
    fn bind_blobs<'q>(q: Bound<'q, Self::Db>, items: &'q [Vec<u8>]) -> Bound<'q, Self::Db>;

    /// Reads a list of texts written by [`Self::bind_texts`]; the error says what is wrong.
    fn texts(row: &DbRow<Self>, column: &str) -> Result<Vec<String>, String>;

    /// Reads a list of byte strings written by [`Self::bind_blobs`].
    fn blobs(row: &DbRow<Self>, column: &str) -> Result<Vec<Vec<u8>>, String>;
}

/// What [`Backend::open`] opened of one database.
pub struct Opened<B: Backend> {
    /// The pool reads use.
    pub readers: Pool<B::Db>,
    /// The pool write transactions use, when writes have their own.
    pub writer: Option<Pool<B::Db>>,
    /// The database's background upkeep, if it needs one (SQLite's checkpoints): started
    /// once the store's lanes exist, stopped when the store is closed or dropped.
    pub upkeep: Option<UpkeepTask<B>>,
}

/// A background task a database needs beside its store. It is given the writers' turns
/// ([`WriterTurns`]), so that work which must not overlap a write (a checkpoint that
/// restarts SQLite's WAL) waits for its turn in the process, in order, like a write, instead
/// of holding the writer off in the database's busy handler.
pub type UpkeepTask<B> = Box<dyn FnOnce(WriterTurns<B>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A background task that belongs to one open store: aborted when dropped or stopped.
#[derive(Debug)]
pub struct Upkeep(tokio::task::AbortHandle);

impl Upkeep {
    /// Runs `task` on the current tokio runtime for as long as the store is open.
    pub fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Self {
        Self(tokio::spawn(task).abort_handle())
    }

    /// Stops the task (it is dropped at its next await).
    pub fn stop(&self) {
        self.0.abort();
    }
}

impl Drop for Upkeep {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Every statement of the store, by what it does. Parameters are `$1`, `$2`, … in the order
/// the store logic binds them (given on each field); rows are read by column name, with the
/// `u_` and `s_` prefixes where users and sessions are joined.
#[derive(Debug)]
pub struct Sql {
    /// Starts a transaction that writes.
    pub begin: &'static str,
    /// Ends a transaction without its changes (harmless when none is open).
    pub rollback: &'static str,
    /// A trivial query (`ping`).
    pub ping: &'static str,
    /// The names of the tables in the store's schema (one text column).
    pub list_tables: &'static str,
    /// `_sqlx_migrations`: `version`, `success`, `checksum`.
    pub applied_migrations: &'static str,

    /// Inserts a user: id, username, display_name, email, manager_email, shipping_address,
    /// enabled, role, user_handle, created_at, updated_at.
    pub insert_user: &'static str,
    /// A user by id.
    pub user_by_id: &'static str,
    /// Users by id; the store puts the ids' parameters (`$1, $2, …`) in place of `{}`.
    pub users_by_ids: &'static str,
    /// A user by username.
    pub user_by_username: &'static str,
    /// A user by user handle.
    pub user_by_handle: &'static str,
    /// A page of users: pattern (escaped `LIKE`, or NULL), after (username or NULL), limit.
    pub list_users: &'static str,
    /// How many users exist.
    pub count_users: &'static str,
    /// Updates a user: id, display_name, email, manager_email, shipping_address, enabled,
    /// role, updated_at.
    pub update_user: &'static str,
    /// Revokes a user's unrevoked sessions: user, at.
    pub revoke_sessions_of_user: &'static str,
    /// Deletes a user (cascading): id.
    pub delete_user: &'static str,
    /// Marks the database bootstrapped unless it is: admin id. Changes one row or none.
    pub mark_bootstrapped: &'static str,

    /// Inserts a group: id, name, name_key, description, created_at.
    pub insert_group: &'static str,
    /// A group by id.
    pub group_by_id: &'static str,
    /// All groups by name.
    pub list_groups: &'static str,
    /// Deletes a group: id.
    pub delete_group: &'static str,
    /// Whether the group and the user exist: group, user. One row per one that does.
    pub group_and_user: &'static str,
    /// Adds a membership unless present: group, user.
    pub insert_member: &'static str,
    /// Removes a membership: group, user.
    pub delete_member: &'static str,
    /// A group's members (`u_` columns) by username: group.
    pub list_members: &'static str,
    /// A user's groups by name: user.
    pub list_user_groups: &'static str,

    /// Inserts a session: id, token_hash, user_id, kind, created_at, last_seen_at,
    /// expires_at, idle_timeout_ms, client_addr, credential_id, user_verified.
    pub insert_session: &'static str,
    /// A live session (`s_` columns) and its enabled user (`u_`): token_hash, now.
    pub find_live_session: &'static str,
    /// Moves `last_seen_at` forward, never back: id, now.
    pub touch_session: &'static str,
    /// Revokes one unrevoked session: id, at.
    pub revoke_session: &'static str,
    /// Revokes a user's unrevoked sessions, returning 1 for each live at `at` and 0 for
    /// the others: user, at.
    pub revoke_user_sessions: &'static str,
    /// The same for the sessions opened with one credential: credential_id, at.
    pub revoke_credential_sessions: &'static str,
    /// Whether removals left sessions to end at the user's next sign-in: user.
    pub removed_keys_pending: &'static str,
    /// Revokes those sessions, returning 1 or 0 as above: user, at.
    pub revoke_removed_key_sessions: &'static str,
    /// Forgets what removals left pending: user.
    pub clear_removed_keys: &'static str,
    /// A user's live sessions, newest first: user, now.
    pub list_user_sessions: &'static str,
    /// Deletes sessions that ended before: before.
    pub purge_sessions: &'static str,

    /// Stores a TAP, replacing the user's: id, user_id, code_hash, one_time, created_at,
    /// expires_at, use_count.
    pub upsert_tap: &'static str,
    /// Whether a user exists: id.
    pub user_exists: &'static str,
    /// A user's TAP: user.
    pub tap_of_user: &'static str,
    /// Counts one use of a TAP that is unexpired and (one-time) unused: id, now.
    pub use_tap: &'static str,
    /// Deletes a user's TAP: user.
    pub delete_tap: &'static str,

    /// Inserts a client: client_id, name, scopes, enabled, created_at.
    pub insert_client: &'static str,
    /// Inserts a secret: id, client_id, secret_hash, created_at, expires_at.
    pub insert_secret: &'static str,
    /// A client by id.
    pub client_by_id: &'static str,
    /// All clients by name.
    pub list_clients: &'static str,
    /// Sets `enabled`: client_id, enabled.
    pub set_client_enabled: &'static str,
    /// Deletes a client: client_id.
    pub delete_client: &'static str,
    /// A client's secrets, oldest first: client_id.
    pub list_secrets: &'static str,
    /// A client with its secrets, one row per secret (one row with NULL secret columns when
    /// it has none), oldest first: client_id. The client's columns as in `client_by_id`, the
    /// secret's as in `list_secrets` named `s_id`, `s_client_id`, `s_secret_hash`,
    /// `s_created_at`, `s_expires_at`.
    pub client_with_secrets: &'static str,
    /// Finds the client and holds it until the transaction ends, so that secrets are
    /// counted and added one transaction at a time: client_id.
    pub lock_client: &'static str,
    /// How many secrets a client holds: client_id.
    pub count_secrets: &'static str,
    /// Sets a secret's expiry: client_id, id, expires_at.
    pub set_secret_expiry: &'static str,
    /// Replaces a secret's digest if unchanged: client_id, id, old_hash, new_hash.
    pub upgrade_secret_hash: &'static str,
    /// Deletes a secret: client_id, id.
    pub delete_secret: &'static str,

    /// Inserts a signing key: kid, alg, encrypted_private_key, public_key, created_at,
    /// active.
    pub insert_signing_key: &'static str,
    /// All signing keys, active first, then newest first.
    pub list_signing_keys: &'static str,
    /// Inserts a waiting signing key: kid, alg, encrypted_private_key, public_key,
    /// created_at, activates_at.
    pub insert_next_signing_key: &'static str,
    /// Retires the active signing key: now.
    pub retire_active_signing_key: &'static str,
    /// Activates a waiting signing key: kid.
    pub activate_signing_key: &'static str,
    /// Deletes the keys retired at or before: retired_before.
    pub purge_signing_keys: &'static str,

    /// Inserts a credential: id, user_id, public_key, alg, sign_count, aaguid, transports,
    /// backup_eligible, backup_state, uv_initialized, attestation_format,
    /// attestation_trust, attestation_object, nickname, created_at, last_used_at,
    /// possibly_cloned.
    pub insert_credential: &'static str,
    /// A credential by id.
    pub credential_by_id: &'static str,
    /// Credentials by id; the store puts the ids' parameters in place of `{}`.
    pub credentials_by_ids: &'static str,
    /// A user's credentials, oldest first: user.
    pub list_user_credentials: &'static str,
    /// Several users' credentials, by user, oldest first; the store puts the users'
    /// parameters in place of `{}`.
    pub credentials_of_users: &'static str,
    /// Renames a user's credential: id, user, nickname.
    pub rename_credential: &'static str,
    /// Deletes a user's credential: id, user.
    pub delete_credential: &'static str,
    /// Records that the removed credential's live sessions end at the next sign-in:
    /// credential_id, user.
    pub mark_removed_key: &'static str,
    /// Deletes a user's credentials: user.
    pub delete_user_credentials: &'static str,
    /// How many credentials exist.
    pub count_credentials: &'static str,
    /// Whether a user holds a credential: id, user.
    pub credential_of_user: &'static str,
    /// Whether a credential exists: id.
    pub credential_exists: &'static str,
    /// Compares and swaps a user's credential's counter: id, user, old, new, backup_state,
    /// uv_initialized (ORed), last_used_at.
    pub swap_counter: &'static str,
    /// Flags a credential whose counter is unchanged: id, seen_sign_count.
    pub flag_clone: &'static str,

    /// Inserts a ceremony: id, kind, challenge, user_id, session_id, rp_id,
    /// user_verification, allow_credentials, params, created_at, expires_at.
    pub insert_ceremony: &'static str,
    /// A ceremony by id.
    pub ceremony_by_id: &'static str,
    /// Deletes a ceremony: id.
    pub delete_ceremony: &'static str,
    /// Deletes a ceremony of a kind started for the user (or, for an authentication, for
    /// nobody): id, kind, user.
    pub take_ceremony: &'static str,
    /// Records a sign-in ceremony as spent, unless it already is (0 rows): id, expires_at.
    pub spend_ceremony: &'static str,
    /// Whether a sign-in ceremony is recorded as spent: id.
    pub ceremony_spent: &'static str,
    /// Deletes expired ceremonies: before.
    pub purge_ceremonies: &'static str,
    /// Deletes the records of spent ceremonies that have expired: before.
    pub purge_spent_ceremonies: &'static str,

    /// Appends an audit event: at, actor, action, target, outcome, request_id, detail.
    pub insert_audit: &'static str,
    /// One audit event: id.
    pub get_audit: &'static str,

    /// Counts a hit, restarting a passed window, returning the count: key, now, window_ms.
    pub hit: &'static str,
    /// The count in the current window: key, now, window_ms.
    pub peek: &'static str,
    /// Forgets a key: key.
    pub clear: &'static str,
    /// Counts a reservation while the window has passed or the count is below the limit,
    /// returning the count (no row when refused): key, now, window_ms, limit.
    pub reserve: &'static str,
    /// When a key's window started: key.
    pub window_start: &'static str,
    /// Gives one back in the current window, never below zero, on its own: key, now,
    /// window_ms.
    pub release: &'static str,
    /// A successful sign-in's whole transaction in one round trip to the database, or `None`
    /// to run it step by step. Parameters: ceremony id, ceremony expiry; credential id, user,
    /// old count, new count, backup_state, uv, now; session id, token hash, kind, created_at,
    /// last_seen_at, expires_at, idle_timeout_ms, client_addr; the sign-in's audit event (at,
    /// actor, action, target, outcome, request_id, detail); the removed-key sessions' audit
    /// event (the same seven); the session's user_verified. It is its own transaction and
    /// writes everything or nothing: anything short of a whole success (a spent ceremony, a
    /// moved counter, a missing key) is an error that leaves nothing written (the caller
    /// sends `ROLLBACK` on the same connection, in case the statements began a transaction),
    /// and the caller then runs the steps, which say precisely what went wrong. A statement
    /// may also leave a rare case to the steps the same way (PostgreSQL's leaves a user with
    /// sessions pending an end), which then write it.
    pub finish_authentication_at_once: Option<&'static str>,
    /// The statements of `finish_authentication_at_once` without its `BEGIN` and `COMMIT`
    /// (the same parameters, `$1` to `$32`), for group commit ([`crate::batch`]): the
    /// sign-ins waiting for the writer run in one transaction, in one round trip, each
    /// body's parameters renumbered. `None`: every sign-in commits on its own.
    pub finish_authentication_body: Option<&'static str>,

    /// The dashboard's figures in one statement, as columns `users`, `users_enabled`,
    /// `users_without_key`, `keys_total`, `keys_unused`, `users_with_unused_key`,
    /// `keys_cloned`, `users_with_cloned_key`, `pending_taps`, `lost_keys`: unused_before,
    /// now, lost_since, the lost-key audit action.
    pub count_fleet: &'static str,
    /// Keys per model (`aaguid`, `key_count`), most first, ties by AAGUID.
    pub count_keys_by_model: &'static str,
    /// A page of the registration report: the user's columns and `key_count`, `models`
    /// (lower-case hex AAGUIDs separated by commas, NULL without a key), `first_key_at`,
    /// `last_used_at`, `pending_tap`, `possibly_cloned`, by username. Parameters: pattern
    /// (escaped `LIKE`, or NULL), after (username; empty for the first page), models (a JSON
    /// array of lower-case hex AAGUIDs, or NULL), has_key (1, 0 or NULL), unused_before (or
    /// NULL), cloned only, pending TAP only, now, limit, enabled (1, 0 or NULL).
    pub list_registrations: &'static str,

    /// Registers a job unless known: job, first_due.
    pub ensure_job: &'static str,
    /// Takes a due, unleased run, returning its due time: job, holder, now, lease_until.
    pub claim_job: &'static str,
    /// Finishes the holder's run: job, holder, now, next_due, outcome.
    pub finish_job: &'static str,
    /// Every job by name.
    pub list_jobs: &'static str,
}
