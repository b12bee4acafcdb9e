#!/usr/bin/env python3
"""Times py_webauthn's verify_authentication_response on the assertions the Rust bench wrote.

Usage: py_webauthn_verify.py ASSERTIONS.json OUT.json

For each case: the credential is parsed from JSON once (as the Rust bench starts from a
parsed AuthenticationResponseJSON); each timed call is one verify_authentication_response
with the stored COSE key bytes, the expected challenge, RP ID and origin, and
require_user_verification=True. The result is the median of 7 batches, in µs per call.
Algorithms py_webauthn does not support are reported with the error and no time.
"""

import base64
import json
import sys
import time

import webauthn
from webauthn.helpers import parse_authentication_credential_json


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def time_case(doc: dict, case: dict) -> dict:
    credential = parse_authentication_credential_json(json.dumps(case["credential"]))
    args = dict(
        credential=credential,
        expected_challenge=b64url(doc["challenge"]),
        expected_rp_id=doc["rpId"],
        expected_origin=doc["origin"],
        credential_public_key=b64url(case["credentialPublicKey"]),
        credential_current_sign_count=case["storedSignCount"],
        require_user_verification=doc["requireUserVerification"],
    )
    try:
        verified = webauthn.verify_authentication_response(**args)
    except Exception as e:  # an unsupported algorithm: say so, do not time
        return {"alg": case["alg"], "error": f"{type(e).__name__}: {e}"}
    assert verified.new_sign_count == case["storedSignCount"] + 1

    verify = webauthn.verify_authentication_response
    for _ in range(200):
        verify(**args)
    # Batches of about 0.3 s each.
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < 0.3:
        verify(**args)
        n += 1
    batches = []
    for _ in range(7):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            verify(**args)
        batches.append((time.perf_counter_ns() - t0) / n / 1000.0)
    batches.sort()
    return {"alg": case["alg"], "us": batches[len(batches) // 2], "calls_per_batch": n}


def main() -> None:
    source, out = sys.argv[1], sys.argv[2]
    with open(source) as f:
        doc = json.load(f)
    results = [time_case(doc, case) for case in doc["cases"]]
    for r in results:
        print(r["alg"], f'{r["us"]:.2f} µs' if "us" in r else r["error"], file=sys.stderr)
    with open(out, "w") as f:
        json.dump({"py_webauthn": webauthn.__version__ if hasattr(webauthn, "__version__") else None,
                   "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
