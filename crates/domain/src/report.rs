//! What the console's reports ask of a store: the dashboard's figures and the registration
//! report (one row per user with what they hold), as Entra ID's "User registration details".
//!
//! Every figure is counted by the database (with indexes): a store never hands over the keys
//! for the caller to count. Times ("unused since", "pending at") are inputs, so the store
//! applies no clock of its own.

use crate::Timestamp;
use crate::user::User;

/// An authenticator model, by AAGUID.
pub type Aaguid = [u8; 16];

/// What the dashboard counts, at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetQuery {
    /// A key whose last use (or, never used, its registration) is before this is "unused".
    pub unused_before: Timestamp,
    /// The time a temporary access pass must still be usable at to be "pending".
    pub now: Timestamp,
    /// Lost-key reports at or after this time are "recent".
    pub lost_since: Timestamp,
}

/// The dashboard's figures, read in one statement (one snapshot: they add up).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetCounts {
    /// Every user.
    pub users: u64,
    /// Enabled users (the others are disabled).
    pub users_enabled: u64,
    /// Users who hold no key.
    pub users_without_key: u64,
    /// Every key.
    pub keys: u64,
    /// Keys unused since [`FleetQuery::unused_before`].
    pub keys_unused: u64,
    /// Users holding at least one of those.
    pub users_with_unused_key: u64,
    /// Keys flagged as possibly cloned.
    pub keys_cloned: u64,
    /// Users holding at least one of those.
    pub users_with_cloned_key: u64,
    /// Temporary access passes usable at [`FleetQuery::now`] (at most one per user).
    pub pending_taps: u64,
    /// `credential.lost` audit events since [`FleetQuery::lost_since`].
    pub lost_keys: u64,
}

/// How many keys of one model exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelCount {
    /// The model.
    pub aaguid: Aaguid,
    /// Keys of that model.
    pub keys: u64,
}

/// Which users the registration report lists. Every condition must hold, each on its own: a
/// user with a model-A key and another, unused key matches "model A" and "unused" together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationFilter {
    /// Case-insensitive substring of the username, display name or email.
    pub search: Option<String>,
    /// `Some(true)`: enabled users only; `Some(false)`: disabled users only.
    pub enabled: Option<bool>,
    /// Users holding a key of one of these models (`None`: any model, or no key).
    pub models: Option<Vec<Aaguid>>,
    /// `Some(true)`: users with at least one key; `Some(false)`: users with none.
    pub has_key: Option<bool>,
    /// Users holding a key unused since this time (last use, or registration when never
    /// used, before it).
    pub unused_before: Option<Timestamp>,
    /// Users holding a key flagged as possibly cloned.
    pub cloned: bool,
    /// Users with a temporary access pass usable at the query's `now`.
    pub pending_tap: bool,
}

/// A page of the registration report, ordered by username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationQuery {
    /// Who is listed.
    pub filter: RegistrationFilter,
    /// Only users whose canonical username sorts after this one (keyset paging).
    pub after: Option<String>,
    /// Page size.
    pub limit: u32,
    /// The time a pass must be usable at to count as pending.
    pub now: Timestamp,
}

/// One user and what they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRow {
    /// The user.
    pub user: User,
    /// How many keys they hold.
    pub keys: u64,
    /// The models of their keys, each once, in byte order.
    pub models: Vec<Aaguid>,
    /// When their oldest key was registered.
    pub first_key_at: Option<Timestamp>,
    /// When any of their keys last signed in.
    pub last_used_at: Option<Timestamp>,
    /// Whether a temporary access pass of theirs is usable now.
    pub pending_tap: bool,
    /// Whether any of their keys is flagged as possibly cloned.
    pub possibly_cloned: bool,
}
