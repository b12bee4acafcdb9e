"""Issue 14: a key made by the key factory for a named worker, as the worker receives it.

`keyfleet factory serve` runs as its own process; this test plays the customer with an
independent JOSE implementation (pyca/cryptography: ECDH-ES+A256KW with A256GCM to the
factory's published transport key, and ES256 verification of its signed answers). The factory
programs and ships; the parcel (`OUTBOX/TRACKING.key`) goes on pcscd's reader through
`keyfleet key vpcd`; python-fido2 finds the PIN refused until it is changed (forcePINChange),
changes it, and signs with the credential the factory made. The second test runs the whole
loop with `keyfleet serve`: on-behalf options for alice, the shipment, the registration, and
alice's sign-in with the shipped key.
"""

import base64
import hashlib
import json
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap
from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import CtapError
from fido2.ctap2.pin import ClientPin
from fido2.webauthn import AttestationObject, PublicKeyCredentialRequestOptions

from conftest import KEY, WORK, Key
from test_reassign_story import Server

KEYFLEET = os.environ["KEYFLEET_BIN"]
ORIGIN = "http://localhost:8080"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- JOSE, written here from RFC 7516/7518 over pyca/cryptography (not keyfleet's code) ---


def _kek(z, alg="ECDH-ES+A256KW"):
    """RFC 7518 §4.6.2: Concat KDF, AlgorithmID = alg, empty apu/apv, 256 bits."""
    other = len(alg).to_bytes(4, "big") + alg.encode() + (0).to_bytes(4, "big") * 2 + (256).to_bytes(4, "big")
    return ConcatKDFHash(hashes.SHA256(), 32, other).derive(z)


def _public(jwk):
    return ec.EllipticCurvePublicNumbers(
        int.from_bytes(unb64(jwk["x"]), "big"), int.from_bytes(unb64(jwk["y"]), "big"), ec.SECP256R1()
    ).public_key()


def _jwk(public_key, **extra):
    n = public_key.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64(n.x.to_bytes(32, "big")), "y": b64(n.y.to_bytes(32, "big")), **extra}


def jwe_encrypt(plaintext, jwk):
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    kek = _kek(ephemeral.exchange(ec.ECDH(), _public(jwk)))
    cek = secrets.token_bytes(32)
    header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": jwk["kid"], "epk": _jwk(ephemeral.public_key())}
    protected = b64(json.dumps(header).encode())
    iv = secrets.token_bytes(12)
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected.encode())
    return ".".join([protected, b64(aes_key_wrap(kek, cek)), b64(iv), b64(sealed[:-16]), b64(sealed[-16:])])


def jwe_decrypt(compact, private_key):
    protected, ek, iv, ct, tag = compact.split(".")
    header = json.loads(unb64(protected))
    assert (header["alg"], header["enc"]) == ("ECDH-ES+A256KW", "A256GCM"), header
    kek = _kek(private_key.exchange(ec.ECDH(), _public(header["epk"])))
    cek = aes_key_unwrap(kek, unb64(ek))
    return header, AESGCM(cek).decrypt(unb64(iv), unb64(ct) + unb64(tag), protected.encode())


def jws_verify(compact, jwks):
    head, payload, signature = compact.split(".")
    header = json.loads(unb64(head))
    assert header["alg"] == "ES256", header
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    sig = unb64(signature)
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    _public(jwk).verify(der, f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    return header, json.loads(unb64(payload))


def open_answer(compact, customer, jwks, typ):
    """docs/key-factory.md: the JWE's plaintext is JWT claims {"jws", "iat", "nbf", "exp"}, the
    "jws" a signed JWT whose claims are the payload with "iat", "nbf", "exp"."""
    _, plaintext = jwe_decrypt(compact, customer)
    envelope = json.loads(plaintext)
    now = time.time()
    assert set(envelope) == {"jws", "iat", "nbf", "exp"}, envelope
    assert envelope["nbf"] <= now + 900 < envelope["exp"] + 900, envelope
    signed_header, payload = jws_verify(envelope["jws"], jwks)
    assert signed_header["typ"] == typ
    assert payload.pop("nbf") <= now + 900 < payload.pop("exp") + 900
    payload.pop("iat")
    return payload


# --- The factory process ---


class Factory:
    def __init__(self, serve_args=(), name="key-factory"):
        self.dir = os.path.join(WORK, name)
        self.outbox = os.path.join(self.dir, "outbox")
        self.flags = [
            "--database-url", f"sqlite://{self.dir}/factory.db",
            "--factory-dir", os.path.join(self.dir, "ca"),
            "--outbox", self.outbox,
        ]  # fmt: skip
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.log_path = os.path.join(WORK, f"{name}.log")
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [KEYFLEET, "factory", "serve", "--listen", f"127.0.0.1:{self.port}", *self.flags, *serve_args],
            env={**os.environ, "RUST_LOG": "trace"},
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, "keyfleet factory serve exited"
            try:
                self.call("GET", "/.well-known/sign-keys.jwks")
                break
            except OSError:
                assert time.monotonic() < deadline, "the factory did not answer"
                time.sleep(0.1)
        self.token = json.loads(self.cli("create-token", "--name", "story"))["token"]

    def cli(self, *args):
        r = subprocess.run(
            [KEYFLEET, "factory", *args, *self.flags],
            env={**os.environ, "RUST_LOG": "trace"},
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        # The commands' log lines go with the server's, for the secrets check.
        self.log.write(r.stderr)
        self.log.flush()
        assert r.returncode == 0, f"keyfleet factory {args}: {r.stderr}"
        return r.stdout

    def call(self, method, path, body=None, token=None):
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def order(self, public_key, customer, pin_length=8):
        """A shipment for one credential request for `public_key` (creation options JSON)."""
        _, transport = self.call("GET", "/.well-known/transport-keys.jwks")
        # JWT claims (the factory decrypts with jwt-simple): the request, valid for an hour.
        now = int(time.time())
        request = json.dumps({"origin": ORIGIN, "publicKey": public_key, "iat": now, "exp": now + 3600}).encode()
        body = {
            "model": "nfc-key",
            "recipient": "Alice Example",
            "address": "1 Example Street\n10115 Berlin",
            "deliveryType": "standard",
            "pinRequest": {"length": pin_length},
            "credentialRequests": [jwe_encrypt(request, transport["keys"][0])],
            "responseKey": _jwk(customer.public_key(), kid="customer"),
        }
        status, created = self.call("POST", "/v1/shipments", body, token=self.token)
        assert status == 201, created
        shipped = json.loads(self.cli("ship", "--shipment", created["shipmentId"]))
        assert shipped["state"] == "shipped", shipped
        status, shipment = self.call("GET", f"/v1/shipments/{created['shipmentId']}", token=self.token)
        assert status == 200 and shipment["state"] == "shipped", shipment
        return shipment

    def close(self):
        """Stops the factory (once); everything it printed."""
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
        with open(self.log_path) as f:
            return f.read()


@pytest.fixture
def factory():
    f = Factory()
    yield f
    f.close()


class Parcel(Key):
    """The shipped key file, put on the reader as it came out of the outbox."""

    def __init__(self, factory, tracking):
        self.path = os.path.join(factory.outbox, f"{tracking}.key")
        self.extra_args = ("--file-keys-dir", os.path.join(factory.outbox, "file-keys"))
        result = subprocess.run(
            [*KEY, "info", "--key", self.path, *self.extra_args], capture_output=True, text=True, check=True
        )
        self.info = json.loads(result.stdout)
        self.start()


@pytest.fixture
def parcels():
    opened = []
    yield opened
    for p in opened:
        p.close()
    time.sleep(0.1)


def creation_options(rp_id="localhost", user="alice"):
    """Creation options as keyfleet's on-behalf API makes them."""
    return {
        "rp": {"id": rp_id, "name": "keyfleet"},
        "user": {"id": b64(secrets.token_bytes(32)), "name": user, "displayName": user.title()},
        "challenge": b64(secrets.token_bytes(32)),
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -8}],
        "timeout": 86400000,
        "excludeCredentials": [],
        "authenticatorSelection": {"residentKey": "required", "requireResidentKey": True, "userVerification": "required"},
        "attestation": "direct",
    }


def test_a_shipped_key_signs_once_its_forced_pin_is_changed(factory, parcels):
    customer = ec.generate_private_key(ec.SECP256R1())
    options = creation_options()
    shipment = factory.order(options, customer)
    _, signers = factory.call("GET", "/.well-known/sign-keys.jwks")

    # The answers, opened by an independent implementation.
    pin = open_answer(shipment["pinResponse"], customer, signers, "keyfleet-pin-response+jwt")
    assert pin["forcePinChange"] is True and len(pin["pin"]) == 8 and pin["pin"].isdigit()
    credential = open_answer(
        shipment["credentialResponses"][0], customer, signers, "keyfleet-credential-response+jwt"
    )
    assert credential["serialNumber"] == shipment["serialNumber"] == pin["serialNumber"]
    response = credential["publicKeyCredential"]["response"]
    client_data = json.loads(unb64(response["clientDataJSON"]))
    assert client_data == {
        "type": "webauthn.create",
        "challenge": options["challenge"],
        "origin": ORIGIN,
        "crossOrigin": False,
    }
    attestation = AttestationObject(unb64(response["attestationObject"]))
    assert attestation.fmt == "packed"
    auth_data = attestation.auth_data
    assert auth_data.is_user_verified() and auth_data.rp_id_hash == hashlib.sha256(b"localhost").digest()
    credential_id = auth_data.credential_data.credential_id
    public_key = auth_data.credential_data.public_key

    # The parcel on the reader: the PIN works only to be changed.
    parcel = Parcel(factory, shipment["trackingNumber"])
    parcels.append(parcel)
    assert parcel.info["forcePinChange"] is True and parcel.info["serialNumber"] == shipment["serialNumber"]
    client_pin = ClientPin(parcel.ctap2())
    with pytest.raises(CtapError) as refused:
        client_pin.get_pin_token(pin["pin"], ClientPin.PERMISSION.GET_ASSERTION, "localhost")
    assert refused.value.code == CtapError.ERR.PIN_POLICY_VIOLATION
    client_pin.change_pin(pin["pin"], "fresh-pin-2468")
    with pytest.raises(CtapError):
        client_pin.get_pin_token(pin["pin"], ClientPin.PERMISSION.GET_ASSERTION, "localhost")

    # With the new PIN, the credential the factory made signs, verified by user.
    token = client_pin.get_pin_token("fresh-pin-2468", ClientPin.PERMISSION.GET_ASSERTION, "localhost")
    client_data_hash = hashlib.sha256(b"sign-in challenge").digest()
    protocol = client_pin.protocol
    assertion = parcel.ctap2().get_assertion(
        "localhost",
        client_data_hash,
        allow_list=[{"type": "public-key", "id": credential_id}],
        pin_uv_param=protocol.authenticate(token, client_data_hash),
        pin_uv_protocol=protocol.VERSION,
    )
    assert assertion.auth_data.is_user_verified()
    public_key.verify(bytes(assertion.auth_data) + client_data_hash, assertion.signature)

    # Nothing the factory printed (server and commands, at trace level) holds the PIN, the new
    # PIN, the challenge or the API token.
    log = factory.close()
    assert "shipment shipped" in log and "shipment received" in log
    for secret in (pin["pin"], "fresh-pin-2468", options["challenge"], factory.token):
        assert secret not in log


class WithPin(UserInteraction):
    """The worker types the PIN they chose."""

    def __init__(self, pin):
        self.pin = pin

    def request_pin(self, permissions, rp_id):
        return self.pin

    def request_uv(self, permissions, rp_id):
        return True


def factory_roots(factory):
    """The factory's nfc-key CA (`keyfleet key factory-ca`), written for keyfleet to trust as an
    attestation root; the file's path."""
    ca = subprocess.run(
        [*KEY, "factory-ca", "--model", "nfc-key", "--factory-dir", os.path.join(factory.dir, "ca")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = os.path.join(factory.dir, "roots.pem")
    with open(path, "w") as f:
        f.write(ca)
    return path


def sign_in(parcel, pin, start, finish):
    """A username-less sign-in with the parcel's key and its PIN `pin`: the ceremony started on
    the server `start`, finished on `finish`; (status, body, session cookie) of the finish."""
    status, request, _ = start.call("POST", "/api/v1/auth/webauthn/options", {})
    assert status == 200, request
    collector = DefaultClientDataCollector(ORIGIN, verify=lambda rp_id, origin: (rp_id, origin) == ("localhost", ORIGIN))
    client = Fido2Client(parcel.dev, collector, user_interaction=WithPin(pin))
    assertion = client.get_assertion(PublicKeyCredentialRequestOptions.from_dict(request["publicKey"])).get_response(0)
    return finish.call(
        "POST", "/api/v1/auth/webauthn/verify", {"ceremonyId": request["ceremonyId"], "credential": dict(assertion)}
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def sign_in_to_application(server, session, app):
    """The authorization code flow with PKCE for `app`, the browser's part done with the
    keyfleet session cookie `session`; returns the ID token."""
    verifier = b64(secrets.token_bytes(32))
    challenge = b64(hashlib.sha256(verifier.encode()).digest())
    redirect = "http://127.0.0.1:9/callback"
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": app["client_id"],
            "redirect_uri": redirect,
            "scope": "openid profile",
            "state": "s-alice",
            "nonce": "n-alice",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    req = urllib.request.Request(f"http://127.0.0.1:{server.port}/oauth2/authorize?{query}", headers={"Cookie": session})
    try:
        urllib.request.build_opener(_NoRedirect).open(req, timeout=30)
        raise AssertionError("the authorization endpoint did not redirect")
    except urllib.error.HTTPError as e:
        assert e.code in (302, 303), e.code
        location = e.headers["Location"]
    assert location.startswith(redirect + "?"), location
    answer = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    assert answer["state"] == ["s-alice"], answer
    form = urllib.parse.urlencode(
        {"grant_type": "authorization_code", "code": answer["code"][0], "redirect_uri": redirect, "code_verifier": verifier}
    )
    status, tokens, _ = server.call(
        "POST", "/oauth2/token", form=form, basic=f"{app['client_id']}:{app['client_secret']}"
    )
    assert status == 200, tokens
    return tokens["id_token"]


def test_the_whole_loop_alice_signs_in_with_the_key_keyfleet_ordered(factory, parcels, monkeypatch):
    """Issue 14's first "What it must show": keyfleet asks for creation options for alice, the
    request goes to the factory encrypted to its published key, the factory programs and ships,
    the signed answer is verified and the key registered for alice; the shipped key goes on
    pcscd through vpcd, python-fido2 changes the forced PIN, and alice signs in to keyfleet,
    then to an application through single sign-on (its ID token says a hardware key with a
    PIN was used)."""
    monkeypatch.setenv("KEYFLEET_ATTESTATION_ROOTS_FILE", factory_roots(factory))
    server = Server()
    try:
        alice = json.loads(
            server.admin("create-user", "--username", "alice", "--display-name", "Alice", "--email", "alice@example.com")
        )
        client = json.loads(server.admin("create-client", "--name", "connector", "--scope", "provisioning"))
        status, token, _ = server.call(
            "POST",
            "/oauth2/token",
            form="grant_type=client_credentials",
            basic=f"{client['client_id']}:{client['client_secret']}",
        )
        assert status == 200, token
        bearer = token["access_token"]
        status, options, _ = server.call(
            "POST",
            f"/api/v1/users/{alice['id']}/fido2/creation-options",
            {"challengeTimeoutMinutes": 60, "model": "nfc-key"},
            bearer=bearer,
        )
        assert status == 200, options

        customer = ec.generate_private_key(ec.SECP256R1())
        shipment = factory.order(options["publicKey"], customer, pin_length=6)
        _, signers = factory.call("GET", "/.well-known/sign-keys.jwks")
        pin = open_answer(shipment["pinResponse"], customer, signers, "keyfleet-pin-response+jwt")
        credential = open_answer(
            shipment["credentialResponses"][0], customer, signers, "keyfleet-credential-response+jwt"
        )
        status, method, _ = server.call(
            "POST",
            f"/api/v1/users/{alice['id']}/fido2/methods",
            {"displayName": "Shipped key", "publicKeyCredential": credential["publicKeyCredential"]},
            bearer=bearer,
        )
        assert status == 201, method
        assert method["attestationLevel"] == "attested", method

        # The worker receives the parcel, changes the PIN, and signs in.
        parcel = Parcel(factory, shipment["trackingNumber"])
        parcels.append(parcel)
        ClientPin(parcel.ctap2()).change_pin(pin["pin"], "alice-new-pin")
        status, body, cookie = sign_in(parcel, "alice-new-pin", server, server)
        assert status == 200, body
        assert body["user"]["username"] == "alice"
        session = cookie
        assert session

        # And to an application, through single sign-on with that session.
        app = json.loads(
            server.admin("create-application", "--name", "Payroll", "--redirect-uri", "http://127.0.0.1:9/callback")
        )
        id_token = sign_in_to_application(server, session, app)
        header, claims = jws_verify(id_token, server.call("GET", "/oauth2/jwks")[1])
        assert claims["aud"] == app["client_id"] and claims["sub"] == alice["id"], claims
        assert claims["amr"] == ["hwk", "pin"], claims
        assert claims["nonce"] == "n-alice"
    finally:
        server.close()
    with open(os.path.join(WORK, "story-server.log")) as f:
        keyfleet_log = f.read()
    factory_log = factory.close()
    for secret in (pin["pin"], "alice-new-pin", options["publicKey"]["challenge"], factory.token, bearer):
        assert secret not in keyfleet_log and secret not in factory_log
