#!/usr/bin/env python3
"""A real SMTP server for keyfleet's mail tests (aiosmtpd, started by the test).

Writes every accepted message to DIR/NNNN.eml and prints "READY <port>" once listening.

  --dir DIR            where accepted messages go (also ca.pem when --tls is used)
  --port N             port on 127.0.0.1 (0: any free one)
  --tls MODE           none | starttls (STARTTLS required before MAIL) | implicit
  --auth USER:PASS     require AUTH (PLAIN or LOGIN) with these credentials
  --refuse N           answer the first N messages' data with 451 (a definite refusal)
  --drop-after-data N  for the first N messages: keep the data, then drop the connection
                       without a reply (the sender cannot know whether it was delivered)

The TLS certificate is made for this run: a CA (DIR/ca.pem, which the test trusts) and a
server certificate for localhost and 127.0.0.1 signed by it (openssl).
"""
import argparse
import asyncio
import os
import socket
import ssl
import subprocess
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def make_certs(d):
    ca_key, ca, key, csr, crt = (os.path.join(d, n) for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=keyfleet test SMTP CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    ext = os.path.join(d, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", crt, "-days", "2", "-extfile", ext)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)
    return ctx


class Handler:
    def __init__(self, d, refuse, drop):
        self.dir, self.refuse, self.drop, self.n = d, refuse, drop, 0

    def store(self, envelope):
        self.n += 1
        tmp = os.path.join(self.dir, f"{self.n:04d}.tmp")
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(self.dir, f"{self.n:04d}.eml"))

    async def handle_DATA(self, server, session, envelope):
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        self.store(envelope)
        if self.drop > 0:
            self.drop -= 1
            server.transport.abort()
        return "250 2.0.0 OK"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls", default="none", choices=["none", "starttls", "implicit"])
    p.add_argument("--auth")
    p.add_argument("--refuse", type=int, default=0)
    p.add_argument("--drop-after-data", type=int, default=0)
    a = p.parse_args()
    port = a.port
    if port == 0:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    ctx = make_certs(a.dir) if a.tls != "none" else None
    kwargs = {}
    if a.tls == "starttls":
        kwargs.update(tls_context=ctx, require_starttls=True)
    if a.auth:
        user, password = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=a.tls == "starttls")
    controller = Controller(
        Handler(a.dir, a.refuse, a.drop_after_data),
        hostname="127.0.0.1",
        port=port,
        ssl_context=ctx if a.tls == "implicit" else None,
        server_kwargs=kwargs,
        ready_timeout=30,
    )
    controller.start()
    print(f"READY {port}", flush=True)
    try:
        sys.stdin.read()  # until the test closes our stdin (or kills us)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
