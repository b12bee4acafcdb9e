//! People and their access: users, groups, temporary access passes, sessions.

pub mod groups;
pub mod sessions;
pub mod taps;
pub mod users;
