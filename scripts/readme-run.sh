#!/usr/bin/env bash
# The README's run command, exactly as the README writes it, answers /healthz (issue 10).
#
# Takes the first command of the ```sh block after "**Run keyfleet**" in README.md and runs it
# from the repository root, as a newcomer would, with only the address, database and master-key
# file moved into a scratch directory through KEYFLEET_* variables (the command text is not
# touched). Waits for /healthz (the first run builds the release binary), checks the first-start
# banner printed the one-time pass and that the banner's "Issue another with:" command, run as
# printed from the same directory, prints a new pass; then stops the server. Binds 127.0.0.1
# only.
set -euo pipefail
cd "$(dirname "$0")/.."

cmd=$(awk '/\*\*Run keyfleet\*\*/{f=1} f&&/^```sh/{getline; print; exit}' README.md)
[[ -n $cmd ]] || { echo "readme-run: no run command found in README.md" >&2; exit 1; }
echo "readme-run: \$ $cmd" >&2

scratch=$(mktemp -d "${TMPDIR:-/tmp}/keyfleet-readme.XXXXXX")
pid=
cleanup() {
  if [[ -n $pid ]]; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT

port=$((20000 + RANDOM % 30000))
export KEYFLEET_LISTEN="127.0.0.1:$port"
export KEYFLEET_DATABASE_URL="sqlite://$scratch/keyfleet.db?mode=rwc"
export KEYFLEET_MASTER_KEY_FILE="$scratch/keyfleet.master-key"
unset KEYFLEET_MASTER_KEY KEYFLEET_CONFIG

setsid bash -c "$cmd" >"$scratch/out" 2>"$scratch/err" </dev/null &
pid=$!
# The first run compiles the release build: allow 15 minutes.
for _ in $(seq 4500); do
  if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/healthz" || true) == 200 ]]; then
    grep -q 'one-time temporary access pass' "$scratch/out" || {
      echo "readme-run: /healthz answers, but no first-start pass was printed" >&2; cat "$scratch/out" >&2; exit 1; }
    echo "readme-run: /healthz answered 200 on 127.0.0.1:$port; the first-start pass was printed" >&2
    hint=$(awk '/Issue another with:/{getline; sub(/^ +/, ""); print; exit}' "$scratch/out")
    [[ $hint == "cargo run --release -- admin "* ]] || {
      echo "readme-run: the banner's command does not fit the README's run command: $hint" >&2; exit 1; }
    echo "readme-run: \$ $hint" >&2
    code=$(bash -c "$hint" 2>"$scratch/hint-err") || {
      echo "readme-run: the banner's command failed" >&2; cat "$scratch/hint-err" >&2; exit 1; }
    [[ $code =~ ^[A-Z0-9]{20}$ ]] || { echo "readme-run: the banner's command printed $code" >&2; exit 1; }
    echo "readme-run: the banner's command printed a new pass" >&2
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || { echo "readme-run: the command exited" >&2; tail -30 "$scratch/err" >&2; exit 1; }
  sleep 0.2
done
echo "readme-run: no answer from /healthz in 15 minutes" >&2
tail -30 "$scratch/err" >&2
exit 1
