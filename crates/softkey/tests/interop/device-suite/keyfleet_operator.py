"""A pytest plugin that plays the operator of python-fido2's device suite (`tests/device`).

The suite prints its requests to the person at the reader ("Remove the Authenticator from the NFC
reader", "Place the Authenticator on the NFC reader", "Touch the Authenticator", "Press your
fingerprint against the sensor now..."). This plugin reads those prompts as they are printed and
answers each one as a person would, through the software key's control socket (`FILE.ctl` of
`keyfleet key vpcd`): `lift` takes the key off the reader, `place` puts it back, a fingerprint
prompt puts a good finger on the band's sensor. Nothing happens on its own after a power-off: the
key leaves the reader only when the suite asks for it.

It also checks every skip against the list of features we chose not to build
(`skips.tsv`, documented in docs/device-suite.md): a skip for any other reason fails the run, as
does a run in which nothing passed.

Environment: KEYFLEET_SUITE_KEY (the key file), KEYFLEET_SUITE_MODEL (`nfc-key` or `band`),
KEYFLEET_SUITE_SKIPS (the allowed-skips file).
"""

import fnmatch
import os
import socket
import time

import pytest

KEY = os.environ["KEYFLEET_SUITE_KEY"]
MODEL = os.environ["KEYFLEET_SUITE_MODEL"]
SKIPS_FILE = os.environ["KEYFLEET_SUITE_SKIPS"]

# What the operator did, for the run's summary.
ACTIONS = []


def control(line):
    """One command on the key's control socket; returns the answer line (`ok …`)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(KEY + ".ctl")
        s.sendall(line.encode() + b"\n")
        answer = s.makefile().readline().strip()
    if not answer.startswith("ok"):
        raise RuntimeError(f"control {line!r}: {answer}")
    ACTIONS.append(line)
    return answer


def answer_prompt(message):
    """What a person at the reader does on reading `message`."""
    text = str(message)
    if "Remove the Authenticator from the NFC reader" in text:
        control("lift")
    elif "Place the Authenticator on the NFC reader" in text:
        # A person takes a moment to put the key back.
        time.sleep(0.2)
        control("place")
    elif "Press your fingerprint against the sensor" in text:
        control("finger good")
    elif "Touch the Authenticator" in text:
        # On NFC the tap is the presence: the key on the reader grants it (the bridge's default,
        # `presence grant`); nothing more to do.
        ACTIONS.append("touch")


def pytest_configure(config):
    # The suite's Printer (tests/device/__init__.py) is how it talks to the operator; watch it.
    import tests.device as suite

    original = suite.Printer.print

    def print_and_answer(self, *messages):
        original(self, *messages)
        for message in messages:
            answer_prompt(message)

    suite.Printer.print = print_and_answer


def load_allowed():
    """(model glob, reason glob, why) from skips.tsv; '#' starts a comment."""
    allowed = []
    with open(SKIPS_FILE, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            model, reason, why = line.split("\t", 2)
            allowed.append((model, reason, why))
    return allowed


SKIPPED = {}


def pytest_runtest_logreport(report):
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        SKIPPED.setdefault(reason, []).append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    allowed = load_allowed()
    unexplained = []
    print(f"\ndevice suite on a fresh {MODEL}: skips by reason")
    for reason, nodes in sorted(SKIPPED.items()):
        why = next(
            (w for m, r, w in allowed if fnmatch.fnmatchcase(MODEL, m) and fnmatch.fnmatchcase(reason, r)),
            None,
        )
        print(f"  {len(nodes):4d}  {reason}  -- {why or 'NOT IN skips.tsv'}")
        if why is None:
            unexplained.append(reason)
    counts = {a: ACTIONS.count(a) for a in dict.fromkeys(ACTIONS)}
    print(f"operator actions: {counts}")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    passed = len(reporter.stats.get("passed", [])) if reporter else 0
    if unexplained:
        print(f"device suite: {len(unexplained)} skip reason(s) not in skips.tsv; failing the run")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if passed == 0:
        print("device suite: nothing passed; failing the run")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
