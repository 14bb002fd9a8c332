#!/usr/bin/env python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A proxy that freezes one transfer half-way, so that a test can kill the engine in the middle of it.

Usage: stall_proxy.py LISTEN UPSTREAM STATE TRIGGER DIRECTION BUDGET HOLD

LISTEN and UPSTREAM are ``unix:/path`` or ``tcp:HOST:PORT`` (port 0 picks a free one). The proxy
forwards every connection unchanged until a request matching the regular expression TRIGGER passes
(client to upstream). That connection then carries BUDGET more bytes in DIRECTION (``up``: client to
upstream, ``down``: upstream to client) and stops forwarding that way; the file STATE.stalled says so.
HOLD says what happens to the stalled side: ``freeze`` stops reading it, so that it blocks half-way;
``drain`` reads and drops what it still sends and passes its end on to the other side (for downloads
from the engine, so that the engine's death reaches the client). Either way the other direction keeps
flowing, and when one side of the connection ends the proxy ends the other.
Only one transfer stalls: a rerun through the proxy goes through.

The listening address is written to STATE.address, the pid to STATE.pid. The proxy exits after
300 seconds whatever happens, so that it never outlives a test.
"""

import os
import re
import socket
import sys
import threading
import time

LIFETIME = 300


def address(spec):
    kind, _sep, rest = spec.partition(":")
    if kind == "unix":
        return socket.AF_UNIX, rest
    host, _sep, port = rest.rpartition(":")
    return socket.AF_INET, (host, int(port))


class Proxy:
    def __init__(self, upstream, state, trigger, direction, budget, hold):
        self.upstream = upstream
        self.state = state
        self.trigger = re.compile(trigger.encode())
        self.direction = direction
        self.budget = budget
        self.hold = hold
        self.lock = threading.Lock()
        self.fired = False

    def serve(self, client):
        family, target = address(self.upstream)
        server = socket.socket(family, socket.SOCK_STREAM)
        try:
            server.connect(target)
        except OSError:
            client.close()
            return
        # Shared by both directions of this connection: "armed" once the trigger passed.
        connection = {"armed": False, "left": self.budget}
        threading.Thread(target=self.pump, args=(client, server, "up", connection), daemon=True).start()
        self.pump(server, client, "down", connection)

    def pump(self, source, sink, direction, connection):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if connection["armed"] and direction == self.direction:
                    data = data[:connection["left"]]
                    connection["left"] -= len(data)
                    sink.sendall(data)
                    if connection["left"] <= 0:
                        self.stall(source)
                    continue
                if direction == "up" and not connection["armed"] and self.trigger.search(data):
                    # Every matching connection is armed until one of them stalls: a matching request
                    # with a short answer (an image config next to its layer) must not use up the stall.
                    with self.lock:
                        connection["armed"] = not self.fired
                # The request that matched goes through whole; the budget counts from there.
                sink.sendall(data)
        except OSError:
            pass
        # One side ended: end the other, as a dying engine (or registry) would make it end.
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stall(self, source):
        with self.lock:
            self.fired = True
        with open(self.state + ".stalled", "w") as marker:
            marker.write("stalled\n")
        if self.hold == "freeze":
            while True:
                time.sleep(1)
        while source.recv(65536):
            pass
        raise OSError("upstream closed")


def main():
    listen, upstream, state, trigger, direction, budget, hold = sys.argv[1:8]
    if direction not in ("up", "down") or hold not in ("freeze", "drain"):
        sys.exit("DIRECTION must be up or down, HOLD freeze or drain")
    family, where = address(listen)
    listener = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_UNIX and os.path.exists(where):
        os.unlink(where)
    listener.bind(where)
    listener.listen(16)
    listener.settimeout(1)
    bound = "unix:" + where if family == socket.AF_UNIX else "tcp:127.0.0.1:%d" % listener.getsockname()[1]
    with open(state + ".pid", "w") as handle:
        handle.write(str(os.getpid()))
    with open(state + ".address.tmp", "w") as handle:
        handle.write(bound)
    # Renamed into place so that the test never reads a half-written address.
    os.replace(state + ".address.tmp", state + ".address")
    proxy = Proxy(upstream, state, trigger, direction, int(budget), hold)
    deadline = time.time() + LIFETIME
    while time.time() < deadline:
        try:
            client, _peer = listener.accept()
        except socket.timeout:
            continue
        threading.Thread(target=proxy.serve, args=(client,), daemon=True).start()


if __name__ == "__main__":
    main()
