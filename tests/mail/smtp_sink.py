"""A real SMTP server for the tests (aiosmtpd), on loopback. Each message
it accepts is appended to OUTFILE as one JSON line: from, to, data, and
whether the session was under TLS. With CERT and KEY it requires STARTTLS.
Prints "ready" once it listens, and runs until it is killed.

usage: smtp_sink.py PORT OUTFILE [CERT KEY]
"""

import json
import ssl
import sys
import threading

from aiosmtpd.controller import Controller

port, outfile = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()


class Sink:
    async def handle_DATA(self, server, session, envelope):
        line = json.dumps(
            {
                "from": envelope.mail_from,
                "to": envelope.rcpt_tos,
                "data": envelope.content.decode("utf-8", "replace"),
                "tls": session.ssl is not None,
            }
        )
        with lock, open(outfile, "a", encoding="utf-8") as out:
            out.write(line + "\n")
        return "250 OK"


options = {}
if len(sys.argv) > 4:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    options = {"tls_context": context, "require_starttls": True}

controller = Controller(Sink(), hostname="127.0.0.1", port=port, **options)
controller.start()
print("ready", flush=True)
threading.Event().wait()
