"""Directory-sync figures (issue 16), measured against a running keyfleet; not a test.

    load.py create BASE_URL TOKEN N [THREADS]   create N users through POST /Users
    load.py query BASE_URL TOKEN USERNAME [RUNS] time filtered lists (userName, emails,
                                                  externalId, displayName co) on a seeded fleet

Prints the figures on standard output.
"""

import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from httpx2 import Client


def client(base: str, token: str) -> Client:
    return Client(base_url=base, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}, timeout=60)


def create(base: str, token: str, n: int, threads: int) -> None:
    run = uuid.uuid4().hex[:8]

    def one(worker: int) -> int:
        http = client(base, token)
        done = 0
        for i in range(worker, n, threads):
            name = f"load{run}-{i}@example.com"
            body = {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name,
                "externalId": f"{run}-{i}",
                "name": {"givenName": "Load", "familyName": str(i)},
                "emails": [{"value": name, "type": "work", "primary": True}],
                "active": True,
            }
            r = http.post("/Users", json=body)
            if r.status_code != 201:
                raise SystemExit(f"user {i}: {r.status_code} {r.text}")
            done += 1
        return done

    start = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        created = sum(pool.map(one, range(threads)))
    elapsed = time.monotonic() - start
    print(f"created {created} users through SCIM in {elapsed:.1f} s ({created / elapsed:.0f}/s, {threads} clients)")


def query(base: str, token: str, username: str, runs: int) -> None:
    http = client(base, token)
    filters = {
        "userName eq": f'userName eq "{username}"',
        "emails.value eq": f'emails.value eq "{username}"',
        "externalId eq": 'externalId eq "none-such"',
        "userName sw": f'userName sw "{username[:-2]}"',
        "displayName eq": 'displayName eq "seed user 99999"',
    }
    for label, f in filters.items():
        times = []
        for _ in range(runs):
            start = time.monotonic()
            r = http.get("/Users", params={"filter": f})
            times.append((time.monotonic() - start) * 1000)
            if r.status_code != 200:
                raise SystemExit(f"{label}: {r.status_code} {r.text}")
        total = r.json()["totalResults"]
        print(f"{label:16} median {statistics.median(times):6.1f} ms  max {max(times):6.1f} ms  ({total} found)")


if __name__ == "__main__":
    mode, base, token = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "create":
        create(base, token, int(sys.argv[4]), int(sys.argv[5]) if len(sys.argv) > 5 else 8)
    else:
        query(base, token, sys.argv[4], int(sys.argv[5]) if len(sys.argv) > 5 else 20)
