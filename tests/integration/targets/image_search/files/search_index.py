# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A tiny registry v1 search index for the image_search integration target.

The distribution registry does not serve the v1 search API the engine uses for
``127.0.0.1:PORT/term`` searches, so this serves ``/v1/_ping`` and ``/v1/search``
with fixed results: the engine performs the search end to end against it.

Every search request's query string is appended as a JSON line to --request-log,
so the target can assert what reached the index (``q`` and ``n``, the limit).
The server listens on 127.0.0.1 on a free port, writes that port to --port-file,
and exits by itself after --lifetime seconds in case nobody stops it.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

# Repository names start with "mobyit" so the engine's search term matches them all.
RESULTS = [
    {"name": "mobyit/official-app", "description": "An official test image", "star_count": 120,
     "is_official": True, "is_automated": False},
    {"name": "mobyit/automated-tool", "description": "An automated build", "star_count": 45,
     "is_official": False, "is_automated": True},
    {"name": "mobyit/plain-lib", "description": "A plain repository", "star_count": 7,
     "is_official": False, "is_automated": False},
    {"name": "mobyit/starless", "description": "Nobody starred this", "star_count": 0,
     "is_official": False, "is_automated": False},
]


class SearchIndex(BaseHTTPRequestHandler):
    request_log = ""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/v1/_ping":
            self._reply({"standalone": True})
        elif url.path == "/v1/search":
            query = {key: values[0] for key, values in parse_qs(url.query).items()}
            with open(self.request_log, "a", encoding="utf-8") as log:
                log.write(json.dumps(query, sort_keys=True) + "\n")
            term = query.get("q", "")
            # Like Docker Hub's index, the index itself cuts the list at n; filters are the engine's job.
            matches = [result for result in RESULTS if term in result["name"]]
            limit = int(query.get("n") or 25)
            self._reply({"query": term, "num_results": len(matches), "results": matches[:limit]})
        else:
            self._reply({"error": "not found"}, status=404)

    def _reply(self, body: dict, status: int = 200) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        # The engine first tries HTTPS; the resulting 400s would only clutter the output.
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--request-log", required=True)
    parser.add_argument("--lifetime", type=int, default=900)
    args = parser.parse_args()
    SearchIndex.request_log = args.request_log
    server = HTTPServer(("127.0.0.1", 0), SearchIndex)
    timer = threading.Timer(args.lifetime, server.shutdown)
    timer.daemon = True
    timer.start()
    # Written last and renamed into place, so a reader never sees a port before the server listens.
    with open(args.port_file + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
