#!/usr/bin/env bash
# Server performance figures for docs/performance.md ("## Server"):
#   1. start-up to ready on SQLite (new database, existing database): the server's own
#      `ready_ms` log field and the wall time from spawn until GET /healthz answers 200;
#   2. POST /api/v1/auth/tap throughput and latency with wrk on loopback, on SQLite and on
#      PostgreSQL (a throwaway database), with a multi-use TAP so every request is a full
#      successful sign-in (rate-limit peek, user + TAP lookup, digest compare, one write
#      transaction that redeems the TAP and stores a session + audit event);
#   3. GET /healthz throughput as a floor reference.
#
# Usage: scripts/bench-server.sh [BINARY]
#   BINARY defaults to $CARGO_TARGET_DIR/release/keyfleet, or target/bench/release/keyfleet.
#   Build it first:
#     CARGO_TARGET_DIR=target/bench cargo build --release -p keyfleet
#
# Knobs (environment): STARTUP_RUNS (10), DURATION (15, seconds per wrk run), THREADS (2),
#   WARMUP (3, seconds of unreported wrk at 16 connections before the TAP runs; 0 = none),
#   CONNECTIONS ("16 64"), POSTGRES_ADMIN_URL (postgres://postgres@127.0.0.1:5432/test;
#   set SKIP_POSTGRES=1 to skip), KEYFLEET_LOG_LEVEL (server default: info), KEEP_SCRATCH=1
#   (keep the scratch directory with the server logs and wrk outputs).
#
# Needs: curl, jq, wrk (installed with apt-get when missing), psql for the PostgreSQL part.
# Binds 127.0.0.1 only; every server process, scratch directory and database is removed on
# exit. Results are printed as a Markdown table on stdout; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BIN=${1:-${CARGO_TARGET_DIR:-$ROOT/target/bench}/release/keyfleet}
STARTUP_RUNS=${STARTUP_RUNS:-10}
DURATION=${DURATION:-15}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-16 64}
POSTGRES_ADMIN_URL=${POSTGRES_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}
SKIP_POSTGRES=${SKIP_POSTGRES:-0}
LUA=$ROOT/scripts/bench/tap.lua

# A fixed test master key (base64 of 32 bytes 0x00..0x1f). Never use it for real data.
export KEYFLEET_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
export KEYFLEET_LOG_FORMAT=json
export KEYFLEET_SHUTDOWN_GRACE_SECONDS=5
unset RUST_LOG KEYFLEET_CONFIG KEYFLEET_DATABASE_URL KEYFLEET_LISTEN

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench-server: %s\n' "$*" >&2; exit 1; }

[[ -x $BIN ]] || die "no binary at $BIN (build: CARGO_TARGET_DIR=target/bench cargo build --release -p keyfleet)"
for tool in curl jq ss; do command -v "$tool" >/dev/null || die "$tool is required"; done
if ! command -v wrk >/dev/null; then
  log "installing wrk"
  apt-get install -y wrk >/dev/null || die "wrk is missing and apt-get install -y wrk failed"
fi

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/keyfleet-bench.XXXXXX")
SERVER_PID=
PG_DB=

stop_server() {
  if [[ -n $SERVER_PID ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    # Bounded: the server's grace period is 5 s; kill hard after 10 s.
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
  if [[ ${KEEP_SCRATCH:-0} == 1 ]]; then log "scratch kept: $SCRATCH"; else rm -rf "$SCRATCH"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 30000))
    if [[ -z $(ss -Hltn "sport = :$p") ]]; then echo "$p"; return; fi
  done
  die "no free port found"
}

now_ns() { date +%s%N; }

median() { # numbers on stdin -> median
  sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit }
    if (NR % 2) printf "%g\n", v[(NR + 1) / 2]; else printf "%g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# start_server DATABASE_URL LOGFILE: spawns the server on a fresh port, polls GET /healthz
# every ~2 ms until 200 and sets PORT, WALL_MS (spawn -> first 200) and READY_MS (its log).
start_server() {
  local url=$1 logfile=$2 t0 t1 deadline
  PORT=$(free_port)
  t0=$(now_ns)
  "$BIN" serve --listen "127.0.0.1:$PORT" --database-url "$url" >"$logfile.out" 2>"$logfile" </dev/null &
  SERVER_PID=$!
  deadline=$((t0 + 60000000000))
  until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$PORT/healthz") == 200 ]]; do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$logfile" >&2; die "keyfleet serve exited during start-up"; }
    (($(now_ns) < deadline)) || { cat "$logfile" >&2; die "keyfleet serve not ready within 60 s"; }
    sleep 0.002
  done
  t1=$(now_ns)
  WALL_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
  READY_MS=$(jq -r 'select(.fields.message == "keyfleet is ready") | .fields.ready_ms' "$logfile" | head -n1)
  [[ -n $READY_MS ]] || { cat "$logfile" >&2; die "no \"keyfleet is ready\" line with ready_ms"; }
}

# ---------------------------------------------------------------------------------------
# 1. Start-up on SQLite
# ---------------------------------------------------------------------------------------
log "start-up: $STARTUP_RUNS runs on a new SQLite database"
: >"$SCRATCH/new.ready" && : >"$SCRATCH/new.wall"
for i in $(seq "$STARTUP_RUNS"); do
  d=$SCRATCH/startup-new-$i && mkdir -p "$d"
  start_server "sqlite://$d/k.db" "$d/serve.log"
  echo "$READY_MS" >>"$SCRATCH/new.ready"; echo "$WALL_MS" >>"$SCRATCH/new.wall"
  log "  new #$i: ready_ms=$READY_MS wall_ms=$WALL_MS"
  stop_server
done

log "start-up: $STARTUP_RUNS runs on an existing SQLite database"
d=$SCRATCH/startup-existing && mkdir -p "$d"
start_server "sqlite://$d/k.db" "$d/first.log" # creates, migrates, bootstraps
stop_server
: >"$SCRATCH/old.ready" && : >"$SCRATCH/old.wall"
for i in $(seq "$STARTUP_RUNS"); do
  start_server "sqlite://$d/k.db" "$d/serve-$i.log"
  echo "$READY_MS" >>"$SCRATCH/old.ready"; echo "$WALL_MS" >>"$SCRATCH/old.wall"
  log "  existing #$i: ready_ms=$READY_MS wall_ms=$WALL_MS"
  stop_server
done

NEW_READY=$(median <"$SCRATCH/new.ready"); NEW_WALL=$(median <"$SCRATCH/new.wall")
OLD_READY=$(median <"$SCRATCH/old.ready"); OLD_WALL=$(median <"$SCRATCH/old.wall")
minmax() { sort -n "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%g–%g", lo, hi }'; }
NEW_READY_R=$(minmax "$SCRATCH/new.ready"); NEW_WALL_R=$(minmax "$SCRATCH/new.wall")
OLD_READY_R=$(minmax "$SCRATCH/old.ready"); OLD_WALL_R=$(minmax "$SCRATCH/old.wall")

# ---------------------------------------------------------------------------------------
# 2. TAP sign-in throughput
# ---------------------------------------------------------------------------------------
RESULTS=$SCRATCH/results.tsv
: >"$RESULTS"

# run_wrk LABEL CONNECTIONS URL [GET]: runs wrk, checks the statuses, appends a row.
run_wrk() {
  local label=$1 conns=$2 url=$3 get=${4:-0} out line
  out=$SCRATCH/wrk-$(echo "$label-$conns" | tr -c 'a-zA-Z0-9-' _).txt
  BENCH_GET=$get timeout $((DURATION + 30)) \
    wrk -t"$THREADS" -c"$conns" -d"${DURATION}s" --timeout 10s --latency -s "$LUA" "$url" >"$out" 2>&1 ||
    { cat "$out" >&2; die "wrk failed ($label, $conns connections)"; }
  line=$(grep '^BENCH ' "$out") || { cat "$out" >&2; die "wrk printed no BENCH line"; }
  get_field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
  local rps p50 p99 non200 statuses errs
  rps=$(get_field rps); p50=$(get_field p50_us); p99=$(get_field p99_us)
  non200=$(get_field non200); statuses=$(get_field statuses)
  errs=$(($(get_field connect) + $(get_field read) + $(get_field write) + $(get_field timeout)))
  log "  $label c=$conns: $rps req/s, p50 ${p50} µs, p99 ${p99} µs, non-200 $non200 ($statuses), socket errors $errs"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$conns" "$rps" "$p50" "$p99" "$non200" "$errs" \
    "$(get_field requests)" >>"$RESULTS"
  if ((non200 > 0 || errs > 0)); then
    log "  WARNING: $label c=$conns had $non200 non-200 responses and $errs socket errors: not a valid figure"
  fi
}

# bench_tap LABEL DATABASE_URL: user + multi-use TAP, server, wrk at each connection count.
bench_tap() {
  local label=$1 url=$2 d=$SCRATCH/tap-$1 code
  mkdir -p "$d"
  log "TAP sign-in on $label"
  # Migrate + bootstrap exactly as a real first start does, then add the bench user.
  start_server "$url" "$d/first.log"
  stop_server
  "$BIN" admin create-user --database-url "$url" --username bench --display-name "Bench User" \
    --email bench@example.invalid >/dev/null 2>>"$d/admin.log"
  code=$("$BIN" admin issue-tap --database-url "$url" --username bench --minutes 600 2>>"$d/admin.log")
  [[ -n $code ]] || { cat "$d/admin.log" >&2; die "issue-tap printed no code"; }
  start_server "$url" "$d/serve.log"
  # One sign-in by hand first: proves the TAP works and that the body is right.
  local status
  status=$(curl -s -o "$d/first-signin.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"username\":\"bench\",\"code\":\"$code\"}" "http://127.0.0.1:$PORT/api/v1/auth/tap")
  [[ $status == 200 ]] || { cat "$d/first-signin.json" >&2; die "TAP sign-in answered $status"; }
  export TAP_USERNAME=bench TAP_CODE=$code
  # Short warm-up (connection pool, page cache), not reported.
  if ((${WARMUP:-3} > 0)); then
    DURATION=${WARMUP:-3} run_wrk "$label-warmup" 16 "http://127.0.0.1:$PORT/api/v1/auth/tap" >/dev/null
    sed -i '$d' "$RESULTS"
  fi
  for c in $CONNECTIONS; do
    run_wrk "tap-$label" "$c" "http://127.0.0.1:$PORT/api/v1/auth/tap"
  done
  run_wrk "healthz-$label" 64 "http://127.0.0.1:$PORT/healthz" 1
  unset TAP_CODE
  stop_server
  log "  log lines written by the server during the run: $(wc -l <"$d/serve.log")"
}

bench_tap sqlite "sqlite://$SCRATCH/tap-sqlite.db"

if [[ $SKIP_POSTGRES != 1 ]]; then
  command -v psql >/dev/null || die "psql is required (or SKIP_POSTGRES=1)"
  PG_DB=keyfleet_bench_$$_$RANDOM
  psql "$POSTGRES_ADMIN_URL" -q -c "CREATE DATABASE $PG_DB" >/dev/null
  pg_url=${POSTGRES_ADMIN_URL%/*}/$PG_DB
  bench_tap postgres "$pg_url"
fi

# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------
ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }
echo
echo "| figure | median | range |"
echo "|---|---:|---:|"
echo "| start-up, new SQLite database: \`ready_ms\` (process start → listening) | $NEW_READY ms | $NEW_READY_R ms |"
echo "| start-up, new SQLite database: spawn → first \`GET /healthz\` 200 | $NEW_WALL ms | $NEW_WALL_R ms |"
echo "| start-up, existing SQLite database: \`ready_ms\` | $OLD_READY ms | $OLD_READY_R ms |"
echo "| start-up, existing SQLite database: spawn → first \`GET /healthz\` 200 | $OLD_WALL ms | $OLD_WALL_R ms |"
echo
echo "($STARTUP_RUNS runs each.)"
echo
echo "| endpoint | store | connections | requests/s | p50 | p99 | non-200 | socket errors | requests |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
while IFS=$'\t' read -r label conns rps p50 p99 non200 errs reqs; do
  endpoint=${label%%-*}; store=${label#*-}
  case $endpoint in
    tap) endpoint='`POST /api/v1/auth/tap`' ;;
    healthz) endpoint='`GET /healthz`' ;;
  esac
  printf '| %s | %s | %s | %.0f | %s ms | %s ms | %s | %s | %s |\n' "$endpoint" "$store" "$conns" "$rps" \
    "$(ms "$p50")" "$(ms "$p99")" "$non200" "$errs" "$reqs"
done <"$RESULTS"
echo
echo "(wrk -t$THREADS -d${DURATION}s, loopback; log level ${KEYFLEET_LOG_LEVEL:-info}, JSON logs to a file.)"
