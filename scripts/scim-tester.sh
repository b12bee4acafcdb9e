#!/usr/bin/env bash
# scim2-tester (PyPI; checks a live SCIM server against RFC 7643/7644) against
# `keyfleet serve`, on SQLite and on PostgreSQL (issue 16).
#
# The venv is cached in the target directory ($CARGO_TARGET_DIR/scim-tester-venv) and rebuilt
# only when its stamp (Python version, requirement) changes. Each run starts keyfleet on a
# fresh database (a temporary SQLite file; a throwaway PostgreSQL database on
# KEYFLEET_TEST_POSTGRES_URL's server, default postgres://postgres@127.0.0.1:5432/test),
# creates an API client with the scope `scim` with the CLI, gets a token, runs the checks.
# Fails when a check ends in ERROR or CRITICAL, or when a part cannot run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=${KEYFLEET_SCIM_TESTER_VENV:-$TARGET/scim-tester-venv}
REQUIREMENT="scim2-tester[httpx2]==0.5.2"
PG_URL=${KEYFLEET_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
BIN=${KEYFLEET_BIN:-$TARGET/debug/keyfleet}

die() { printf 'scim-tester: %s\n' "$*" >&2; exit 1; }

ensure_venv() {
    local stamp="$(/usr/bin/python3 --version 2>&1) $REQUIREMENT"
    if [ -f "$VENV/.stamp" ] && [ "$(cat "$VENV/.stamp")" = "$stamp" ]; then
        return
    fi
    rm -rf "$VENV"
    /usr/bin/python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
    PIP_NO_INPUT=1 "$VENV/bin/pip" install --quiet --disable-pip-version-check "$REQUIREMENT" \
        || die "pip install $REQUIREMENT failed"
    "$VENV/bin/python" -c 'import scim2_tester, httpx2' || die "the venv does not import scim2_tester"
    printf '%s' "$stamp" > "$VENV/.stamp"
}

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run_against DATABASE_URL LABEL
run_against() {
    local db=$1 label=$2 port work pid token client secret
    port=$(free_port)
    work=$(mktemp -d)
    export KEYFLEET_MASTER_KEY_FILE="$work/master-key"
    client=$("$BIN" admin create-client --database-url "$db" --name scim-tester --scope scim)
    secret=$(printf '%s' "$client" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
    client=$(printf '%s' "$client" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
    KEYFLEET_ORIGINS="http://localhost:$port" "$BIN" serve --database-url "$db" --listen "127.0.0.1:$port" \
        > "$work/serve.log" 2>&1 &
    pid=$!
    trap 'kill $pid 2>/dev/null || true' RETURN
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.2
    done
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/serve.log" >&2; die "keyfleet did not start ($label)"; }
    token=$(curl -sf -X POST "http://127.0.0.1:$port/oauth2/token" \
        -d "grant_type=client_credentials&client_id=$client&client_secret=$secret" \
        | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') || die "no token ($label)"
    printf '\n==> scim2-tester on %s\n' "$label" >&2
    "$VENV/bin/python" tests/scim/run_tester.py "http://127.0.0.1:$port/scim/v2" "$token"
}

[ -x "$BIN" ] || cargo build -p keyfleet --quiet
ensure_venv

sqlite_dir=$(mktemp -d)
run_against "sqlite://$sqlite_dir/keyfleet.db" SQLite

pg_db="keyfleet_scim_tester_$$"
psql "$PG_URL" -qc "CREATE DATABASE $pg_db" || die "cannot create a PostgreSQL database on $PG_URL"
trap 'psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
run_against "${PG_URL%/*}/$pg_db" PostgreSQL
