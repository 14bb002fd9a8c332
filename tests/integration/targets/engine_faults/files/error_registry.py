#!/usr/bin/env python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A registry that answers every request with 500 Internal Server Error, as a broken one would.

Usage: error_registry.py STATE
Listens on a free port of 127.0.0.1, written to STATE.address as HOST:PORT; the pid to STATE.pid.
Exits after 300 seconds, so that it never outlives a test.
"""

import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LIFETIME = 300


class Broken(BaseHTTPRequestHandler):
    def answer(self):
        body = b'{"errors":[{"code":"UNKNOWN","message":"internal error (moby.engine fault test)"}]}'
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = answer

    def log_message(self, *args):
        pass


def main():
    state = sys.argv[1]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    with open(state + ".pid", "w") as handle:
        handle.write(str(os.getpid()))
    with open(state + ".address.tmp", "w") as handle:
        handle.write("127.0.0.1:%d" % server.server_address[1])
    os.replace(state + ".address.tmp", state + ".address")
    threading.Timer(LIFETIME, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
