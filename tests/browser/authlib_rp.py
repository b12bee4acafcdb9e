"""The application's side of single sign-on with Authlib (PyPI), for authlib.test.mjs.

Talks JSON lines with the test on standard input and output, so the browser part (the key
sign-in in Chromium) happens in between:

  -> {"authorize": URL}            the browser goes there and signs in
  <- the URL the browser came back to (the redirect URI with code, state and iss)
  -> {"logout": URL}               after discovery, the code's exchange, the ID token's
                                   validation, UserInfo and two refreshes
  <- the URL the browser ended on after logout
  -> {"ok": true, "sub": …, "amr": …, "acr": …}

Usage: authlib_rp.py ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI POST_LOGOUT_URI
"""

import json
import sys
import warnings
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken

warnings.filterwarnings("ignore", message=".*authlib.jose module is deprecated.*")
from authlib.jose import JsonWebKey, jwt  # noqa: E402  (after the filter)


def say(obj):
    print(json.dumps(obj), flush=True)


def hear():
    line = sys.stdin.readline()
    if not line:
        raise SystemExit("the test closed standard input")
    return line.strip()


def check(cond, what):
    if not cond:
        raise SystemExit(f"authlib_rp: {what}")


def main():
    issuer, client_id, secret, redirect_uri, bye = sys.argv[1:6]
    meta = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    check(meta["issuer"] == issuer, f"issuer {meta['issuer']!r}")
    check("S256" in meta["code_challenge_methods_supported"], "no S256")
    jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())

    session = OAuth2Session(
        client_id,
        secret,
        scope="openid profile email offline_access",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    code_verifier = generate_token(64)
    nonce = generate_token(24)
    url, state = session.create_authorization_url(
        meta["authorization_endpoint"], nonce=nonce, code_verifier=code_verifier
    )
    say({"authorize": url})

    back = hear()
    query = parse_qs(urlsplit(back).query)
    check(query.get("iss") == [issuer], f"iss in the response (RFC 9207): {query.get('iss')}")
    token = session.fetch_token(
        meta["token_endpoint"], authorization_response=back, code_verifier=code_verifier, state=state
    )
    check("refresh_token" in token, "no refresh token")

    def id_claims(tok, with_nonce):
        claims = jwt.decode(
            tok["id_token"],
            jwks,
            claims_cls=CodeIDToken,
            claims_options={"iss": {"essential": True, "value": issuer}},
            claims_params={"nonce": nonce if with_nonce else None, "client_id": client_id,
                           "access_token": tok["access_token"]},
        )
        claims.validate(leeway=5)
        check(claims.header["alg"] == "ES256", f"alg {claims.header['alg']}")
        return claims

    claims = id_claims(token, True)
    check(claims["aud"] == client_id, "aud")
    check("hwk" in claims["amr"], f"amr {claims['amr']}")
    check(claims.get("acr") in ("phr", "phrh"), f"acr {claims.get('acr')}")
    check(claims["preferred_username"] == "alice", "preferred_username")

    info = session.get(meta["userinfo_endpoint"], timeout=10).json()
    check(info["sub"] == claims["sub"], "UserInfo sub")
    check(info["email"] == "alice@example.com", f"UserInfo email {info.get('email')}")

    first_refresh = token["refresh_token"]
    new = session.refresh_token(meta["token_endpoint"], refresh_token=first_refresh)
    check(new["refresh_token"] != first_refresh, "the refresh token rotates")
    check(id_claims(new, False)["sub"] == claims["sub"], "refreshed ID token sub")
    again = session.refresh_token(meta["token_endpoint"], refresh_token=new["refresh_token"])

    logout = meta["end_session_endpoint"] + "?" + urlencode(
        {"id_token_hint": again["id_token"], "post_logout_redirect_uri": bye, "state": "bye-state"}
    )
    say({"logout": logout})
    ended = hear()
    check(ended == f"{bye}?state=bye-state", f"logout ended at {ended}")
    r = requests.post(
        meta["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": again["refresh_token"]},
        auth=(client_id, secret),
        timeout=10,
    )
    check(r.status_code == 400 and r.json()["error"] == "invalid_grant", "tokens die at logout")
    r = requests.get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {again['access_token']}"},
                     timeout=10)
    check(r.status_code == 401, "UserInfo refuses the access token after logout")
    say({"ok": True, "sub": claims["sub"], "amr": claims["amr"], "acr": claims.get("acr")})


if __name__ == "__main__":
    main()
