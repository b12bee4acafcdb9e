//! `keyfleet-key`: the `keyfleet key` commands as a standalone binary, for tests and the
//! interop harness.

use clap::Parser;

/// keyfleet's software security keys.
#[derive(Parser)]
#[command(name = "keyfleet-key", version)]
struct Cli {
    #[command(subcommand)]
    command: keyfleet_softkey::KeyCommand,
}

fn main() -> anyhow::Result<()> {
    keyfleet_softkey::run(Cli::parse().command)
}
