#!/usr/bin/env bash
# Seeds a keyfleet database with N ballast users of 3 keys each, in the database itself (no
# keyfleet code runs): for the "flat cost" figure of docs/performance.md ("Sign-in at the
# hardware limit"). The database must already hold keyfleet's schema (any `keyfleet admin`
# command creates it). Rows are shaped like real ones (UUID ids, 32-byte random user handles
# and credential ids, unique usernames) but the keys are never used to sign in.
#
# Usage: scripts/bench/seed-fleet.sh DATABASE_URL N
#   sqlite:///path/keyfleet.db  (needs the sqlite3 command; Debian package sqlite3)
#   postgres://user@host:port/db (needs psql)
# 1,000,000 users and 3,000,000 keys take about a minute on SQLite, two on PostgreSQL, on
# this 2-core machine.
set -euo pipefail
url=${1:?usage: seed-fleet.sh DATABASE_URL N}
n=${2:?usage: seed-fleet.sh DATABASE_URL N}
[[ $n =~ ^[0-9]+$ ]] || { echo "seed-fleet: N must be a number" >&2; exit 2; }

case $url in
sqlite://*)
    db=${url#sqlite://}
    db=${db%%\?*}
    command -v sqlite3 >/dev/null || { echo "seed-fleet: sqlite3 is required (apt-get install sqlite3)" >&2; exit 1; }
    sqlite3 "$db" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $n)
INSERT INTO users (id, username, display_name, email, enabled, role, user_handle, created_at, updated_at)
SELECT printf('%08x-0000-4000-8000-%012x', i, i), 'ballast' || i, 'Ballast ' || i,
       'ballast' || i || '@example.com', 1, 'worker', randomblob(32), 0, 0
  FROM n;
INSERT INTO credentials (id, user_id, public_key, alg, sign_count, aaguid, transports, backup_eligible,
                         backup_state, uv_initialized, attestation_format, attestation_trust,
                         attestation_object, nickname, created_at, last_used_at, possibly_cloned)
SELECT randomblob(32), u.id, randomblob(77), -7, 0, zeroblob(16), x'', 0, 0, 1, 'none', 'none', x'',
       'ballast', 0, NULL, 0
  FROM users u, (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3)
 WHERE u.username >= 'ballast' AND u.username < 'ballasu';
COMMIT;
ANALYZE;
SQL
    ;;
postgres://* | postgresql://*)
    command -v psql >/dev/null || { echo "seed-fleet: psql is required" >&2; exit 1; }
    psql "$url" -q -v ON_ERROR_STOP=1 <<SQL
SET synchronous_commit = off;
BEGIN;
INSERT INTO users (id, username, display_name, email, enabled, role, user_handle, created_at, updated_at)
SELECT md5('u' || i)::uuid::text, 'ballast' || i, 'Ballast ' || i, 'ballast' || i || '@example.com',
       TRUE, 'worker', decode(md5('h' || i) || md5('H' || i), 'hex'), 0, 0
  FROM generate_series(1, $n) AS i;
INSERT INTO credentials (id, user_id, public_key, alg, sign_count, aaguid, transports, backup_eligible,
                         backup_state, uv_initialized, attestation_format, attestation_trust,
                         attestation_object, nickname, created_at, last_used_at, possibly_cloned)
SELECT decode(md5('c' || i || '.' || k) || md5('C' || i || '.' || k), 'hex'), md5('u' || i)::uuid::text,
       decode(md5('p' || i), 'hex'), -7, 0, decode(repeat('00', 16), 'hex'), '{}', FALSE, FALSE, TRUE,
       'none', 'none', ''::bytea, 'ballast', 0, NULL, FALSE
  FROM generate_series(1, $n) AS i, generate_series(1, 3) AS k;
COMMIT;
VACUUM ANALYZE users;
VACUUM ANALYZE credentials;
SQL
    # The seed writes more WAL than max_wal_size (1 GB by default): without this, the
    # checkpoint it sets off writes its buffers out during the measurement that follows.
    psql "$url" -q -c 'CHECKPOINT' ||
        echo "seed-fleet: CHECKPOINT refused (needs superuser or pg_checkpoint); a checkpoint may run during the measurement" >&2
    ;;
*)
    echo "seed-fleet: unsupported URL $url" >&2
    exit 2
    ;;
esac
