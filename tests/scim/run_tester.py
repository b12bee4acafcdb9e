"""Runs scim2-tester (https://pypi.org/project/scim2-tester/) against a live keyfleet.

Usage: run_tester.py BASE_URL TOKEN

Prints one line per check; exits 1 when any check ends in ERROR or CRITICAL (a violation of
a MUST of RFC 7643/7644), 0 otherwise. DEVIATION (a SHOULD) is reported, not failed.
"""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main() -> int:
    base, token = sys.argv[1], sys.argv[2]
    http = Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    client = SyncSCIMClient(http)
    results = check_server(client)
    failed = 0
    for r in results:
        kind = f"{r.resource_type}: " if r.resource_type else ""
        line = f"{r.status.name:10} {kind}{r.title}"
        if r.status not in (Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE, Status.SKIPPED):
            line += f" -- {r.reason}"
        print(line)
        if r.status in (Status.ERROR, Status.CRITICAL):
            failed += 1
    print(f"{len(results)} checks, {failed} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
