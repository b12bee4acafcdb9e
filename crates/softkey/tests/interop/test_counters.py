"""The signature counter across a crash of the bridge (issue 11): `keyfleet key vpcd` killed with
SIGKILL in the middle of handing out counter values from memory, then started again on the same
key file, never hands out a value it handed out before. (Counter changes are saved once per
reserved block, as a high-water mark; see crates/softkey/src/key.rs.)"""

import hashlib

CDH = hashlib.sha256(b"counters").digest()
RP = {"id": "example.com", "name": "Example"}
USER = {"id": b"u", "name": "u", "displayName": "U"}
ES256 = [{"type": "public-key", "alg": -7}]


def test_a_killed_bridge_never_repeats_a_counter(nfc_key):
    ctap2 = nfc_key.ctap2()
    made = ctap2.make_credential(CDH, RP, USER, ES256)
    seen = [made.auth_data.counter]
    allow = [{"type": "public-key", "id": made.auth_data.credential_data.credential_id}]

    def assert_some(n):
        for _ in range(n):
            counter = nfc_key.ctap2().get_assertion("example.com", CDH, allow, options={"up": False}).auth_data.counter
            assert counter > seen[-1], f"counter {counter} after {seen[-1]}"
            seen.append(counter)

    assert_some(5)
    for _ in range(3):
        # Off the reader first (vpcd's driver notices a vanished card only after ~15 s of
        # polling), then kill -9: the values handed out from memory were never saved one by one,
        # and the process gets no chance to save anything on the way out.
        nfc_key.dev.close()
        nfc_key.control("lift")
        nfc_key.proc.kill()
        nfc_key.proc.wait()
        nfc_key.log.close()
        nfc_key.start()
        assert_some(3)
    assert len(set(seen)) == len(seen)
