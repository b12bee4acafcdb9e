"""U2F (CTAP1) over NFC through python-fido2's Ctap1."""

import hashlib
import os

from fido2.ctap1 import Ctap1


def test_u2f_register_and_authenticate(nfc_key):
    ctap1 = Ctap1(nfc_key.dev)
    assert ctap1.get_version() == "U2F_V2"
    app = hashlib.sha256(b"https://example.com").digest()
    challenge = os.urandom(32)
    registration = ctap1.register(challenge, app)
    registration.verify(app, challenge)
    challenge = os.urandom(32)
    signature = ctap1.authenticate(challenge, app, registration.key_handle)
    signature.verify(app, challenge, registration.public_key)
    second = ctap1.authenticate(os.urandom(32), app, registration.key_handle)
    assert second.counter > signature.counter
