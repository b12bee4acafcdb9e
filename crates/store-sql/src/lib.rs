//! What keyfleet's two SQL stores (`keyfleet-store-sqlite`, `keyfleet-store-postgres`) share
//! beyond their SQL: the rule for text holding a NUL character ([`nul`]) and the schema
//! check behind `/readyz` ([`schema`]).

pub mod nul;
pub mod rate_limit;
pub mod schema;
