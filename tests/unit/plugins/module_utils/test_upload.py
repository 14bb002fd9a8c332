# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How archives travel: a file goes out as the body of POST /images/load with its length, in large reads; an
export is written as it arrives."""

from __future__ import annotations

import io

import pytest

from ansible_collections.moby.engine.plugins.module_utils._client import UPLOAD_CHUNK_SIZE, _Upload, _upload_body
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._files import AtomicFile
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import Reply


def test_a_regular_file_is_sent_with_its_length_in_large_reads(tmp_path):
    path = tmp_path / "archive.tar"
    path.write_bytes(b"x" * (UPLOAD_CHUNK_SIZE * 2 + 10))
    with open(path, "rb") as archive:
        archive.read(10)
        body = _upload_body(archive)
        assert isinstance(body, _Upload)
        # requests takes the Content-Length from ``len``: what is left from the current position.
        assert body.len == UPLOAD_CHUNK_SIZE * 2
        # urllib3 asks for 16 KiB at a time; each answer is a whole UPLOAD_CHUNK_SIZE.
        sizes = []
        while True:
            data = body.read(16384)
            if not data:
                break
            sizes.append(len(data))
        assert sizes == [UPLOAD_CHUNK_SIZE, UPLOAD_CHUNK_SIZE]


def test_a_file_never_gives_more_than_its_announced_length(tmp_path):
    path = tmp_path / "archive.tar"
    path.write_bytes(b"x" * 100)
    with open(path, "rb") as archive:
        body = _upload_body(archive)
        with open(path, "ab") as grow:
            grow.write(b"y" * 100)
        assert body.read(16384) == b"x" * 100
        assert body.read(16384) == b""


def test_a_file_that_shrinks_meanwhile_fails_instead_of_leaving_the_engine_waiting(tmp_path):
    path = tmp_path / "archive.tar"
    path.write_bytes(b"x" * 100)
    with open(path, "rb") as archive:
        body = _upload_body(archive)
        with open(path, "r+b") as shrink:
            shrink.truncate(40)
        assert body.read(16384) == b"x" * 40
        with pytest.raises(InvalidInput, match="got shorter"):
            body.read(16384)


def test_an_in_memory_file_goes_out_in_chunks():
    body = _upload_body(io.BytesIO(b"z" * (UPLOAD_CHUNK_SIZE + 1)))
    assert [len(chunk) for chunk in body] == [UPLOAD_CHUNK_SIZE, 1]


def test_an_iterable_goes_out_as_it_is():
    chunks = [b"a", b"b"]
    assert _upload_body(chunks) is chunks


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
