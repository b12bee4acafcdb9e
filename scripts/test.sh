#!/usr/bin/env bash
# The whole test suite, as the README's second command and CI run it.
#
# Installs what the tests need (idempotent, quick when already present), then runs every
# test: the Rust workspace (unit, store conformance on SQLite and PostgreSQL, HTTP and
# process-level tests) with cargo-nextest.
#
# Needs: a PostgreSQL server on 127.0.0.1:5432 with trust authentication (override with
# KEYFLEET_TEST_POSTGRES_URL). Tests that need it fail loudly when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*" >&2; }

if ! command -v cargo-nextest >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

log "Rust workspace tests"
cargo nextest run --workspace --no-fail-fast "$@"
