//! Integration tests of keyfleet-core: its architecture invariants.

mod dependencies;
