#!/usr/bin/env python3
"""Verifies the DKIM signature of the message on standard input with dkimpy's verifier.

The argument is the value of the key's DNS TXT record (`v=DKIM1; k=rsa; p=...`), handed to
dkimpy in place of a DNS lookup. Prints the name dkimpy looked up and the outcome; exits 0
when the signature verifies, 1 when it does not, 2 on bad usage.
"""

import logging
import sys

import dkim


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: dkim_verify.py 'v=DKIM1; k=rsa; p=...' < message.eml", file=sys.stderr)
        return 2
    record = sys.argv[1].encode()
    message = sys.stdin.buffer.read()
    looked_up = []

    def dnsfunc(name, timeout=5):
        looked_up.append(name.decode() if isinstance(name, bytes) else name)
        return record

    # dkimpy says why a signature fails through its logger.
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG, format="dkimpy: %(message)s")
    verified = dkim.verify(message, logger=logging.getLogger("dkim"), dnsfunc=dnsfunc)
    print("looked up: " + ", ".join(looked_up))
    print("verified" if verified else "not verified")
    return 0 if verified else 1


if __name__ == "__main__":
    sys.exit(main())
