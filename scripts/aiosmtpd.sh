#!/usr/bin/env bash
# Prints the path of a Python that has aiosmtpd (the SMTP server the mail tests start),
# installing it from PyPI into a venv under the target directory the first time (pinned;
# quick when present). Used by scripts/test.sh and, when KEYFLEET_TEST_SMTPD_PYTHON is not
# set, by the tests themselves (crates/server/tests/it/mail.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
AIOSMTPD_VERSION=1.4.6
VENV=${CARGO_TARGET_DIR:-$(pwd)/target}/aiosmtpd-venv
if ! "$VENV/bin/python" -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" 2>/dev/null; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION" >&2
fi
echo "$VENV/bin/python"
