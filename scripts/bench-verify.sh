#!/usr/bin/env bash
# WebAuthn assertion verification: keyfleet against the raw aws-lc-rs verify and py_webauthn
# (issue 11). One command:
#   1. builds the criterion bench crates/webauthn-rp/benches/assertion.rs, which writes its
#      assertions (ES256, ES384, ES512, EdDSA, RS256, PS256) to target/bench-verify/assertions.json,
#      and runs it: per algorithm, full `verify_authentication` and the raw aws-lc-rs verify;
#   2. installs py_webauthn (PyPI `webauthn`, pinned) into a venv under target/ (once);
#   3. times py_webauthn verifying the very same assertions, alone and in batches alternating
#      with keyfleet's (the bench binary in serve mode), so both see the same load;
#   4. prints one table (and writes it to target/bench-verify/table.md).
# Both timed parts run pinned to CPU 1 with taskset when it is available.
#
# Environment: CARGO_TARGET_DIR (default <repo>/target), BENCH_CPU (default 1),
# PY_WEBAUTHN_VERSION (default 3.0.1). Extra arguments go to the criterion binary
# (for example --measurement-time 10).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Absolute: the bench binary runs in its crate's directory and writes under it.
export CARGO_TARGET_DIR="$(realpath -m "${CARGO_TARGET_DIR:-$ROOT/target}")"
OUT="$CARGO_TARGET_DIR/bench-verify"
VENV="$OUT/venv"
PY_WEBAUTHN_VERSION="${PY_WEBAUTHN_VERSION:-3.0.1}"
CPU="${BENCH_CPU:-1}"
mkdir -p "$OUT"

log() { printf '==> %s\n' "$*" >&2; }

PIN=()
if command -v taskset >/dev/null 2>&1 && taskset -c "$CPU" true 2>/dev/null; then
    PIN=(taskset -c "$CPU")
    log "pinned to CPU $CPU"
else
    log "taskset unavailable (or no CPU $CPU): not pinned"
fi

log "building the bench"
BIN=$(cargo bench -p keyfleet-webauthn-rp --bench assertion --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "assertion" and m.get("executable"):
        print(m["executable"])' | tail -1)
[ -x "$BIN" ] || { echo "bench-verify: bench binary not found (cargo bench --no-run failed?)" >&2; exit 1; }

if ! "$VENV/bin/python" -c "import webauthn, sys; sys.exit(0 if webauthn.__version__ == '$PY_WEBAUTHN_VERSION' else 1)" 2>/dev/null; then
    log "installing py_webauthn $PY_WEBAUTHN_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "webauthn==$PY_WEBAUTHN_VERSION"
fi

log "criterion: full verification vs raw aws-lc-rs verify"
(cd "$ROOT/crates/webauthn-rp" &&
    KEYFLEET_BENCH_ASSERTIONS="$OUT/assertions.json" CRITERION_HOME="$OUT/criterion" \
        "${PIN[@]}" "$BIN" --bench "$@") | tee "$OUT/criterion.txt"

log "py_webauthn on the same assertions"
"${PIN[@]}" "$VENV/bin/python" "$ROOT/scripts/bench/py_webauthn_verify.py" "$OUT/assertions.json" "$OUT/py_webauthn.json" "$BIN"

python3 "$ROOT/scripts/bench/table.py" "$OUT" | tee "$OUT/table.md"
