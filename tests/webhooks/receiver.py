"""A webhook receiver for the tests: HTTPS (Python's http.server and ssl)
on 127.0.0.1:PORT with CERT and KEY, answering each POST with the next of
STATUSES (comma-separated; 200 once they run out) and appending what it
received (path, headers, raw body, the status it answered) to OUTFILE as
one JSON object a line. Prints "ready" once it listens.

    receiver.py PORT CERT KEY OUTFILE [STATUSES]
"""

import http.server
import json
import ssl
import sys
import threading

port, cert, key, outfile = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
statuses = [int(s) for s in sys.argv[5].split(",")] if len(sys.argv) > 5 and sys.argv[5] else []
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with lock:
            status = statuses.pop(0) if statuses else 200
            with open(outfile, "a") as out:
                out.write(json.dumps({
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode("utf-8"),
                    "status": status,
                }) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
