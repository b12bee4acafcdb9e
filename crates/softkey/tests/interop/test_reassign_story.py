"""Seed 000's story end to end: a band taken from one worker and given to another.

Worker A registers the band with keyfleet's server and signs in with it (the server's JSON
WebAuthn API, driven by python-fido2's Fido2Client over pcscd + vpcd, the band's built-in UV after
a fingerprint enrolment). Staff reassign the band: through the JSON API
(`POST /api/v1/users/{id}/credentials/{credentialId}/reassign`, an API client with users:write)
and on the band itself (`keyfleet key reassign`, delete user data, through the control socket of
the running bridge). A's credential is then gone everywhere: from the server, from the band, and
A's sign-in fails. Worker B enrols a fingerprint, registers the same band and signs in; then
`keyfleet admin reassign-band` takes it from B (the same core use case as the API and the console).
"""

import base64
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from fido2.client import ClientError, DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.webauthn import PublicKeyCredentialCreationOptions, PublicKeyCredentialRequestOptions

from conftest import WORK

KEYFLEET = os.environ["KEYFLEET_BIN"]
ORIGIN = "http://localhost:8080"
MASTER_KEY = base64.b64encode(bytes(range(32))).decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`keyfleet serve` on SQLite in the scratch directory, and its admin CLI."""

    def __init__(self, db=None, env=None, log="story-server.log"):
        self.db = db or f"sqlite://{WORK}/story.db?mode=rwc"
        self.port = free_port()
        self.env = {
            **os.environ,
            "KEYFLEET_MASTER_KEY": MASTER_KEY,
            "KEYFLEET_DATABASE_URL": self.db,
            "KEYFLEET_LISTEN": f"127.0.0.1:{self.port}",
            "KEYFLEET_RP_ID": "localhost",
            "KEYFLEET_ORIGINS": ORIGIN,
            **(env or {}),
        }
        self.log_path = os.path.join(WORK, log)
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [KEYFLEET, "serve"], env=self.env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, "keyfleet serve exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "keyfleet serve did not answer /healthz"
            time.sleep(0.1)

    def admin(self, *args):
        r = subprocess.run(
            [KEYFLEET, "admin", *args], env=self.env, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        assert r.returncode == 0, f"keyfleet admin {args}: {r.stderr}"
        return r.stdout

    def call(self, method, path, body=None, cookie=None, bearer=None, form=None, basic=None):
        """(status, JSON or None, cookie set) of one request."""
        headers = {"Origin": ORIGIN}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if form is not None:
            data = form.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if cookie:
            headers["Cookie"] = cookie
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        if basic:
            headers["Authorization"] = "Basic " + base64.b64encode(basic.encode()).decode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, raw, set_cookie = r.status, r.read(), r.headers.get("Set-Cookie")
        except urllib.error.HTTPError as e:
            status, raw, set_cookie = e.code, e.read(), None
        payload = json.loads(raw) if raw else None
        return status, payload, set_cookie.split(";")[0] if set_cookie else None

    def close(self):
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


class NoPin(UserInteraction):
    """The band verifies its wearer by fingerprint: nobody is asked for a PIN."""

    def request_pin(self, permissions, rp_id):
        raise AssertionError("a PIN was asked for; the band's built-in UV should answer")


def fido_client(band):
    band.retap()
    collector = DefaultClientDataCollector(ORIGIN, verify=lambda rp_id, origin: (rp_id, origin) == ("localhost", ORIGIN))
    return Fido2Client(band.dev, collector, user_interaction=NoPin())


def enrol_and_register(server, band, username):
    """A new worker: a pass from staff, a fingerprint on the band, the band registered."""
    server.admin(
        "create-user", "--username", username, "--display-name", username.title(), "--email", f"{username}@example.com"
    )
    code = server.admin("issue-tap", "--username", username, "--one-time").strip()
    status, _, cookie = server.call("POST", "/api/v1/auth/tap", {"username": username, "code": code})
    assert status == 200 and cookie
    band.control("enrol-finger")
    status, options, _ = server.call("POST", "/api/v1/me/credentials/registration/options", {}, cookie=cookie)
    assert status == 200, options
    creation = PublicKeyCredentialCreationOptions.from_dict(options["publicKey"])
    result = fido_client(band).make_credential(creation)
    body = {"ceremonyId": options["ceremonyId"], "nickname": "Band", "credential": dict(result)}
    status, created, _ = server.call("POST", "/api/v1/me/credentials/registration/verify", body, cookie=cookie)
    assert status == 201, created
    assert created["aaguid"].replace("-", "") == "9b7493dde22e4369bbdf25177d6eb596", created
    return created


def sign_in(server, band):
    """A username-less sign-in with the band: (status, body) of the server's verify."""
    status, options, _ = server.call("POST", "/api/v1/auth/webauthn/options", {})
    assert status == 200, options
    request = PublicKeyCredentialRequestOptions.from_dict(options["publicKey"])
    assertion = fido_client(band).get_assertion(request).get_response(0)
    status, body, _ = server.call(
        "POST", "/api/v1/auth/webauthn/verify", {"ceremonyId": options["ceremonyId"], "credential": dict(assertion)}
    )
    return status, body


def test_a_band_moves_from_one_worker_to_another(band, server):
    band.control("wear")
    created = enrol_and_register(server, band, "ada")
    status, body = sign_in(server, band)
    assert status == 200, body
    assert body["user"]["username"] == "ada"
    ada_id = body["user"]["id"]
    assert "credentials=1" in band.control("status"), "the band holds ada's discoverable credential"

    # Staff reassign the band: the server side through the JSON API...
    client = json.loads(server.admin("create-client", "--name", "helpdesk tool", "--scope", "users:write", "users:read"))
    status, token, _ = server.call(
        "POST",
        "/oauth2/token",
        form="grant_type=client_credentials",
        basic=f"{client['client_id']}:{client['client_secret']}",
    )
    assert status == 200, token
    bearer = token["access_token"]
    status, keys, _ = server.call("GET", f"/api/v1/users/{ada_id}/credentials", bearer=bearer)
    assert status == 200 and [k["id"] for k in keys] == [created["id"]], keys
    status, problem, _ = server.call(
        "POST", f"/api/v1/users/{ada_id}/credentials/{created['id']}/reassign", bearer=bearer
    )
    assert status == 204, problem
    # The server no longer knows the credential: the band (not yet wiped) signs, the server refuses.
    status, body = sign_in(server, band)
    assert status != 200 and body.get("code"), body
    # ...and the band itself, wiped for its next wearer (through the running bridge).
    band.cli("reassign", "--key", band.path)

    # Ada's credential is gone everywhere.
    status, keys, _ = server.call("GET", f"/api/v1/users/{ada_id}/credentials", bearer=bearer)
    assert status == 200 and keys == [], keys
    status_line = band.control("status")
    assert "credentials=0" in status_line and "enrolled=false" in status_line, status_line
    with pytest.raises(ClientError):
        sign_in(server, band)

    # The next wearer enrols, registers the band and signs in.
    enrol_and_register(server, band, "bo")
    status, body = sign_in(server, band)
    assert status == 200, body
    assert body["user"]["username"] == "bo"
    assert "credentials=1" in band.control("status"), "only bo's credential is on the band"

    # The band moves on again, this time with the admin CLI (the same core use case).
    bo_id = body["user"]["id"]
    removed = json.loads(server.admin("reassign-band", "--username", "bo"))
    assert removed == {"username": "bo", "bandCredentialsRemoved": 1}, removed
    status, keys, _ = server.call("GET", f"/api/v1/users/{bo_id}/credentials", bearer=bearer)
    assert status == 200 and keys == [], keys
    status, body = sign_in(server, band)
    assert status != 200, body
