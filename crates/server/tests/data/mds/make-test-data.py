#!/usr/bin/env python3
"""Regenerates the server tests' metadata data: a test MDS root and BLOB signer, test BLOBs
listing a test attestation root, and a batch attestation certificate and key under that root
(so a test key can make a `packed` full attestation that chains to an MDS entry's root); and a
key factory's nfc-key CA with a batch certificate and key under it (keyfleet's own model).

Run from anywhere:  python3 crates/server/tests/data/mds/make-test-data.py
Needs: Python 3.9+ and the `cryptography` package (48.0 was used). Keys are made anew on each
run; dates are fixed and wide (2020-01-01 to 2040-01-01, nextUpdate 2039-12-01), so the tests
run at the real time. The batch key is a test key: it signs nothing but test attestations.
"""

import base64
import copy
import datetime as dt
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID, ObjectIdentifier

OUT = os.path.dirname(os.path.abspath(__file__))
UTC = dt.timezone.utc
NOT_BEFORE = dt.datetime(2020, 1, 1, tzinfo=UTC)
NOT_AFTER = dt.datetime(2040, 1, 1, tzinfo=UTC)
AAGUID_OID = ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")
# The certified model (its entry lists the attestation root) and the revoked one.
GOOD = "6b66a001-0000-4000-8000-0000000000a1"
BAD = "6b66a001-0000-4000-8000-0000000000b1"
# keyfleet's own NFC key model (crates/mds/statements/nfc-key.json).
NFC_KEY = "3559c435-ff17-4bc9-b942-325c1f348b94"
# A CRL distribution point nobody answers (port 9, discard): the refresh's "unreachable" case.
CRL_URL = "http://127.0.0.1:9/keyfleet-mds-test.crl"


def name(cn, ou=None):
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "keyfleet tests"),
    ]
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def cert(subject, key, issuer, issuer_key, ca, aaguid=None, crl_url=None):
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if aaguid:
        raw = bytes.fromhex(aaguid.replace("-", ""))
        b = b.add_extension(x509.UnrecognizedExtension(AAGUID_OID, b"\x04\x10" + raw), critical=False)
    if crl_url:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
        b = b.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def der(c):
    return c.public_bytes(serialization.Encoding.DER)


def write(file, data):
    with open(os.path.join(OUT, file), "wb") as f:
        f.write(data)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jws(header, payload, key):
    signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())).encode()
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return signing_input.decode() + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


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
            "icon": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==",
        },
        "statusReports": [{"status": s, "effectiveDate": d} for (s, d) in reports],
        "timeOfLastStatusChange": reports[0][1],
    }


def main():
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = name("keyfleet server-test MDS root")
    root = cert(root_name, root_key, root_name, root_key, True)
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer = cert(name("mds.server-test.keyfleet.invalid"), signer_key, root_name, root_key, False,
                  crl_url=CRL_URL)
    att_key = ec.generate_private_key(ec.SECP256R1())
    att_name = name("keyfleet server-test attestation root")
    att_root = cert(att_name, att_key, att_name, att_key, True)
    batch_key = ec.generate_private_key(ec.SECP256R1())
    batch = cert(name("keyfleet server-test batch", "Authenticator Attestation"), batch_key, att_name, att_key,
                 False, aaguid=GOOD)

    # A key factory as `keyfleet key` makes one: a factory CA for nfc-key and a batch
    # certificate with that model's AAGUID.
    factory_key = ec.generate_private_key(ec.SECP256R1())
    factory_name = name("keyfleet nfc-key Factory CA", "Key Factory")
    factory = cert(factory_name, factory_key, factory_name, factory_key, True)
    factory_batch_key = ec.generate_private_key(ec.SECP256R1())
    factory_batch = cert(name("keyfleet nfc-key Batch 1", "Authenticator Attestation"), factory_batch_key,
                         factory_name, factory_key, False, aaguid=NFC_KEY)
    write("factory-ca-nfc-key.der", der(factory))
    write("factory-batch-nfc-key.der", der(factory_batch))
    write("factory-batch-nfc-key.pk8", factory_batch_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    write("mds-root.der", der(root))
    write("attestation-root.der", der(att_root))
    write("batch.der", der(batch))
    write("batch.pk8", batch_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))

    att_b64 = base64.b64encode(der(att_root)).decode()
    payload = {
        "legalHeader": "keyfleet server-test BLOB: not for production",
        "no": 1,
        "nextUpdate": "2039-12-01",
        "entries": [
            entry(GOOD, "Test Certified Key", [("FIDO_CERTIFIED_L1", "2026-02-01")], [att_b64]),
            entry(BAD, "Test Revoked Key", [("REVOKED", "2026-06-01"), ("FIDO_CERTIFIED_L1", "2026-02-01")]),
        ],
    }
    header = {"alg": "ES256", "typ": "JWT", "x5c": [base64.b64encode(der(signer)).decode()]}
    write("blob-no1.jwt", jws(header, payload, signer_key).encode())
    newer = copy.deepcopy(payload)
    newer["no"] = 2
    newer["entries"][0]["statusReports"].insert(0, {"status": "ATTESTATION_KEY_COMPROMISE",
                                                    "effectiveDate": "2026-11-01"})
    write("blob-no2.jwt", jws(header, newer, signer_key).encode())
    third = copy.deepcopy(newer)
    third["no"] = 3
    head, _, sig = jws(header, third, signer_key).split(".")
    third["entries"][0]["statusReports"].pop(0)
    write("blob-no3-bad-signature.jwt", ".".join([head, b64url(json.dumps(third).encode()), sig]).encode())


if __name__ == "__main__":
    main()
