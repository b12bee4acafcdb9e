#!/usr/bin/env bash
# keyfleet in a real browser: Debian's headless Chromium with its CDP virtual authenticator,
# driven by playwright-core, against `keyfleet serve` on SQLite: the WebAuthn ceremonies
# (ceremonies.test.mjs), the portal and admin console pages (portal.test.mjs), and every page's
# accessibility (axe-core) and phone-width layout (a11y.test.mjs), and single sign-on with
# openid-client as the application (sso.test.mjs), the console's applications pages and the
# consent page of a third-party application (applications.test.mjs), and Authlib (PyPI) as
# the application (authlib.test.mjs, with authlib_rp.py).
#
#   tests/browser/run.sh            # installs what is missing, builds keyfleet, runs the test
#   KEYFLEET_BIN=path/to/keyfleet tests/browser/run.sh   # skips the build
#   tests/browser/run.sh sso.test.mjs   # only the files named (default: every *.test.mjs)
#
# Installs idempotently (quick when present): Debian's `chromium` (never a browser downloaded
# by a test tool) and `npm ci` of the pinned playwright-core and axe-core. Nothing is skipped:
# if Chromium cannot be installed or cannot start, this fails.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
START=$SECONDS
log() { printf '==> browser: %s\n' "$*" >&2; }

# 1. Chromium from Debian (apt only when missing).
CHROMIUM=${KEYFLEET_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  log "installing chromium (apt)"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium >/dev/null
fi
[ -x "$CHROMIUM" ] || { log "no Chromium at $CHROMIUM"; exit 1; }

# 2. playwright-core and axe-core, exactly as locked (npm ci only when one is missing or the
#    lockfile changed).
if ! command -v npm >/dev/null 2>&1; then
  log "npm is missing: install Node.js 20 and npm (apt-get install nodejs npm)"
  exit 1
fi
LOCK_SUM=$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)
STAMP="$HERE/node_modules/.keyfleet-lock.sha256"
if [ ! -d "$HERE/node_modules/playwright-core" ] || [ ! -f "$HERE/node_modules/axe-core/axe.min.js" ] \
  || [ "$(cat "$STAMP" 2>/dev/null)" != "$LOCK_SUM" ]; then
  log "npm ci"
  # Playwright must never fetch a browser of its own.
  (cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  echo "$LOCK_SUM" >"$STAMP"
fi

# 2b. Authlib (PyPI) for authlib.test.mjs, in a venv cached under the target directory and
#     rebuilt only when its stamp (Python version, pinned requirements) changes.
AUTHLIB_REQUIREMENTS="Authlib==1.9.6 requests==2.34.2 joserfc==1.8.0 cryptography==50.0.2 cffi==2.1.1 pycparser==3.12 certifi==2026.10.19.post1 charset-normalizer==3.5.3 idna==3.20 urllib3==2.8.0"
AUTHLIB_VENV=${KEYFLEET_AUTHLIB_VENV:-${CARGO_TARGET_DIR:-$ROOT/target}/authlib-venv}
stamp="$(/usr/bin/python3 --version 2>&1) $AUTHLIB_REQUIREMENTS"
if [ "$(cat "$AUTHLIB_VENV/.stamp" 2>/dev/null)" != "$stamp" ]; then
  log "pip install Authlib into $AUTHLIB_VENV"
  rm -rf "$AUTHLIB_VENV"
  /usr/bin/python3 -m venv "$AUTHLIB_VENV" || { log "python3 -m venv failed (apt-get install python3-venv)"; exit 1; }
  # shellcheck disable=SC2086
  PIP_NO_INPUT=1 "$AUTHLIB_VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps $AUTHLIB_REQUIREMENTS
  "$AUTHLIB_VENV/bin/python" -c 'import authlib, requests' || { log "the venv does not import authlib"; exit 1; }
  printf '%s' "$stamp" >"$AUTHLIB_VENV/.stamp"
fi
export KEYFLEET_AUTHLIB_PYTHON=$AUTHLIB_VENV/bin/python

# 3. The keyfleet binary.
if [ -z "${KEYFLEET_BIN:-}" ]; then
  TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
  log "cargo build -p keyfleet (target $TARGET)"
  (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --quiet -p keyfleet)
  KEYFLEET_BIN=$TARGET/debug/keyfleet
fi
[ -x "$KEYFLEET_BIN" ] || { log "no keyfleet binary at $KEYFLEET_BIN"; exit 1; }
export KEYFLEET_BIN KEYFLEET_CHROMIUM=$CHROMIUM
export KEYFLEET_E2E_SCREENSHOTS=${KEYFLEET_E2E_SCREENSHOTS:-$ROOT/target/e2e-screenshots}
log "setup took $((SECONDS - START))s"

# 4. The tests (the ceremonies over the JSON API, the portal and console pages, then every
#    page's accessibility and phone width).
# `node --test` exits non-zero when any test fails.
T0=$SECONDS
cd "$HERE"
status=0
if [ $# -eq 0 ]; then
  set -- ceremonies.test.mjs portal.test.mjs a11y.test.mjs sso.test.mjs applications.test.mjs authlib.test.mjs
fi
node --test --test-reporter=spec "$@" || status=$?
log "node --test took $((SECONDS - T0))s (whole script $((SECONDS - START))s), exit $status"
exit $status
