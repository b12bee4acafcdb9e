#!/usr/bin/env bash
# The software authenticator against python-fido2 through a private pcscd + vpcd (issue 5's
# interop test). A thin wrapper: see crates/softkey/tests/interop/run.sh for what it needs and does.
set -euo pipefail
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/crates/softkey/tests/interop/run.sh" "$@"
