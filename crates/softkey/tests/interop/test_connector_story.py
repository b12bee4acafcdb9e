"""Issue 15: the pre-registration connector end to end, with real parts only.

- an SMTP server (aiosmtpd, from PyPI) listening on loopback in this process;
- the key factory (`keyfleet factory serve --ship-after-seconds 1`) as its own process;
- two `keyfleet serve` processes on one fresh PostgreSQL database, both running the
  connector's jobs every second (`shipments_poll_schedule`), so they race for every step.

An administrator's API client orders a key for alice. The connector submits the order to the
factory once, follows it, registers the shipped key for alice once and emails her PIN once.
The parcel (`OUTBOX/TRACKING.key`) goes on pcscd's reader through `keyfleet key vpcd`;
python-fido2 changes the forced PIN it read from the email, and alice signs in to keyfleet.
Nothing either service printed holds the PIN, the new PIN, the factory token, the API
client's secret or token, or the master key.
"""

import email
import email.policy
import json
import os
import re
import subprocess
import threading
import time
import uuid

import pytest
from aiosmtpd.controller import Controller
from fido2.ctap2.pin import ClientPin

from test_factory_story import Factory, Parcel, factory_roots, free_port, parcels, sign_in  # noqa: F401 (fixture)
from test_reassign_story import MASTER_KEY, Server

KEYFLEET = os.environ["KEYFLEET_BIN"]
# The tests run in a private network namespace (run.sh): PostgreSQL is reached through its Unix
# socket, which the namespace does not hide.
POSTGRES_SOCKET = os.environ.get("KEYFLEET_INTEROP_POSTGRES_SOCKET", "/var/run/postgresql")


def postgres_url(database):
    return f"postgres://postgres@localhost/{database}?host={POSTGRES_SOCKET}"


class Mailbox:
    """What the SMTP server received: (envelope recipients, parsed message)."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def received(self):
        with self.lock:
            return list(self.messages)


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.fixture
def postgres_database():
    """A new, empty database on the test PostgreSQL server (its URL), dropped afterwards."""
    name = "kf_connector_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", postgres_url("test"), "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    yield postgres_url(name)
    subprocess.run(
        ["psql", postgres_url("test"), "-q", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
        check=True,
        capture_output=True,
    )


def wait_for(what, check, seconds=120):
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_an_order_ships_registers_and_mails_the_pin_once_across_two_instances(smtp, parcels, postgres_database):
    controller, mailbox = smtp
    factory = Factory(serve_args=("--ship-after-seconds", "1"), name="connector-factory")
    servers = []
    try:
        db = postgres_database
        # The factory's token is stored encrypted under the master key, not configured.
        stored = subprocess.run(
            [KEYFLEET, "admin", "set-secret", "--name", "factory_token"],
            input=factory.token + "\n",
            env={**os.environ, "KEYFLEET_MASTER_KEY": MASTER_KEY, "KEYFLEET_DATABASE_URL": db},
            capture_output=True,
            text=True,
        )
        assert stored.returncode == 0, stored.stderr
        assert factory.token not in stored.stdout + stored.stderr
        env = {
            "KEYFLEET_ATTESTATION_ROOTS_FILE": factory_roots(factory),
            "KEYFLEET_FACTORY_URL": f"http://127.0.0.1:{factory.port}",
            "KEYFLEET_ONBEHALF_CHALLENGE_TIMEOUT_MINUTES": "60",
            "KEYFLEET_SMTP_URL": f"smtp://127.0.0.1:{controller.port}",
            "KEYFLEET_MAIL_FROM": "keyfleet@example.com",
            "KEYFLEET_SHIPMENTS_POLL_SCHEDULE": "* * * * * *",
        }
        servers = [Server(db=db, env=env, log=f"connector-server-{i}.log") for i in (1, 2)]
        one, two = servers
        alice = json.loads(
            one.admin("create-user", "--username", "alice", "--display-name", "Alice", "--email", "alice@example.com")
        )
        client = json.loads(one.admin("create-client", "--name", "hr", "--scope", "shipments", "--scope", "provisioning"))
        status, token, _ = two.call(
            "POST",
            "/oauth2/token",
            form="grant_type=client_credentials",
            basic=f"{client['client_id']}:{client['client_secret']}",
        )
        assert status == 200, token
        bearer = token["access_token"]

        status, order, _ = one.call(
            "POST",
            "/api/v1/shipments",
            {
                "user": "alice",
                "model": "nfc-key",
                "pinLength": 8,
                "emailsTo": ["alice@example.com", "it-desk@example.com"],
                "shippingAddress": "Alice Example\n1 Example Street\n10115 Berlin",
            },
            bearer=bearer,
        )
        assert status == 201, order
        assert order["state"] == "requested", order

        # "Process now" on both instances at once: the order is submitted once.
        runs = []
        threads = [
            threading.Thread(target=lambda s=s: runs.append(s.call("POST", "/api/v1/shipments/process", {}, bearer=bearer)))
            for s in (one, two)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(status == 200 for status, _, _ in runs), runs
        assert sum(run["counts"]["submitted"] for _, run, _ in runs) == 1, runs

        # The factory ships on its clock; then either instance registers the key (the
        # scheduled runs race with these) and the mail job sends the PIN.
        def registered():
            status, run, _ = one.call("POST", "/api/v1/shipments/process", {}, bearer=bearer)
            assert status == 200, run
            status, shipment, _ = two.call("GET", f"/api/v1/shipments/{order['id']}", bearer=bearer)
            return shipment["state"] in ("registered", "pinSent", "complete")

        wait_for("the shipped key to be registered", registered)

        def pin_sent():
            status, shipment, _ = two.call("GET", f"/api/v1/shipments/{order['id']}", bearer=bearer)
            assert status == 200, shipment
            assert shipment["state"] not in ("failed", "needsAttention", "cancelled"), shipment
            return shipment if shipment["state"] in ("pinSent", "complete") else None

        shipment = wait_for("the PIN email to be sent", pin_sent)
        assert shipment["trackingNumber"] and shipment["serialNumber"] and shipment["credentialId"], shipment

        # Exactly once: one order at the factory, one key for alice, one message.
        listed = [json.loads(line) for line in factory.cli("list-shipments").splitlines() if line.strip()]
        assert len(listed) == 1, listed
        status, methods, _ = one.call("GET", f"/api/v1/users/{alice['id']}/fido2/methods", bearer=bearer)
        assert status == 200, methods
        keys = methods["value"] if isinstance(methods, dict) else methods
        time.sleep(3)  # a few more job runs on both instances change nothing
        messages = mailbox.received()
        assert len(messages) == 1, [m["Subject"] for _, m in messages]
        recipients, message = messages[0]
        assert sorted(recipients) == ["alice@example.com", "it-desk@example.com"]
        assert message["Message-ID"], "the message carries its idempotency key"
        body = message.get_body(preferencelist=("plain",)).get_content()
        pins = re.findall(r"\b\d{8}\b", body)
        assert len(set(pins)) == 1, "the email holds the 8-digit PIN once"
        pin = pins[0]

        # The worker gets the parcel, changes the forced PIN read from the email, signs in.
        parcel = Parcel(factory, shipment["trackingNumber"])
        parcels.append(parcel)
        assert parcel.info["serialNumber"] == shipment["serialNumber"]
        ClientPin(parcel.ctap2()).change_pin(pin, "alice-new-pin")
        # Started on one instance, finished on the other.
        status, body, _ = sign_in(parcel, "alice-new-pin", two, one)
        assert status == 200, body
        assert body["user"]["username"] == "alice"
        assert len(keys) == 1, keys
    finally:
        for s in servers:
            s.close()
        factory_log = factory.close()
    logs = factory_log
    for s in servers:
        with open(s.log_path) as f:
            logs += f.read()
    for secret in (pin, "alice-new-pin", factory.token, bearer, client["client_secret"], MASTER_KEY):
        assert secret not in logs
