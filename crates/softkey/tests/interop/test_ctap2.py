"""CTAP 2.1 through pcscd + vpcd with python-fido2 as the client and Fido2Server as the RP."""

import os

import pytest
from fido2.attestation import AttestationVerifier
from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, Config, CredentialManagement
from fido2.server import Fido2Server
from fido2.webauthn import (
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

RP = PublicKeyCredentialRpEntity(id="example.com", name="Example RP")
ORIGIN = "https://example.com"
NFC_KEY_AAGUID = "3559c435ff174bc9b942325c1f348b94"


class PinUI(UserInteraction):
    def __init__(self, pin):
        self.pin = pin

    def request_pin(self, permissions, rp_id):
        return self.pin


def client(dev, pin):
    return Fido2Client(dev, DefaultClientDataCollector(ORIGIN), user_interaction=PinUI(pin))


def factory_ca(model):
    """The DER of `model`'s factory CA, as `keyfleet key new` created it for this run."""
    with open(os.path.join(os.environ["KEYFLEET_FACTORY_DIR"], f"factory-ca-{model}.der"), "rb") as f:
        return f.read()


class FactoryRootVerifier(AttestationVerifier):
    """Trusts exactly one model's factory CA from this run (the nfc-key's unless told otherwise)."""

    def __init__(self, model="nfc-key"):
        super().__init__()
        self.model = model

    def ca_lookup(self, attestation_result, auth_data):
        return factory_ca(self.model)


def register(dev, pin, user_id=b"user-1", resident=ResidentKeyRequirement.DISCOURAGED, server=None):
    # Fido2Server checks the packed attestation signature and the x5c chain up to the model's factory CA.
    server = server or Fido2Server(RP, attestation="direct", verify_attestation=FactoryRootVerifier())
    user = PublicKeyCredentialUserEntity(id=user_id, name="alice", display_name="Alice")
    options, state = server.register_begin(
        user, resident_key_requirement=resident, user_verification=UserVerificationRequirement.REQUIRED
    )
    response = client(dev, pin).make_credential(options.public_key)
    auth_data = server.register_complete(state, response)
    return server, auth_data, response


def authenticate(dev, pin, server, credentials):
    options, state = server.authenticate_begin(credentials, user_verification=UserVerificationRequirement.REQUIRED)
    selection = client(dev, pin).get_assertion(options.public_key)
    response = selection.get_response(0)
    return server.authenticate_complete(state, credentials, response)


def test_get_info(nfc_key):
    info = nfc_key.ctap2().info
    assert "FIDO_2_1" in info.versions
    assert "U2F_V2" in info.versions
    assert info.aaguid.hex() == NFC_KEY_AAGUID
    assert 2 in info.pin_uv_protocols
    assert info.options.get("clientPin") is False
    assert info.options.get("credMgmt") is True
    assert "nfc" in info.transports
    assert nfc_key.dev.get_atr()[:4] == bytes([0x3B, 0x8E, 0x80, 0x01])


def test_pin_then_make_credential_and_get_assertion(nfc_key):
    ctap2 = nfc_key.ctap2()
    ClientPin(ctap2).set_pin("12345678")
    assert ctap2.get_info().options["clientPin"] is True
    server, auth_data, response = register(nfc_key.dev, "12345678")
    assert auth_data.is_user_verified()
    assert auth_data.credential_data.aaguid.hex() == NFC_KEY_AAGUID
    assert response.response.attestation_object.fmt == "packed"
    # The attestation statement carries our batch certificate, which Fido2Server checked the
    # signature against; check the certificate's AAGUID extension too.
    x5c = response.response.attestation_object.att_stmt["x5c"]
    assert bytes.fromhex(NFC_KEY_AAGUID) in x5c[0]
    credential = authenticate(nfc_key.dev, "12345678", server, [auth_data.credential_data])
    assert credential.credential_id == auth_data.credential_data.credential_id


def test_extended_apdus_and_status_updates(make_key):
    key = make_key("nfc-key", ["--status-updates"])
    key.dev.use_ext_apdu = True
    ClientPin(key.ctap2()).set_pin("12345678")
    server, auth_data, _ = register(key.dev, "12345678")
    key.dev.use_ext_apdu = False
    authenticate(key.dev, "12345678", server, [auth_data.credential_data])


def test_discoverable_credentials_and_credential_management(nfc_key):
    ctap2 = nfc_key.ctap2()
    ClientPin(ctap2).set_pin("24682468")
    ids = []
    for n in range(2):
        _, auth_data, _ = register(nfc_key.dev, "24682468", user_id=b"user-%d" % n, resident=ResidentKeyRequirement.REQUIRED)
        ids.append(auth_data.credential_data.credential_id)
    # Username-less sign-in: no allowCredentials.
    server = Fido2Server(RP)
    options, state = server.authenticate_begin(user_verification=UserVerificationRequirement.REQUIRED)
    selection = client(nfc_key.dev, "24682468").get_assertion(options.public_key)
    assert len(selection.get_assertions()) == 2

    ctap2 = nfc_key.ctap2()
    token = ClientPin(ctap2).get_pin_token("24682468", ClientPin.PERMISSION.CREDENTIAL_MGMT)
    credman = CredentialManagement(ctap2, ClientPin(ctap2).protocol, token)
    assert credman.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 2
    rps = credman.enumerate_rps()
    assert [rp[CredentialManagement.RESULT.RP]["id"] for rp in rps] == ["example.com"]
    creds = credman.enumerate_creds(rps[0][CredentialManagement.RESULT.RP_ID_HASH])
    assert sorted(c[CredentialManagement.RESULT.CREDENTIAL_ID]["id"] for c in creds) == sorted(ids)
    credman.delete_cred(creds[0][CredentialManagement.RESULT.CREDENTIAL_ID])
    assert credman.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 1
    # The CLI sees the same state once the key is off the reader... it is in use now, so ask it
    # through the status line instead.
    assert "credentials=1" in nfc_key.control("status")


def test_force_pin_change(nfc_key):
    ctap2 = nfc_key.ctap2()
    pin = ClientPin(ctap2)
    pin.set_pin("11112222")
    token = pin.get_pin_token("11112222", ClientPin.PERMISSION.AUTHENTICATOR_CFG)
    Config(ctap2, pin.protocol, token).set_min_pin_length(force_change_pin=True)
    assert ctap2.get_info().force_pin_change is True
    with pytest.raises(CtapError) as e:
        pin.get_pin_token("11112222", ClientPin.PERMISSION.MAKE_CREDENTIAL, "example.com")
    assert e.value.code in (CtapError.ERR.PIN_POLICY_VIOLATION, CtapError.ERR.PIN_INVALID)
    with pytest.raises(CtapError) as e:
        pin.change_pin("11112222", "11112222")
    assert e.value.code == CtapError.ERR.PIN_POLICY_VIOLATION
    pin.change_pin("11112222", "33334444")
    assert ctap2.get_info().force_pin_change is False
    pin.get_pin_token("33334444", ClientPin.PERMISSION.MAKE_CREDENTIAL, "example.com")


def wrong_pin(pin, expected_code, retries_left):
    with pytest.raises(CtapError) as e:
        pin.get_pin_token("00000000", ClientPin.PERMISSION.GET_ASSERTION, "example.com")
    assert e.value.code == expected_code
    assert pin.get_pin_retries()[0] == retries_left


def test_wrong_pins_power_cycle_rule_and_blocking(nfc_key):
    pin = ClientPin(nfc_key.ctap2())
    pin.set_pin("12341234")
    assert pin.get_pin_retries()[0] == 8
    wrong_pin(pin, CtapError.ERR.PIN_INVALID, 7)
    wrong_pin(pin, CtapError.ERR.PIN_INVALID, 6)
    wrong_pin(pin, CtapError.ERR.PIN_AUTH_BLOCKED, 5)
    # Three in a row: even the right PIN is refused until the key is power-cycled.
    with pytest.raises(CtapError) as e:
        pin.get_pin_token("12341234", ClientPin.PERMISSION.GET_ASSERTION, "example.com")
    assert e.value.code == CtapError.ERR.PIN_AUTH_BLOCKED
    nfc_key.retap()
    pin = ClientPin(nfc_key.ctap2())
    pin.get_pin_token("12341234", ClientPin.PERMISSION.GET_ASSERTION, "example.com")
    assert pin.get_pin_retries()[0] == 8
    # Now all the way down, with a re-tap after every third wrong PIN.
    left = 8
    while left > 0:
        for n in range(3):
            left -= 1
            code = CtapError.ERR.PIN_AUTH_BLOCKED if n == 2 else CtapError.ERR.PIN_INVALID
            wrong_pin(pin, CtapError.ERR.PIN_BLOCKED if left == 0 else code, left)
            if left == 0:
                break
        nfc_key.retap()
        pin = ClientPin(nfc_key.ctap2())
    with pytest.raises(CtapError) as e:
        pin.get_pin_token("12341234", ClientPin.PERMISSION.GET_ASSERTION, "example.com")
    assert e.value.code == CtapError.ERR.PIN_BLOCKED


def test_reset_only_within_ten_seconds_of_power_up(nfc_key):
    ctap2 = nfc_key.ctap2()
    ClientPin(ctap2).set_pin("56785678")
    # Push the key's clock past the window instead of waiting.
    nfc_key.control("advance 10500")
    with pytest.raises(CtapError) as e:
        ctap2.reset()
    assert e.value.code == CtapError.ERR.NOT_ALLOWED
    assert nfc_key.ctap2().get_info().options["clientPin"] is True
    nfc_key.retap()
    ctap2 = nfc_key.ctap2()
    ctap2.reset()
    assert ctap2.get_info().options["clientPin"] is False


def test_key_file_survives_the_bridge(nfc_key):
    ClientPin(nfc_key.ctap2()).set_pin("99887766")
    _, auth_data, _ = register(nfc_key.dev, "99887766", resident=ResidentKeyRequirement.REQUIRED)
    nfc_key.close()
    info = nfc_key.cli("info", "--key", nfc_key.path)
    assert '"pinSet": true' in info and '"credentials": 1' in info
    creds = nfc_key.cli("credentials", "list", "--key", nfc_key.path, "--pin", "99887766")
    assert "example.com" in creds
    nfc_key.start()
    server = Fido2Server(RP)
    authenticate(nfc_key.dev, "99887766", server, [auth_data.credential_data])
