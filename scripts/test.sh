#!/usr/bin/env bash
# The whole test suite, as the README's second command and CI run it.
#
# Installs what the tests need (idempotent, quick when already present), then runs:
#   1. the Rust workspace tests with cargo-nextest: unit tests, the store conformance suite
#      on SQLite and PostgreSQL, HTTP tests on both stores, process-level tests of the binary,
#      the mail outbox against a real SMTP server (aiosmtpd from PyPI, scripts/aiosmtpd.sh);
#   2. `keyfleet verify` over the WebAuthn conformance corpus (every case must give its verdict);
#   3. the software authenticator against python-fido2 through a private pcscd + vpcd, then
#      python-fido2's own device suite against a fresh nfc-key and a fresh band (about 10 s each
#      once the venv and the suite are cached; docs/device-suite.md);
#   4. the WebAuthn ceremonies and the pages (with an accessibility check of each) in headless
#      Chromium with its virtual authenticator;
#   5. a build of every fuzz target;
#   6. the README's run command, as written there, answering /healthz (a release build, made in
#      the background from step 2 on).
#
# Needs: PostgreSQL on 127.0.0.1:5432 with trust authentication (or KEYFLEET_TEST_POSTGRES_URL),
# root (for apt-get and the network/mount namespace of the PC/SC test). Nothing is skipped:
# a part that cannot run fails.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
export CARGO_TARGET_DIR=$TARGET
CORPUS=${KEYFLEET_CORPUS:-$ROOT/../shared/conformance/webauthn}

failed=()
step() {
  local name=$1; shift
  printf '\n==> %s\n' "$name" >&2
  local start=$SECONDS
  if "$@"; then
    printf '==> %s: ok (%ss)\n' "$name" $((SECONDS - start)) >&2
  else
    printf '==> %s: FAILED (%ss)\n' "$name" $((SECONDS - start)) >&2
    failed+=("$name")
  fi
}

if ! cargo nextest --version >/dev/null 2>&1; then
  printf '==> installing cargo-nextest\n' >&2
  cargo install cargo-nextest --locked || exit 1
fi

# The mail tests start a real SMTP server, aiosmtpd, from a venv (installed once, pinned).
if KEYFLEET_TEST_SMTPD_PYTHON=$(scripts/aiosmtpd.sh); then
  export KEYFLEET_TEST_SMTPD_PYTHON
else
  printf '==> could not install aiosmtpd; the mail tests will fail\n' >&2
fi

step "Rust workspace tests (cargo nextest)" cargo nextest run --workspace --no-fail-fast "$@"

# The binary the test build just made for the process-level tests (same features as the
# tests; a separate `cargo build -p keyfleet` would resolve features differently and rebuild
# much of the dependency tree).
export KEYFLEET_BIN=$TARGET/debug/keyfleet
[ -x "$KEYFLEET_BIN" ] || step "build the keyfleet binary" cargo build -p keyfleet --quiet

# The example application is its own Cargo workspace (the tests above never build it): a
# check keeps it compiling (about a minute of CPU from cold, seconds when cached). Before the
# release build below, which holds the target directory's lock while it runs.
step "example application compiles (examples/sso-demo)" \
  cargo check --quiet --locked --manifest-path examples/sso-demo/Cargo.toml

# The README run command's release build (the last step), started now in the background: the
# steps until then mostly wait on pcscd, browsers and servers, and the build fills the idle
# core (several minutes saved on two cores). The README step still runs the command exactly
# as the README writes it; cargo finds the build done. If this build fails, that step builds
# again and shows why.
release_log=$TARGET/readme-release-build.log
mkdir -p "$TARGET"
cargo build --release --quiet >"$release_log" 2>&1 &
release_build=$!

step "WebAuthn conformance corpus (keyfleet verify)" "$KEYFLEET_BIN" verify --corpus "$CORPUS"
step "software authenticator via python-fido2, pcscd and vpcd" scripts/interop.sh
step "python-fido2 device suite on a fresh nfc-key (pcscd + vpcd)" scripts/interop.sh --device-suite nfc-key
step "python-fido2 device suite on a fresh band (pcscd + vpcd)" scripts/interop.sh --device-suite band
step "scim2-tester against keyfleet serve on SQLite and PostgreSQL" scripts/scim-tester.sh
step "WebAuthn ceremonies, pages, accessibility and single sign-on clients in headless Chromium" tests/browser/run.sh
step "fuzz targets build" scripts/fuzz-build.sh
wait "$release_build" || printf '==> the background release build failed (%s); the README step builds again\n' "$release_log" >&2
step "README run command answers /healthz" scripts/readme-run.sh

if [ ${#failed[@]} -gt 0 ]; then
  printf '\nFAILED: %s\n' "${failed[*]}" >&2
  exit 1
fi
printf '\nall test suites passed\n' >&2
