#!/usr/bin/env python3
"""Times py_webauthn's verify_authentication_response on the assertions the Rust bench wrote.

Usage: py_webauthn_verify.py ASSERTIONS.json OUT.json [BENCH_BINARY]

For each case: the credential is parsed from JSON once (as the Rust bench starts from a
parsed AuthenticationResponseJSON); each timed call is one verify_authentication_response
with the stored COSE key bytes, the expected challenge, RP ID and origin, and
require_user_verification=True. The result is the median of 7 batches, in µs per call.
Also timed, as "raw_us": py_webauthn's own verify_signature (cryptography, i.e. OpenSSL) of
authenticatorData ‖ SHA-256(clientDataJSON) with the key decoded beforehand: Python's floor.
Algorithms py_webauthn does not support are reported with the error and no time.

With BENCH_BINARY (the Rust bench), it is started with KEYFLEET_BENCH_SERVE=1 and, per case,
21 rounds alternate a batch of py_webauthn calls with a batch of keyfleet's full
verify_authentication (about 0.1 s each, order alternating): "interleaved" gives the medians
of both and the median of the per-round speed-ups, which a changing machine load does not skew.
"""

import base64
import json
import sys
import time

import hashlib
import os
import subprocess

import webauthn
from webauthn.helpers import (
    decode_credential_public_key,
    decoded_public_key_to_cryptography,
    parse_authentication_credential_json,
)
from webauthn.helpers.verify_signature import verify_signature


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class RustTimer:
    """The Rust bench in serve mode: times `full|raw <group> <n>` on request."""

    def __init__(self, binary: str, assertions: str):
        env = dict(os.environ, KEYFLEET_BENCH_SERVE="1", KEYFLEET_BENCH_LOAD=assertions)
        env.pop("KEYFLEET_BENCH_ASSERTIONS", None)
        self.proc = subprocess.Popen(
            [binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )

    def per_call_us(self, what: str, group: str, n: int) -> float:
        self.proc.stdin.write(f"{what} {group} {n}\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline()) / n / 1000.0

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def interleaved(rust: "RustTimer", group: str, call) -> dict:
    """21 rounds of a py_webauthn batch and a keyfleet batch, alternating which goes first."""
    py_n = max(1, int(0.1 / (median_us(call, batches=1)[0] / 1e6)))
    rust_probe = rust.per_call_us("full", group, 50)
    rust_n = max(10, int(0.1 / (rust_probe / 1e6)))
    py, rs, speedups = [], [], []
    for round_ in range(21):
        if round_ % 2 == 0:
            p = batch_us(call, py_n)
            r = rust.per_call_us("full", group, rust_n)
        else:
            r = rust.per_call_us("full", group, rust_n)
            p = batch_us(call, py_n)
        py.append(p)
        rs.append(r)
        speedups.append(p / r)
    med = lambda v: sorted(v)[len(v) // 2]
    return {"py_us": med(py), "keyfleet_us": med(rs), "speedup": med(speedups), "rounds": 21}


def batch_us(call, n: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(n):
        call()
    return (time.perf_counter_ns() - t0) / n / 1000.0


def time_case(doc: dict, case: dict, rust) -> dict:
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
    result = {"alg": case["alg"], "us": us, "raw_us": raw_us, "calls_per_batch": n}
    if rust is not None:
        result["interleaved"] = interleaved(rust, case["group"], lambda: verify(**args))
    return result


def median_us(call, batches: int = 7) -> tuple:
    """Median µs per call over `batches` batches of about 0.3 s, after 200 warm-up calls."""
    for _ in range(200):
        call()
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < 0.3:
        call()
        n += 1
    times = sorted(batch_us(call, n) for _ in range(batches))
    return times[len(times) // 2], n


def main() -> None:
    source, out = sys.argv[1], sys.argv[2]
    with open(source) as f:
        doc = json.load(f)
    rust = RustTimer(sys.argv[3], source) if len(sys.argv) > 3 else None
    results = [time_case(doc, case, rust) for case in doc["cases"]]
    if rust is not None:
        rust.close()
    for r in results:
        if "us" in r:
            line = f'{r["us"]:.2f} µs (its signature check alone: {r["raw_us"]:.2f} µs)'
            if "interleaved" in r:
                i = r["interleaved"]
                line += (f'; interleaved with keyfleet: {i["py_us"]:.2f} µs vs {i["keyfleet_us"]:.2f} µs, '
                         f'speed-up {i["speedup"]:.2f}')
            print(r["alg"], line, file=sys.stderr)
        else:
            print(r["alg"], r["error"], file=sys.stderr)
    with open(out, "w") as f:
        json.dump({"py_webauthn": webauthn.__version__ if hasattr(webauthn, "__version__") else None,
                   "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
