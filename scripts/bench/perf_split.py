#!/usr/bin/env python3
"""Splits a `perf record` profile of the assertion bench into aws-lc (the signature check),
the rest of verification (ours: parsing, checks, hashing, allocation) and the bench's setup.

Usage (from crates/webauthn-rp, BIN the bench binary `cargo bench --no-run` names):
    perf record -F 2000 -o /tmp/rs256.data $BIN --bench --profile-time 8 '^rs256/full$'
    scripts/bench/perf_split.py /tmp/rs256.data

Self time per symbol (`perf report --no-children --sort symbol`); no call graphs needed.
"setup" is the bench generating its keys and signatures before timing (RSA key generation in
num-bigint-dig, aws-lc's entropy for ES512); "criterion" its own sampling code.
"""

import re
import subprocess
import sys

AWS_LC = re.compile(
    r"aws_lc|ecp_nistz256|Ledwards25519|\bbn_|_mont|sha512_block|sha256_block_data_order|beeu_|"
    r"RSA_|EVP_|BN_|bignum_|fiat_|x25519|rol64|OPENSSL|CRYPTO|edwards25519"
)
SETUP = re.compile(r"num_bigint_dig|jent_|rsa::|rand_chacha|RsaPrivateKey|prime")
CRITERION = re.compile(r"criterion|xoshiro|uint32rotl|smallvec")


def classify(kind: str, symbol: str) -> str:
    if kind == "[k]":
        return "kernel"
    if SETUP.search(symbol):
        return "setup"
    if CRITERION.search(symbol):
        return "criterion"
    if AWS_LC.search(symbol):
        return "aws-lc"
    return "rest"


def main() -> None:
    report = subprocess.run(
        ["perf", "report", "-i", sys.argv[1], "--no-children", "--sort", "symbol", "--stdio"],
        capture_output=True, text=True, check=True,
    ).stdout
    totals, rest = {}, []
    for line in report.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\[.\])\s+(.*?)\s*$", line)
        if not m:
            continue
        pct, kind, symbol = float(m.group(1)), m.group(2), m.group(3)
        symbol = re.sub(r"\s+-\s+-\s*$", "", symbol)
        c = classify(kind, symbol)
        totals[c] = totals.get(c, 0.0) + pct
        if c == "rest":
            rest.append((pct, symbol))
    timed = sum(v for k, v in totals.items() if k not in ("setup", "criterion"))
    print("all samples: " + ", ".join(f"{k} {v:.1f}%" for k, v in sorted(totals.items())))
    print(
        "of the timed verification: "
        + ", ".join(f"{k} {100 * totals.get(k, 0) / timed:.1f}%" for k in ("aws-lc", "rest", "kernel"))
    )
    print("largest symbols of the rest:")
    for pct, symbol in sorted(rest, reverse=True)[:12]:
        print(f"  {pct:5.2f}%  {symbol[:100]}")


if __name__ == "__main__":
    main()
