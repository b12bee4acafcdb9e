"""Refusals over the real PC/SC path: a wrong factory root, bad PIN/UV auth, bad APDUs.

Each refusal must come back with the right CTAP error or ISO status word, and leave the key file
byte for byte as it was (a save re-encrypts the whole file with a fresh nonce, so any write shows).
"""

import hashlib
import os
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fido2.attestation import UntrustedAttestation
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, Config, CredentialManagement
from fido2.server import Fido2Server

from conftest import KEY
from test_ctap2 import RP, FactoryRootVerifier, factory_ca, register

PIN = "24682468"
CDH = hashlib.sha256(b"client data").digest()
USER = {"id": b"user-r", "name": "rita", "displayName": "Rita"}
ES256 = [{"type": "public-key", "alg": -7}]


def key_file(key):
    with open(key.path, "rb") as f:
        return f.read()


class WrongRootVerifier(FactoryRootVerifier):
    """Trusts a given CA that is not the nfc-key's own: right format, wrong root."""

    def __init__(self, root_der):
        super().__init__()
        self.root_der = root_der

    def ca_lookup(self, attestation_result, auth_data):
        return self.root_der


def other_factory_root():
    """The nfc-key CA of another factory directory."""
    env = dict(os.environ, KEYFLEET_FACTORY_DIR=os.path.join(os.environ["KEYFLEET_INTEROP_WORK"], "other-factory"))
    pem = subprocess.run(
        [*KEY, "factory-ca", "--model", "nfc-key"], env=env, check=True, capture_output=True, stdin=subprocess.DEVNULL
    )
    return x509.load_pem_x509_certificate(pem.stdout).public_bytes(Encoding.DER)


def other_model_root():
    """The band's CA in this run's factory: same factory, other model."""
    pem = subprocess.run(
        [*KEY, "factory-ca", "--model", "band"], check=True, capture_output=True, stdin=subprocess.DEVNULL
    )
    der = x509.load_pem_x509_certificate(pem.stdout).public_bytes(Encoding.DER)
    assert der == factory_ca("band")
    return der


@pytest.mark.parametrize("wrong_root", [other_model_root, other_factory_root], ids=["other-model", "other-factory"])
def test_a_wrong_factory_root_is_rejected(nfc_key, wrong_root):
    ClientPin(nfc_key.ctap2()).set_pin(PIN)
    # The chain itself verifies against the nfc-key's CA (test_ctap2), and not against another one.
    root = wrong_root()
    assert root != factory_ca("nfc-key"), "the wrong root is the nfc-key's own CA"
    server = Fido2Server(RP, attestation="direct", verify_attestation=WrongRootVerifier(root))
    with pytest.raises(UntrustedAttestation):
        register(nfc_key.dev, PIN, user_id=b"user-w", server=server)


def refused(code, call, *args, **kwargs):
    with pytest.raises(CtapError) as e:
        call(*args, **kwargs)
    assert e.value.code == code, f"{e.value.code!r}, expected {code!r}"


def test_pin_auth_refusals_leave_the_key_file_alone(nfc_key):
    ctap2 = nfc_key.ctap2()
    pin = ClientPin(ctap2)
    pin.set_pin(PIN)
    protocol = pin.protocol
    before = key_file(nfc_key)

    def make_credential(token, param=None, version=protocol.VERSION):
        param = param if param is not None else protocol.authenticate(token, CDH)
        return ctap2.make_credential(
            CDH, {"id": RP.id, "name": RP.name}, USER, ES256, pin_uv_param=param, pin_uv_protocol=version
        )

    # A token without the mc permission (CTAP 2.1 §6.1.2 step 11.1.2).
    ga_token = pin.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION, RP.id)
    refused(CtapError.ERR.PIN_AUTH_INVALID, make_credential, ga_token)
    # A token for another RP (step 11.1.3).
    other_rp_token = pin.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL, "other.example")
    refused(CtapError.ERR.PIN_AUTH_INVALID, make_credential, other_rp_token)
    # A wrong pinUvAuthParam, and a token that has since been replaced (step 11.1.1).
    mc_token = pin.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL, RP.id)
    refused(CtapError.ERR.PIN_AUTH_INVALID, make_credential, mc_token, param=os.urandom(32))
    refused(CtapError.ERR.PIN_AUTH_INVALID, make_credential, other_rp_token)
    # Credential management and authenticatorConfig need the cm and acfg permissions.
    refused(CtapError.ERR.PIN_AUTH_INVALID, CredentialManagement(ctap2, protocol, mc_token).get_metadata)
    refused(CtapError.ERR.PIN_AUTH_INVALID, Config(ctap2, protocol, mc_token).toggle_always_uv)
    # An unsupported PIN protocol, and none at all (step 2).
    refused(CtapError.ERR.INVALID_PARAMETER, make_credential, mc_token, version=7)
    refused(CtapError.ERR.MISSING_PARAMETER, make_credential, mc_token, version=None)
    assert key_file(nfc_key) == before, "a refused request wrote the key file"
    # The live token still works, and this time the key file changes (the signature counter).
    make_credential(mc_token)
    assert key_file(nfc_key) != before


# ISO 7816-4 status words (ctap-transport's StatusWord).
SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_CONDITIONS = 0x6985
SW_P1P2 = 0x6A86
SW_NOT_FOUND = 0x6A82
SW_INS = 0x6D00
SW_CLA = 0x6E00
SELECT_FIDO = bytes.fromhex("00A4040008A0000006472F000100")


def exchange(dev, apdu):
    data, sw1, sw2 = dev.apdu_exchange(bytes(apdu))
    return data, (sw1 << 8) | sw2


def test_bad_apdus_get_status_words_and_change_nothing(nfc_key):
    ClientPin(nfc_key.ctap2()).set_pin(PIN)
    before = key_file(nfc_key)
    dev = nfc_key.dev
    cases = [
        ("unknown INS", "80FF0000", SW_INS),
        ("unknown INS with data", "80FF80000104", SW_INS),
        ("unknown CLA", "A01080000104", SW_CLA),
        ("Lc longer than the data", "801080000504", SW_WRONG_LENGTH),
        ("Lc shorter than the data", "8010800001040400", SW_WRONG_LENGTH),
        ("extended Lc longer than the data", "80108000000005040000", SW_WRONG_LENGTH),
        ("NFCCTAP_MSG without a CTAP command", "80108000", SW_WRONG_LENGTH),
        ("NFCCTAP_MSG with bad P2", "801080050104", SW_P1P2),
        ("NFCCTAP_GETRESPONSE with nothing pending", "8011000000", SW_CONDITIONS),
        ("ISO GET RESPONSE with nothing pending", "00C0000000", SW_CONDITIONS),
        ("U2F register of the wrong length", "0001030005" + "01" * 5, SW_WRONG_LENGTH),
        ("U2F with an unknown INS", "0004000000", SW_INS),
    ]
    for name, hex_apdu, want in cases:
        data, sw = exchange(dev, bytes.fromhex(hex_apdu))
        assert (sw, data) == (want, b""), f"{name}: SW {sw:04X}, data {data.hex()}"
    # CBOR that is not CBOR: the CTAP error byte under 9000, as CTAP over NFC carries errors.
    ctap_cases = [
        ("truncated CBOR", bytes([0x01, 0xA2, 0x01]), CtapError.ERR.INVALID_CBOR),
        ("deeply nested CBOR", bytes([0x01]) + b"\xa1\x01" * 40 + b"\x00", CtapError.ERR.INVALID_CBOR),
        ("bytes after the parameter map", bytes([0x06, 0xA0, 0x00]), CtapError.ERR.INVALID_CBOR),
        ("getInfo with parameters", bytes([0x04, 0xA0]), CtapError.ERR.INVALID_LENGTH),
        ("not a map", bytes([0x06, 0x01]), CtapError.ERR.CBOR_UNEXPECTED_TYPE),
        ("reset with parameters", bytes([0x07, 0xA0]), CtapError.ERR.INVALID_LENGTH),
        ("unknown command", bytes([0x55]), CtapError.ERR.INVALID_COMMAND),
    ]
    for name, request, want in ctap_cases:
        data, sw = exchange(dev, bytes([0x80, 0x10, 0x80, 0x00, len(request)]) + request + b"\x00")
        assert (sw, data) == (SW_OK, bytes([want])), f"{name}: SW {sw:04X}, data {data.hex()}"
    # Another AID deselects the FIDO application: CTAP commands then need a new SELECT.
    assert exchange(dev, bytes.fromhex("00A4040007A000000527210100"))[1] == SW_NOT_FOUND
    assert exchange(dev, bytes.fromhex("80108000010400"))[1] == SW_CONDITIONS
    assert exchange(dev, SELECT_FIDO) == (b"U2F_V2", SW_OK)
    assert key_file(nfc_key) == before, "a bad APDU wrote the key file"
    assert nfc_key.ctap2().get_info().options["clientPin"] is True
