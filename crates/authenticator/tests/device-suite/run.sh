#!/usr/bin/env bash
# python-fido2's own device suite (tests/device of the fido2 sdist) against the engine, both
# models, over a stdio bridge (examples/stdio_device.rs): no NFC, no pcscd, seconds not minutes.
# The NFC run through pcscd + vpcd is crates/softkey's interop test; this one checks the engine
# alone, so that a failure there is known to be the transport's or the engine's.
#
# Fails unless every model ends with 0 failed and 0 errors. Vendor-facilitated enterprise
# attestation runs too (EP_RP_IDS / --ep-rp-id). Needs python3 with venv and network access for
# pip the first time (the venv and the sdist are cached in the target directory).
#
# Usage: crates/authenticator/tests/device-suite/run.sh [pytest args...]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
FIDO2_VERSION="2.2.1"
WORK="$TARGET/device-suite"
VENV="$WORK/venv"
SDIST="$WORK/fido2-$FIDO2_VERSION"

cargo build -q -p keyfleet-authenticator --example stdio_device
EXE="$TARGET/debug/examples/stdio_device"
mkdir -p "$WORK"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import fido2, pytest" 2>/dev/null; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "fido2==$FIDO2_VERSION" "pytest>=7,<9"
fi
if [ ! -d "$SDIST/tests/device" ]; then
    "$VENV/bin/pip" download -q "fido2==$FIDO2_VERSION" --no-binary :all: --no-deps -d "$WORK"
    tar -xzf "$WORK/fido2-$FIDO2_VERSION.tar.gz" -C "$WORK"
fi

status=0
for model in nfc-key band; do
    echo "==> python-fido2 $FIDO2_VERSION tests/device against the engine as $model" >&2
    # Run from the sdist so that `tests.device` imports; its fido2/ is the same version as the venv's.
    if ! (cd "$SDIST" && EP_RP_IDS=corp.example STDIO_DEVICE="$EXE" STDIO_MODEL="$model" PYTHONPATH="$HERE" \
        "$VENV/bin/python" -m pytest -p stdio_plugin tests/device --ep-rp-id corp.example -q -rs "$@"); then
        status=1
    fi
done
exit "$status"
