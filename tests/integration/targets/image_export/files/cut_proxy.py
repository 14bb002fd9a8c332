#!/usr/bin/env python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A TCP proxy to the engine's unix socket that breaks image exports part-way.

Usage: cut_proxy.py SOCKET PORT_FILE CUT_AFTER_BYTES
Listens on 127.0.0.1 (a free port, written to PORT_FILE; the process id to PORT_FILE.pid),
forwards every connection to SOCKET, and once a request on a connection asks for /images/.../get,
closes that connection after CUT_AFTER_BYTES of the answer, the way a dropped network link or a
dying engine would. Exits after that cut, or after 120 seconds, so that it never lingers.
"""

import os
import socket
import sys
import threading
import time


def pipe_requests(client, engine, state):
    try:
        while True:
            data = client.recv(65536)
            if not data:
                break
            if b"/get" in data:
                state["export"] = True
            engine.sendall(data)
    except OSError:
        pass


def serve(client, socket_path, cut_after, done):
    engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    engine.connect(socket_path)
    state = {"export": False}
    threading.Thread(target=pipe_requests, args=(client, engine, state), daemon=True).start()
    sent = 0
    try:
        while True:
            data = engine.recv(65536)
            if not data:
                break
            if state["export"]:
                data = data[:max(cut_after - sent, 0)]
                sent += len(data)
            client.sendall(data)
            if state["export"] and sent >= cut_after:
                done.set()
                break
    except OSError:
        pass
    finally:
        client.close()
        engine.close()


def main():
    socket_path, port_file, cut_after = sys.argv[1], sys.argv[2], int(sys.argv[3])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(1)
    with open(port_file + ".pid", "w") as handle:
        handle.write(str(os.getpid()))
    with open(port_file + ".tmp", "w") as handle:
        handle.write(str(listener.getsockname()[1]))
    # Renamed into place so that the test never reads a half-written port.
    os.replace(port_file + ".tmp", port_file)
    deadline = time.time() + 120
    done = threading.Event()
    while time.time() < deadline and not done.is_set():
        try:
            client, _address = listener.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(client, socket_path, cut_after, done), daemon=True).start()


if __name__ == "__main__":
    main()
