#!/usr/bin/env python3
"""Writes seed inputs for the authenticator fuzz targets into corpus/<target>/ (git-ignored).

Each seed is a well-formed session in the input format that fuzz_targets/ctap2_request.rs
documents, so that the fuzzer starts from requests that reach deep into every command. Needs only
the standard library: the CBOR here is hand-encoded (definite lengths, canonical order).

Usage: python3 make_seeds.py   (from crates/authenticator/fuzz)
"""

import hashlib
import os
import struct


def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | info]) + struct.pack(fmt, n)
    raise ValueError(n)


def enc(v):
    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b)) + b
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(enc(x) for x in v)
    if isinstance(v, dict):
        items = sorted(((enc(k), enc(x)) for k, x in v.items()), key=lambda kv: (len(kv[0]), kv[0]))
        return head(5, len(items)) + b"".join(k + x for k, x in items)
    raise TypeError(v)


CDH = hashlib.sha256(b"seed").digest()
RP = {"id": "example.com", "name": "Example"}
ES256 = [{"type": "public-key", "alg": -7}]


def user(n):
    return {"id": bytes([n]) * 8, "name": f"user{n}", "displayName": f"User {n}"}


def mc(n, rk=False, ext=None):
    req = {1: CDH, 2: RP, 3: user(n), 4: ES256}
    if rk:
        req[7] = {"rk": True}
    if ext:
        req[6] = ext
    return bytes([0x01]) + enc(req)


def ga(extra=None):
    req = {1: "example.com", 2: CDH}
    req.update(extra or {})
    return bytes([0x02]) + enc(req)


def raw(request):
    return b"\x04" + struct.pack(">H", len(request)) + request


def signed(request):
    return b"\x05" + struct.pack(">H", len(request)) + request


SET_PIN = b"\x02"


def token(permissions, other_rp=False):
    return bytes([3, permissions, 1 if other_rp else 0])


def cm(sub, params=None):
    req = {1: sub}
    if params is not None:
        req[2] = params
    return bytes([0x0A]) + enc(req)


def cfg(sub, params=None):
    req = {1: sub}
    if params is not None:
        req[2] = params
    return bytes([0x0D]) + enc(req)


NFC, BAND_WORN = 0x00, 0x61  # 0x61: band, worn, PIN set and finger enrolled
SEEDS = {
    "get_info": bytes([NFC]) + raw(b"\x04"),
    "make_and_get": bytes([NFC]) + raw(mc(1)) + raw(mc(2, rk=True)) + raw(ga()) + raw(b"\x08"),
    "extensions": bytes([NFC])
    + raw(mc(3, rk=True, ext={"credProtect": 3, "hmac-secret": True, "minPinLength": True}))
    + raw(ga({4: {"hmac-secret": {1: {1: 2, 3: -25, -1: 1, -2: b"\0" * 32, -3: b"\0" * 32}, 2: b"\0" * 48, 3: b"\0" * 32, 4: 2}}})),
    "pin_then_mc_ga": bytes([NFC])
    + SET_PIN
    + token(0x03)
    + signed(mc(4, rk=True))
    + token(0x02)
    + signed(ga())
    + raw(bytes([0x06]) + enc({1: 2, 2: 1})),
    "wrong_rp_token": bytes([NFC]) + SET_PIN + token(0x01, other_rp=True) + signed(mc(5)),
    "credential_management": bytes([NFC])
    + raw(mc(6, rk=True))
    + raw(mc(7, rk=True))
    + SET_PIN
    + token(0x04)
    + signed(cm(1))
    + signed(cm(2))
    + raw(cm(3))
    + signed(cm(4, {1: hashlib.sha256(b"example.com").digest()}))
    + raw(cm(5))
    + signed(cm(6, {2: {"type": "public-key", "id": b"\1" * 32}}))
    + signed(cm(7, {2: {"type": "public-key", "id": b"\1" * 32}, 3: user(6)})),
    "config": bytes([NFC])
    + SET_PIN
    + token(0x20)
    + signed(cfg(3, {1: 6, 2: ["example.com"], 3: True}))
    + token(0x20)
    + signed(cfg(2)),
    "reset_window": bytes([NFC]) + SET_PIN + raw(b"\x07") + b"\x01\x80" + raw(b"\x07") + b"\x00" + raw(b"\x07"),
    "band_uv": bytes([BAND_WORN])
    + SET_PIN
    + raw(bytes([0x06]) + enc({1: 2, 2: 7}))
    + raw(bytes([0x01]) + enc({1: CDH, 2: RP, 3: user(8), 4: ES256, 7: {"rk": True, "uv": True}}))
    + raw(ga({5: {"uv": True}})),
    "selection_and_errors": bytes([NFC]) + raw(b"\x0b") + raw(b"\x08") + raw(b"\x04\xa0") + raw(b"\x55"),
}


# Seeds of the per-command targets (fuzz_targets/harness.rs): flags byte, then operations.
# Flags: bit 0 band, bit 1 protocol one, bit 5 PIN and token, bit 6 worn.
H_NFC_PIN = 0x20
H_BAND_WORN_PIN = 0x61
H_NFC_PIN_V1 = 0x22


def body(op, params):
    """Operation 4 (as given) or 5 (signed by the harness) with CBOR parameters."""
    b = enc(params)
    return bytes([op]) + struct.pack(">H", len(b)) + b


def serialized(array_cbor):
    return array_cbor + hashlib.sha256(array_cbor).digest()[:16]


BLOB = serialized(b"\x81\x59\x0b\xb8" + b"\x07" * 3000)
LARGE_BLOBS_SEEDS = {
    "read": bytes([0]) + body(4, {1: 1024, 3: 0}),
    "write_one": bytes([H_NFC_PIN]) + body(5, {2: serialized(b"\x80"), 3: 0, 4: 17}) + body(4, {1: 100, 3: 0}),
    "write_fragments": bytes([H_NFC_PIN])
    + body(5, {2: BLOB[:1984], 3: 0, 4: len(BLOB)})
    + body(5, {2: BLOB[1984:], 3: 1984}),
    "write_v1_bad_checksum": bytes([H_NFC_PIN_V1]) + body(5, {2: b"\x80" + b"\0" * 16, 3: 0, 4: 17}),
    "unsigned_write": bytes([H_NFC_PIN]) + body(4, {2: serialized(b"\x80"), 3: 0, 4: 17}),
}
BIO_SEEDS = {
    "sensor_info": bytes([1]) + body(4, {6: True}) + body(4, {1: 1, 2: 7}),
    "enrol_all": bytes([H_BAND_WORN_PIN])
    + body(5, {1: 1, 2: 1})
    + b"".join(body(5, {1: 1, 2: 2, 3: {1: b"\0\0\0\0"}}) for _ in range(14))
    + body(5, {1: 1, 2: 4}),
    "poor_timeout_cancel": bytes([H_BAND_WORN_PIN])
    + b"\x03\x01"
    + body(5, {1: 1, 2: 1})
    + b"\x03\x02"
    + body(5, {1: 1, 2: 2, 3: {1: b"\0\0\0\0"}})
    + body(4, {1: 1, 2: 3}),
    "off_wrist": bytes([H_BAND_WORN_PIN]) + b"\x02" + body(5, {1: 1, 2: 1}),
}
CONFIG_SEEDS = {
    "enable_ep": bytes([H_NFC_PIN]) + body(5, {1: 1}),
    "always_uv": bytes([H_NFC_PIN_V1]) + body(5, {1: 2}) + body(5, {1: 2}),
    "min_pin_length": bytes([H_NFC_PIN]) + body(5, {1: 3, 2: {1: 6, 2: ["example.com"], 3: True}}),
    "unsigned": bytes([0]) + body(4, {1: 3, 2: {1: 5}}),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for target in ("ctap2_request", "cbor_decode", "large_blobs", "bio_enrollment", "config"):
        os.makedirs(os.path.join(here, "corpus", target), exist_ok=True)
    for target, seeds in (("large_blobs", LARGE_BLOBS_SEEDS), ("bio_enrollment", BIO_SEEDS), ("config", CONFIG_SEEDS)):
        for name, data in seeds.items():
            with open(os.path.join(here, "corpus", target, f"seed-{name}"), "wb") as f:
                f.write(data)
    for name, data in SEEDS.items():
        with open(os.path.join(here, "corpus", "ctap2_request", f"seed-{name}"), "wb") as f:
            f.write(data)
    bodies = [mc(1, rk=True, ext={"credProtect": 2}), ga({5: {"up": False}}), cm(4, {1: b"\0" * 32}), cfg(3, {1: 8})]
    for i, body in enumerate(bodies):
        with open(os.path.join(here, "corpus", "cbor_decode", f"seed-{i}"), "wb") as f:
            f.write(b"\x04" + body[1:])
    print(
        f"wrote {len(SEEDS)} ctap2_request, {len(bodies)} cbor_decode, {len(LARGE_BLOBS_SEEDS)} large_blobs, "
        f"{len(BIO_SEEDS)} bio_enrollment and {len(CONFIG_SEEDS)} config seeds"
    )


if __name__ == "__main__":
    main()
