#!/usr/bin/env bash
# Interop test: python-fido2 (an independent CTAP client) talks to `keyfleet-key vpcd` through
# a real pcscd and vsmartcard's vpcd driver, isolated in private mount and network namespaces.
#
# Usage: crates/softkey/tests/interop/run.sh [pytest args...]
# Needs root (apt-get, unshare). Idempotent and quick when everything is installed already.
# Environment: CARGO_TARGET_DIR (default <repo>/target), KEYFLEET_INTEROP_VENV (default
# <target>/interop-venv).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="${KEYFLEET_INTEROP_VENV:-$TARGET/interop-venv}"

if [ "${1:-}" != "--inside-namespace" ]; then
    # 1. System packages (Debian 12). The venv must use Debian's python3 to see python3-pyscard.
    missing=()
    for pkg in pcscd vsmartcard-vpcd python3-pyscard python3-venv iproute2; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "interop: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
            apt-get update >/dev/null
            apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
        }
    fi
    # 2. python-fido2 and pytest in a venv that also sees the system pyscard.
    if ! "$VENV/bin/python" -c 'import fido2, pytest, smartcard' >/dev/null 2>&1; then
        echo "interop: creating $VENV" >&2
        /usr/bin/python3 -m venv --system-site-packages "$VENV"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check 'fido2>=2,<3' pytest
    fi
    # 3. The bridge.
    (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --quiet -p keyfleet-softkey --bin keyfleet-key)
    export KEYFLEET_KEY_BIN="$TARGET/debug/keyfleet-key"
    export KEYFLEET_INTEROP_VENV="$VENV"
    exec unshare --mount --net "$0" --inside-namespace "$@"
fi
shift

# Inside the namespaces: loopback only, a private /run/pcscd, our own pcscd.
ip link set lo up
mkdir -p /run/pcscd
mount -t tmpfs tmpfs /run/pcscd
WORK="$(mktemp -d /tmp/keyfleet-interop.XXXXXX)"
export KEYFLEET_INTEROP_WORK="$WORK"
export KEYFLEET_FACTORY_DIR="$WORK/factory"
unset KEYFLEET_KEY_PASSPHRASE

pcscd -f -a -i >"$WORK/pcscd.log" 2>&1 </dev/null &
PCSCD_PID=$!
cleanup() {
    status=$?
    kill "$PCSCD_PID" 2>/dev/null || true
    wait "$PCSCD_PID" 2>/dev/null || true
    if [ "$status" -ne 0 ]; then
        echo "interop: pcscd log tail:" >&2
        tail -n 30 "$WORK/pcscd.log" >&2 || true
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT

# pcscd is ready once its socket exists.
for _ in $(seq 1 100); do
    [ -S /run/pcscd/pcscd.comm ] && break
    sleep 0.05
done
[ -S /run/pcscd/pcscd.comm ] || { echo "interop: pcscd did not start" >&2; exit 1; }

cd "$HERE"
"$KEYFLEET_INTEROP_VENV/bin/python" -m pytest -p no:cacheprovider -q -s "$@" test_*.py
