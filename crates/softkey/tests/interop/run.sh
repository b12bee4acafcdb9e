#!/usr/bin/env bash
# Interop test: python-fido2 (an independent CTAP client) talks to `keyfleet key vpcd` through a
# real pcscd and vsmartcard's vpcd driver, isolated in private mount, network and PID namespaces.
#
# Usage: crates/softkey/tests/interop/run.sh [pytest args...]
#        crates/softkey/tests/interop/run.sh --device-suite nfc-key|band [pytest args...]
#
# The second form runs python-fido2's own destructive device test suite (`tests/device` of the
# fido2 sdist on PyPI, the version pinned below, checked by its sha256 and cached under the target
# dir) against one factory-fresh software key of that model on the same private pcscd + vpcd. The
# suite's prompts to its operator (remove / place the key, touch, press a finger) are answered
# through the key's control socket by device-suite/keyfleet_operator.py, which also fails the run
# on a skip not listed in device-suite/skips.tsv (see docs/device-suite.md).
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
# One python-fido2 for the interop tests and the device suite.
FIDO2_VERSION=2.2.1
# sha256 of fido2-2.2.1.tar.gz as published on PyPI (the device suite's source).
FIDO2_SDIST_SHA256=85787428a94c3f8eaf72f0ff30afba983b559a1b1b795c93318c81b4ad4062c4
# cryptography >= 45: the suite's previewSign tests need it to get as far as asking the key (with
# Debian's older cryptography they skip for the client's sake, not the key's).
PY_REQUIREMENTS="fido2==$FIDO2_VERSION pytest>=7,<9 cryptography>=45 aiosmtpd==1.4.6"
SUITE_DIR="$TARGET/fido2-device-suite-$FIDO2_VERSION"
# The RP ID the suite's test_ep_vendor asks vendor-facilitated enterprise attestation for; the key
# is made with it in its factory list (`keyfleet key new --enterprise-rp-id`).
SUITE_EP_RP_ID="ep.example.com"
# vpcd's first reader (Debian's /etc/reader.conf.d/vpcd, port 35963, where `keyfleet key vpcd` goes).
SUITE_READER="Virtual PCD 00 00"
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
        "$VENV/bin/python" -c 'import fido2, pytest, smartcard, aiosmtpd' >/dev/null 2>&1; then
        return 0
    fi
    log "creating $VENV"
    rm -rf "$VENV"
    /usr/bin/python3 -m venv --system-site-packages "$VENV"
    # shellcheck disable=SC2086 # the requirement list is split on purpose
    PIP_NO_INPUT=1 "$VENV/bin/pip" install --quiet --disable-pip-version-check $PY_REQUIREMENTS
    "$VENV/bin/python" -c 'import fido2, pytest, smartcard, aiosmtpd' || die "the venv does not import fido2, pytest and smartcard"
    printf '%s\n' "$want" >"$stamp"
}

# python-fido2's tests/device from the fido2 sdist on PyPI, checked against FIDO2_SDIST_SHA256,
# extracted once into $SUITE_DIR (tests/__init__.py, tests/conftest.py with the suite's options,
# tests/device/).
ensure_device_suite() {
    local stamp="$SUITE_DIR/.keyfleet-sdist-sha256" sdist_dir="$TARGET/fido2-sdist" sdist got
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$FIDO2_SDIST_SHA256" ] && [ -f "$SUITE_DIR/tests/device/conftest.py" ]; then
        return 0
    fi
    sdist="$sdist_dir/fido2-$FIDO2_VERSION.tar.gz"
    if [ ! -f "$sdist" ]; then
        log "downloading the fido2 $FIDO2_VERSION sdist (python-fido2's device suite)"
        mkdir -p "$sdist_dir"
        PIP_NO_INPUT=1 "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-binary :all: --no-deps \
            "fido2==$FIDO2_VERSION" -d "$sdist_dir" >/dev/null ||
            die "pip download fido2==$FIDO2_VERSION failed"
    fi
    got="$(sha256sum "$sdist" | cut -d' ' -f1)"
    [ "$got" = "$FIDO2_SDIST_SHA256" ] || {
        rm -f "$sdist"
        die "fido2-$FIDO2_VERSION.tar.gz has sha256 $got, expected $FIDO2_SDIST_SHA256"
    }
    rm -rf "$SUITE_DIR"
    mkdir -p "$SUITE_DIR"
    tar -xzf "$sdist" -C "$SUITE_DIR" --strip-components=1 \
        "fido2-$FIDO2_VERSION/tests/__init__.py" "fido2-$FIDO2_VERSION/tests/conftest.py" \
        "fido2-$FIDO2_VERSION/tests/device" || die "cannot extract tests/device from $sdist"
    printf '%s\n' "$FIDO2_SDIST_SHA256" >"$stamp"
}

SUITE_MODEL=""
if [ "${1:-}" = "--device-suite" ]; then
    SUITE_MODEL="${2:-}"
    case "$SUITE_MODEL" in
    nfc-key | band) ;;
    *) die "--device-suite takes a model: nfc-key or band" ;;
    esac
fi

if [ "${1:-}" != "--inside-namespace" ]; then
    [ "$(id -u)" -eq 0 ] || die "must run as root (apt-get, unshare, a private pcscd)"
    command -v cargo >/dev/null || die "cargo not found"
    install_system_packages
    ensure_venv
    [ -z "$SUITE_MODEL" ] || ensure_device_suite
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

# python-fido2's device suite against one fresh key of $1, prompts answered by the operator plugin.
run_device_suite() {
    local model=$1 key
    shift
    key="$WORK/suite-$model.kfk"
    "$KEYFLEET_BIN" key new --model "$model" --out "$key" --enterprise-rp-id "$SUITE_EP_RP_ID" \
        2>>"$WORK/suite-key.log" || die "keyfleet key new failed"
    if [ "$model" = band ]; then
        # The operator wears the band, as the person enrolling would (not enrolled: no UV yet).
        "$KEYFLEET_BIN" key wear --key "$key" 2>>"$WORK/suite-key.log" || die "keyfleet key wear failed"
    fi
    "$KEYFLEET_BIN" key vpcd --key "$key" >"$WORK/suite-bridge.log" 2>&1 </dev/null &
    for _ in $(seq 1 200); do
        [ -S "$key.ctl" ] && break
        sleep 0.05
    done
    [ -S "$key.ctl" ] || die "keyfleet key vpcd did not start"
    cd "$SUITE_DIR"
    local started=$SECONDS
    KEYFLEET_SUITE_KEY="$key" KEYFLEET_SUITE_MODEL="$model" KEYFLEET_SUITE_SKIPS="$HERE/device-suite/skips.tsv" \
        PYTHONPATH="$HERE/device-suite:$SUITE_DIR" \
        "$KEYFLEET_INTEROP_VENV/bin/python" -m pytest -p no:cacheprovider -p keyfleet_operator -q -rfE \
        --reader "$SUITE_READER" --ep-rp-id "$SUITE_EP_RP_ID" "$@" tests/device &
    local status=0
    wait $! || status=$?
    log "device suite on a fresh $model: exit $status after $((SECONDS - started)) s"
    return "$status"
}

if [ "${1:-}" = "--device-suite" ]; then
    model=$2
    shift 2
    run_device_suite "$model" "$@"
    exit $?
fi

cd "$HERE"
# In the background, so that a signal runs the traps at once (bash defers traps until a foreground
# child exits); leaving this script ends the PID namespace and with it pytest and every bridge.
"$KEYFLEET_INTEROP_VENV/bin/python" -m pytest -p no:cacheprovider -q -s -rfEs "$@" test_*.py &
wait $!
