#!/usr/bin/env bash
# Complete WebAuthn sign-ins per second for docs/performance.md ("## Sign-in ceremony").
#
# For SQLite (a new file) and PostgreSQL (a throwaway database): starts a release
# `keyfleet serve` on loopback, then runs keyfleet-loadgen, which enrols one user per worker
# (`keyfleet admin create-user` + `issue-tap`, TAP sign-in and key registration over HTTP with
# a software ES256 key) and has every worker do username-less sign-ins (POST
# /api/v1/auth/webauthn/options, then /verify: assertion verified, counter compare-and-swap,
# session and audit event committed) on its own keep-alive connection for DURATION seconds.
#
# Usage: scripts/bench-signin.sh
#   Build first (both binaries):
#     CARGO_TARGET_DIR=target/bench cargo build --release -p keyfleet -p keyfleet-webauthn-testkey
#
# Knobs (environment): BIN_DIR ($CARGO_TARGET_DIR/release or target/bench/release),
#   CONCURRENCY ("1 4 16"), DURATION (20), WARMUP (3), POSTGRES_ADMIN_URL
#   (postgres://postgres@127.0.0.1:5432/postgres; SKIP_POSTGRES=1 skips; SKIP_SQLITE=1 skips SQLite), KEYFLEET_LOG_LEVEL
#   (server; default warn, so logging does not dominate), RATE (open loop: sign-ins started per
#   second over all workers, latency counted from each sign-in's due time; default: closed
#   loop, back to back), SEED_USERS (ballast users of 3 keys each written into the database
#   before the server starts, by scripts/bench/seed-fleet.sh; default 0), MODE (signin;
#   `code`: single sign-on authorization-code flows, /oauth2/authorize with each worker's
#   session and the code's exchange at /oauth2/token; `exchange`: the exchanges alone, of
#   CODES codes per worker (default 2000) minted by /oauth2/authorize before the clock starts
#   (a code lives 60 s: keep CODES under what the workers exchange in WARMUP + DURATION plus
#   the minting time below that); `refresh`: refresh-token grants, each
#   worker rotating its own token; `client_credentials`: access tokens for one API client,
#   client_secret_basic, nobody enrolled; docs/performance.md "## Single sign-on tokens").
#
# Needs: curl, psql (PostgreSQL part). Binds 127.0.0.1 only; the server, the scratch
# directory and the database are removed on exit. One JSON line per run on stdout (the
# loadgen's, with the store and the machine gauge added), progress on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BIN_DIR=${BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target/bench}/release}
BIN=$BIN_DIR/keyfleet
LOADGEN=$BIN_DIR/keyfleet-loadgen
CONCURRENCY=${CONCURRENCY:-1 4 16}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
POSTGRES_ADMIN_URL=${POSTGRES_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
SKIP_POSTGRES=${SKIP_POSTGRES:-0}
RATE=${RATE:-0}
SEED_USERS=${SEED_USERS:-0}
MODE=${MODE:-signin}
CODES=${CODES:-2000}

# A fixed test master key (base64 of 32 bytes 0x00..0x1f). Never use it for real data.
export KEYFLEET_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
export KEYFLEET_LOG_FORMAT=json
export KEYFLEET_LOG_LEVEL=${KEYFLEET_LOG_LEVEL:-warn}
export KEYFLEET_SHUTDOWN_GRACE_SECONDS=5
# A load generator is one client address; the per-address start limit would stop it.
export KEYFLEET_SIGNIN_STARTS_PER_ADDRESS_PER_MINUTE=0
# The failure limit counts the attempts in flight as possible failures (core::limits), so more
# than its default 30 workers on one address would be refused before any attempt failed.
export KEYFLEET_SIGNIN_FAILURES_PER_ADDRESS=100000
unset RUST_LOG KEYFLEET_CONFIG KEYFLEET_DATABASE_URL KEYFLEET_LISTEN KEYFLEET_ORIGINS KEYFLEET_RP_ID

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench-signin: %s\n' "$*" >&2; exit 1; }

for b in "$BIN" "$LOADGEN"; do
  [[ -x $b ]] || die "no binary at $b (build: CARGO_TARGET_DIR=target/bench cargo build --release -p keyfleet -p keyfleet-webauthn-testkey)"
done
command -v curl >/dev/null || die "curl is required"

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/keyfleet-bench-signin.XXXXXX")
SERVER_PID=
PG_DB=

stop_server() {
  if [[ -n $SERVER_PID ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}

cleanup() {
  local rc=$?
  stop_server
  if [[ -n $PG_DB ]]; then
    psql "$POSTGRES_ADMIN_URL" -q -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$SCRATCH"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free port found"
}

# gauge: the machine's speed just before a run, as raw ECDSA P-256 verifies per second on one
# core (`openssl speed`, 1 s; null without openssl). The machine's speed moves by a third
# within an hour (docs/performance.md): a rate is compared with others through this figure.
gauge() {
  command -v openssl >/dev/null || { echo null; return; }
  openssl speed -seconds 1 ecdsap256 2>/dev/null | awk '/nistp256/ { v = $NF } END { print (v == "" ? "null" : int(v)) }'
}

# run LABEL DATABASE_URL: one server, one loadgen run per concurrency (fresh users each run).
run() {
  local label=$1 url=$2 port c
  port=$(free_port)
  if [[ $SEED_USERS != 0 ]]; then
    "$BIN" admin list-users --database-url "$url" >/dev/null 2>&1 ||
      die "keyfleet admin list-users failed (it creates the schema before seeding)"
    local t0=$SECONDS
    scripts/bench/seed-fleet.sh "$url" "$SEED_USERS"
    log "$label: seeded $SEED_USERS users and $((3 * SEED_USERS)) keys in $((SECONDS - t0)) s"
  fi
  "$BIN" serve --listen "127.0.0.1:$port" --database-url "$url" >"$SCRATCH/$label.out" 2>"$SCRATCH/$label.log" </dev/null &
  SERVER_PID=$!
  for _ in $(seq 3000); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/healthz") == 200 ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$SCRATCH/$label.log" >&2; die "keyfleet serve exited"; }
    sleep 0.02
  done
  for c in $CONCURRENCY; do
    local g
    g=$(gauge)
    log "$label: $c concurrent workers, ${DURATION} s (+${WARMUP} s warm-up); machine gauge: $g P-256 verifies/s on one core"
    "$LOADGEN" --addr "127.0.0.1:$port" --keyfleet "$BIN" --database-url "$url" \
      --concurrency "$c" --duration "$DURATION" --warmup "$WARMUP" --prefix "$label-c$c-" --rate "$RATE" --mode "$MODE" --codes "$CODES" |
      sed "s/^{/{\"store\":\"$label\",\"gaugeP256VerifiesPerSecond\":$g,/"
  done
  stop_server
}

log "$(nproc) cores; $(date -u +%Y-%m-%dT%H:%M:%SZ)"
[[ ${SKIP_SQLITE:-0} == 1 ]] || run sqlite "sqlite://$SCRATCH/keyfleet.db"

if [[ $SKIP_POSTGRES != 1 ]]; then
  command -v psql >/dev/null || die "psql is required (or SKIP_POSTGRES=1)"
  PG_DB=keyfleet_bench_signin_$$
  psql "$POSTGRES_ADMIN_URL" -q -c "CREATE DATABASE $PG_DB" >/dev/null
  run postgres "${POSTGRES_ADMIN_URL%/*}/$PG_DB"
fi
