#!/usr/bin/env python3
"""Times py_webauthn's verify_authentication_response on the assertions the Rust bench wrote.

Usage: py_webauthn_verify.py ASSERTIONS.json OUT.json

For each case: the credential is parsed from JSON once (as the Rust bench starts from a
parsed AuthenticationResponseJSON); each timed call is one verify_authentication_response
with the stored COSE key bytes, the expected challenge, RP ID and origin, and
require_user_verification=True. The result is the median of 7 batches, in µs per call.
Also timed, as "raw_us": py_webauthn's own verify_signature (cryptography, i.e. OpenSSL) of
authenticatorData ‖ SHA-256(clientDataJSON) with the key decoded beforehand: Python's floor.
Algorithms py_webauthn does not support are reported with the error and no time.
"""

import base64
import json
import sys
import time

import hashlib

import webauthn
from webauthn.helpers import (
    decode_credential_public_key,
    decoded_public_key_to_cryptography,
    parse_authentication_credential_json,
)
from webauthn.helpers.verify_signature import verify_signature


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
    us, n = median_us(lambda: verify(**args))

    response = credential.response
    decoded = decode_credential_public_key(args["credential_public_key"])
    public_key = decoded_public_key_to_cryptography(decoded)
    data = response.authenticator_data + hashlib.sha256(response.client_data_json).digest()
    raw = dict(public_key=public_key, signature_alg=decoded.alg, signature=response.signature, data=data)
    verify_signature(**raw)
    raw_us, _ = median_us(lambda: verify_signature(**raw))
    return {"alg": case["alg"], "us": us, "raw_us": raw_us, "calls_per_batch": n}


def median_us(call) -> tuple:
    """Median µs per call over 7 batches of about 0.3 s, after 200 warm-up calls."""
    for _ in range(200):
        call()
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < 0.3:
        call()
        n += 1
    batches = []
    for _ in range(7):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            call()
        batches.append((time.perf_counter_ns() - t0) / n / 1000.0)
    batches.sort()
    return batches[len(batches) // 2], n


def main() -> None:
    source, out = sys.argv[1], sys.argv[2]
    with open(source) as f:
        doc = json.load(f)
    results = [time_case(doc, case) for case in doc["cases"]]
    for r in results:
        if "us" in r:
            print(r["alg"], f'{r["us"]:.2f} µs (its signature check alone: {r["raw_us"]:.2f} µs)', file=sys.stderr)
        else:
            print(r["alg"], r["error"], file=sys.stderr)
    with open(out, "w") as f:
        json.dump({"py_webauthn": webauthn.__version__ if hasattr(webauthn, "__version__") else None,
                   "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
