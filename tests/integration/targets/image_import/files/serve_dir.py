#!/usr/bin/env python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Serve a directory over HTTP on 127.0.0.1 for the engine to download from.

Usage: serve_dir.py DIRECTORY PORT_FILE
Picks a free port and writes it to PORT_FILE (the process id to PORT_FILE.pid). Stops after
120 seconds, so that a failed test leaves nothing running.
"""

import functools
import http.server
import os
import sys
import time


def main():
    directory, port_file = sys.argv[1], sys.argv[2]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    server.timeout = 1
    with open(port_file + ".pid", "w") as handle:
        handle.write(str(os.getpid()))
    with open(port_file + ".tmp", "w") as handle:
        handle.write(str(server.server_address[1]))
    # Renamed into place so that the test never reads a half-written port.
    os.replace(port_file + ".tmp", port_file)
    deadline = time.time() + 120
    while time.time() < deadline:
        server.handle_request()


if __name__ == "__main__":
    main()
