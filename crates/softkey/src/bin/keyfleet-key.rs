//! `keyfleet-key`: the `keyfleet key` commands as a standalone binary, for this crate's CLI tests
//! (tests/it). Cargo hands integration tests only the binaries of their own package, and the
//! real `keyfleet` binary lives in another one; users and the interop harness (tests/interop) run
//! `keyfleet key …`, which calls the same [`keyfleet_softkey::run`].

use clap::Parser;

/// keyfleet's software security keys.
#[derive(Parser)]
#[command(name = "keyfleet-key", version)]
struct Cli {
    #[command(flatten)]
    args: keyfleet_softkey::KeyArgs,
}

fn main() -> anyhow::Result<()> {
    keyfleet_softkey::run(Cli::parse().args)
}
