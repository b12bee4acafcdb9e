#!/usr/bin/env python3
"""Prints the bench-verify table from criterion's estimates and py_webauthn's timings.

Usage: table.py OUT_DIR (target/bench-verify: criterion/, assertions.json, py_webauthn.json)
Times are criterion's median estimates and the median of py_webauthn's batches, in µs. The
"interleaved" columns come from alternating batches (full and raw in the bench's paired.json;
py_webauthn and keyfleet in py_webauthn.json), which a changing machine load does not skew;
py_webauthn µs is from its interleaved rounds when there are some.
"""

import json
import os
import sys


def median_us(out: str, group: str, function: str):
    path = os.path.join(out, "criterion", group, function, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"] / 1000.0
    except FileNotFoundError:
        return None


def paired(out: str, group: str):
    path = os.path.join(out, "criterion", group, "paired.json")
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def main() -> None:
    out = sys.argv[1]
    with open(os.path.join(out, "assertions.json")) as f:
        cases = json.load(f)["cases"]
    with open(os.path.join(out, "py_webauthn.json")) as f:
        py = {r["alg"]: r for r in json.load(f)["results"]}
    rows = [
        "| algorithm | full µs | raw aws-lc-rs µs | full/raw (interleaved) | py_webauthn µs "
        "| speed-up vs py_webauthn (interleaved) | full/raw (criterion medians) "
        "| full + key parse µs | py_webauthn's signature check alone µs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    fmt = lambda v, spec=".1f": "—" if v is None else format(v, spec)
    for case in cases:
        full = median_us(out, case["group"], "full")
        raw = median_us(out, case["group"], "raw_aws_lc")
        keyed = median_us(out, case["group"], "full_with_key_parse")
        p = py.get(case["alg"], {})
        inter = p.get("interleaved", {})
        py_us = inter.get("py_us", p.get("us"))
        speedup = inter.get("speedup")
        if speedup is None and py_us and full:
            speedup = py_us / full
        py_cell = fmt(py_us) if py_us is not None else "n/a (unsupported)"
        rows.append(
            f"| {case['alg']} | {fmt(full)} | {fmt(raw)} | {fmt(paired(out, case['group']).get('ratio'), '.3f')} "
            f"| {py_cell} | {fmt(speedup, '.2f') + '×' if speedup else '—'} "
            f"| {fmt(full / raw if full and raw else None, '.3f')} | {fmt(keyed)} | {fmt(p.get('raw_us'))} |"
        )
    print("\n".join(rows))
    for alg, r in py.items():
        if "error" in r:
            print(f"\npy_webauthn, {alg}: {r['error']}")


if __name__ == "__main__":
    main()
