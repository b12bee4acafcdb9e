"""Makes joserfc-ecdh-es-a256kw.json: a JWE made by joserfc (Python), an independent JOSE
implementation, with ECDH-ES+A256KW and A256GCM to the P-256 key of RFC 7518 Appendix C ("Bob").
Run: python3 make-joserfc-vector.py > joserfc-ecdh-es-a256kw.json (joserfc 1.6.5 was used)."""
import json
import joserfc
from joserfc import jwe
from joserfc.jwk import ECKey

bob = {
    "kty": "EC",
    "crv": "P-256",
    "x": "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",
    "y": "e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck",
    "d": "VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw",
    "kid": "bob",
}
key = ECKey.import_key(bob)
plaintext = "Live long and prosper. (encrypted by joserfc)"
token = jwe.encrypt_compact({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": "bob"}, plaintext, key)
print(json.dumps({
    "source": "joserfc " + getattr(joserfc, "__version__", "1.6.5") + " (Python), by make-joserfc-vector.py",
    "recipient": bob,
    "plaintext": plaintext,
    "jwe": token,
}, indent=2))
