"""pytest plugin: python-fido2's own device suite (tests/device) against keyfleet's engine.

The authenticator is `examples/stdio_device.rs` (the engine on stdin/stdout, presence granted,
the band put on first unless STDIO_WEAR=0); the suite's device selection and "remove / place the
authenticator" reconnects are replaced by that process and a power cycle. Environment:
STDIO_DEVICE (the example's binary), STDIO_MODEL (nfc-key or band). Used by run.sh.
"""
import os
import struct
import subprocess

import pytest
from fido2.ctap import CtapDevice, CtapError
from fido2.hid import CAPABILITY, CTAPHID


class StdioDevice(CtapDevice):
    def __init__(self, exe, model):
        self._p = subprocess.Popen([exe, model], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def _frame(self, kind, payload=b""):
        self._p.stdin.write(struct.pack(">BI", kind, len(payload)) + payload)
        self._p.stdin.flush()
        n = struct.unpack(">I", self._p.stdout.read(4))[0]
        return self._p.stdout.read(n)

    @property
    def version(self):
        return 2

    @property
    def capabilities(self):
        return CAPABILITY.CBOR | CAPABILITY.NMSG

    def call(self, cmd, data=b"", event=None, on_keepalive=None):
        if cmd == CTAPHID.CBOR:
            return self._frame(0, bytes(data))
        raise CtapError(CtapError.ERR.INVALID_COMMAND)

    def power_cycle(self):
        self._frame(1)

    def wear(self):
        self._frame(2)

    def close(self):
        pass

    @classmethod
    def list_devices(cls):
        return iter(())


DEVICE = None


def pytest_configure(config):
    global DEVICE
    DEVICE = StdioDevice(os.environ["STDIO_DEVICE"], os.environ.get("STDIO_MODEL", "nfc-key"))
    if os.environ.get("STDIO_MODEL") == "band" and os.environ.get("STDIO_WEAR", "1") == "1":
        DEVICE.wear()
    from tests.device import conftest

    conftest.DeviceManager._select = lambda self: DEVICE

    def reconnect(self):
        DEVICE.power_cycle()
        return DEVICE

    conftest.DeviceManager.reconnect = reconnect
