"""Enterprise attestation (CTAP 2.1 §7.1) as the factory will use it: a key made with
`keyfleet key new --enterprise-rp-id RPID` gives, once an administrator enabled enterprise
attestation, an attestation for that RP whose only certificate names the key's serial number and
is signed by the model's factory CA; other RPs get the ordinary batch attestation."""

import hashlib
import subprocess

from cryptography import x509
from cryptography.x509.oid import NameOID
from fido2.ctap2 import ClientPin
from fido2.ctap2.config import Config

from conftest import KEY

PIN = "12345678"
EP_RP = "ep.example.com"
CDH = hashlib.sha256(b"enterprise").digest()
USER = {"id": b"u", "name": "u", "displayName": "U"}
ES256 = [{"type": "public-key", "alg": -7}]


def factory_ca(model):
    pem = subprocess.run([*KEY, "factory-ca", "--model", model], capture_output=True, check=True).stdout
    return x509.load_pem_x509_certificate(pem)


def test_vendor_facilitated_attestation_names_the_serial(make_key):
    key = make_key("nfc-key", new_args=("--enterprise-rp-id", EP_RP))
    serial = key.info["serialNumber"]
    ctap2 = key.ctap2()
    assert ctap2.get_info().options["ep"] is False
    pin = ClientPin(ctap2)
    pin.set_pin(PIN)
    token = pin.get_pin_token(PIN, ClientPin.PERMISSION.AUTHENTICATOR_CFG)
    Config(ctap2, pin.protocol, token).enable_enterprise_attestation()
    assert ctap2.get_info().options["ep"] is True

    def make(rp_id):
        token = pin.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL, rp_id)
        return ctap2.make_credential(
            CDH,
            {"id": rp_id, "name": rp_id},
            USER,
            ES256,
            enterprise_attestation=1,
            pin_uv_param=pin.protocol.authenticate(token, CDH),
            pin_uv_protocol=pin.protocol.VERSION,
        )

    ep = make(EP_RP)
    assert ep.ep_att is True
    chain = ep.att_stmt["x5c"]
    assert len(chain) == 1, "the factory-issued certificate alone"
    cert = x509.load_der_x509_certificate(chain[0])
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == serial
    cert.verify_directly_issued_by(factory_ca("nfc-key"))

    other = make("example.com")
    assert not other.ep_att
    batch = x509.load_der_x509_certificate(other.att_stmt["x5c"][0])
    assert not batch.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER), "no serial for other RPs"
