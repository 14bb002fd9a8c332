# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How archives travel: a file goes out as the body of POST /images/load with its length, with sendfile on a Unix
socket and in large reads elsewhere; an export is written as it arrives."""

from __future__ import annotations

import http.server
import io
import os
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from ansible_collections.moby.engine.plugins.module_utils._client import EngineClient
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._transport import (
    UPLOAD_CHUNK_SIZE,
    EngineConfig,
    FileUpload,
    upload_body,
)
from ansible_collections.moby.engine.plugins.module_utils._files import AtomicFile
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import Reply


class _Recording:
    """Mixed into a threading socketserver: a real HTTP server answering /_ping and POST /images/load like dockerd;
    it keeps each upload's Transfer-Encoding, Content-Length and bytes, and counts connections."""

    daemon_threads = True

    def __init__(self, address: Any) -> None:
        self.uploads: list = []
        self.connections = 0
        super().__init__(address, _EngineHandler)  # type: ignore[call-arg]


class RecordingEngine(_Recording, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """On a Unix socket."""


class RecordingTCPEngine(_Recording, socketserver.ThreadingMixIn, socketserver.TCPServer):
    """On a loopback TCP port."""


@contextmanager
def serving(server: Any) -> Iterator[Any]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class _EngineHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def address_string(self) -> str:
        return "engine"

    def log_message(self, *_args) -> None:
        pass

    def _answer(self, body: bytes, headers: dict) -> None:
        self.send_response(200)
        for name, value in dict(headers, **{"Content-Length": str(len(body))}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's spelling)
        self._answer(b"OK", {"Api-Version": "1.41", "Server": "Docker/20.10.24+dfsg1 (linux)"})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers["Content-Length"])
        self.server.uploads.append((self.headers.get("Transfer-Encoding"), length, self.rfile.read(length)))
        self._answer(b'{"stream":"Loaded image: app:1\\n"}\r\n', {"Content-Type": "application/json"})


@pytest.fixture
def unix_engine(tmp_path):
    with serving(RecordingEngine(str(tmp_path / "engine.sock"))) as server:
        yield server, EngineClient(EngineConfig(docker_host="unix://" + str(tmp_path / "engine.sock")))


@pytest.fixture
def sendfile_calls(monkeypatch):
    calls = []
    real_sendfile = os.sendfile

    def counting_sendfile(*args):
        calls.append(args)
        return real_sendfile(*args)

    monkeypatch.setattr(os, "sendfile", counting_sendfile)
    return calls


def archive_file(tmp_path, size):
    path = tmp_path / "archive.tar"
    path.write_bytes(bytes(range(256)) * (size // 256) + b"e" * (size % 256))
    return path


def test_a_regular_file_goes_out_with_sendfile_over_the_unix_socket(unix_engine, sendfile_calls, tmp_path):
    server, client = unix_engine
    path = archive_file(tmp_path, 3 * UPLOAD_CHUNK_SIZE + 10)
    with open(path, "rb") as archive:
        archive.read(10)
        _summary, loaded = client.load_images(archive, quiet=True)
    assert loaded == ["app:1"]
    # With its length (no chunked framing), from the file's position to its end.
    assert server.uploads == [(None, 3 * UPLOAD_CHUNK_SIZE, path.read_bytes()[10:])]
    assert sendfile_calls


def test_every_request_of_a_session_shares_one_connection(unix_engine, tmp_path):
    server, client = unix_engine
    path = archive_file(tmp_path, 100)
    for _attempt in range(2):
        with open(path, "rb") as archive:
            client.load_images(archive, quiet=True)
    # /_ping, then two loads: requests-unixsocket's own adapter opened a connection for every distinct URL.
    assert server.connections == 1
    assert len(server.uploads) == 2


def test_an_upload_over_tcp_goes_out_in_large_reads(sendfile_calls, tmp_path):
    with serving(RecordingTCPEngine(("127.0.0.1", 0))) as server:
        client = EngineClient(EngineConfig(docker_host="tcp://127.0.0.1:{0}".format(server.server_address[1])))
        path = archive_file(tmp_path, 2 * UPLOAD_CHUNK_SIZE + 7)
        with open(path, "rb") as archive:
            client.load_images(archive, quiet=True)
    assert server.uploads == [(None, 2 * UPLOAD_CHUNK_SIZE + 7, path.read_bytes())]
    assert not sendfile_calls


def test_a_file_body_is_one_span_of_its_rest(tmp_path):
    path = archive_file(tmp_path, 2 * UPLOAD_CHUNK_SIZE + 10)
    with open(path, "rb") as archive:
        archive.read(10)
        body = upload_body(archive)
        assert isinstance(body, FileUpload)
        # requests takes the Content-Length from ``len``: what is left from the current position.
        assert body.len == 2 * UPLOAD_CHUNK_SIZE
        (span,) = list(body)
        assert (span.offset, span.count) == (10, 2 * UPLOAD_CHUNK_SIZE)
        # Iterated (a connection without sendfile), it is read a whole UPLOAD_CHUNK_SIZE at a time.
        assert [len(piece) for piece in span] == [UPLOAD_CHUNK_SIZE, UPLOAD_CHUNK_SIZE]


def test_an_empty_rest_is_an_empty_body(tmp_path):
    path = archive_file(tmp_path, 10)
    with open(path, "rb") as archive:
        archive.read()
        body = upload_body(archive)
        assert body.len == 0
        assert not list(body)


@pytest.mark.parametrize("how", ["read", "sendfile"])
def test_a_file_never_gives_more_than_its_announced_length(tmp_path, how):
    path = archive_file(tmp_path, 100)
    with open(path, "rb") as archive:
        (span,) = list(upload_body(archive))
        with open(path, "ab") as grow:
            grow.write(b"y" * 100)
        assert sent_by(span, how) == path.read_bytes()[:100]


@pytest.mark.parametrize("how", ["read", "sendfile"])
def test_a_file_that_shrinks_meanwhile_fails_instead_of_leaving_the_engine_waiting(tmp_path, how):
    path = archive_file(tmp_path, 100)
    with open(path, "rb") as archive:
        (span,) = list(upload_body(archive))
        with open(path, "r+b") as shrink:
            shrink.truncate(40)
        with pytest.raises(InvalidInput, match=r"got shorter while it was being sent \(60 bytes were missing\)"):
            sent_by(span, how)


def sent_by(span, how):
    """What ``span`` puts on a socket, iterated or with sendfile."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        if how == "read":
            for piece in span:
                ours.sendall(piece)
        else:
            span.send_to(ours)
        ours.shutdown(socket.SHUT_WR)
        received = b""
        while True:
            data = theirs.recv(65536)
            if not data:
                return received
            received += data


def test_an_in_memory_file_goes_out_in_chunks():
    body = upload_body(io.BytesIO(b"z" * (UPLOAD_CHUNK_SIZE + 1)))
    assert [len(chunk) for chunk in body] == [UPLOAD_CHUNK_SIZE, 1]


def test_an_iterable_goes_out_as_it_is():
    chunks = [b"a", b"b"]
    assert upload_body(chunks) is chunks


def test_an_export_into_a_new_archive_arrives_whole(docker, tmp_path):
    client, engine = docker
    chunks = [b"a" * 40, b"b" * 5000, b"c" * 4096, b"d" * 10]
    engine.on("GET", "/images/app:1/get", Reply(200, chunks=chunks))
    with AtomicFile(str(tmp_path / "archive.tar")) as target:
        assert client.export_images(["app:1"], target.file) == 9146
        target.commit()
    assert (tmp_path / "archive.tar").read_bytes() == b"".join(chunks)


def test_an_export_into_memory_is_written_all_the_same(docker):
    client, engine = docker
    engine.on("GET", "/images/app:1/get", Reply(200, chunks=[b"a" * 100, b"b" * 100]))
    destination = io.BytesIO()
    assert client.export_images(["app:1"], destination) == 200
    assert destination.getvalue() == b"a" * 100 + b"b" * 100
