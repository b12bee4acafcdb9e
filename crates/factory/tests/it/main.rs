//! The key factory through its real router and a real SQLite database, and fulfilment through
//! the real CTAP engine.

mod support;

mod api;
mod fulfilment;
