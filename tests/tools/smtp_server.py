#!/usr/bin/env python3
"""An SMTP server on 127.0.0.1 for mailscore's delivery tests, on aiosmtpd.

usage: smtp_server.py OUT_DIR CERT_PEM KEY_PEM USER PASSWORD [SCRIPT_JSON]

Speaks STARTTLS with the given certificate (required before AUTH and MAIL), takes AUTH
PLAIN or LOGIN with USER and PASSWORD only, and writes every accepted message to
OUT_DIR/NNNNNN.eml, one file per message (written whole, then renamed into place). It
prints "listening PORT" on standard output once it accepts connections, then serves until
killed or until its standard input closes.

SCRIPT_JSON chooses replies, so the tests can make failures happen:
  {"rcpt": {"ADDRESS": ["451 4.3.0 try again later", "250"]},   replies to RCPT TO, in
                                                                turn ("250": accept)
   "drop": {"ADDRESS": 1},          close the connection at RCPT TO this many times
   "default_rcpt": "451 4.7.1 ...", the reply to any other RCPT TO (unset: accept)
   "data_delay_ms": 100}            wait this long before answering each DATA
"""

import asyncio
import json
import os
import socket
import ssl
import sys
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Handler:
    def __init__(self, out_dir, script):
        self.out_dir = out_dir
        self.rcpt = {k.lower(): list(v) for k, v in script.get("rcpt", {}).items()}
        self.drop = {k.lower(): int(v) for k, v in script.get("drop", {}).items()}
        self.default_rcpt = script.get("default_rcpt")
        self.data_delay = script.get("data_delay_ms", 0) / 1000.0
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        key = address.lower()
        if self.drop.get(key, 0) > 0:
            self.drop[key] -= 1
            server.transport.abort()
            return "250 OK"
        replies = self.rcpt.get(key)
        reply = replies.pop(0) if replies else self.default_rcpt
        if reply is not None and not reply.startswith("250"):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        with self.lock:
            self.count += 1
            n = self.count
        path = os.path.join(self.out_dir, "%06d.eml" % n)
        header = "X-Test-Envelope: from=<%s> to=<%s>\r\n" % (
            envelope.mail_from,
            ",".join(envelope.rcpt_tos),
        )
        with open(path + ".tmp", "wb") as out:
            out.write(header.encode())
            out.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 OK queued as %06d" % n


def main() -> int:
    # aiosmtpd warns about its own deprecated attribute on every AUTH.
    warnings.filterwarnings("ignore", message="Session.login_data")
    if len(sys.argv) not in (6, 7):
        print(__doc__, file=sys.stderr)
        return 2
    out_dir, cert, key, user, password = sys.argv[1:6]
    script = json.loads(sys.argv[6]) if len(sys.argv) == 7 else {}
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok)

    port = free_port()
    controller = Controller(
        Handler(out_dir, script),
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    print("listening %d" % port, flush=True)
    try:
        # Ends when the test closes standard input or kills the process.
        sys.stdin.read()
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
