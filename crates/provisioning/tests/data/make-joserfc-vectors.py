"""Makes joserfc-vectors.json: JWEs and a sealed answer made by joserfc (Python), an independent
JOSE implementation, in the shapes of docs/key-factory.md ("Crypto choices"):

- `request`: a JWE (ECDH-ES+A256KW, A256GCM, kid "bob") of a JSON object with no registered
  claims, as a customer that adds no `exp` makes it;
- `sealed`: a signed JWT (ES256, kid "factory", typ keyfleet-pin-response+jwt) carried as the
  claim "jws" of a JWE to "bob", both with `iat` in 2025 and `exp` in 2100: a factory answer;
- `expired`: the same sealed answer with both `exp` in 2020.

Keys: "bob" is the P-256 key of RFC 7518 Appendix C (Bob's static key); "factory" is the
ephemeral key of the same appendix (Alice's), used here for ES256. The JWEs' ephemeral keys and
IVs are random, so each run makes other (equally valid) vectors.
Run: python3 make-joserfc-vectors.py > joserfc-vectors.json (joserfc 1.6.5 was used)."""
import json
import joserfc
from joserfc import jwe, jws
from joserfc.jwk import ECKey

# RFC 7518 Appendix C, https://www.rfc-editor.org/rfc/rfc7518#appendix-C
bob = {
    "kty": "EC",
    "crv": "P-256",
    "x": "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",
    "y": "e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck",
    "d": "VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw",
}
factory = {
    "kty": "EC",
    "crv": "P-256",
    "x": "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
    "y": "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps",
    "d": "0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo",
}
bob_key = ECKey.import_key(bob)
factory_key = ECKey.import_key(factory)
ENC = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": "bob"}


def compact(claims):
    return json.dumps(claims, separators=(",", ":")).encode()


def sealed(payload, iat, exp):
    signed = jws.serialize_compact(
        {"alg": "ES256", "kid": "factory", "typ": "keyfleet-pin-response+jwt"},
        compact({**payload, "iat": iat, "nbf": iat, "exp": exp}),
        factory_key,
    )
    return jwe.encrypt_compact(ENC, compact({"jws": signed, "iat": iat, "nbf": iat, "exp": exp}), bob_key)


request = {"origin": "https://keys.example.com", "note": "encrypted by joserfc"}
pin = {"shipmentId": "shp_joserfc", "serialNumber": "KF-JOSERFC", "pin": "271828", "forcePinChange": True}
print(json.dumps({
    "source": "joserfc " + getattr(joserfc, "__version__", "1.6.5") + " (Python), by make-joserfc-vectors.py",
    "bob": {**bob, "kid": "bob"},
    "factory": {**factory, "kid": "factory"},
    "request_plaintext": request,
    "request": jwe.encrypt_compact(ENC, compact(request), bob_key),
    "sealed_payload": pin,
    "sealed": sealed(pin, 1764806400, 4102444800),  # made 2025-12-04, valid to 2100
    "expired": sealed(pin, 1577833200, 1577836800),  # valid for an hour on 2020-01-01
}, indent=2))
