#!/usr/bin/env bash
# Interop test: python-fido2 (an independent CTAP client) talks to `keyfleet key vpcd` through a
# real pcscd and vsmartcard's vpcd driver, isolated in private mount, network and PID namespaces.
#
# Usage: crates/softkey/tests/interop/run.sh [pytest args...]
#
# Needs root (apt-get, unshare) on Debian 12; works unattended (CI=true, no stdin). Idempotent and
# quick when everything is installed already. It never skips: anything missing is installed, and
# anything that cannot be set up is an error. Every process it starts (pcscd, the bridges) lives
# in a PID namespace whose init is this script, so all of them die with it, even on failure.
#
# Environment: CARGO_TARGET_DIR (default <repo>/target); KEYFLEET_INTEROP_VENV (default
# <target>/interop-venv), rebuilt whenever its stamp (Python version, requirements) changes;
# KEYFLEET_INTEROP_WORK_TMPFS=1 keeps the key files on tmpfs (see below).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="${KEYFLEET_INTEROP_VENV:-$TARGET/interop-venv}"
PY_REQUIREMENTS="fido2>=2,<3 pytest>=7,<9"
APT_PACKAGES=(pcscd vsmartcard-vpcd python3-pyscard python3-venv iproute2)

log() { printf 'interop: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

install_system_packages() {
    local missing=() pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine has no package lists; a stale one may point at removed versions.
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >/tmp/keyfleet-interop-apt.log 2>&1; then
        apt-get update -q </dev/null >/tmp/keyfleet-interop-apt.log 2>&1 || {
            cat /tmp/keyfleet-interop-apt.log >&2
            die "apt-get update failed"
        }
        apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >/tmp/keyfleet-interop-apt.log 2>&1 || {
            cat /tmp/keyfleet-interop-apt.log >&2
            die "apt-get install ${missing[*]} failed"
        }
    fi
}

# The venv must use Debian's python3 to see python3-pyscard. It is rebuilt from scratch when the
# interpreter or the requirements change, or when it no longer imports what the tests need, so a
# stale venv is never used.
ensure_venv() {
    local stamp want
    want="$(/usr/bin/python3 -c 'import sys; print(sys.version)') | $PY_REQUIREMENTS"
    stamp="$VENV/.keyfleet-interop-stamp"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
        "$VENV/bin/python" -c 'import fido2, pytest, smartcard' >/dev/null 2>&1; then
        return 0
    fi
    log "creating $VENV"
    rm -rf "$VENV"
    /usr/bin/python3 -m venv --system-site-packages "$VENV"
    # shellcheck disable=SC2086 # the requirement list is split on purpose
    PIP_NO_INPUT=1 "$VENV/bin/pip" install --quiet --disable-pip-version-check $PY_REQUIREMENTS
    "$VENV/bin/python" -c 'import fido2, pytest, smartcard' || die "the venv does not import fido2, pytest and smartcard"
    printf '%s\n' "$want" >"$stamp"
}

if [ "${1:-}" != "--inside-namespace" ]; then
    [ "$(id -u)" -eq 0 ] || die "must run as root (apt-get, unshare, a private pcscd)"
    command -v cargo >/dev/null || die "cargo not found"
    install_system_packages
    ensure_venv
    # The real binary: `keyfleet key …` from the keyfleet package (KEYFLEET_BIN when the
    # caller built it already, as scripts/test.sh does).
    if [ -z "${KEYFLEET_BIN:-}" ]; then
        log "building keyfleet"
        (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --quiet -p keyfleet)
        export KEYFLEET_BIN="$TARGET/debug/keyfleet"
    fi
    [ -x "$KEYFLEET_BIN" ] || die "$KEYFLEET_BIN was not built"
    export KEYFLEET_INTEROP_VENV="$VENV"
    # --fork --pid: this script becomes PID 1 of a new PID namespace, so the kernel kills every
    # process left in it (pcscd, bridges, pytest) when it exits; --kill-child does the same if
    # unshare itself is killed. unshare ignores SIGTERM and SIGINT, so they are passed on to the
    # namespace's init (this script, whose traps then clean up).
    unshare --mount --net --pid --fork --kill-child --mount-proc "$0" --inside-namespace "$@" &
    UNSHARE_PID=$!
    forward() {
        local init
        init="$(cat "/proc/$UNSHARE_PID/task/$UNSHARE_PID/children" 2>/dev/null || true)"
        [ -z "$init" ] || kill -"$1" $init 2>/dev/null || true
    }
    trap 'forward TERM' TERM
    trap 'forward INT' INT
    status=0
    while true; do
        wait "$UNSHARE_PID" && status=0 || status=$?
        kill -0 "$UNSHARE_PID" 2>/dev/null || break
    done
    exit "$status"
fi
shift

# Inside the namespaces: loopback only, a private /run/pcscd, our own pcscd. The key files stay
# on the real file system (not tmpfs), so that the latency test measures real fsyncs.
ip link set lo up
mkdir -p /run/pcscd
mount -t tmpfs tmpfs /run/pcscd
WORK="$(mktemp -d /tmp/keyfleet-interop.XXXXXX)"
# KEYFLEET_INTEROP_WORK_TMPFS=1 puts them on tmpfs instead: saves then cost no disk time, which
# separates the engine and transport from the fsyncs (docs/performance.md).
if [ "${KEYFLEET_INTEROP_WORK_TMPFS:-0}" = 1 ]; then
    mount -t tmpfs tmpfs "$WORK"
fi
export KEYFLEET_INTEROP_WORK="$WORK"
# The factory CAs and the file keys of the test keys stay in the scratch directory, not in root's
# data directory.
export KEYFLEET_FACTORY_DIR="$WORK/factory"
export KEYFLEET_FILE_KEYS_DIR="$WORK/file-keys"
unset KEYFLEET_KEY_PASSPHRASE KEYFLEET_KEY_PIN KEYFLEET_DATABASE_URL KEYFLEET_CONFIG

PCSCD_PID=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$PCSCD_PID" ]; then
        kill "$PCSCD_PID" 2>/dev/null || true
        wait "$PCSCD_PID" 2>/dev/null || true
    fi
    if [ "$status" -ne 0 ]; then
        log "pcscd log tail:"
        tail -n 30 "$WORK/pcscd.log" >&2 || true
        for f in "$WORK"/*.log; do
            [ "$f" = "$WORK/pcscd.log" ] || [ ! -s "$f" ] || { log "$f:"; tail -n 20 "$f" >&2; }
        done
    fi
    if [ "${KEYFLEET_INTEROP_WORK_TMPFS:-0}" = 1 ]; then
        umount "$WORK" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pcscd -f -a -i >"$WORK/pcscd.log" 2>&1 </dev/null &
PCSCD_PID=$!

# pcscd is ready once its socket exists.
for _ in $(seq 1 100); do
    [ -S /run/pcscd/pcscd.comm ] && break
    kill -0 "$PCSCD_PID" 2>/dev/null || die "pcscd exited at start"
    sleep 0.05
done
[ -S /run/pcscd/pcscd.comm ] || die "pcscd did not start"

cd "$HERE"
# In the background, so that a signal runs the traps at once (bash defers traps until a foreground
# child exits); leaving this script ends the PID namespace and with it pytest and every bridge.
"$KEYFLEET_INTEROP_VENV/bin/python" -m pytest -p no:cacheprovider -q -s -rfEs "$@" test_*.py &
wait $!
