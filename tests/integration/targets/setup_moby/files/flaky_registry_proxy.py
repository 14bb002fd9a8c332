# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A registry in front of the test registry that fails on purpose, for the retry tests.

Listens on 127.0.0.1 on a free port (written to --port-file) and forwards every request to --upstream, except
that the first ``count`` requests whose path matches ``pattern`` are answered with ``status`` instead
(``count`` -1: every such request). The fault is set at start (--count, --status, --pattern) and changed at any
time with ``GET /__fault?count=N&status=S&pattern=REGEX``; ``GET /__fault`` alone tells the current one and how
many requests were failed so far. Every request is logged as one line to --log. The engine reaches it as an
insecure registry (127.0.0.0/8, plain HTTP), so images are named ``127.0.0.1:<port>/repo:tag``.
The process ends by itself after --lifetime seconds, should the test that started it not stop it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "content-length"}
REASONS = {401: ("UNAUTHORIZED", "authentication required"), 429: ("TOOMANYREQUESTS", "too many requests"),
           503: ("UNAVAILABLE", "service unavailable")}


class Fault:
    """The current fault: which requests fail, with what, and how many were failed so far."""

    def __init__(self, count: int, status: int, pattern: str) -> None:
        self.lock = threading.Lock()
        self.set(count, status, pattern)

    def set(self, count: int, status: int, pattern: str) -> None:
        with self.lock:
            self.count, self.status, self.pattern, self.failed = count, status, re.compile(pattern), 0

    def take(self, path: str) -> int | None:
        """The status to answer ``path`` with, or None to forward it."""
        with self.lock:
            if not self.pattern.search(path) or (self.count != -1 and self.failed >= self.count):
                return None
            self.failed += 1
            return self.status

    def describe(self) -> dict:
        with self.lock:
            return {"count": self.count, "status": self.status, "pattern": self.pattern.pattern, "failed": self.failed}


class Handler(BaseHTTPRequestHandler):
    server_version = "flaky-registry-proxy"
    # The containerd image store's resolver tries HTTPS first and falls back to plain HTTP only when the answer
    # to its TLS hello reads "HTTP/..." (as the real registry's does). The base class answers an unparsable
    # request line as HTTP/0.9, with no status line at all, and the pull then fails on TLS.
    default_request_version = "HTTP/1.0"
    fault: Fault
    upstream: str
    log_file: Any

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        self.log_file.write("{0} {1}\n".format(self.address_string(), format % args))
        self.log_file.flush()

    def handle_one(self) -> None:
        if self.path.startswith("/__fault"):
            query = parse_qs(urlsplit(self.path).query)
            if query:
                current = self.fault.describe()
                self.fault.set(int(query.get("count", [current["count"]])[0]),
                               int(query.get("status", [current["status"]])[0]),
                               query.get("pattern", [current["pattern"]])[0])
            self.answer(200, json.dumps(self.fault.describe()).encode(), {"Content-Type": "application/json"})
            return
        body = self.read_body()
        status = self.fault.take(urlsplit(self.path).path)
        if status is not None:
            self.fail(status)
            return
        self.forward(body)

    def read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def fail(self, status: int) -> None:
        code, message = REASONS.get(status, ("UNKNOWN", "injected failure"))
        headers = {"Content-Type": "application/json", "Docker-Distribution-Api-Version": "registry/2.0"}
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="flaky-registry-proxy"'
        self.answer(status, json.dumps({"errors": [{"code": code, "message": message}]}).encode(), headers)

    def forward(self, body: bytes | None) -> None:
        host, _sep, port = self.upstream.partition(":")
        connection = http.client.HTTPConnection(host, int(port or 80), timeout=120)
        headers = {key: value for key, value in self.headers.items() if key.lower() not in HOP_BY_HOP}
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except OSError as exc:
            self.answer(502, "upstream {0}: {1}".format(self.upstream, exc).encode(), {"Content-Type": "text/plain"})
            return
        finally:
            connection.close()
        self.answer(response.status, data, {key: value for key, value in response.getheaders()
                                            if key.lower() not in HOP_BY_HOP},
                    length=response.getheader("Content-Length"))

    def answer(self, status: int, data: bytes, headers: dict, length: str | None = None) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        # A HEAD answer carries the length of the body a GET would have, and no body.
        self.send_header("Content-Length", length if self.command == "HEAD" and length else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="host:port of the real registry")
    parser.add_argument("--port-file", required=True, help="where to write the port listened on")
    parser.add_argument("--pid-file", help="where to write this process's id")
    parser.add_argument("--log", default=os.devnull, help="request log")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--status", type=int, default=503)
    parser.add_argument("--pattern", default="/manifests/")
    parser.add_argument("--lifetime", type=float, default=900.0)
    args = parser.parse_args()

    with open(args.log, "a", encoding="utf-8") as log_file:
        Handler.fault = Fault(args.count, args.status, args.pattern)
        Handler.upstream = args.upstream
        Handler.log_file = log_file
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        if args.pid_file:
            with open(args.pid_file, "w", encoding="utf-8") as handle:
                handle.write(str(os.getpid()))
        # Written last, through a rename: whoever waits for the file finds the port complete and the socket bound.
        with open(args.port_file + ".tmp", "w", encoding="utf-8") as handle:
            handle.write(str(server.server_address[1]))
        os.replace(args.port_file + ".tmp", args.port_file)
        threading.Timer(args.lifetime, server.shutdown).start()
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
