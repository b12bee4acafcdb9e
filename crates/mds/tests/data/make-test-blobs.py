#!/usr/bin/env python3
"""Regenerates keyfleet's own MDS3 test BLOBs, their certificates and CRLs.

Run from anywhere:  python3 crates/mds/tests/data/make-test-blobs.py
Needs: Python 3.9+ and the `cryptography` package (pip install cryptography; 48.0 was used).

Every key is made anew on each run (so every file changes); the dates are fixed, so the tests'
pinned verification time (2027-01-15T12:00:00Z, inside every validity and before every CRL's
nextUpdate except the stale one) stays right. The tests read only the files this script writes;
README.md beside it says what each one is for.
"""

import base64
import copy
import datetime as dt
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

OUT = os.path.dirname(os.path.abspath(__file__))
UTC = dt.timezone.utc
NOT_BEFORE = dt.datetime(2026, 1, 1, tzinfo=UTC)
NOT_AFTER = dt.datetime(2036, 1, 1, tzinfo=UTC)
# The leaf (the BLOB signer) expires first, as the real one did: verifying after it fails.
LEAF_NOT_AFTER = dt.datetime(2028, 1, 1, tzinfo=UTC)
CRL_THIS_UPDATE = dt.datetime(2027, 1, 1, tzinfo=UTC)
CRL_NEXT_UPDATE = dt.datetime(2027, 6, 1, tzinfo=UTC)
CRL_STALE_NEXT_UPDATE = dt.datetime(2027, 1, 10, tzinfo=UTC)


def name(cn):
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ZZ"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "keyfleet tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def cert(subject_cn, key, issuer_cn, issuer_key, ca, not_after=NOT_AFTER, crl_url=None):
    b = (
        x509.CertificateBuilder()
        .subject_name(name(subject_cn))
        .issuer_name(name(issuer_cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if crl_url:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
        b = b.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def crl(issuer_cn, issuer_key, revoked=(), next_update=CRL_NEXT_UPDATE):
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(name(issuer_cn))
        .last_update(CRL_THIS_UPDATE)
        .next_update(next_update)
    )
    for serial in revoked:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(CRL_THIS_UPDATE).build()
        )
    return b.sign(issuer_key, hashes.SHA256())


def der(c):
    return c.public_bytes(serialization.Encoding.DER)


def write(file, data):
    with open(os.path.join(OUT, file), "wb") as f:
        f.write(data)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jws(header, payload, key):
    """A compact JWS (RFC 7515 §7.1) over the JSON texts, signed with RS256 or ES256."""
    signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())).encode()
    if header["alg"] == "RS256":
        sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        # RFC 7518 §3.4: ES256 signatures are R || S, 32 bytes each, not DER.
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return signing_input.decode() + "." + b64url(sig)


def x5c(*certs):
    return [base64.b64encode(der(c)).decode() for c in certs]


def entry(aaguid, description, reports, roots=()):
    return {
        "aaguid": aaguid,
        "metadataStatement": {
            "legalHeader": "test statement",
            "aaguid": aaguid,
            "description": description,
            "authenticatorVersion": 1,
            "protocolFamily": "fido2",
            "schema": 3,
            "attestationRootCertificates": list(roots),
            "icon": "data:image/png;base64,iVBORw0KGgo=",
            "anUnknownField": {"kept": "out"},
        },
        "statusReports": [{"status": s, "effectiveDate": d} for (s, d) in reports],
        "timeOfLastStatusChange": reports[0][1],
    }


def main():
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = cert("keyfleet MDS test root", root_key, "keyfleet MDS test root", root_key, True)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = cert("keyfleet MDS other root", other_key, "keyfleet MDS other root", other_key, True)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = cert("keyfleet MDS test CA", ca_key, "keyfleet MDS test root", root_key, True,
              crl_url="http://crl.test.keyfleet.invalid/root.crl")
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = cert("mds.test.keyfleet.invalid", leaf_key, "keyfleet MDS test CA", ca_key, False,
                not_after=LEAF_NOT_AFTER, crl_url="http://crl.test.keyfleet.invalid/ca.crl")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    leaf_ec = cert("mds-ec.test.keyfleet.invalid", ec_key, "keyfleet MDS test CA", ca_key, False,
                   not_after=LEAF_NOT_AFTER, crl_url="http://crl.test.keyfleet.invalid/ca.crl")
    # A chain under the other root, with the same names as the good one.
    other_ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_ca = cert("keyfleet MDS test CA", other_ca_key, "keyfleet MDS other root", other_key, True)
    other_leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_leaf = cert("mds.test.keyfleet.invalid", other_leaf_key, "keyfleet MDS test CA", other_ca_key, False,
                      not_after=LEAF_NOT_AFTER)
    # An attestation root for one entry (what a vendor would publish).
    att_key = ec.generate_private_key(ec.SECP256R1())
    att_root = cert("keyfleet test vendor attestation root", att_key, "keyfleet test vendor attestation root",
                    att_key, True)

    write("test-root.der", der(root))
    write("other-root.der", der(other))
    write("test-ca.der", der(ca))
    write("signer-rsa.der", der(leaf))
    write("signer-ec.der", der(leaf_ec))
    write("crl-root.der", der(crl("keyfleet MDS test root", root_key)))
    write("crl-ca.der", der(crl("keyfleet MDS test CA", ca_key)))
    write("crl-ca-revoked.der", der(crl("keyfleet MDS test CA", ca_key, revoked=[leaf.serial_number])))
    write("crl-ca-stale.der", der(crl("keyfleet MDS test CA", ca_key, next_update=CRL_STALE_NEXT_UPDATE)))
    write("crl-ca-forged.der", der(crl("keyfleet MDS test CA", other_ca_key)))

    att_b64 = base64.b64encode(der(att_root)).decode()
    payload = {
        "legalHeader": "keyfleet test BLOB: not for production",
        "no": 5,
        "nextUpdate": "2027-02-01",
        "entries": [
            entry("11111111-1111-4111-8111-111111111111", "Test key, certified L2",
                  [("FIDO_CERTIFIED_L2", "2026-03-01"), ("FIDO_CERTIFIED_L1", "2026-02-01")], [att_b64]),
            entry("22222222-2222-4222-8222-222222222222", "Test key, UV bypass",
                  [("USER_VERIFICATION_BYPASS", "2026-06-01"), ("FIDO_CERTIFIED_L1", "2026-02-01")]),
            entry("33333333-3333-4333-8333-333333333333", "Test key, attestation key compromise",
                  [("ATTESTATION_KEY_COMPROMISE", "2026-06-01"), ("FIDO_CERTIFIED_L1", "2026-02-01")]),
            entry("44444444-4444-4444-8444-444444444444", "Test key, remote key compromise",
                  [("USER_KEY_REMOTE_COMPROMISE", "2026-06-01"), ("FIDO_CERTIFIED_L1", "2026-02-01")]),
            entry("55555555-5555-4555-8555-555555555555", "Test key, physical key compromise",
                  [("USER_KEY_PHYSICAL_COMPROMISE", "2026-06-01"), ("FIDO_CERTIFIED_L1", "2026-02-01")]),
            entry("66666666-6666-4666-8666-666666666666", "Test key, revoked",
                  [("REVOKED", "2026-06-01"), ("FIDO_CERTIFIED_L1", "2026-02-01")]),
            entry("77777777-7777-4777-8777-777777777777", "Test key, update available after compromise",
                  [("UPDATE_AVAILABLE", "2026-07-01"), ("USER_VERIFICATION_BYPASS", "2026-06-01"),
                   ("FIDO_CERTIFIED_L1", "2026-02-01")]),
            {
                "aaid": "FFFF#0001",
                "metadataStatement": {"description": "Test UAF authenticator (no AAGUID)",
                                      "attestationRootCertificates": [att_b64]},
                "statusReports": [{"status": "FIDO_CERTIFIED", "effectiveDate": "2026-02-01"}],
                "timeOfLastStatusChange": "2026-02-01",
            },
        ],
    }
    rs_header = {"alg": "RS256", "typ": "JWT", "x5c": x5c(leaf, ca)}
    good = jws(rs_header, payload, leaf_key)
    write("blob-no5-rs256.jwt", good.encode())

    # The next BLOB: no 6, the certified key is now revoked.
    newer = copy.deepcopy(payload)
    newer["no"] = 6
    newer["nextUpdate"] = "2027-03-01"
    newer["entries"][0]["statusReports"].insert(0, {"status": "REVOKED", "effectiveDate": "2027-01-10"})
    write("blob-no6-rs256.jwt", jws(rs_header, newer, leaf_key).encode())

    es = copy.deepcopy(payload)
    es["no"] = 7
    write("blob-no7-es256.jwt", jws({"alg": "ES256", "typ": "JWT", "x5c": x5c(leaf_ec, ca)}, es, ec_key).encode())

    # The payload changed after signing: one entry's status edited, the signature kept.
    tampered = copy.deepcopy(newer)
    tampered["entries"][0]["statusReports"].pop(0)
    head, _, sig = jws(rs_header, newer, leaf_key).split(".")
    write("blob-bad-signature.jwt", ".".join([head, b64url(json.dumps(tampered).encode()), sig]).encode())

    wrong = copy.deepcopy(payload)
    wrong["no"] = 8
    write("blob-wrong-root.jwt",
          jws({"alg": "RS256", "typ": "JWT", "x5c": x5c(other_leaf, other_ca)}, wrong, other_leaf_key).encode())

    foreign = dict(rs_header, x5u="https://mds.attacker.invalid/chain.pem")
    write("blob-x5u-foreign.jwt", jws(foreign, wrong, leaf_key).encode())
    same = dict(rs_header, x5u="https://mds.test.keyfleet.invalid/chain.pem")
    write("blob-x5u-same-origin.jwt", jws(same, wrong, leaf_key).encode())

    write("blob-truncated.jwt", good[: len(good) // 2].encode())

    # An unsigned JWS (RFC 7519 §6): never accepted.
    write("blob-alg-none.jwt", (b64url(b'{"alg":"none","typ":"JWT"}') + "." +
                                b64url(json.dumps(wrong).encode()) + ".").encode())


if __name__ == "__main__":
    main()
