"""Fixtures for the interop tests: software keys on pcscd's vpcd reader, driven by python-fido2.

Every test gets fresh keys: `keyfleet key new`, then `keyfleet key vpcd` puts the key on the reader
(the real `keyfleet` binary, built by run.sh).
The key's control socket (FILE.ctl) lifts it off the reader and puts it back (a new tap), pushes
its clock forward and controls the band.
"""

import json
import os
import socket
import subprocess
import time

import pytest
from fido2.ctap2 import Ctap2
from fido2.pcsc import CtapPcscDevice

KEY = [os.environ["KEYFLEET_BIN"], "key"]
WORK = os.environ["KEYFLEET_INTEROP_WORK"]
_counter = [0]


class Key:
    """One software key running `keyfleet key vpcd`."""

    def __init__(self, model, extra_args=(), new_args=()):
        _counter[0] += 1
        self.path = os.path.join(WORK, f"key{_counter[0]}.kfk")
        self.cli("new", "--model", model, "--out", self.path, *new_args)
        # What the factory made (serial number, AAGUID), read before the bridge locks the file.
        self.info = json.loads(self.cli("info", "--key", self.path))
        self.extra_args = extra_args
        self.start()

    def start(self):
        """Put the key on the reader (start the bridge) and wait until python-fido2 sees it."""
        self.log = open(self.path + ".log", "a")
        self.proc = subprocess.Popen(
            [*KEY, "vpcd", "--key", self.path, *self.extra_args],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.dev = self.wait_for_device()

    def cli(self, *args):
        result = subprocess.run([*KEY, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, f"keyfleet key {args}: {result.stderr}"
        return result.stdout

    def control(self, line):
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(self.path + ".ctl")
                    s.sendall(line.encode() + b"\n")
                    answer = s.makefile().readline().strip()
                    break
            except (FileNotFoundError, ConnectionRefusedError):
                assert time.monotonic() < deadline, "control socket never appeared"
                time.sleep(0.02)
        assert answer.startswith("ok"), f"{line}: {answer}"
        return answer

    def wait_for_device(self, timeout=15):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "keyfleet key vpcd exited"
            try:
                for dev in CtapPcscDevice.list_devices():
                    return dev
            except Exception as e:  # noqa: BLE001 - pcscd still settling
                last = e
            time.sleep(0.05)
        raise AssertionError(f"no FIDO card on the reader after {timeout} s ({last!r})")

    def ctap2(self):
        return Ctap2(self.dev)

    def retap(self):
        """Take the key off the reader and put it back: a power cycle and a new session."""
        try:
            self.dev.close()
        except Exception:  # noqa: BLE001 - the card may already be gone
            pass
        self.control("lift")
        self.control("place")
        self.dev = self.wait_for_device()
        return self.dev

    def close(self):
        if self.proc.returncode is not None:
            return
        try:
            self.dev.close()
        except Exception:  # noqa: BLE001
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        assert self.proc.returncode in (0, -15), f"bridge exit {self.proc.returncode}"


@pytest.fixture
def make_key():
    keys = []

    def make(model="nfc-key", extra_args=(), new_args=()):
        key = Key(model, extra_args, new_args)
        keys.append(key)
        return key

    yield make
    for key in keys:
        key.close()
    # Give pcscd a moment to notice the card is gone before the next test's key appears.
    time.sleep(0.1)


@pytest.fixture
def nfc_key(make_key):
    return make_key("nfc-key")


@pytest.fixture
def band(make_key):
    return make_key("band")


def pytest_sessionfinish(session, exitstatus):
    """A skipped test is a failure here: the interop run must never pass by not running."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and session.exitstatus == 0:
        print(f"\ninterop: {skipped} test(s) skipped; failing the run")
        session.exitstatus = 1
