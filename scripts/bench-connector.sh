#!/usr/bin/env bash
# Issue 15's scale check: N pending key orders (default 10 000) processed in one run of the
# connector against the key factory, on PostgreSQL. Starts the factory (`keyfleet factory
# serve`) and `keyfleet serve` on a throwaway database, seeds N users and N `requested`
# orders with SQL (one statement each), then times `POST /api/v1/shipments/process` and
# checks that every order was submitted once (the factory holds N shipments).
#
#   scripts/bench-connector.sh [N] [PROFILE]      PROFILE: debug (default) or release
#
# Needs: a built `keyfleet` binary of PROFILE, PostgreSQL at 127.0.0.1:5432 (trust), psql,
# curl, python3. Prints one line: orders, seconds, orders per second.
set -euo pipefail

N=${1:-10000}
PROFILE=${2:-debug}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE/keyfleet
[ -x "$BIN" ] || { echo "build first: cargo build ${PROFILE/debug/} -p keyfleet (no $BIN)" >&2; exit 1; }
WORK=$(mktemp -d)
DB="kf_bench_connector_$$"
PG="postgres://postgres@127.0.0.1:5432"
export KEYFLEET_MASTER_KEY="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
cleanup() {
  [ -n "${KF_PID:-}" ] && kill "$KF_PID" 2>/dev/null || true
  [ -n "${FAC_PID:-}" ] && kill "$FAC_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  psql "$PG/test" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
psql "$PG/test" -qc "CREATE DATABASE $DB" >/dev/null
URL="$PG/$DB"

cd "$WORK"
FLAGS=(--database-url "sqlite://$WORK/factory.db" --factory-dir "$WORK/factory-ca" --outbox "$WORK/outbox")
"$BIN" factory serve --listen 127.0.0.1:0 "${FLAGS[@]}" >factory.out 2>factory.err &
FAC_PID=$!
for _ in $(seq 1 300); do grep -q "listening on" factory.out 2>/dev/null && break; sleep 0.1; done
FACTORY=$(sed -n 's/^listening on //p' factory.out | head -1)
TOKEN=$("$BIN" factory create-token --name bench "${FLAGS[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
"$BIN" key factory-ca --model nfc-key --factory-dir "$WORK/factory-ca" >roots.pem

KEYFLEET_FACTORY_URL=$FACTORY KEYFLEET_FACTORY_TOKEN=$TOKEN KEYFLEET_ATTESTATION_ROOTS_FILE=$WORK/roots.pem \
KEYFLEET_ONBEHALF_CHALLENGE_TIMEOUT_MINUTES=43200 KEYFLEET_SHIPMENTS_POLL_SCHEDULE="0 0 0 1 1 *" \
KEYFLEET_LOG_FORMAT=json \
  "$BIN" serve --listen 127.0.0.1:0 --database-url "$URL" >keyfleet.out 2>keyfleet.err &
KF_PID=$!
for _ in $(seq 1 600); do grep -q "keyfleet is ready" keyfleet.err 2>/dev/null && break; sleep 0.1; done
ADDR=$(grep -h -o '"address":"[0-9.:]*"' keyfleet.err keyfleet.out | head -1 | cut -d'"' -f4)
[ -n "$ADDR" ] || { echo "keyfleet did not start" >&2; cat keyfleet.err >&2; exit 1; }

# N users and N requested orders, in two statements.
psql "$URL" -q <<SQL
INSERT INTO users (id, username, display_name, email, manager_email, shipping_address, enabled, role,
                   user_handle, created_at, updated_at)
SELECT gen_random_uuid()::text, 'bench' || i, 'Bench ' || i, 'bench' || i || '@example.com',
       'boss@example.com', i || ' Example Street', true, 'worker', sha256(('bench' || i)::bytea), 0, 0
FROM generate_series(1, $N) AS i;
INSERT INTO shipments (id, user_id, model, state, attempts, created_at, updated_at, pin_length, emails_to)
SELECT gen_random_uuid()::text, id, 'nfc-key', 'requested', 0, 0, 0, 8, 'boss@example.com' FROM users
WHERE username LIKE 'bench%';
SQL

CLIENT=$("$BIN" admin create-client --name bench --scope shipments --database-url "$URL")
ID=$(echo "$CLIENT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
SECRET=$(echo "$CLIENT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
ACCESS=$(curl -sf "http://$ADDR/oauth2/token" -d grant_type=client_credentials -d "client_id=$ID" \
  -d "client_secret=$SECRET" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

START=$(date +%s.%N)
COUNTS=$(curl -sf -m 600 -X POST "http://$ADDR/api/v1/shipments/process" -H "Authorization: Bearer $ACCESS" \
  -H 'Content-Type: application/json' -d '{}')
END=$(date +%s.%N)
SUBMITTED=$(psql "$URL" -tAc "SELECT count(*) FROM shipments WHERE state = 'submitted'")
AT_FACTORY=$("$BIN" factory list-shipments "${FLAGS[@]}" | wc -l)
python3 - "$N" "$START" "$END" "$SUBMITTED" "$AT_FACTORY" "$COUNTS" <<'PY'
import json, sys
n, start, end, submitted, factory, counts = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
s = end - start
print(f"orders {n}  submitted {submitted}  at the factory {factory}  one run {s:.1f} s  {n / s:.0f} orders/s  counts {json.loads(counts)['counts']}")
sys.exit(0 if submitted == n == factory else 1)
PY
